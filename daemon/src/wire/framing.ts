/** TCP framing as in the original ZCD: a 4-byte big-endian length, then that many bytes of JSON. */
export const FRAME_HEADER_BYTES = 4
/** Default largest payload accepted; a bigger announced length is refused before any allocation. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024

export function frame (payload: Buffer): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES)
  header.writeUInt32BE(payload.length, 0)
  return Buffer.concat([header, payload])
}

export type FrameEvent =
  | { readonly type: 'frame', readonly payload: Buffer }
  | { readonly type: 'oversized', readonly announced: number }

/**
 * Splits a byte stream into frames. After 'oversized' the stream cannot be resynchronised: the reader stops
 * and the caller must close the connection. `end()` says whether bytes of an unfinished frame were left ('truncated').
 */
export class FrameReader {
  #buffered: Buffer[] = []
  #length = 0
  #broken = false
  constructor (readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  push (chunk: Buffer): FrameEvent[] {
    if (this.#broken) return []
    this.#buffered.push(chunk)
    this.#length += chunk.length
    const out: FrameEvent[] = []
    for (;;) {
      if (this.#length < FRAME_HEADER_BYTES) break
      const head = this.#take(FRAME_HEADER_BYTES, false)
      const announced = head.readUInt32BE(0)
      if (announced > this.maxFrameBytes) {
        this.#broken = true
        this.#buffered = []
        this.#length = 0
        out.push({ type: 'oversized', announced })
        break
      }
      if (this.#length < FRAME_HEADER_BYTES + announced) break
      this.#take(FRAME_HEADER_BYTES, true)
      out.push({ type: 'frame', payload: this.#take(announced, true) })
    }
    return out
  }

  /** True when the stream ended in the middle of a frame. */
  end (): boolean { return !this.#broken && this.#length > 0 }

  #take (n: number, consume: boolean): Buffer {
    const all = this.#buffered.length === 1 ? this.#buffered[0] : Buffer.concat(this.#buffered)
    const taken = all.subarray(0, n)
    if (consume) {
      const rest = all.subarray(n)
      this.#buffered = rest.length > 0 ? [rest] : []
      this.#length = rest.length
    } else {
      this.#buffered = [all]
    }
    return taken
  }
}
