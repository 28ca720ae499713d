/** QSPN tunables (§4.1, §11). Parsed once at the edge; the manager only reads them. */
export interface QspnConfig {
  /** Paths kept per destination besides the mandatory ones (ntkd: 5). */
  readonly maxPaths: number
  /** Two paths sharing more than this fraction of weighted hops are not disjoint (ntkd: 0.6). */
  readonly maxCommonHopsRatio: number
  /** How long a full-ETP request over an unknown arc waits for the arc to be added (ntkd: 10000 ms). */
  readonly arcTimeoutMs: number
  /** Period of the spontaneous full ETP to every neighbour (10 min; short in the lab profile). 0 disables it. */
  readonly periodicFullEtpMs: number
  /** Changes committed within this window are forwarded as one partial ETP per neighbour (0: same instant). */
  readonly etpFlushMs: number
  /**
   * Changes of nodes-inside or fingerprints alone are forwarded after this window (they are estimates; sending
   * each increment while a network forms multiplies traffic). Departs from the Vala code, which sends at once.
   */
  readonly infoFlushMs: number
  /**
   * Least time between two partial ETPs this identity forwards (0: none). The first change after a quiet spell goes
   * out at once; changes arriving sooner wait and leave together. Without it, a network whose messages arrive at
   * scattered instants (any real one) forwards each intermediate state of every path: ~70x the messages of a
   * 100-node grid. Departs from the Vala code, which forwards every change at once.
   */
  readonly etpPacingMs: number
  /**
   * Own fingerprints and nodes-inside are told to neighbours only after holding still this long (at most 4x this
   * since the first change). While g-nodes form, every intermediate value would flood the whole network along
   * every path to the g-node. Routing changes are never held. Departs from the Vala code.
   */
  readonly ownInfoHoldMs: number
  /**
   * Rule (c) of path selection (a path per fingerprint of the destination, §4.5) counts a fingerprint once it has
   * been reported this long. The passing fingerprints of a g-node still forming would otherwise each earn a path
   * that is advertised and withdrawn again network-wide; a split g-node's fingerprints persist (the split itself is
   * signalled after 10 s). 0: every fingerprint counts at once, as in the Vala code.
   */
  readonly fingerprintSettleMs: number
  /**
   * How long a new identity (enter_net, migration) waits in bootstrap for a full ETP from outside before it ends the
   * bootstrap anyway (a member of the moving g-node with no arc out of it waits for one from a member that has one;
   * 10 s in the Vala code).
   */
  readonly bootstrapTimeoutMs: number
  /** How long a member of a connectivity g-node told to go (got_prepare_destroy) waits before it asks to be removed. */
  readonly destroyWaitMs: number
  /** A full-ETP request that failed in transport is tried again after this long, once, before the arc is dropped (0: never). */
  readonly requestRetryMs: number
  /**
   * Two fingerprints of one g-node that both last this long (after their settling) mean the g-node split (§4.7,
   * `threshold_calculator`: 10 s in ntkd): a border node next to the island without the eldest signals it.
   */
  readonly splitToleranceMs: number
}

export const DEFAULT_QSPN_CONFIG: QspnConfig = {
  maxPaths: 5,
  maxCommonHopsRatio: 0.6,
  arcTimeoutMs: 10_000,
  periodicFullEtpMs: 600_000,
  etpFlushMs: 0,
  infoFlushMs: 0,
  etpPacingMs: 20,
  ownInfoHoldMs: 100,
  fingerprintSettleMs: 2_000,
  bootstrapTimeoutMs: 10_000,
  destroyWaitMs: 10_000,
  requestRetryMs: 2_000,
  splitToleranceMs: 10_000
}

/**
 * Shorter timers for labs and tests. The split tolerance stays at 5 s: a g-node whose eldest left (a migration, a
 * dismissed identity) shows the old fingerprint on paths not yet refreshed, and with 2 s a lab under load (50 daemons
 * on 2 cores) took that for a split and sent a whole g-node out of the network during a merge.
 */
export const LAB_QSPN_CONFIG: QspnConfig = { ...DEFAULT_QSPN_CONFIG, arcTimeoutMs: 2_000, periodicFullEtpMs: 30_000, bootstrapTimeoutMs: 3_000, destroyWaitMs: 1_000, requestRetryMs: 500, splitToleranceMs: 5_000 }
