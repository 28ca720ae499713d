/**
 * Time for the scenario harness. Budgets, hold windows and sampling periods are durations on this
 * clock, never counts of retries (STYLE.md §2), so unit tests run on a ManualClock in no time.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences are meaningful). */
  now (): number
  /** Resolves after ms; rejects with the signal's reason when aborted. */
  sleep (ms: number, signal?: AbortSignal): Promise<void>
}

export class AbortedError extends Error {
  constructor (what = 'operation') {
    super(`${what} aborted`)
    this.name = 'AbortedError'
  }
}

/** The abort reason when it is an Error (a caller's own), else an AbortedError (the default DOMException is not one). */
function abortReason (signal: AbortSignal): unknown {
  const r: unknown = signal.reason
  return r instanceof Error && !(r instanceof DOMException) ? r : new AbortedError()
}

/** The same rule for callers that check a signal themselves. */
export function abortError (signal: AbortSignal, what?: string): unknown {
  const r: unknown = signal.reason
  return r instanceof Error && !(r instanceof DOMException) ? r : new AbortedError(what)
}

/** The real clock: performance.now() and timers. */
export function realClock (): Clock {
  return {
    now: () => performance.now(),
    sleep: async (ms, signal) => await new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) { reject(abortReason(signal)); return }
      const onAbort = (): void => { clearTimeout(timer); reject(abortReason(signal as AbortSignal)) }
      const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, Math.max(0, ms))
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}

interface Sleeper { until: number, resolve: () => void }

/**
 * A clock that only moves when told to. By default a sleep advances time itself (auto mode), which
 * makes a single-threaded waitFor loop deterministic; with { auto: false } sleeps wait for advance().
 */
export class ManualClock implements Clock {
  #now: number
  readonly #auto: boolean
  #sleepers: Sleeper[] = []

  constructor (o: { start?: number, auto?: boolean } = {}) {
    this.#now = o.start ?? 0
    this.#auto = o.auto ?? true
  }

  now (): number { return this.#now }

  async sleep (ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) throw abortReason(signal)
    if (this.#auto) {
      this.#now += Math.max(0, ms)
      this.#wake()
      await Promise.resolve()
      return
    }
    await new Promise<void>((resolve, reject) => {
      const sleeper: Sleeper = { until: this.#now + Math.max(0, ms), resolve }
      this.#sleepers.push(sleeper)
      signal?.addEventListener('abort', () => {
        this.#sleepers = this.#sleepers.filter(s => s !== sleeper)
        reject(abortReason(signal))
      }, { once: true })
    })
  }

  /** Moves time forward and wakes the sleepers that are due. */
  advance (ms: number): void {
    this.#now += ms
    this.#wake()
  }

  #wake (): void {
    const due = this.#sleepers.filter(s => s.until <= this.#now)
    this.#sleepers = this.#sleepers.filter(s => s.until > this.#now)
    for (const s of due) s.resolve()
  }
}
