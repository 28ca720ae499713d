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
}

export const DEFAULT_QSPN_CONFIG: QspnConfig = {
  maxPaths: 5,
  maxCommonHopsRatio: 0.6,
  arcTimeoutMs: 10_000,
  periodicFullEtpMs: 600_000,
  etpFlushMs: 0,
  infoFlushMs: 0
}

export const LAB_QSPN_CONFIG: QspnConfig = { ...DEFAULT_QSPN_CONFIG, arcTimeoutMs: 2_000, periodicFullEtpMs: 30_000 }
