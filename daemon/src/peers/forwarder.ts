import type { HCoord } from '../addressing/naddr'
import type { WireMessage } from '../wire'
import { approximate, classifyTuple, tupleOfHc, type GnodeTuple } from './distance'
import { PeersInvalidRequestError, PeersRedoFromStartError, PeersRefuseExecutionError } from './errors'
import { peersRequestBody, type PeersForward, type PeersSetFailure, type PeersSetNext, type PeersSetNonParticipant, type PeersSetRefuse, type PeersSetRedo, type PeersSetResponse } from './messages'
import { isPositions, type PeersCore } from './core'
import { insideMine } from './client'

/** A request that has crossed more hops than this is dropped (maps that disagree would loop it). */
export const MAX_FORWARD_HOPS = 255

/**
 * What every identity does with a request on its way (§5.4): forward it toward (lvl, pos) while outside that
 * g-node; inside it, choose the nearest participant again among the smaller g-nodes it knows and forward there, or
 * serve it when that is itself (main identities only), talking to the client over the routed channel.
 */
export class RequestForwarder {
  constructor (private readonly core: PeersCore) {}

  /** Checks m' against the topology; false (and counted) when it cannot be right. */
  valid (mf: PeersForward): boolean {
    const g = this.core.gsizes
    const l = this.core.levels
    // the client's tuple names it inside the common g-node (of level client.length), which holds the target
    const common = mf.client.length
    const ok = mf.lvl < common && common <= mf.insideLevel && mf.insideLevel <= l && mf.pos < g[mf.lvl] &&
      isPositions(mf.client, common, k => g[k]) && isPositions(mf.xbar, mf.lvl, k => g[k]) &&
      mf.exclude.every(t => t.level + t.positions.length === mf.lvl && isPositions(t.positions, t.positions.length, k => g[t.level + k]))
    if (!ok) this.core.stats.invalid++
    return ok
  }

  /** A neighbour handed us m' over `arcId` (already acknowledged); route it on. */
  async handle (arcId: string, mf: PeersForward): Promise<void> {
    const core = this.core
    if (core.stopped) return
    if (mf.hops >= MAX_FORWARD_HOPS) { core.stats.invalid++; return }
    // the message speaks of the g-node the client shares with the target: an identity virtual there is not inside it
    if (!core.realFrom(mf.client.length)) { core.stats.droppedVirtual++; return }
    const next: PeersForward = { ...mf, hops: mf.hops + 1 }
    if (core.naddr[mf.lvl] !== mf.pos) {
      core.stats.forwarded++
      if (!await core.sendToGateway(mf.lvl, mf.pos, next, arcId)) core.stats.noGateway++
      return
    }
    await this.#inside(arcId, next)
  }

  async #inside (arcId: string, mf: PeersForward): Promise<void> {
    const core = this.core
    const naddr = core.naddr
    const target = { tuple: mf.client }
    const common = mf.client.length
    const here = (hc: HCoord): GnodeTuple => tupleOfHc(naddr, hc, common)
    const service = core.services.get(mf.pId)
    const optional = service?.optional ?? false
    if (optional && !core.myGnodeParticipates(mf.pId, mf.lvl)) {
      await this.#tell(target, { v: 1, kind: 'peers_set_non_participant', msgId: mf.msgId, gnode: here({ lvl: mf.lvl, pos: mf.pos }) } satisfies PeersSetNonParticipant)
      return
    }
    // any node inside will do (serveAtLevel): re-targets stay inside the g-node aimed at, so once the target is of
    // that level or lower, being inside it is being inside that g-node
    if (mf.serveAtLevel !== undefined && mf.lvl <= mf.serveAtLevel && core.isReady()) { await this.#serve(mf); return }
    // the client's exclusions inside this g-node, in my frame
    const hcs = new Set<number>()
    let mine = -1
    for (const t of mf.exclude) {
      const c = classifyTuple(naddr, t)
      if (c.kind === 'visible') hcs.add(c.hc.lvl * 0x100000000 + c.hc.pos)
      else if (c.kind === 'mine') mine = Math.max(mine, c.hc.lvl)
    }
    const excluded = (lvl: number, pos: number): boolean => insideMine(naddr, mine, lvl, pos) || hcs.has(lvl * 0x100000000 + pos)
    let degraded = mf.degraded === true
    for (let tries = 0; tries < core.cfg.maxAttempts && !core.stopped; tries++) {
      const x = approximate(core.searchView(mf.pId, optional), mf.xbar, excluded)
      if (x === null) {
        await this.#tell(target, { v: 1, kind: 'peers_set_failure', msgId: mf.msgId, gnode: here({ lvl: mf.lvl, pos: mf.pos }) } satisfies PeersSetFailure)
        return
      }
      if (x.lvl === 0 && x.pos === naddr[0]) { await this.#serve(mf); return }
      const mf2: PeersForward = {
        ...mf,
        degraded,
        lvl: x.lvl,
        pos: x.pos,
        xbar: mf.xbar.slice(0, x.lvl),
        exclude: mf.exclude.flatMap(t => {
          const c = classifyTuple(naddr, t)
          return c.kind === 'inside' && c.hc.lvl === x.lvl && c.hc.pos === x.pos ? [{ level: t.level, positions: t.positions.slice(0, x.lvl - t.level) }] : []
        })
      }
      if (await core.sendToGateway(x.lvl, x.pos, mf2, arcId)) {
        core.stats.retargeted++
        await this.#tell(target, { v: 1, kind: 'peers_set_next', msgId: mf.msgId, gnode: here(x) } satisfies PeersSetNext)
        return
      }
      // nobody toward x answers: choose again without it; x may be alive, so no write on this search (ExecInfo)
      core.stats.noGateway++
      hcs.add(x.lvl * 0x100000000 + x.pos)
      degraded = true
    }
  }

  /** I am the servant: fetch the request from the client, execute, answer (§5.4, `forward_msg`). */
  async #serve (mf: PeersForward): Promise<void> {
    const core = this.core
    const target = { tuple: mf.client }
    const respondant = core.naddr.slice(0, mf.client.length)
    const redo: PeersSetRedo = { v: 1, kind: 'peers_set_redo', msgId: mf.msgId, respondant }
    if (!core.isReady()) { await this.#tell(target, redo); return }
    let body: WireMessage | undefined
    try {
      body = await core.contact(target, { v: 1, kind: 'peers_get_request', msgId: mf.msgId, respondant })
    } catch {
      return // the client is gone or unreachable: it will time out
    }
    if (body === undefined || !peersRequestBody.is(body)) return // unknown message, or an answer of the wrong kind
    const service = core.services.get(mf.pId)
    const st = core.serviceStats(mf.pId)
    let answer: PeersSetResponse | PeersSetRefuse | PeersSetRedo
    const after: Array<() => void> = []
    try {
      if (service === undefined) throw new PeersRefuseExecutionError('generic', `service ${mf.pId} is not registered here`)
      core.stats.served++
      st.served++
      const response = await service.exec(body.request, mf.client, { degraded: mf.degraded === true, afterAnswer: f => { after.push(f) } })
      answer = { v: 1, kind: 'peers_set_response', msgId: mf.msgId, respondant, response: response ?? null }
    } catch (e) {
      if (e instanceof PeersRedoFromStartError) answer = redo
      else if (e instanceof PeersRefuseExecutionError) {
        st.refused++
        answer = { v: 1, kind: 'peers_set_refuse', msgId: mf.msgId, respondant, message: e.message.slice(0, 1000), level: Math.min(e.level, mf.client.length - 1) }
      } else if (e instanceof PeersInvalidRequestError) {
        core.stats.invalid++
        core.log(e.message)
        return
      } else {
        core.log(`service ${mf.pId} failed on a request: ${(e as Error).message}`)
        st.refused++
        answer = { v: 1, kind: 'peers_set_refuse', msgId: mf.msgId, respondant, message: `generic: ${(e as Error).message}`.slice(0, 1000), level: 0 }
      }
    }
    await this.#tell(target, answer)
    for (const f of after) f()
  }

  async #tell (target: { tuple: readonly number[] }, m: WireMessage): Promise<void> {
    try { await this.core.contact(target, m) } catch { /* counted in contact(); the client times out */ }
  }
}
