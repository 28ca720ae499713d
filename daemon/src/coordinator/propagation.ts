import type { WireMessage } from '../wire'
import type { PeerServices } from '../peers/peer-services'
import type { CoordinatorConfig } from './config'
import { coordPropagate, type CoordPropagate, type CoordPropagateDone, type PropagationKind } from './messages'

/** What every node of a g-node does when a propagation reaches it (IPropagationHandler; Hooking, issue 13). */
export type PropagationHandler = Partial<Record<PropagationKind, (lvl: number, data: unknown) => void | Promise<void>>>

export interface PropagationStats {
  started: number
  /** Propagations run here (the handler was called). */
  delivered: number
  duplicates: number
  outside: number
  sent: number
  sendFailures: number
  invalid: number
  handlerFailures: number
}

/**
 * Propagation to every node of my g-node of a level (§6.2): neighbour to neighbour, each node checks that it is a
 * member (same positions from that level up, same fingerprint: a split island is another g-node) and runs it once
 * (ids are remembered for propagationDedupMs). With return (prepare_*), a node answers its sender only once its
 * neighbours' parts and its own handler are done, so the origin returns when the whole g-node has run it; without
 * return (finish_*, we_have_splitted) each node passes it on and runs it in the background.
 */
export class Propagation {
  readonly stats: PropagationStats = { started: 0, delivered: 0, duplicates: 0, outside: 0, sent: 0, sendFailures: 0, invalid: 0, handlerFailures: 0 }
  readonly #seen = new Map<number, number>()

  constructor (private readonly peers: PeerServices, private readonly cfg: CoordinatorConfig, private readonly handler: PropagationHandler = {}) {}

  /** Starts a propagation from here; resolves when it is done (with return) or sent out (without). */
  async propagate (what: PropagationKind, lvl: number, data: unknown, withReturn: boolean): Promise<void> {
    const levels = this.peers.levels
    if (!Number.isInteger(lvl) || lvl < 1 || lvl > levels) throw new RangeError(`propagation at level ${lvl}: levels are 1..${levels}`)
    const m: CoordPropagate = {
      v: 1, kind: 'coord_propagate', id: this.peers.core.newMsgId(), what, lvl, gnode: this.peers.naddr.slice(lvl), fpId: this.peers.ports.map.fingerprintId(lvl), withReturn, data
    }
    this.stats.started++
    this.#remember(m.id)
    await this.#run(m, null)
  }

  /** A neighbour's coord_propagate; undefined for other kinds. */
  async handle (arcId: string, m: WireMessage): Promise<WireMessage | undefined> {
    if (!coordPropagate.is(m)) return undefined
    const done = (status: CoordPropagateDone['status']): CoordPropagateDone => ({ v: 1, kind: 'coord_propagate_done', status })
    const levels = this.peers.levels
    if (m.lvl > levels || m.gnode.length !== levels - m.lvl || m.gnode.some((p, k) => p >= this.peers.gsizes[m.lvl + k])) {
      this.stats.invalid++
      return done('outside')
    }
    if (this.#seen.has(m.id) && this.#seen.get(m.id)! > this.#now) { this.stats.duplicates++; return done('duplicate') }
    if (!this.#member(m)) { this.stats.outside++; return done('outside') }
    this.#remember(m.id)
    if (m.withReturn) await this.#run(m, arcId)
    else void this.#run(m, arcId)
    return done('done')
  }

  get #now (): number { return this.peers.core.ports.clock.now() }

  #member (m: CoordPropagate): boolean {
    const n = this.peers.naddr
    for (let k = 0; k < m.gnode.length; k++) if (n[m.lvl + k] !== m.gnode[k]) return false
    return this.peers.ports.map.fingerprintId(m.lvl) === m.fpId
  }

  #remember (id: number): void {
    const now = this.#now
    this.#seen.set(id, now + this.cfg.propagationDedupMs)
    if (this.#seen.size > 1024) for (const [k, until] of this.#seen) if (until <= now) this.#seen.delete(k)
  }

  /** Passes m to the neighbours (members or maybe members) except `from`, then runs the handler here. */
  async #run (m: CoordPropagate, from: string | null): Promise<void> {
    const nb = this.peers.ports.neighbours
    const map = this.peers.ports.map
    const targets = nb.arcIds().filter(arcId => {
      if (arcId === from) return false
      const peer = map.neighbourNaddr(arcId)
      return peer === null || m.gnode.every((p, k) => peer[m.lvl + k] === p)
    })
    const sends = targets.map(async arcId => {
      this.stats.sent++
      try {
        await nb.send(arcId, m, { timeoutMs: m.withReturn ? this.cfg.propagationTimeoutMs : this.peers.core.cfg.neighbourSendTimeoutMs })
      } catch {
        this.stats.sendFailures++ // another member reaches it, if it is one (a g-node is connected inside)
      }
    })
    if (m.withReturn) await Promise.all(sends)
    this.stats.delivered++
    try {
      await this.handler[m.what]?.(m.lvl, m.data)
    } catch (e) {
      this.stats.handlerFailures++
      this.peers.core.log(`propagation ${m.what} handler failed: ${(e as Error).message}`)
    }
  }
}
