import type { Ms } from '../util/clock'

/** Coordinator timers (§6.2; DESIGN §3: timers are configuration, with a lab profile). */
export interface CoordinatorConfig {
  /** A booking (reservation of a position) lives this long unless asked again (original 60 s). */
  readonly bookingTimeoutMs: Ms
  /** The answer to NumberOfNodes is repeated for this long (original 20 s), so two askers agree. */
  readonly nNodesCacheMs: Ms
  /** Replicas of each g-node's memory (original 15). */
  readonly replicas: number
  /** Time the servant may take on a write (original 8 s: it may include a retrieval with its δ). */
  readonly timeoutWriteMs: Ms
  /** Time the servant may take on evaluate/begin/completed/abort enter (original 8 s). */
  readonly timeoutHookingMs: Ms
  /** Time the servant may take on a read or a replica (original 1 s). */
  readonly timeoutReadMs: Ms
  /** A propagation with return waits this long for a neighbour's whole subtree. */
  readonly propagationTimeoutMs: Ms
  /** A propagation id is remembered this long (original 200 s): it is delivered once per node. */
  readonly propagationDedupMs: Ms
}

export const DEFAULT_COORDINATOR_CONFIG: CoordinatorConfig = {
  bookingTimeoutMs: 60_000,
  nNodesCacheMs: 20_000,
  replicas: 15,
  timeoutWriteMs: 8_000,
  timeoutHookingMs: 8_000,
  timeoutReadMs: 1_000,
  propagationTimeoutMs: 60_000,
  propagationDedupMs: 200_000
}

export const LAB_COORDINATOR_CONFIG: CoordinatorConfig = {
  ...DEFAULT_COORDINATOR_CONFIG,
  nNodesCacheMs: 5_000,
  propagationTimeoutMs: 10_000,
  propagationDedupMs: 30_000
}
