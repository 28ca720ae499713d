import type { WireMessage } from '../wire'
import type { PeerServices } from '../peers/peer-services'
import { DEFAULT_COORDINATOR_CONFIG, type CoordinatorConfig } from './config'
import { memoryFromWire, memoryToWire, type CoordGnodeMemory, type MemoryWire, type Reservation } from './memory'
import { Propagation, type PropagationHandler } from './propagation'
import { COORDINATOR_PID, isCoordError, type CoordRequest } from './requests'
import { CoordinatorService, type CoordinatorHandlers, type InheritedPositions } from './service'

/** The Coordinator of a g-node answered with an error, or with something that is no answer to the request. */
export class CoordinatorError extends Error {
  constructor (readonly code: string, message: string) {
    super(message)
    this.name = 'CoordinatorError'
  }
}

/** get/set hooking memory reached a servant other than this node (§6.2 NotCoordinatorNodeError). */
export class NotCoordinatorNodeError extends CoordinatorError {
  constructor (lvl: number) { super('not-coordinator-node', `this node is not the coordinator of its g-node of level ${lvl}`); this.name = 'NotCoordinatorNodeError' }
}

/** reserve refused (inside an autonomous subnet). */
export class ReserveError extends CoordinatorError {
  constructor (message: string) { super('reserve-refused', message); this.name = 'ReserveError' }
}

export interface CoordinatorOptions {
  readonly config?: Partial<CoordinatorConfig>
  /** Hooking's decisions, run on the servant (issue 13). */
  readonly handlers?: CoordinatorHandlers
  /** Hooking's reactions to propagations, run on every node of the g-node (issue 13). */
  readonly propagation?: PropagationHandler
  /** Autonomous subnet level (-s): reservations inside it are refused. */
  readonly subnetLevel?: number
  /** The Coordinator of the identity this one replaces (entry or migration; PeerServices.origin has the levels). */
  readonly previous?: Coordinator
}

/** The memory of a level as its servant shows it (ntkctl coordinator). */
export interface CoordinatorMemoryView {
  readonly lvl: number
  /** The servant's address, level 0 first. */
  readonly servant: number[]
  /** The servant's count of the nodes of the g-node. */
  readonly nodesInside: number
  readonly memory: MemoryWire
}

/**
 * The Coordinator module of one identity (§6.2): the client side of the Coordinator service (proxy requests for
 * Hooking, reservations, number of nodes, hooking memory), its servant side on a main identity, and propagation
 * to every node of a g-node. Requests carry no identity addressing; the PeerServices they ride are the identity's.
 */
export class Coordinator {
  readonly cfg: CoordinatorConfig
  readonly propagation: Propagation
  #service: CoordinatorService | undefined
  readonly #detach: () => void

  constructor (readonly peers: PeerServices, readonly o: CoordinatorOptions = {}) {
    this.cfg = { ...DEFAULT_COORDINATOR_CONFIG, ...o.config }
    this.propagation = new Propagation(peers, this.cfg, o.propagation)
    this.#detach = peers.ports.neighbours.onMessage(async (arcId, m) => await this.propagation.handle(arcId, m))
    this.#previousDb = o.previous === undefined ? undefined : (o.previous.#service ?? o.previous.#retired)?.db
    this.#inherited = inheritedPositions(peers, o.previous, this.cfg.bookingTimeoutMs)
    this.becameMain()
  }

  /** Positions inside the g-node that moved as a block, as the previous identity's map knew them (see service). */
  readonly #inherited: InheritedPositions | undefined

  /** The database of the identity this one replaces (its records are retrieved from it, §5.5). */
  readonly #previousDb: CoordinatorService['db'] | undefined
  /** The service this identity ran before it became a connectivity identity (its successor retrieves from it). */
  #retired: CoordinatorService | undefined

  /**
   * The identity's address is all real: it serves from now on. At once for the first identity of a network; for
   * an identity made by an entry or migration, at phase 2, when its virtual position becomes real.
   */
  becameMain (): void {
    if (this.#service !== undefined || !this.peers.core.isMain()) return
    const service = new CoordinatorService(this.peers, { ...this.cfg }, { handlers: this.o.handlers, subnetLevel: this.o.subnetLevel, inherited: this.#inherited })
    this.peers.register(service)
    service.db.start(this.#previousDb)
    this.#service = service
  }

  /** Replications of written memories still running here. */
  get replicationsRunning (): number { return this.#service?.db.replicator.busy ?? 0 }

  /** Replicas this servant has written so far (each a routed request). */
  get replicasWritten (): number { return this.#service?.db.replicator.replicasWritten ?? 0 }

  /** Replication passes that failed (logged). */
  get replicationFailures (): number { return this.#service?.db.replicator.failures ?? 0 }

  /** True while this identity serves (main identity). */
  get serving (): boolean { return this.#service !== undefined }

  /** This node's copy of its level-lvl g-node's memory (as servant or replica), undefined when it holds none. */
  localMemory (lvl: number): CoordGnodeMemory | undefined { return this.#service?.localMemory(lvl) }

  /** The identity became a connectivity identity (gone_connectivity): it serves no more. */
  goneConnectivity (): void {
    if (this.#service === undefined) return
    this.peers.unregister(COORDINATOR_PID)
    this.#retired = this.#service
    this.#service = undefined
  }

  stop (): void { this.#detach() }

  /** A request to the Coordinator of my g-node of level `key` (x̄ = key zeros). */
  async #call (key: number, req: CoordRequest, timeoutExecMs: number): Promise<Record<string, unknown>> {
    const r = await this.peers.contactPeer(COORDINATOR_PID, new Array<number>(key).fill(0), req, { timeoutExecMs })
    const res = r.response
    if (isCoordError(res)) {
      if (res.error === 'not-coordinator-node') throw new NotCoordinatorNodeError(key)
      if (res.error === 'reserve-refused') throw new ReserveError(res.message)
      throw new CoordinatorError(res.error, res.message)
    }
    if (typeof res !== 'object' || res === null) throw new CoordinatorError('bad-answer', `${req.type}: the servant answered ${JSON.stringify(res)}`)
    return res as Record<string, unknown>
  }

  /** The number of nodes of the whole network, as its Coordinator answers it (the same for 20 s). */
  async getNNodes (): Promise<number> {
    const r = await this.#call(this.peers.levels, { type: 'number_of_nodes' }, this.cfg.timeoutWriteMs)
    if (!Number.isInteger(r.nNodes)) throw new CoordinatorError('bad-answer', 'number_of_nodes without a count')
    return r.nNodes as number
  }

  async #proxy (type: 'evaluate_enter' | 'begin_enter' | 'completed_enter' | 'abort_enter', lvl: number, data: unknown): Promise<unknown> {
    const r = await this.#call(lvl, { type, lvl, data }, this.cfg.timeoutHookingMs)
    if (!('result' in r)) throw new CoordinatorError('bad-answer', `${type} without a result`)
    return r.result
  }

  /** Runs Hooking's evaluate_enter on the Coordinator of my g-node of level lvl (the whole network: levels). */
  async evaluateEnter (lvl: number, data: unknown): Promise<unknown> { return await this.#proxy('evaluate_enter', lvl, data) }
  async beginEnter (lvl: number, data: unknown): Promise<unknown> { return await this.#proxy('begin_enter', lvl, data) }
  async completedEnter (lvl: number, data: unknown): Promise<unknown> { return await this.#proxy('completed_enter', lvl, data) }
  async abortEnter (lvl: number, data: unknown): Promise<unknown> { return await this.#proxy('abort_enter', lvl, data) }

  /** Hooking's data in my level-lvl g-node's memory; only on its coordinator node (else NotCoordinatorNodeError). */
  async getHookingMemory (lvl: number): Promise<unknown> {
    const r = await this.#call(lvl, { type: 'get_hooking_memory', lvl }, this.cfg.timeoutReadMs)
    return r.hookingMemory ?? null
  }

  async setHookingMemory (lvl: number, data: unknown): Promise<void> {
    await this.#call(lvl, { type: 'set_hooking_memory', lvl, data }, this.cfg.timeoutWriteMs)
  }

  /** Books a position inside my g-node of level lvl (a free real one if any, else virtual) for request id `reserveRequestId`. */
  async reserve (lvl: number, reserveRequestId: number): Promise<Reservation> {
    const r = await this.#call(lvl, { type: 'reserve', lvl, reserveRequestId }, this.cfg.timeoutWriteMs)
    if (!Number.isInteger(r.newPos) || !Number.isInteger(r.newEldership)) throw new CoordinatorError('bad-answer', 'reserve without a position')
    return { newPos: r.newPos as number, newEldership: r.newEldership as number }
  }

  async deleteReserve (lvl: number, reserveRequestId: number): Promise<void> {
    await this.#call(lvl, { type: 'delete_reserve', lvl, reserveRequestId }, this.cfg.timeoutWriteMs)
  }

  /** The memory of my level-lvl g-node, its servant and the servant's count of nodes. */
  async memory (lvl: number): Promise<CoordinatorMemoryView> {
    const r = await this.#call(lvl, { type: 'get_memory', lvl }, this.cfg.timeoutReadMs)
    const mem = memoryFromWire(r.memory, 0)
    const servant = r.servant
    if (mem === null || !Array.isArray(servant) || !servant.every(p => Number.isInteger(p)) || !Number.isInteger(r.nodesInside)) {
      throw new CoordinatorError('bad-answer', 'get_memory answer is malformed')
    }
    return { lvl, servant: servant as number[], nodesInside: r.nodesInside as number, memory: memoryToWire(mem, 0) }
  }

  // ------------------------------------------------------------ propagation (§6.2, with return where the spec says)

  async prepareMigration (lvl: number, data: unknown): Promise<void> { await this.propagation.propagate('prepare_migration', lvl, data, true) }
  async finishMigration (lvl: number, data: unknown): Promise<void> { await this.propagation.propagate('finish_migration', lvl, data, false) }
  async prepareEnter (lvl: number, data: unknown): Promise<void> { await this.propagation.propagate('prepare_enter', lvl, data, true) }
  async finishEnter (lvl: number, data: unknown): Promise<void> { await this.propagation.propagate('finish_enter', lvl, data, false) }
  async weHaveSplitted (lvl: number, data: unknown): Promise<void> { await this.propagation.propagate('we_have_splitted', lvl, data, false) }

  /** Neighbour messages this module handles (for a demultiplexer that routes by kind). */
  static handles (m: WireMessage): boolean { return m.kind === 'coord_propagate' }
}

/**
 * After an entry or migration of a g-node of level k (guest level), the positions below k are the ones the block
 * had: the previous identity's map knew them all, while the new identity's young map may not yet (its copy of the
 * block's paths goes over the arcs whose duplications matched in time). Taken as occupied by `reserve` for
 * `ttlMs`, they keep a booking from giving a member's position to a node entering the block meanwhile.
 */
function inheritedPositions (peers: PeerServices, previous: Coordinator | undefined, ttlMs: number): InheritedPositions | undefined {
  const k = peers.origin.guestGnodeLevel
  if (previous === undefined || k < 1) return undefined
  const byLevel = new Map<number, number[]>()
  const map = previous.peers.ports.map
  for (let l = 0; l < k; l++) byLevel.set(l, [...map.knownDestinations(l)])
  return { until: peers.core.ports.clock.now() + ttlMs, byLevel }
}
