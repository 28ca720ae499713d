import type { Kernel } from '../kernel/kernel'
import type { KernelState } from '../kernel/state'
import type { CancelTimer, Clock, Ms } from '../util/clock'
import { defaultListenerErrorHandler, runListeners, type ListenerErrorHandler } from '../util/listener-errors'

/** One apply that changed the kernel: how many ops, and what they changed when the kernel says (rescans). */
export interface KernelApplied {
  readonly ops: number
  readonly rescan: boolean
  readonly changes?: readonly string[]
}

export interface KernelSyncStats {
  applies: number
  applyErrors: number
  lastError: string | null
  /** Ops of all applies together. */
  ops: number
  /** Applies left out because the desired state was the one applied last. */
  skipped: number
  /** Periodic rescans: applies that read the kernel instead of trusting the last apply. */
  rescans: number
  /** Rescans that found the kernel changed behind the daemon's back (an entry removed or added by hand) and repaired it. */
  repairs: number
  /** Ops those repairs took (entries put back or taken away). */
  repairedOps: number
}

export interface KernelSyncOptions {
  /** Least time between two applies caused by `schedule()` (coalescing). */
  readonly minIntervalMs: Ms
  /**
   * Period of the rescan (0: none): the kernel is read again and whatever differs from the desired state is put
   * right. Between rescans the daemon trusts its last apply, as BIRD's krt does between its scans.
   */
  readonly rescanMs?: Ms
  readonly log?: (line: string) => void
}

/**
 * Keeps the kernel in step with a desired state computed on demand. `schedule()` coalesces bursts (QSPN path
 * events come in tens per ETP): at most one apply per `minIntervalMs`. `applyNow()` is for callers that need the
 * kernel ready before they go on (Neighborhood's host route before a TCP request). Applies never overlap.
 */
export class KernelSync {
  readonly stats: KernelSyncStats = { applies: 0, applyErrors: 0, lastError: null, ops: 0, skipped: 0, rescans: 0, repairs: 0, repairedOps: 0 }
  #chain: Promise<void> = Promise.resolve()
  #timer: CancelTimer | null = null
  #rescanTimer: CancelTimer | null = null
  #lastApplyAt: Ms = Number.NEGATIVE_INFINITY
  #stopped = false
  #lastDesired: KernelState | undefined
  #failed = false
  readonly #minIntervalMs: Ms
  readonly #rescanMs: Ms
  readonly #log: (line: string) => void
  readonly #applied = new Set<(a: KernelApplied) => void>()
  /** Who hears about a listener of `onApplied` that threw (the system logs and counts it). */
  onListenerError: ListenerErrorHandler = defaultListenerErrorHandler

  constructor (
    private readonly kernel: Kernel,
    private readonly desired: () => KernelState,
    private readonly clock: Clock,
    o: KernelSyncOptions | Ms,
    log?: (line: string) => void
  ) {
    const opts: KernelSyncOptions = typeof o === 'number' ? { minIntervalMs: o } : o
    this.#minIntervalMs = opts.minIntervalMs
    this.#rescanMs = opts.rescanMs ?? 0
    this.#log = opts.log ?? log ?? (() => {})
    this.#scheduleRescan()
  }

  /** Tells `fn` of every apply that changed something (ops > 0); returns what unsubscribes. */
  onApplied (fn: (a: KernelApplied) => void): () => void {
    this.#applied.add(fn)
    return () => { this.#applied.delete(fn) }
  }

  /** The desired state of the last apply (undefined before the first). */
  get lastDesired (): KernelState | undefined { return this.#lastDesired }

  schedule (): void {
    if (this.#stopped || this.#timer !== null) return
    const delay = Math.max(0, this.#lastApplyAt + this.#minIntervalMs - this.clock.now())
    this.#timer = this.clock.setTimer(delay, () => {
      this.#timer = null
      void this.applyNow()
    })
  }

  /** Applies the state as it is when the apply starts; resolves after it (errors are counted, not thrown). */
  async applyNow (): Promise<void> {
    if (this.#stopped) return await this.#chain
    this.#chain = this.#chain.then(async () => {
      if (this.#stopped) return
      const state = this.#desiredOrNull()
      if (state === null) return
      // The very state object applied last, applied without error: the kernel holds it already (a Linux kernel
      // would plan against its own record of that apply and find nothing to do). Drift is found by a rescan.
      if (state === this.#lastDesired && !this.#failed) { this.stats.skipped++; return }
      await this.#apply(state)
    })
    await this.#chain
  }

  /**
   * Reads the kernel and puts right whatever differs from the desired state (someone removed a route, a rule or an
   * address by hand, or added one in the daemon's tables). Runs by itself every `rescanMs`; resolves after it.
   */
  async rescan (): Promise<void> {
    if (this.#stopped) return await this.#chain
    this.#chain = this.#chain.then(async () => {
      if (this.#stopped) return
      this.stats.rescans++
      const state = this.#desiredOrNull()
      if (state === null) return
      // only a state applied already can show drift: a newer one (its apply still due) differs from the kernel anyway
      const applied = state === this.#lastDesired && !this.#failed
      const ops = await this.#apply(state, false, true)
      if (applied && ops > 0) {
        this.stats.repairs++
        this.stats.repairedOps += ops
        const changes = this.kernel.lastApplyStats?.changes ?? []
        this.#log(`kernel rescan: the kernel differed from the desired state; ${ops} changes put right: ${changes.slice(0, 8).join('; ')}${changes.length > 8 ? '; ...' : ''}`)
      }
    })
    await this.#chain
  }

  #scheduleRescan (): void {
    if (this.#rescanMs <= 0 || this.#stopped) return
    this.#rescanTimer = this.clock.setTimer(this.#rescanMs, () => {
      this.#rescanTimer = null
      void this.rescan().finally(() => this.#scheduleRescan())
    })
  }

  /** Stops applying the computed state; the last call is `final(state)` (e.g. the empty state at exit). */
  async final (state: KernelState): Promise<void> {
    this.#stopped = true
    this.#timer?.()
    this.#timer = null
    this.#rescanTimer?.()
    this.#rescanTimer = null
    this.#chain = this.#chain.then(async () => { await this.#apply(state, true) })
    await this.#chain
  }

  /** The desired state, or null when computing it failed (counted and logged: the chain of applies must go on). */
  #desiredOrNull (): KernelState | null {
    try {
      return this.desired()
    } catch (e) {
      this.#failed = true
      this.stats.applyErrors++
      this.stats.lastError = `desired state: ${(e as Error).message}`
      this.#log(`kernel: computing the desired state failed: ${(e as Error).stack ?? String(e)}`)
      return null
    }
  }

  /** Applies a state; returns the ops it took (0 after a failure, which is counted and retried soon). */
  async #apply (state: KernelState, rethrow = false, rescan = false): Promise<number> {
    this.#lastApplyAt = this.clock.now()
    let ops: number
    try {
      const s = await this.kernel.apply(state, rescan ? { rescan: true } : undefined)
      this.#lastDesired = state
      this.#failed = false
      this.stats.applies++
      this.stats.ops += s.ops
      ops = s.ops
    } catch (e) {
      this.#failed = true
      this.stats.applyErrors++
      this.stats.lastError = (e as Error).message
      this.#log(`kernel apply failed: ${(e as Error).message}`)
      if (rethrow) throw e
      // try again soon: a transient failure must not leave the kernel behind for good
      this.schedule()
      return 0
    }
    // outside the try: a listener that throws is not a failed apply
    if (ops > 0 && this.#applied.size > 0) {
      const changes = this.kernel.lastApplyStats?.changes
      runListeners('kernel applied', this.#applied, { ops, rescan, ...(changes === undefined ? {} : { changes }) }, this.onListenerError)
    }
    return ops
  }
}
