import type { HCoord } from '../addressing/naddr'
import type { WireMessage } from '../wire'
import type { CancelTimer } from '../util/clock'
import { classifyTuple, tupleOfHc, type GnodeTuple } from './distance'
import { peersAskParticipants, peersParticipant, peersParticipants, type PeersParticipant, type PeersParticipants } from './messages'
import { isPositions, type ParticipationView, type PeersCore } from './core'

const hcNum = (lvl: number, pos: number): number => lvl * 0x100000000 + pos

/**
 * Participant maps of the optional services (§5.1, `MapHandler`): per service, the g-nodes of my map that hold a
 * participant. A participant announces itself; each identity records the g-node of its own map that contains it,
 * and floods that g-node on (so the news shrinks to one entry per g-node as it travels), at most once per
 * `participantDedupMs` per g-node. A new neighbour is asked for its whole maps.
 */
export class ParticipantMaps implements ParticipationView {
  readonly #sets = new Map<number, Set<number>>()
  readonly #mine = new Map<number, CancelTimer>()
  /** (pId, g-node) forwarded recently, until when. */
  readonly #recent = new Map<string, number>()
  floods = 0

  constructor (private readonly core: PeersCore) {}

  * positions (pId: number, lvl: number): Iterable<number> {
    for (const n of this.#sets.get(pId) ?? []) if (Math.floor(n / 0x100000000) === lvl) yield n % 0x100000000
  }

  isParticipating (pId: number): boolean { return this.#mine.has(pId) }

  myGnodeParticipates (pId: number, lvl: number): boolean {
    if (this.#mine.has(pId)) return true
    for (const n of this.#sets.get(pId) ?? []) if (Math.floor(n / 0x100000000) < lvl) return true
    return false
  }

  remove (pId: number, hc: HCoord): void { this.#sets.get(pId)?.delete(hcNum(hc.lvl, hc.pos)) }

  /** Every (service, g-node) known, for ntkctl. */
  list (): Array<{ pId: number, gnodes: HCoord[] }> {
    return [...this.#sets].map(([pId, s]) => ({ pId, gnodes: [...s].map(n => ({ lvl: Math.floor(n / 0x100000000), pos: n % 0x100000000 })).sort((a, b) => b.lvl - a.lvl || a.pos - b.pos) }))
  }

  /** This identity takes part in optional service pId: tell the network now and every participantRepublishMs. */
  participate (pId: number): void {
    if (this.#mine.has(pId)) return
    const announce = (): void => {
      if (this.core.stopped) return
      this.#flood({ v: 1, kind: 'peers_participant', pId, gnode: { level: 0, positions: [...this.core.naddr] } }, null)
      this.#mine.set(pId, this.core.ports.clock.setTimer(this.core.cfg.participantRepublishMs, announce))
    }
    this.#mine.set(pId, () => {})
    announce()
  }

  stopParticipating (pId: number): void {
    this.#mine.get(pId)?.()
    this.#mine.delete(pId)
  }

  stop (): void { for (const cancel of this.#mine.values()) cancel() }

  /** Copies the maps of levels below `below` from the identity this one replaces (entry or migration, §5.5). */
  copyFrom (previous: ParticipantMaps, below: number): void {
    for (const { pId, gnodes } of previous.list()) {
      for (const g of gnodes) if (g.lvl < below) this.#add(pId, g)
    }
  }

  /** Asks every neighbour for its maps (startup, or a new arc). */
  async askNeighbours (arcIds: readonly string[]): Promise<void> {
    await Promise.all(arcIds.map(async arcId => {
      try {
        const r = await this.core.ports.neighbours.send(arcId, { v: 1, kind: 'peers_ask_participants' }, { timeoutMs: this.core.cfg.neighbourSendTimeoutMs })
        if (r !== undefined && peersParticipants.is(r)) this.#merge(r)
      } catch { /* the neighbour will tell us its own news anyway */ }
    }))
  }

  /** Neighbour messages of the participant maps; undefined for other kinds. */
  handle (arcId: string, m: WireMessage): WireMessage | undefined {
    if (peersParticipant.is(m)) { this.#onParticipant(arcId, m); return undefined }
    if (peersAskParticipants.is(m)) {
      const sets = this.list()
      for (const pId of this.#mine.keys()) {
        const s = sets.find(x => x.pId === pId)
        const me = { lvl: 0, pos: this.core.naddr[0] }
        if (s === undefined) sets.push({ pId, gnodes: [me] }); else s.gnodes.push(me)
      }
      return { v: 1, kind: 'peers_participants', naddr: [...this.core.naddr], sets } satisfies PeersParticipants
    }
    return undefined
  }

  #validTuple (t: GnodeTuple): boolean {
    const g = this.core.gsizes
    return t.level + t.positions.length === this.core.levels && isPositions(t.positions, t.positions.length, k => g[t.level + k])
  }

  #onParticipant (arcId: string, m: PeersParticipant): void {
    if (!this.#validTuple(m.gnode)) { this.core.stats.invalid++; return }
    const c = classifyTuple(this.core.naddr, m.gnode)
    if (c.kind === 'mine') return
    if (!this.#add(m.pId, c.hc)) return
    this.#flood({ v: 1, kind: 'peers_participant', pId: m.pId, gnode: tupleOfHc(this.core.naddr, c.hc, this.core.levels) }, arcId)
  }

  /** Records a participant g-node; false when it was forwarded recently (nothing to tell again). */
  #add (pId: number, hc: HCoord): boolean {
    let s = this.#sets.get(pId)
    if (s === undefined) { s = new Set(); this.#sets.set(pId, s) }
    s.add(hcNum(hc.lvl, hc.pos))
    const key = `${pId}/${hc.lvl}/${hc.pos}`
    const now = this.core.ports.clock.now()
    if ((this.#recent.get(key) ?? -Infinity) > now) return false
    this.#recent.set(key, now + this.core.cfg.participantDedupMs)
    if (this.#recent.size > 4096) for (const [k, until] of this.#recent) if (until <= now) this.#recent.delete(k)
    return true
  }

  #merge (r: PeersParticipants): void {
    const g = this.core.gsizes
    if (!isPositions(r.naddr, this.core.levels, () => 2 ** 31)) { this.core.stats.invalid++; return }
    for (const set of r.sets) {
      for (const hc of set.gnodes) {
        if (hc.lvl >= this.core.levels || hc.pos >= g[hc.lvl]) { this.core.stats.invalid++; continue }
        const c = classifyTuple(this.core.naddr, tupleOfHc(r.naddr, hc, this.core.levels))
        if (c.kind !== 'mine') {
          let s = this.#sets.get(set.pId)
          if (s === undefined) { s = new Set(); this.#sets.set(set.pId, s) }
          s.add(hcNum(c.hc.lvl, c.hc.pos))
        }
      }
    }
  }

  #flood (m: PeersParticipant, except: string | null): void {
    this.floods++
    for (const arcId of this.core.ports.neighbours.arcIds()) {
      if (arcId === except) continue
      this.core.ports.neighbours.send(arcId, m, { timeoutMs: this.core.cfg.neighbourSendTimeoutMs }).catch(() => {})
    }
  }
}
