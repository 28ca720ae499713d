/** Milliseconds, as read from a `Clock`. */
export type Ms = number

/** Cancels a timer set with `Clock.setTimer`; calling it twice is harmless. */
export type CancelTimer = () => void

/**
 * The time port. Protocol code never reads `Date.now()` or calls `setTimeout` itself, so the same code runs
 * on the wall clock (daemon) and on a virtual clock (many nodes in one process, deterministic).
 */
export interface Clock {
  now (): Ms
  setTimer (ms: Ms, fn: () => void): CancelTimer
}

/** The wall clock: `Date.now()` and `setTimeout`, timers unref'd so they never keep the process alive alone. */
export class SystemClock implements Clock {
  now (): Ms { return Date.now() }
  setTimer (ms: Ms, fn: () => void): CancelTimer {
    const t = setTimeout(fn, ms)
    t.unref()
    return () => clearTimeout(t)
  }
}

/**
 * A monotonic reading in milliseconds, for measuring how long something took. Not the global `performance.now()`:
 * its first use loads perf_hooks (nine of Node's modules, about 0.2 MiB of a daemon's resident memory).
 */
export function elapsedMs (): number { return Number(process.hrtime.bigint()) / 1e6 }
