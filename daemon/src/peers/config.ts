import type { Ms } from '../util/clock'

/** PeerServices timers and limits (DESIGN §3: timers are configuration, with a lab profile). */
export interface PeersConfig {
  /**
   * How long a client waits for the routing of a request to reach a servant, by the number of nodes inside the
   * g-node in which the search runs (the smallest common g-node of client and target): `smallMs` up to
   * `mediumAbove` nodes, `mediumMs` up to `largeAbove`, `largeMs` beyond, plus `floorMs` always (routes may still
   * be settling). The original's last values (peerservices 6cdfdf5): 200 ms / 2 s / 20 s, floor 500 ms.
   */
  readonly routingTimeout: {
    readonly smallMs: Ms
    readonly mediumMs: Ms
    readonly largeMs: Ms
    readonly mediumAbove: number
    readonly largeAbove: number
    readonly floorMs: Ms
  }
  /** One forward of a request to a gateway (a reliable send over a qspn-arc): past this, the next gateway. */
  readonly neighbourSendTimeoutMs: Ms
  /** One message of the servant (or a forwarder) back to the client over the routed channel. */
  readonly contactBackTimeoutMs: Ms
  /** The servant retries a failed message to the client while less than this has passed (routes may be missing). */
  readonly contactBackRetryMs: Ms
  /** Tries of a message to the client, whatever the time taken (a lost one is only noticed at its timeout). */
  readonly contactBackMinAttempts: number
  /** Pause between two tries of a failed message to the client. */
  readonly contactBackRetryWaitMs: Ms
  /**
   * No gateway toward the chosen g-node: wait this long, then choose again; doubled after each such round of one
   * request, up to noGatewayMaxWaitMs, and the request gives up after noGatewayRounds of them (every send failing
   * at once, as through a pseudo-interface not attached yet, made thousands of tries a minute and loaded the lab).
   */
  readonly noGatewayWaitMs: Ms
  readonly noGatewayMaxWaitMs: Ms
  readonly noGatewayRounds: number
  /**
   * A g-node that did not answer in time is asked again this many times before it is excluded (a lost message is
   * not a dead servant). After that it is excluded softly: the search is degraded and writes are refused.
   */
  readonly timeoutRetries: number
  /** Pause before a request starts again from scratch (redo). */
  readonly redoWaitMs: Ms
  /** Upper bound of the choices (exclusions, retries, restarts) one request makes before it gives up. */
  readonly maxAttempts: number
  /** A participant of an optional service tells the network again after this (original: 5 min, 5 times). */
  readonly participantRepublishMs: Ms
  /** A participation already forwarded is not forwarded again for this long (flood deduplication). */
  readonly participantDedupMs: Ms
  /** Replicas of each record: the next q servants (§5.5; the Coordinator uses 15). */
  readonly replicas: number
  /**
   * Critical coherence time of a record handed to a new servant ("wait δ then give me k", §5.5), by the number of
   * nodes of the common g-node: below 50, 500, 5000 nodes, and beyond (original: 2 s, 20 s, 30 s, 50 s).
   */
  readonly coherenceDeltaMs: readonly [Ms, Ms, Ms, Ms]
  /** How long a retrieval of one record (wait_then_send_record) may take at the servant. */
  readonly retrieveTimeoutMs: Ms
  /** A database starts asking for records this long after startup (original 2 s). */
  readonly dbStartupDelayMs: Ms
  /** Spacing between two record retrievals launched at startup (original 200 ms). */
  readonly retrieveSpacingMs: Ms
}

export const DEFAULT_PEERS_CONFIG: PeersConfig = {
  routingTimeout: { smallMs: 200, mediumMs: 2_000, largeMs: 20_000, mediumAbove: 100, largeAbove: 1000, floorMs: 500 },
  neighbourSendTimeoutMs: 2_000,
  contactBackTimeoutMs: 2_000,
  contactBackRetryMs: 500,
  contactBackMinAttempts: 3,
  contactBackRetryWaitMs: 10,
  noGatewayWaitMs: 20,
  noGatewayMaxWaitMs: 1_000,
  noGatewayRounds: 8,
  timeoutRetries: 1,
  redoWaitMs: 100,
  maxAttempts: 64,
  participantRepublishMs: 300_000,
  participantDedupMs: 60_000,
  replicas: 15,
  coherenceDeltaMs: [2_000, 20_000, 30_000, 50_000],
  retrieveTimeoutMs: 60_000,
  dbStartupDelayMs: 2_000,
  retrieveSpacingMs: 200
}

/** Short waits for the lab (small networks, tests that must not sleep for minutes). */
export const LAB_PEERS_CONFIG: PeersConfig = {
  ...DEFAULT_PEERS_CONFIG,
  participantRepublishMs: 30_000,
  participantDedupMs: 5_000,
  coherenceDeltaMs: [200, 1_000, 2_000, 5_000],
  retrieveTimeoutMs: 10_000,
  dbStartupDelayMs: 200
}

/** Routing timeout for a search inside a g-node of `nodes` nodes (see `routingTimeout`). */
export function routingTimeoutMs (cfg: PeersConfig, nodes: number): Ms {
  const r = cfg.routingTimeout
  const base = nodes > r.largeAbove ? r.largeMs : nodes > r.mediumAbove ? r.mediumMs : r.smallMs
  return base + r.floorMs
}

/** Coherence delay δ for a g-node of `nodes` nodes (see `coherenceDeltaMs`). */
export function coherenceDeltaMs (cfg: PeersConfig, nodes: number): Ms {
  const [a, b, c, d] = cfg.coherenceDeltaMs
  return nodes < 50 ? a : nodes < 500 ? b : nodes < 5000 ? c : d
}
