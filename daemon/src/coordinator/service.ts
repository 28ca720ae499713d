import type { ExecInfo, PeerService } from '../peers/core'
import type { FixedKeysDescriptor, RequestClass } from '../peers/db-common'
import { FixedKeysDatabase } from '../peers/db-fixed-keys'
import { PeersInvalidRequestError } from '../peers/errors'
import type { PeerServices } from '../peers/peer-services'
import type { CoordinatorConfig } from './config'
import { defaultMemory, deleteReserve, memoryFromWire, memoryToWire, reserve, type CoordGnodeMemory } from './memory'
import { COORDINATOR_PID, keyOfCoordRequest, parseCoordRequest, type CoordErrorResponse, type CoordRequest, type ProxyType } from './requests'

/** Thrown by a Hooking handler that cannot handle a request (the client gets a 'handling-impossible' answer). */
export class HandlingImpossibleError extends Error {
  constructor (message: string) { super(message); this.name = 'HandlingImpossibleError' }
}

/** Positions per level (below the guest level) that count as occupied until `until`: see Coordinator. */
export interface InheritedPositions { readonly until: number, readonly byLevel: ReadonlyMap<number, readonly number[]> }

/**
 * What the Hooking module (issue 13) lets the Coordinator of a g-node decide (IEvaluateEnterHandler,
 * IBeginEnterHandler, ICompletedEnterHandler, IAbortEnterHandler). Each runs on the servant with the request's
 * opaque data and the client's tuple; it returns opaque data or throws HandlingImpossibleError.
 */
export type EnterHandler = (lvl: number, data: unknown, clientTuple: readonly number[], memory: HookingMemoryAccess) => unknown
/** The g-node's Hooking memory on its servant, for a handler to read and write within one request. */
export interface HookingMemoryAccess { get (): unknown, set (data: unknown): void }
export type CoordinatorHandlers = Partial<Record<'evaluateEnter' | 'beginEnter' | 'completedEnter' | 'abortEnter', EnterHandler>>

const HANDLER_OF: Record<ProxyType, keyof CoordinatorHandlers> = {
  evaluate_enter: 'evaluateEnter', begin_enter: 'beginEnter', completed_enter: 'completedEnter', abort_enter: 'abortEnter'
}

/**
 * The servant side of the Coordinator service (p_id 1, non-optional): a fixed-keys database whose key is a level
 * (1..levels), h_p = that many zeros (the servant is the participant nearest to 0·…·0 inside my g-node of that
 * level) and whose record is the g-node's shared memory.
 */
export class CoordinatorService implements PeerService, FixedKeysDescriptor<number, CoordGnodeMemory> {
  readonly pId = COORDINATOR_PID
  readonly optional = false
  readonly db: FixedKeysDatabase<number, CoordGnodeMemory>
  readonly #memory = new Map<number, CoordGnodeMemory>()

  constructor (private readonly peers: PeerServices, private readonly cfg: CoordinatorConfig, private readonly o: { handlers?: CoordinatorHandlers, subnetLevel?: number, inherited?: InheritedPositions } = {}) {
    this.db = new FixedKeysDatabase(peers, this, { replicaTimeoutExecMs: cfg.timeoutReadMs })
  }

  get #levels (): number { return this.peers.levels }
  get #now (): number { return this.peers.core.ports.clock.now() }

  async exec (request: unknown, clientTuple: readonly number[], info: ExecInfo): Promise<unknown> { return await this.db.onRequest(request, clientTuple, info) }

  /** This node's copy of the memory of its g-node of level lvl (servant or replica), for ntkctl. */
  localMemory (lvl: number): CoordGnodeMemory | undefined { return this.#memory.get(lvl) }

  // ------------------------------------------------------------ FixedKeysDescriptor

  keyFromWire (raw: unknown): number | null { return Number.isInteger(raw) && (raw as number) >= 1 && (raw as number) <= this.#levels ? raw as number : null }
  keyToWire (k: number): unknown { return k }
  keyId (k: number): string { return String(k) }
  evaluateHashNode (k: number): number[] { return new Array<number>(k).fill(0) }
  recordFromWire (_k: number, raw: unknown): CoordGnodeMemory | null { return memoryFromWire(raw, this.#now) }
  recordToWire (_k: number, rec: CoordGnodeMemory): unknown { return memoryToWire(rec, this.#now) }
  myRecordsContains (k: number): boolean { return this.#memory.has(k) }
  getRecord (k: number): CoordGnodeMemory { return this.#memory.get(k) ?? defaultMemory(this.peers.gsizes, k) }
  setRecord (k: number, rec: CoordGnodeMemory): void { this.#memory.set(k, rec) }
  fullKeyDomain (): number[] { return Array.from({ length: this.#levels }, (_, i) => i + 1) }
  defaultRecord (k: number): CoordGnodeMemory { return defaultMemory(this.peers.gsizes, k) }
  keyOfRequest (r: unknown): number { return keyOfCoordRequest(parseCoordRequest(r, this.#levels), this.#levels) }

  timeoutExecMs (r: unknown): number {
    const req = parseCoordRequest(r, this.#levels)
    switch (req.type) {
      case 'evaluate_enter': case 'begin_enter': case 'completed_enter': case 'abort_enter': return this.cfg.timeoutHookingMs
      case 'get_hooking_memory': case 'get_memory': return this.cfg.timeoutReadMs
      default: return this.cfg.timeoutWriteMs
    }
  }

  classify (r: unknown): RequestClass {
    switch (parseCoordRequest(r, this.#levels).type) {
      case 'get_hooking_memory': case 'get_memory': return 'read'
      case 'number_of_nodes': case 'set_hooking_memory': case 'reserve': case 'delete_reserve': return 'update'
      default: return 'other'
    }
  }

  responseNotFound (): unknown { throw new PeersInvalidRequestError(COORDINATOR_PID, 'every key of the Coordinator has a record') }
  responseNotFree (): unknown { throw new PeersInvalidRequestError(COORDINATOR_PID, 'the Coordinator has no insert request') }

  execute (r: unknown, clientTuple: readonly number[]): unknown {
    const req = parseCoordRequest(r, this.#levels)
    return this.#execute(req, clientTuple)
  }

  #execute (req: CoordRequest, clientTuple: readonly number[]): unknown {
    const err = (error: CoordErrorResponse['error'], message: string): CoordErrorResponse => ({ error, message })
    const now = this.#now
    const map = this.peers.ports.map
    switch (req.type) {
      case 'number_of_nodes': {
        const k = this.#levels
        const mem = this.getRecord(k)
        // the count is repeated for nNodesCacheMs from when it was made, not from the last ask: asked more often
        // than that (every merge asks), a sliding expiry would repeat a count of long ago for ever
        if (mem.nNodes !== null && mem.nNodesExpiresAt !== null && mem.nNodesExpiresAt > now) return { nNodes: mem.nNodes }
        const nNodes = this.peers.core.nodesInside(k)
        this.setRecord(k, { ...mem, nNodes, nNodesExpiresAt: now + this.cfg.nNodesCacheMs })
        return { nNodes }
      }
      case 'evaluate_enter': case 'begin_enter': case 'completed_enter': case 'abort_enter': {
        const h = this.o.handlers?.[HANDLER_OF[req.type]]
        if (h === undefined) return err('handling-impossible', `no handler for ${req.type} on this node`)
        return (async () => {
          try {
            const memory: HookingMemoryAccess = {
              get: () => this.getRecord(req.lvl).hookingMemory ?? null,
              set: data => { this.setRecord(req.lvl, { ...this.getRecord(req.lvl), hookingMemory: data }) }
            }
            return { result: (await h(req.lvl, req.data, clientTuple, memory)) ?? null }
          } catch (e) {
            if (e instanceof HandlingImpossibleError) return err('handling-impossible', e.message)
            throw e
          }
        })()
      }
      case 'get_hooking_memory':
        if (clientTuple.length > 0) return err('not-coordinator-node', 'hooking memory is read only on the coordinator node itself')
        return { hookingMemory: this.getRecord(req.lvl).hookingMemory ?? null }
      case 'set_hooking_memory':
        if (clientTuple.length > 0) return err('not-coordinator-node', 'hooking memory is written only on the coordinator node itself')
        this.setRecord(req.lvl, { ...this.getRecord(req.lvl), hookingMemory: req.data })
        return { ok: true }
      case 'reserve': {
        // inside an autonomous subnet (g-nodes of level <= subnetLevel) positions are not the network's to give
        if (req.lvl <= (this.o.subnetLevel ?? 0)) return err('reserve-refused', `level ${req.lvl} is inside the autonomous subnet of level ${this.o.subnetLevel ?? 0}`)
        const l = req.lvl - 1
        const known = new Set(map.knownDestinations(l))
        const inherited = this.o.inherited
        if (inherited !== undefined && now < inherited.until) for (const p of inherited.byLevel.get(l) ?? []) known.add(p)
        const free: number[] = []
        for (let p = 0; p < this.peers.gsizes[l]; p++) if (p !== this.peers.naddr[l] && !known.has(p)) free.push(p)
        const mem = this.getRecord(req.lvl)
        const r = reserve(mem, { now, reserveRequestId: req.reserveRequestId, freePositions: free, bookingTimeoutMs: this.cfg.bookingTimeoutMs })
        this.setRecord(req.lvl, mem)
        this.peers.core.log(`coordinator of level ${req.lvl} at ${[...this.peers.naddr].reverse().join(".")} for client ${clientTuple.join(",")}: booking ${req.reserveRequestId} gets position ${r.newPos} (booked now: ${mem.reserveList.map(b => b.newPos).join(',')}; known: ${[...known].join(',')})`)
        return r
      }
      case 'delete_reserve': {
        const mem = this.getRecord(req.lvl)
        deleteReserve(mem, req.reserveRequestId)
        this.setRecord(req.lvl, mem)
        return { ok: true }
      }
      case 'get_memory':
        return { servant: [...this.peers.naddr], nodesInside: this.peers.core.nodesInside(req.lvl), memory: memoryToWire(this.getRecord(req.lvl), now) }
    }
  }
}
