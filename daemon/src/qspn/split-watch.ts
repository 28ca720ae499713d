import type { DestChange, QspnCore } from './core'
import type { MapUpdater } from './map-update'
import { destinationOf } from './node-path'
import { eldest, type Fingerprint } from './fingerprint'
import { hcKey, isDead, maxDistinctGnode, type HCoord } from './types'

/**
 * Split-of-g-node detection (§4.7). A g-node whose members no longer reach each other inside it shows two
 * fingerprints, each island its own eldest's: the map keeps a path per fingerprint (rule c, once settled). When two
 * fingerprints of one destination have both lasted `splitToleranceMs`, a node with a direct neighbour in an island
 * that does not hold the eldest (a border node) signals it for that arc; the signal repeats every four tolerances
 * while the split lasts (the repair may have failed). Level-0 destinations are left alone: two fingerprints there
 * are a node that went and another that took its place.
 */
export class SplitWatch {
  /** Per destination and non-eldest fingerprint id: since when both were seen, and when last signalled. */
  readonly #seen = new Map<string, { since: number, signalled: number | null }>()

  constructor (private readonly q: QspnCore) {}

  /** The splits to signal now: the arc to a neighbour inside the island, the destination, the island's fingerprint. */
  check (now: number): Array<{ arcId: string, hc: HCoord, fingerprintId: number }> {
    const q = this.q
    const out: Array<{ arcId: string, hc: HCoord, fingerprintId: number }> = []
    const tolerance = q.cfg.splitToleranceMs
    const live = new Set<string>()
    for (const d of q.map.values()) {
      // almost always one fingerprint: looked at without building anything
      if (d.hc.lvl === 0 || d.paths.every(p => p.fingerprint.id === d.paths[0].fingerprint.id)) continue
      const fps = new Map<number, Fingerprint>()
      for (const p of d.paths) fps.set(p.fingerprint.id, p.fingerprint)
      const main = eldest([...fps.values()])
      const k = hcKey(d.hc)
      for (const fp of fps.values()) {
        if (fp.id === main.id) continue
        const key = `${k}|${fp.id}`
        live.add(key)
        let s = this.#seen.get(key)
        if (s === undefined) { s = { since: now, signalled: null }; this.#seen.set(key, s) }
        if (now - s.since < tolerance || (s.signalled !== null && now - s.signalled < 4 * tolerance)) continue
        // a direct neighbour of mine inside the island: the implicit one-hop path over its arc carries its fingerprint
        const border = [...(q.pool.get(k)?.values() ?? [])].find(p => p.hops.length === 1 && !isDead(p.cost) && p.fingerprint.id === fp.id)
        if (border === undefined) continue
        s.signalled = now
        out.push({ arcId: border.arcId, hc: { lvl: d.hc.lvl, pos: d.hc.pos }, fingerprintId: fp.id })
      }
    }
    for (const key of [...this.#seen.keys()]) if (!live.has(key)) this.#seen.delete(key)
    return out
  }

  clear (): void { this.#seen.clear() }
}

/**
 * exit_network(level) (§4.7, §6.3 item 9) on the core: every arc to a neighbour outside my g-node of `level` goes
 * through `dropArc`, and every path to a destination of level >= `level` is dropped. Returns the arcs dropped.
 */
export function exitNetwork (q: QspnCore, map: MapUpdater, level: number, dropArc: (arcId: string) => void): string[] {
  if (!Number.isInteger(level) || level < 1 || level >= q.levels) throw new RangeError(`exit_network level ${level} outside 1..${q.levels - 1}`)
  const gone: string[] = []
  for (const a of [...q.arcs.values()]) {
    const h = a.peerNaddr === null ? null : maxDistinctGnode(q.naddr, a.peerNaddr)
    if (h !== null && h.lvl < level) continue
    dropArc(a.id)
    gone.push(a.id)
  }
  const changes = new Map<string, DestChange>()
  for (const [k, pool] of [...q.pool]) {
    const d = q.map.get(k)?.hc ?? (pool.size > 0 ? destinationOf([...pool.values()][0]) : undefined)
    if (d === undefined || d.lvl < level) continue
    map.changeOf(changes, d).candidates.clear()
  }
  map.commit(changes, [], null)
  return gone
}
