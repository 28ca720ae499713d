import type { Op } from './plan'
import type { KernelState } from './state'

export interface KernelOptions { readonly signal?: AbortSignal }

export interface ApplyOptions extends KernelOptions {
  /** Re-read the kernel instead of trusting the last apply (a periodic scan, or after someone else touched it). */
  readonly rescan?: boolean
}

/** What one apply did: a repeated apply of the same state has ops = 0 and commands = 0. */
export interface ApplyStats {
  /** ops planned and applied */
  readonly ops: number
  /** commands that change the kernel (ip -batch, iptables-restore, sysctl -w, ip netns add/del); 0 in memory */
  readonly commands: number
  /** commands that only read */
  readonly reads: number
  readonly ms: number
  /** For a rescan (`rescan: true`): what was changed, one line per op (describeOp). */
  readonly changes?: readonly string[]
}

/**
 * The kernel port. Lifecycle: `apply` reads the actual owned state, plans the difference with `plan()` and applies
 * it; it is idempotent and converges from any partial state
 * it has scanned (`rescan`). `read(hint)` returns the owned state; sysctls and
 * links-up are reported only for the keys and devices the hint names (they are enforced, not owned).
 */
export interface Kernel {
  read (hint?: KernelState, o?: KernelOptions): Promise<KernelState>
  plan (desired: KernelState, o?: KernelOptions): Promise<Op[]>
  apply (desired: KernelState, o?: ApplyOptions): Promise<ApplyStats>
  readonly lastApplyStats: ApplyStats | undefined
  /** Releases what the kernel holds open (processes); it stays usable. */
  close (): Promise<void>
}
