import type { HCoord } from '../addressing/naddr'
import type { WireMessage } from '../wire'
import type { Ms } from '../util/clock'
import { DEFAULT_PEERS_CONFIG, type PeersConfig } from './config'
import type { SearchView } from './distance'
import type { ContactTarget, PeersPorts } from './ports'

/**
 * A p2p service (§5.1) as registered on an identity. The service's client side builds x̄ (h_p) and its requests;
 * the servant side executes what reaches it. Requests and responses are plain JSON; the service validates them.
 */
export interface PeerService {
  readonly pId: number
  /** Optional services have participant maps; non-optional ones are served by every main identity. */
  readonly optional: boolean
  /**
   * Executes a request at this node (the servant). `clientTuple` is the client's address inside the g-node both
   * share (level 0 first), empty when the client is this identity. May throw PeersRefuseExecutionError,
   * PeersRedoFromStartError or PeersInvalidRequestError.
   */
  exec (request: unknown, clientTuple: readonly number[], info: ExecInfo): unknown
}

/** What a servant knows of the search that reached it. */
export interface ExecInfo {
  /**
   * The client excluded some g-node only because it did not answer in time; that g-node may be alive and be the
   * true servant. A database refuses writes on such a search (the client starts again): two servants must never
   * both accept writes for one key.
   */
  readonly degraded: boolean
  /**
   * Runs `f` once the answer has left (or, executed locally, once it is handed back): for a request whose execution
   * changes the servant itself (Hooking's migrations duplicate the identity that would answer).
   */
  readonly afterAnswer?: (f: () => void) => void
}

/** Per-service counters (ntkctl peers). Latencies are those of requests this identity made, in clock ms. */
export interface ServiceStats {
  requests: number
  answered: number
  failed: number
  served: number
  refused: number
  latencyMsTotal: number
  latencyMsMax: number
}

export interface PeersStats {
  /** Requests forwarded toward their target (m' passed on). */
  forwarded: number
  /** Requests re-targeted inside a g-node. */
  retargeted: number
  /** Requests executed here as servant (local ones included). */
  served: number
  /** Client waits that expired (the target g-node was excluded). */
  timeouts: number
  /** Servant refusals, failures and non-participation answers received. */
  exclusions: number
  /** Requests started again from scratch. */
  redos: number
  /** No gateway answered toward a g-node. */
  noGateway: number
  /** Messages back to a client that could not be delivered. */
  contactFailures: number
  /** Received messages dropped as invalid for this topology (bad positions, lengths, loops). */
  invalid: number
  /** Forwarded requests dropped by an identity with virtual positions above the common level. */
  droppedVirtual: number
  byService: Map<number, ServiceStats>
}

const newServiceStats = (): ServiceStats => ({ requests: 0, answered: 0, failed: 0, served: 0, refused: 0, latencyMsTotal: 0, latencyMsMax: 0 })

/** Membership of optional services, as the participant maps know it. */
export interface ParticipationView {
  /** Positions at lvl of my map's g-nodes with a participant of pId. */
  positions (pId: number, lvl: number): Iterable<number>
  /** Do I take part in pId myself? */
  isParticipating (pId: number): boolean
  /** Does my g-node of level lvl hold a participant (me or an entry below lvl)? */
  myGnodeParticipates (pId: number, lvl: number): boolean
  remove (pId: number, hc: HCoord): void
}

/** State and helpers shared by the client, forwarder, participant maps and databases of one identity. */
export class PeersCore {
  readonly cfg: PeersConfig
  readonly gsizes: readonly number[]
  readonly levels: number
  readonly stats: PeersStats = {
    forwarded: 0, retargeted: 0, served: 0, timeouts: 0, exclusions: 0, redos: 0, noGateway: 0, contactFailures: 0, invalid: 0, droppedVirtual: 0, byService: new Map()
  }

  readonly services = new Map<number, PeerService>()
  participation: ParticipationView | undefined
  stopped = false

  constructor (readonly ports: PeersPorts, cfg: Partial<PeersConfig> = {}) {
    this.cfg = { ...DEFAULT_PEERS_CONFIG, ...cfg }
    this.gsizes = [...ports.map.gsizes]
    this.levels = this.gsizes.length
    if (ports.map.naddr.length !== this.levels) throw new RangeError(`address of ${ports.map.naddr.length} positions for ${this.levels} levels`)
  }

  log (line: string): void { this.ports.log?.(`peers: ${line}`) }

  get naddr (): readonly number[] { return this.ports.map.naddr }

  serviceStats (pId: number): ServiceStats {
    let s = this.stats.byService.get(pId)
    if (s === undefined) { s = newServiceStats(); this.stats.byService.set(pId, s) }
    return s
  }

  /** Highest level holding a virtual position, -1 for an all-real address. */
  highestVirtualLevel (): number {
    for (let l = this.levels - 1; l >= 0; l--) if (this.naddr[l] >= this.gsizes[l]) return l
    return -1
  }

  /** Only a main identity (all-real address) with a complete bootstrap is client or servant (§5.1). */
  isMain (): boolean { return this.highestVirtualLevel() < 0 }
  isReady (): boolean { return this.isMain() && this.ports.map.isBootstrapComplete() }

  /** My positions from `level` up are real: I belong to the g-node of that level the message speaks of. */
  realFrom (level: number): boolean {
    for (let l = level; l < this.levels; l++) if (this.naddr[l] >= this.gsizes[l]) return false
    return true
  }

  isParticipating (pId: number): boolean {
    const s = this.services.get(pId)
    if (s === undefined) return false
    return !s.optional || (this.participation?.isParticipating(pId) ?? false)
  }

  myGnodeParticipates (pId: number, lvl: number): boolean {
    const s = this.services.get(pId)
    if (s !== undefined && !s.optional) return true
    return this.participation?.myGnodeParticipates(pId, lvl) ?? false
  }

  /** What approximate() sees for service pId (optional services: g-nodes with participants only). */
  searchView (pId: number, optional: boolean): SearchView {
    const map = this.ports.map
    const participation = this.participation
    return {
      gsizes: this.gsizes,
      naddr: this.naddr,
      lowestLevel: Math.max(0, this.highestVirtualLevel()),
      selfEligible: this.isReady() && this.isParticipating(pId),
      candidates: optional && participation !== undefined
        ? (lvl: number) => { const known = new Set(map.knownDestinations(lvl)); return [...participation.positions(pId, lvl)].filter(p => known.has(p)) }
        : (lvl: number) => map.knownDestinations(lvl)
    }
  }

  nodesInside (lvl: number): number {
    try { return this.ports.map.nodesInside(lvl) } catch { return 1 }
  }

  sleep (ms: Ms): Promise<void> {
    return new Promise(resolve => this.ports.clock.setTimer(ms, resolve))
  }

  newMsgId (): number { return this.ports.random.int(2 ** 31 - 1) }

  /**
   * Sends `msg` to the best gateway toward (lvl, pos) that answers, skipping the arc it came from; true when one
   * took it. Each gateway is tried once, cheapest path first.
   */
  async sendToGateway (lvl: number, pos: number, msg: WireMessage, avoidArc: string | null): Promise<boolean> {
    const tried = new Set<string>()
    for (const p of this.ports.map.pathsTo(lvl, pos)) {
      if (p.arcId === avoidArc || tried.has(p.arcId)) continue
      tried.add(p.arcId)
      if (this.stopped) return false
      try {
        await this.ports.neighbours.send(p.arcId, msg, { timeoutMs: this.cfg.neighbourSendTimeoutMs })
        return true
      } catch (e) {
        this.log(`${msg.kind} to gateway ${p.arcId} toward (${lvl},${pos}) failed: ${(e as Error).message}`)
      }
    }
    return false
  }

  /**
   * Sends a message back to a client over the routed channel; on failure tries again (routes may be missing for
   * a moment, a message may be lost) while less than contactBackRetryMs has passed, and at least
   * contactBackMinAttempts times. Rejects when it never went through.
   */
  async contact (target: ContactTarget, msg: WireMessage): Promise<WireMessage | undefined> {
    const start = this.ports.clock.now()
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.ports.contactBack.send(target, msg, { timeoutMs: this.cfg.contactBackTimeoutMs })
      } catch (e) {
        const late = this.ports.clock.now() - start >= this.cfg.contactBackRetryMs
        if (this.stopped || (late && attempt >= this.cfg.contactBackMinAttempts)) {
          this.stats.contactFailures++
          throw e
        }
        await this.sleep(this.cfg.contactBackRetryWaitMs)
      }
    }
  }
}

/** Is `v` a list of integers of that length, each in [0, bound(k))? */
export function isPositions (v: readonly number[], length: number, bound: (k: number) => number): boolean {
  if (v.length !== length) return false
  for (let k = 0; k < v.length; k++) if (!Number.isInteger(v[k]) || v[k] < 0 || v[k] >= bound(k)) return false
  return true
}
