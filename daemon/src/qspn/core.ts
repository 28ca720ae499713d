import type { Clock } from '../util/clock'
import type { Random } from '../util/random'
import type { QspnConfig } from './config'
import type { QspnEventEmitter } from './events'
import type { QspnMessenger } from './messenger'
import type { NodePath } from './node-path'
import { hcNum, type Cost, type HCoord, type Positions } from './types'
import type { AdvertisedPath } from './advertisement'

/*
 * The state one QSPN instance shares between its parts (ETP intake, map and selection, fingerprint settling,
 * own g-node info, advertisement, forwarding). Each part owns its own fields; this holds what several read.
 */

/** Ports a QspnManager needs (STYLE §5: dependencies vs options). */
export interface QspnComponents {
  readonly clock: Clock
  readonly random: Random
  readonly messenger: QspnMessenger
}

/** Counters a test or `ntkctl` can read. */
export interface QspnStats {
  etpReceived: number
  etpRejected: number
  etpIgnored: number
  etpSent: number
  /** ETPs the transport could not deliver (each earns its neighbour a full ETP, see Forwarder). */
  etpLost: number
  fullEtpRequests: number
  lastRejectReason: string | null
}

export interface ArcState {
  readonly id: string
  /** QSPN arc id (random, local), written in paths as arcs[0]. */
  readonly qspnId: number
  cost: Cost
  peerNaddr: Positions | null
  /** What this neighbour was last told, per destination and path (interesting-information rule). */
  readonly advertised: Map<string, Map<string, AdvertisedPath>>
  /** Own fingerprints and nodes-inside as last sent to it. */
  headerSent: string
}

export interface Destination {
  readonly hc: HCoord
  /** Selected paths, ascending cost. */
  paths: NodePath[]
  /** What it adds to my g-node one level up (§4.6): the path with the eldest fingerprint, cheapest among those. */
  best: NodePath
  /** getPathsTo's answer, kept until the paths change (the kernel sync asks for every destination each time). */
  primary?: readonly NodePath[]
}

/** Pending change of one destination inside a transaction: its candidate pool, edited in place. */
export interface DestChange {
  readonly hc: HCoord
  readonly candidates: Map<string, NodePath>
}

export class QspnCore {
  readonly gsizes: readonly number[]
  readonly levels: number
  /** Positions, level 0 first; changes when the identity becomes connectivity or takes its real position. */
  naddr: Positions
  isConnectivity: boolean
  readonly arcs = new Map<string, ArcState>()
  readonly map = new Map<string, Destination>()
  /**
   * Every usable path each neighbour told us about, per destination (selected or not). Selection runs over this
   * pool, so when a kept path dies a previously unselected one can take its place without asking anybody: with
   * partial ETPs carrying only what changed, a path dropped here would otherwise be lost until the next full ETP.
   */
  readonly pool = new Map<string, Map<string, NodePath>>()
  readonly #hcs = new Map<number, HCoord>()
  /** Level still bootstrapping, or null when bootstrap is complete. */
  bootstrapLevel: number | null
  /**
   * Level of the g-node this identity moved with (enter_net, migration; the "hooking" g-node): neighbours inside it
   * moved too. null for an identity made by create_net.
   */
  guestLevel: number | null = null
  /** Level of the g-node it entered (its new position is at hostLevel - 1). */
  hostLevel: number | null = null
  /**
   * Levels of the g-nodes whose internal connectivity this identity supports (§1.3): 0/0 for a main identity;
   * from = guest level + 1, to = level where its old and new addresses part, for a connectivity one.
   */
  connectivityFrom = 0
  connectivityTo = 0
  stopped = false
  routingVersion = 0

  constructor (
    readonly c: QspnComponents,
    readonly cfg: QspnConfig,
    readonly events: QspnEventEmitter,
    readonly stats: QspnStats,
    gsizes: readonly number[],
    naddr: Positions,
    isConnectivity: boolean,
    bootstrapLevel: number | null
  ) {
    this.gsizes = [...gsizes]
    this.levels = gsizes.length
    this.naddr = [...naddr]
    this.isConnectivity = isConnectivity
    this.bootstrapLevel = bootstrapLevel
  }

  /** One HCoord object per g-node: the pool holds thousands of paths, most through the same few g-nodes. */
  intern (h: HCoord): HCoord {
    const n = hcNum(h)
    let c = this.#hcs.get(n)
    if (c === undefined) { c = { lvl: h.lvl, pos: h.pos }; this.#hcs.set(n, c) }
    return c
  }

  newArcId (): number {
    const used = new Set([...this.arcs.values()].map(a => a.qspnId))
    for (;;) {
      const id = this.c.random.int(0x7fffffff)
      if (!used.has(id)) return id
    }
  }
}
