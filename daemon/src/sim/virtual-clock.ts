import type { CancelTimer, Clock, Ms } from '../util/clock'

interface Timer { at: Ms, seq: number, fn: () => void, cancelled: boolean }

const noop = (): void => {}

/**
 * A virtual clock: timers run in (time, insertion) order when the owner steps it, never on their own.
 * Deterministic by construction: same inputs, same order.
 */
export class VirtualClock implements Clock {
  #now: Ms = 0
  #seq = 0
  readonly #heap: Timer[] = []

  now (): Ms { return this.#now }

  setTimer (ms: Ms, fn: () => void): CancelTimer {
    const t: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false }
    this.#push(t)
    // A cancelled timer stays queued until its time comes; dropping its function frees what the closure holds
    // (a unicast's timeout holds the message and its promise: half a million of them in a 1000-node run).
    return () => { t.cancelled = true; t.fn = noop }
  }

  /** Time of the next live timer, or undefined when none is left. */
  nextAt (): Ms | undefined {
    while (this.#heap.length > 0 && this.#heap[0].cancelled) this.#pop()
    return this.#heap[0]?.at
  }

  /** Advances to the next live timer and runs it; false when there is none. */
  step (): boolean {
    if (this.nextAt() === undefined) return false
    const t = this.#pop()
    this.#now = t.at
    t.fn()
    return true
  }

  /** Moves time forward without running anything scheduled later than `at`. */
  advanceTo (at: Ms): void {
    if (at > this.#now) this.#now = at
  }

  #less (a: Timer, b: Timer): boolean { return a.at < b.at || (a.at === b.at && a.seq < b.seq) }

  #push (t: Timer): void {
    const h = this.#heap
    h.push(t)
    let k = h.length - 1
    while (k > 0) {
      const p = (k - 1) >> 1
      if (!this.#less(h[k], h[p])) break
      ;[h[k], h[p]] = [h[p], h[k]]
      k = p
    }
  }

  #pop (): Timer {
    const h = this.#heap
    const top = h[0]
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let k = 0
      for (;;) {
        const l = 2 * k + 1; const r = l + 1
        let m = k
        if (l < h.length && this.#less(h[l], h[m])) m = l
        if (r < h.length && this.#less(h[r], h[m])) m = r
        if (m === k) break
        ;[h[k], h[m]] = [h[m], h[k]]
        k = m
      }
    }
    return top
  }
}
