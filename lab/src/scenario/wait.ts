import { abortError, type Clock } from './clock'
import { formatDuration } from './duration'

/**
 * What a failed check says: a short summary and the lines a person needs to see why (diff lines,
 * unreachable pairs...). `data` is kept as JSON for the failure bundle.
 */
export interface Diff {
  summary: string
  lines: string[]
  data?: unknown
}

/**
 * A condition: null when satisfied, else the reason. `quick`: a wait polling it may stop at the first failing part
 * (the reason then names that part only); the wait asks once more in full before it reports a timeout.
 */
export type Check = (signal?: AbortSignal, o?: { quick?: boolean }) => Promise<Diff | null>

export interface WaitOptions {
  clock: Clock
  /** Total time allowed, ms. */
  budget: number
  /** Pause between two checks, ms (default 250). */
  interval?: number
  /** The condition must keep holding this long, ms (default 0); a flap restarts the window. */
  hold?: number
  signal?: AbortSignal
}

export interface Converged {
  what: string
  /** From the start of the wait to the first check of the final holding streak, ms. */
  afterMs: number
  /**
   * From the start of the wait to the end of that first check, ms: the condition held at some moment of the
   * check (when it observed), so the true convergence lies between afterMs and this.
   */
  checkedMs: number
  /** Until the hold window closed, ms. */
  stableAtMs: number
  attempts: number
  /** How often the condition held and then broke again inside the wait. */
  flaps: number
}

export class NotConvergedError extends Error {
  constructor (readonly what: string, readonly budgetMs: number, readonly last: Diff | null, readonly attempts: number) {
    super(`${what}: not satisfied within ${formatDuration(budgetMs)} (${attempts} checks)` +
      (last !== null ? `: ${last.summary}${last.lines.length > 0 ? '\n' + last.lines.slice(0, 20).join('\n') : ''}` : ''))
    this.name = 'NotConvergedError'
  }
}

/**
 * Polls `check` until it holds and keeps holding for `hold` ms; the holding streak must begin within
 * `budget` ms of the clock. Returns when it held (afterMs is the measured convergence time); throws
 * NotConvergedError with the last diff otherwise. A budget of 0 still checks once.
 */
export async function waitFor (what: string, check: Check, o: WaitOptions): Promise<Converged> {
  const interval = o.interval ?? 250
  const hold = o.hold ?? 0
  const start = o.clock.now()
  let last: Diff | null = null
  let heldSince: number | undefined
  let checkedAt = start
  let attempts = 0
  let flaps = 0
  for (;;) {
    if (o.signal?.aborted === true) throw abortError(o.signal, what)
    const at = o.clock.now()
    last = await check(o.signal, { quick: true })
    attempts++
    if (last === null) {
      if (heldSince === undefined) { heldSince = at; checkedAt = o.clock.now() }
      if (o.clock.now() - heldSince >= hold) {
        return { what, afterMs: heldSince - start, checkedMs: checkedAt - start, stableAtMs: o.clock.now() - start, attempts, flaps }
      }
    } else if (heldSince !== undefined) {
      heldSince = undefined
      flaps++
    }
    const elapsed = o.clock.now() - start
    // The budget bounds when the final streak starts; a streak that began in time may finish its hold.
    if (elapsed >= o.budget && heldSince === undefined) {
      // the polls stopped at the first failing part: the report names every failing one
      const full = last === null ? null : await check(o.signal)
      throw new NotConvergedError(what, o.budget, full ?? last, attempts)
    }
    const untilHold = heldSince !== undefined ? heldSince + hold - o.clock.now() : interval
    await o.clock.sleep(Math.max(0, Math.min(interval, untilHold, elapsed < o.budget ? o.budget - elapsed : interval)), o.signal)
  }
}
