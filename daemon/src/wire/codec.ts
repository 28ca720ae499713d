import { KeyRing, withoutMac, MAC_FIELD } from './auth'
import { WireCounters, type RejectionReason } from './counters'
import { UnsendableMessageError } from './errors'
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, frame } from './framing'
import { WIRE_VERSION, type WireMessage } from './message'
import type { MessageRegistry } from './registry'

export interface Rejection {
  readonly ok: false
  readonly reason: RejectionReason
  /** Human-readable detail; for 'invalid' it starts with the JSON pointer of the offending field. */
  readonly detail: string
  /** For 'invalid': the JSON pointer of the offending field ('/' for the message itself). */
  readonly path?: string
}
export type DecodeResult = { readonly ok: true, readonly message: WireMessage } | Rejection

export interface WireCodecInit {
  readonly registry: MessageRegistry
  /** Shared network key; when set, every message is signed and unsigned or badly signed ones are rejected. */
  readonly networkKey?: string | Buffer
  /** Several keys (a rollover): the first signs, any is accepted. Not with `networkKey`. */
  readonly networkKeys?: ReadonlyArray<string | Buffer>
  readonly maxFrameBytes?: number
  readonly counters?: WireCounters
}

/**
 * Bytes <-> validated messages for one node. Decoding never throws: a bad message becomes a counted Rejection.
 * Order of checks: size, JSON, envelope (object with v and kind), version, kind, authentication, schema.
 */
export class WireCodec {
  readonly registry: MessageRegistry
  readonly counters: WireCounters
  readonly maxFrameBytes: number
  #auth: KeyRing | undefined

  constructor (init: WireCodecInit) {
    this.registry = init.registry
    this.counters = init.counters ?? new WireCounters()
    this.maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    if (init.networkKey !== undefined && init.networkKeys !== undefined) throw new RangeError('give networkKey or networkKeys, not both')
    this.setNetworkKeys(init.networkKeys ?? (init.networkKey === undefined ? [] : [init.networkKey]))
  }

  /**
   * Changes the keys at run time (a rollover: no restart, so no arc is lost): the first signs from now on, any is
   * accepted. No keys: messages go unsigned and are taken unsigned.
   */
  setNetworkKeys (keys: ReadonlyArray<string | Buffer>): void {
    this.#auth = keys.length === 0 ? undefined : new KeyRing(keys)
  }

  /** Fingerprints of the keys held (the signing key first); empty without authentication. */
  get keyFingerprints (): readonly string[] { return this.#auth?.fingerprints ?? [] }

  /** JSON bytes of a message (signed when a key is configured). Throws UnsendableMessageError on our own bugs. */
  encode (message: WireMessage): Buffer {
    const body = withoutMac(message as Record<string, unknown>) as WireMessage
    if (!this.registry.has(body.kind)) throw new UnsendableMessageError(body.kind, 'kind is not registered')
    const check = this.registry.check(body)
    if (!check.ok) throw new UnsendableMessageError(body.kind, `${check.path} ${check.message}`)
    const signed = this.#auth === undefined ? body : { ...body, [MAC_FIELD]: this.#auth.sign(body) }
    const bytes = Buffer.from(JSON.stringify(signed), 'utf8')
    if (bytes.length > this.maxFrameBytes) throw new UnsendableMessageError(body.kind, `${bytes.length} bytes exceed ${this.maxFrameBytes}`)
    return bytes
  }

  /** A length-prefixed frame for TCP. */
  encodeFrame (message: WireMessage): Buffer { return frame(this.encode(message)) }

  /** Decodes one UDP datagram or one frame payload. */
  decode (bytes: Uint8Array): DecodeResult {
    const result = this.#decode(bytes)
    if (result.ok) this.counters.accept()
    else this.counters.reject(result.reason)
    return result
  }

  /** Decodes a complete buffer holding exactly one length-prefixed frame. */
  decodeFrame (bytes: Uint8Array): DecodeResult {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (buf.length < FRAME_HEADER_BYTES) return this.reject('truncated', `${buf.length} bytes, no complete length prefix`)
    const announced = buf.readUInt32BE(0)
    if (announced > this.maxFrameBytes) return this.reject('oversized', `announced ${announced} bytes > ${this.maxFrameBytes}`)
    if (buf.length - FRAME_HEADER_BYTES < announced) {
      return this.reject('truncated', `announced ${announced} bytes, got ${buf.length - FRAME_HEADER_BYTES}`)
    }
    return this.decode(buf.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + announced))
  }

  /** Counts a rejection found outside `decode` (stream framing) and returns it. */
  reject (reason: RejectionReason, detail: string): Rejection {
    this.counters.reject(reason)
    return { ok: false, reason, detail }
  }

  #decode (bytes: Uint8Array): DecodeResult {
    const no = (reason: RejectionReason, detail: string, path?: string): Rejection => ({ ok: false, reason, detail, path })
    if (bytes.byteLength > this.maxFrameBytes) return no('oversized', `${bytes.byteLength} bytes > ${this.maxFrameBytes}`)
    let parsed: unknown
    try {
      parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
    } catch (e) {
      return no('bad-json', (e as Error).message)
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return no('invalid', '/ must be an object', '/')
    }
    const obj = parsed as Record<string, unknown>
    if (obj.v !== WIRE_VERSION) return no('bad-version', `v=${JSON.stringify(obj.v) ?? 'missing'}, this node speaks ${WIRE_VERSION}`)
    if (typeof obj.kind !== 'string') return no('invalid', '/kind must be a string', '/kind')
    if (!this.registry.has(obj.kind)) return no('unknown-kind', `kind '${obj.kind.slice(0, 64)}' is not registered`)
    if (this.#auth !== undefined) {
      const key = this.#auth.verify(obj)
      if (key < 0) return no('unauthenticated', `kind '${obj.kind}' without a valid ${MAC_FIELD}`)
      if (key > 0) this.counters.acceptOlderKey()
    }
    const check = this.registry.check(obj as Record<string, unknown> & { kind: string })
    if (!check.ok) return no('invalid', `${check.path} ${check.message}`, check.path)
    return { ok: true, message: withoutMac(obj) as WireMessage }
  }
}
