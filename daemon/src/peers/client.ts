import type { HCoord } from '../addressing/naddr'
import type { WireMessage } from '../wire'
import type { CancelTimer, Ms } from '../util/clock'
import { routingTimeoutMs } from './config'
import { approximate, classifyTuple, rebaseTuple, tupleOfHc, tupleOfMe, tupleTop, type GnodeTuple } from './distance'
import { PeersDatabaseError, PeersGaveUpError, PeersNoParticipantsError, PeersNotReadyError, PeersRedoFromStartError, PeersRefuseExecutionError } from './errors'
import {
  peersGetRequest, peersSetFailure, peersSetNext, peersSetNonParticipant, peersSetRedo, peersSetRefuse, peersSetResponse,
  type PeersForward, type PeersRequestBody, type PeersUnknownMessage
} from './messages'
import type { PeersCore } from './core'

/** Options of one request (`contact_peer`). */
export interface ContactOptions {
  /** How long the servant may take once it has the request. */
  readonly timeoutExecMs: Ms
  /** Never serve it here (replicas: the next servant). */
  readonly excludeMyself?: boolean
  /** g-nodes (top = x̄.length) not to ask: replicas already written, refusals of an earlier search. */
  readonly exclude?: readonly GnodeTuple[]
  /**
   * Any node inside the g-node of this level that x̄ names will do (Hooking asks "a node inside g-node X"): the first
   * main identity the request reaches inside it serves, not the one nearest to x̄.
   */
  readonly serveAtLevel?: number
}

export interface ContactResult {
  readonly response: unknown
  /** Who answered: its tuple inside the search domain (top = x̄.length). */
  readonly respondant: GnodeTuple
}

type ClientEvent =
  | { type: 'timeout' }
  | { type: 'next' }
  | { type: 'get_request' }
  | { type: 'response', response: unknown }
  | { type: 'refuse', message: string, level: number }
  | { type: 'redo' }
  | { type: 'failure', gnode: GnodeTuple }
  | { type: 'non_participant', gnode: GnodeTuple }

/** A request of this identity waiting for its servant. */
interface Waiting {
  readonly request: unknown
  readonly timeoutExecMs: Ms
  /** The smallest g-node known to hold the request now (top = common level). */
  minTarget: GnodeTuple
  respondant: number[] | null
  readonly events: ClientEvent[]
  wake: (() => void) | null
}

/** Exclusions of one search, in my frame (§5.4 `exclude_gnode_list`) and as tuples (`exclude_tuple_list`). */
class Exclusions {
  readonly hcs = new Set<number>()
  /** Some g-node is excluded only because it did not answer in time: it may be alive (see ExecInfo.degraded). */
  degraded = false
  /** One of my own g-nodes is excluded: this level's (me and every g-node below it); -1: none. */
  mine = -1
  readonly tuples: GnodeTuple[] = []

  constructor (private readonly naddr: readonly number[], private readonly top: number) {}

  add (t: GnodeTuple, soft = false): void {
    if (soft) this.degraded = true
    const r = rebaseTuple(this.naddr, t, this.top)
    this.tuples.push(r)
    const c = classifyTuple(this.naddr, r)
    if (c.kind === 'visible') this.hcs.add(c.hc.lvl * 0x100000000 + c.hc.pos)
    else if (c.kind === 'mine') this.mine = Math.max(this.mine, c.hc.lvl)
  }

  has = (lvl: number, pos: number): boolean => insideMine(this.naddr, this.mine, lvl, pos) || this.hcs.has(lvl * 0x100000000 + pos)

  /** The excluded g-nodes that lie inside g-node x of my map, as tuples with top x.lvl (what m' carries). */
  inside (x: HCoord): GnodeTuple[] {
    const out: GnodeTuple[] = []
    for (const t of this.tuples) {
      const c = classifyTuple(this.naddr, t)
      if (c.kind === 'inside' && c.hc.lvl === x.lvl && c.hc.pos === x.pos) out.push({ level: t.level, positions: t.positions.slice(0, x.lvl - t.level) })
    }
    return out
  }
}

/**
 * Is candidate (lvl, pos) inside my own g-node of level `mine` (-1: none)? Candidates of approximate() are g-nodes
 * of my map (below that level: inside it) or me, (0, naddr[0]).
 */
export function insideMine (naddr: readonly number[], mine: number, lvl: number, pos: number): boolean {
  return mine >= 0 && (lvl < mine || (lvl === 0 && pos === naddr[0]))
}

const hcNumOf = (h: HCoord): number => h.lvl * 0x100000000 + h.pos

/** The client side of routed requests (§5.4 contact_peer) and the routed messages that come back to it. */
export class RequestClient {
  readonly #waiting = new Map<number, Waiting>()

  constructor (private readonly core: PeersCore) {}

  get pending (): number { return this.#waiting.size }

  /**
   * Sends `request` to the servant of x̄ for service pId (H_t over this identity's knowledge, then hop by hop),
   * excluding g-nodes that refuse, fail, do not take part or do not answer in time, and resolves with the first
   * response. Rejects with PeersNoParticipantsError, PeersDatabaseError (all refused), PeersGaveUpError.
   */
  async contactPeer (pId: number, xbar: readonly number[], request: unknown, o: ContactOptions): Promise<ContactResult> {
    const core = this.core
    const st = core.serviceStats(pId)
    st.requests++
    const started = core.ports.clock.now()
    try {
      const r = await this.#contact(pId, xbar, request, o)
      st.answered++
      const ms = core.ports.clock.now() - started
      st.latencyMsTotal += ms
      st.latencyMsMax = Math.max(st.latencyMsMax, ms)
      return r
    } catch (e) {
      st.failed++
      throw e
    }
  }

  async #contact (pId: number, xbar: readonly number[], request: unknown, o: ContactOptions): Promise<ContactResult> {
    const core = this.core
    const service = core.services.get(pId)
    const optional = service?.optional ?? false
    const w = xbar.length
    if (w > core.levels) throw new RangeError(`x\u0304 of ${w} positions for ${core.levels} levels`)
    if (!core.isReady()) throw new PeersNotReadyError(`request to service ${pId}`)
    let attempts = 0
    let noGateway = 0
    for (;;) { // a redo starts here again
      const naddr = core.naddr
      const excl = new Exclusions(naddr, w)
      for (const t of o.exclude ?? []) excl.add(t)
      if (o.excludeMyself === true) excl.add(tupleOfMe(naddr, w))
      const refusals: string[] = []
      const timeouts = new Map<number, number>()
      let redo = false
      while (!redo) {
        if (++attempts > core.cfg.maxAttempts || core.stopped) throw new PeersGaveUpError(pId, attempts - 1)
        if (!core.isReady()) throw new PeersNotReadyError(`request to service ${pId}`)
        const x = approximate(core.searchView(pId, optional), xbar, excl.has)
        if (x === null) {
          if (refusals.length > 0) throw new PeersDatabaseError(pId, refusals.slice(-10))
          throw new PeersNoParticipantsError(pId)
        }
        if (x.lvl === 0 && x.pos === naddr[0]) {
          try {
            const response = await this.#execLocally(pId, request, excl.degraded)
            return { response, respondant: tupleOfMe(naddr, w) }
          } catch (e) {
            if (e instanceof PeersRedoFromStartError) { core.stats.redos++; redo = true; await core.sleep(core.cfg.redoWaitMs); continue }
            if (!(e instanceof PeersRefuseExecutionError)) throw e
            core.stats.exclusions++
            refusals.push(e.message)
            // a refusal for a g-node at or above the search's own level excludes all of the search (as a servant's
            // refusal is capped on the wire): my g-node of level w-1 then
            const lvl = Math.min(e.level, w - 1)
            excl.add(tupleOfHc(naddr, { lvl, pos: naddr[lvl] }, w))
            continue
          }
        }
        const outcome = await this.#ask(pId, x, xbar, excl, request, o.timeoutExecMs, o.serveAtLevel)
        if (outcome.type === 'timeout' && (timeouts.get(hcNumOf(x)) ?? 0) < core.cfg.timeoutRetries) {
          // a lost message or a slow hop: ask the same g-node again before giving it up
          timeouts.set(hcNumOf(x), (timeouts.get(hcNumOf(x)) ?? 0) + 1)
          continue
        }
        switch (outcome.type) {
          case 'response': return { response: outcome.response, respondant: rebaseTuple(naddr, { level: 0, positions: outcome.respondant }, w) }
          case 'redo': core.stats.redos++; redo = true; await core.sleep(core.cfg.redoWaitMs); break
          case 'timeout':
            core.stats.exclusions++
            excl.add(outcome.gnode, true)
            break
          case 'exclude':
            core.stats.exclusions++
            if (outcome.refusal !== undefined) refusals.push(outcome.refusal)
            if (outcome.nonParticipant && optional) {
              const c = classifyTuple(naddr, rebaseTuple(naddr, outcome.gnode, w))
              if (c.kind === 'visible') core.participation?.remove(pId, c.hc)
            }
            excl.add(outcome.gnode)
            break
          case 'no-gateway':
            core.stats.noGateway++
            if (noGateway >= core.cfg.noGatewayRounds) throw new PeersGaveUpError(pId, attempts)
            await core.sleep(Math.min(core.cfg.noGatewayWaitMs * 2 ** noGateway++, core.cfg.noGatewayMaxWaitMs))
            break
        }
      }
    }
  }

  async #execLocally (pId: number, request: unknown, degraded: boolean): Promise<unknown> {
    const service = this.core.services.get(pId)
    if (service === undefined) throw new PeersRefuseExecutionError('generic', `service ${pId} is not registered here`)
    this.core.stats.served++
    this.core.serviceStats(pId).served++
    // the servant works on its own copy, as if the request had crossed the network
    const after: Array<() => void> = []
    const response = structuredClone(await service.exec(structuredClone(request), [], { degraded, afterAnswer: f => { after.push(f) } }))
    queueMicrotask(() => { for (const f of after) f() })
    return response
  }

  /** One try toward g-node x: send m', then wait for the servant (or news of the search) with the right timeouts. */
  async #ask (pId: number, x: HCoord, xbar: readonly number[], excl: Exclusions, request: unknown, timeoutExecMs: Ms, serveAtLevel?: number):
  Promise<{ type: 'response', response: unknown, respondant: number[] } | { type: 'redo' } | { type: 'no-gateway' } | { type: 'timeout', gnode: GnodeTuple } | { type: 'exclude', gnode: GnodeTuple, refusal?: string, nonParticipant?: boolean }> {
    const core = this.core
    const naddr = core.naddr
    const common = x.lvl + 1
    const msgId = core.newMsgId()
    const mf: PeersForward = {
      v: 1,
      kind: 'peers_forward',
      pId,
      msgId,
      insideLevel: xbar.length,
      client: naddr.slice(0, common),
      lvl: x.lvl,
      pos: x.pos,
      xbar: xbar.slice(0, x.lvl),
      exclude: excl.inside(x),
      degraded: excl.degraded,
      hops: 0,
      ...(serveAtLevel === undefined ? {} : { serveAtLevel })
    }
    const wa: Waiting = { request, timeoutExecMs, minTarget: tupleOfHc(naddr, x, common), respondant: null, events: [], wake: null }
    this.#waiting.set(msgId, wa)
    try {
      if (!await core.sendToGateway(x.lvl, x.pos, mf, null)) return { type: 'no-gateway' }
      let timeout = routingTimeoutMs(core.cfg, core.nodesInside(common))
      for (;;) {
        const ev = await this.#next(wa, timeout)
        switch (ev.type) {
          case 'timeout':
            core.stats.timeouts++
            return { type: 'timeout', gnode: wa.respondant === null ? wa.minTarget : { level: 0, positions: wa.respondant } }
          case 'next': break
          case 'get_request': timeout = timeoutExecMs; break
          case 'response': return { type: 'response', response: ev.response, respondant: wa.respondant ?? [] }
          case 'refuse': {
            const resp = wa.respondant ?? []
            return { type: 'exclude', gnode: { level: ev.level, positions: resp.slice(ev.level) }, refusal: ev.message }
          }
          case 'redo': return { type: 'redo' }
          case 'failure': return { type: 'exclude', gnode: ev.gnode }
          case 'non_participant': return { type: 'exclude', gnode: ev.gnode, nonParticipant: true }
        }
      }
    } finally {
      this.#waiting.delete(msgId)
    }
  }

  #next (wa: Waiting, timeoutMs: Ms): Promise<ClientEvent> {
    const queued = wa.events.shift()
    if (queued !== undefined) return Promise.resolve(queued)
    return new Promise(resolve => {
      let cancel: CancelTimer = () => {}
      wa.wake = () => { wa.wake = null; cancel(); resolve(wa.events.shift() ?? { type: 'timeout' }) }
      cancel = this.core.ports.clock.setTimer(timeoutMs, () => { wa.wake = null; resolve({ type: 'timeout' }) })
    })
  }

  #push (wa: Waiting, ev: ClientEvent): void {
    wa.events.push(ev)
    wa.wake?.()
  }

  /** Handles what servants and forwarders send back to this identity as a client (routed channel). */
  handleContact (m: WireMessage): WireMessage | undefined {
    const unknown = (reason: string): PeersUnknownMessage => ({ v: 1, kind: 'peers_unknown_message', reason })
    const sameResp = (wa: Waiting, r: number[]): boolean => wa.respondant !== null && wa.respondant.length === r.length && r.every((p, k) => p === wa.respondant![k])
    const inSearch = (wa: Waiting, g: GnodeTuple): boolean => tupleTop(g) === tupleTop(wa.minTarget) && g.positions.every(p => Number.isInteger(p))
    if (peersGetRequest.is(m)) {
      const wa = this.#waiting.get(m.msgId)
      if (wa === undefined) return unknown('no such request is waiting')
      if (m.respondant.length !== tupleTop(wa.minTarget)) { this.core.stats.invalid++; return unknown('not inside the g-node of the search') }
      // one servant per request: a copy that reached another node (a forward repeated after a lost ack) gets nothing
      if (wa.respondant !== null && !sameResp(wa, m.respondant)) return unknown('another servant has the request')
      if (wa.respondant === null) {
        wa.respondant = [...m.respondant]
        this.#push(wa, { type: 'get_request' })
      }
      return { v: 1, kind: 'peers_request', request: wa.request, timeoutExecMs: wa.timeoutExecMs } satisfies PeersRequestBody
    }
    if (peersSetResponse.is(m) || peersSetRefuse.is(m) || peersSetRedo.is(m)) {
      const wa = this.#waiting.get(m.msgId)
      if (wa === undefined || !sameResp(wa, m.respondant)) return undefined
      if (peersSetResponse.is(m)) this.#push(wa, { type: 'response', response: m.response })
      else if (peersSetRefuse.is(m)) {
        if (m.level >= m.respondant.length) { this.core.stats.invalid++; return undefined }
        this.#push(wa, { type: 'refuse', message: m.message, level: m.level })
      } else this.#push(wa, { type: 'redo' })
      return undefined
    }
    if (peersSetNext.is(m) || peersSetFailure.is(m) || peersSetNonParticipant.is(m)) {
      const wa = this.#waiting.get(m.msgId)
      if (wa === undefined) return undefined
      if (!inSearch(wa, m.gnode)) { this.core.stats.invalid++; return undefined }
      if (peersSetNext.is(m)) {
        // keeps the smallest g-node reached (messages may arrive out of order)
        if (m.gnode.level < wa.minTarget.level) { wa.minTarget = m.gnode; this.#push(wa, { type: 'next' }) }
      } else if (m.gnode.level <= wa.minTarget.level) {
        this.#push(wa, peersSetFailure.is(m) ? { type: 'failure', gnode: m.gnode } : { type: 'non_participant', gnode: m.gnode })
      }
      return undefined
    }
    return undefined
  }
}
