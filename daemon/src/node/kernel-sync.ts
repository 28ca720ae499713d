import type { Kernel } from '../kernel/kernel'
import type { KernelState } from '../kernel/state'
import type { CancelTimer, Clock, Ms } from '../util/clock'

export interface KernelSyncStats {
  applies: number
  applyErrors: number
  lastError: string | null
  /** Ops of all applies together. */
  ops: number
  /** Applies left out because the desired state was the one applied last. */
  skipped: number
}

/**
 * Keeps the kernel in step with a desired state computed on demand. `schedule()` coalesces bursts (QSPN path
 * events come in tens per ETP): at most one apply per `minIntervalMs`. `applyNow()` is for callers that need the
 * kernel ready before they go on (Neighborhood's host route before a TCP request). Applies never overlap.
 */
export class KernelSync {
  readonly stats: KernelSyncStats = { applies: 0, applyErrors: 0, lastError: null, ops: 0, skipped: 0 }
  #chain: Promise<void> = Promise.resolve()
  #timer: CancelTimer | null = null
  #lastApplyAt: Ms = Number.NEGATIVE_INFINITY
  #stopped = false
  #lastDesired: KernelState | undefined
  #failed = false

  constructor (
    private readonly kernel: Kernel,
    private readonly desired: () => KernelState,
    private readonly clock: Clock,
    private readonly minIntervalMs: Ms,
    private readonly log: (line: string) => void = () => {}
  ) {}

  /** The desired state of the last apply (undefined before the first). */
  get lastDesired (): KernelState | undefined { return this.#lastDesired }

  schedule (): void {
    if (this.#stopped || this.#timer !== null) return
    const delay = Math.max(0, this.#lastApplyAt + this.minIntervalMs - this.clock.now())
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
      const state = this.desired()
      // The very state object applied last, applied without error: the kernel holds it already (a Linux kernel
      // would plan against its own record of that apply and find nothing to do). Drift is found by a rescan.
      if (state === this.#lastDesired && !this.#failed) { this.stats.skipped++; return }
      await this.#apply(state)
    })
    await this.#chain
  }

  /** Stops applying the computed state; the last call is `final(state)` (e.g. the empty state at exit). */
  async final (state: KernelState): Promise<void> {
    this.#stopped = true
    this.#timer?.()
    this.#timer = null
    this.#chain = this.#chain.then(async () => await this.#apply(state, true))
    await this.#chain
  }

  async #apply (state: KernelState, rethrow = false): Promise<void> {
    this.#lastApplyAt = this.clock.now()
    try {
      const s = await this.kernel.apply(state)
      this.#lastDesired = state
      this.#failed = false
      this.stats.applies++
      this.stats.ops += s.ops
    } catch (e) {
      this.#failed = true
      this.stats.applyErrors++
      this.stats.lastError = (e as Error).message
      this.log(`kernel apply failed: ${(e as Error).message}`)
      if (rethrow) throw e
      // try again soon: a transient failure must not leave the kernel behind for good
      this.schedule()
    }
  }
}
