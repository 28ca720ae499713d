import type { Ms } from '../util/clock'

/** Timers of Hooking (§6.3); every one is configuration, with a lab profile that merges small networks in seconds. */
export interface HookingConfig {
  /** A neighbour not bootstrapped yet (or busy) is asked again for its network data after this. */
  readonly networkDataRetryMs: Ms
  /** The network data request (and its answer, which may first ask the neighbour's Coordinator). */
  readonly networkDataTimeoutMs: Ms
  /** A network we decided not to enter (the other side acts) is looked at again after this. */
  readonly reconsiderMs: Ms
  /** Sizes this many times apart decide locally; closer ones ask both Coordinators (phase 1). */
  readonly localDecisionRatio: number
  /** global_timeout of a network of n nodes (phase 2): the wait for other contact points to report. */
  readonly globalTimeoutBaseMs: Ms
  readonly globalTimeoutPerNodeMs: Ms
  readonly globalTimeoutMaxMs: Ms
  /** An IgnoreNetwork answer keeps the client quiet for this many global timeouts. */
  readonly ignoreNetworkFactor: number
  /** The exclusive lock of begin_enter lasts this long unless completed or aborted (phase 5). */
  readonly beginEnterTimeoutMs: Ms
  /** The neighbour's search and execution of a migration path (phase 6). */
  readonly searchMigrationPathTimeoutMs: Ms
  /** One routed request of a migration path (a search in a g-node, a migration of one; phase 6). */
  readonly migrationRequestTimeoutMs: Ms
  /** After a migration, the old (connectivity) identity asks check_connectivity this often until it may go. */
  readonly connectivityCheckMs: Ms
  /** After an entry, the old identities are dismissed once the new one has bootstrapped, or after this at most. */
  readonly dismissOldAfterMs: Ms
  /** Attempts of phase 5-6 at one level before giving up the entry (it is evaluated again later). */
  readonly attemptsPerLevel: number
  /**
   * A network whose eldest node (its id) has been out of sight this long is a part of a network that split: it takes
   * its own eldest's id (seed: network collision; the tolerance of the original's split detection is 10 s).
   */
  readonly networkSplitToleranceMs: Ms
  /** How often the main identity's map is looked at for that. */
  readonly networkWatchMs: Ms
}

export const DEFAULT_HOOKING_CONFIG: HookingConfig = {
  networkDataRetryMs: 10_000,
  networkDataTimeoutMs: 20_000,
  reconsiderMs: 600_000,
  localDecisionRatio: 20,
  globalTimeoutBaseMs: 10_000,
  globalTimeoutPerNodeMs: 100,
  globalTimeoutMaxMs: 120_000,
  ignoreNetworkFactor: 20,
  beginEnterTimeoutMs: 120_000,
  searchMigrationPathTimeoutMs: 300_000,
  migrationRequestTimeoutMs: 60_000,
  connectivityCheckMs: 10_000,
  dismissOldAfterMs: 60_000,
  attemptsPerLevel: 3,
  networkSplitToleranceMs: 10_000,
  networkWatchMs: 1_000
}

export const LAB_HOOKING_CONFIG: HookingConfig = {
  networkDataRetryMs: 500,
  networkDataTimeoutMs: 10_000,
  reconsiderMs: 10_000,
  localDecisionRatio: 20,
  globalTimeoutBaseMs: 1_000,
  globalTimeoutPerNodeMs: 20,
  globalTimeoutMaxMs: 10_000,
  ignoreNetworkFactor: 5,
  beginEnterTimeoutMs: 30_000,
  searchMigrationPathTimeoutMs: 60_000,
  migrationRequestTimeoutMs: 20_000,
  connectivityCheckMs: 1_000,
  dismissOldAfterMs: 10_000,
  attemptsPerLevel: 3,
  networkSplitToleranceMs: 2_000,
  networkWatchMs: 250
}

/** global_timeout (ms) of a network of n nodes. */
export function globalTimeoutMs (cfg: HookingConfig, nNodes: number): Ms {
  return Math.min(cfg.globalTimeoutMaxMs, cfg.globalTimeoutBaseMs + cfg.globalTimeoutPerNodeMs * Math.max(1, nNodes))
}
