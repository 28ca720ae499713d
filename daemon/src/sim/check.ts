import { hcKey } from '../qspn/types'
import type { SimNetwork } from './network'
import { expectedMap, expectedOwnGnode } from './oracle'
import type { TopologySpec } from './topologies'

/**
 * Compares every node's QSPN map with the independent oracle. Returns one line per difference (node, what,
 * expected, actual); an empty list means the network converged to the right map. `spec.links` must be the links
 * currently up. `only` restricts the check to those nodes (a sample, on big networks).
 */
export function checkMaps (net: SimNetwork, spec: TopologySpec, o: { limit?: number, only?: readonly string[] } = {}): string[] {
  const problems: string[] = []
  const limit = o.limit ?? 20
  const levels = spec.gsizes.length
  const fpId = (name: string): number => net.node(name).fingerprint.id
  const only = o.only === undefined ? null : new Set(o.only)
  for (const n of spec.nodes) {
    if (only !== null && !only.has(n.name)) continue
    if (problems.length >= limit) break
    const m = net.node(n.name).manager
    const want = expectedMap(spec, n.name)
    for (let lvl = 0; lvl < levels; lvl++) {
      const have = m.getKnownDestinations(lvl).map(hcKey).sort().join(' ')
      const exp = [...want.values()].filter(d => d.hc.lvl === lvl && Number.isFinite(d.cost)).map(d => hcKey(d.hc)).sort().join(' ')
      if (have !== exp) problems.push(`${n.name}: level ${lvl} destinations: expected [${exp}], got [${have}]`)
    }
    for (const d of want.values()) {
      if (!Number.isFinite(d.cost)) continue
      const paths = m.getPathsTo(d.hc)
      if (paths.length === 0) continue // reported above
      const best = paths[0]
      const where = `${n.name} -> ${hcKey(d.hc)}`
      if (best.cost !== d.cost) problems.push(`${where}: best cost expected ${d.cost}, got ${best.cost} via ${best.hops.map(hcKey).join(',')}`)
      if (best.fingerprint.id !== fpId(d.eldest)) problems.push(`${where}: fingerprint expected ${fpId(d.eldest)} (${d.eldest}), got ${best.fingerprint.id}`)
      if (best.nodesInside !== d.members.length) problems.push(`${where}: nodes inside expected ${d.members.length}, got ${best.nodesInside}`)
      // Once converged, no kept path may hold on to an outdated fingerprint or count (a g-node that is whole has
      // one fingerprint; a path nobody updated any more would show an old one).
      for (const p of m.getAllPathsTo(d.hc)) {
        if (p.fingerprint.id !== fpId(d.eldest) || p.nodesInside !== d.members.length) {
          problems.push(`${where}: path via ${p.hops.map(hcKey).join(',')} holds fingerprint ${p.fingerprint.id} and ${p.nodesInside} nodes inside, expected ${fpId(d.eldest)} and ${d.members.length}`)
          break
        }
      }
      for (let k = 1; k < paths.length; k++) if (paths[k].cost < paths[k - 1].cost) problems.push(`${where}: paths not sorted by cost`)
    }
    for (let lvl = 1; lvl <= levels; lvl++) {
      const e = expectedOwnGnode(spec, n.name, lvl)
      if (m.getNodesInside(lvl) !== e.members) problems.push(`${n.name}: own nodes inside at level ${lvl} expected ${e.members}, got ${m.getNodesInside(lvl)}`)
      if (m.getFingerprint(lvl).id !== fpId(e.eldest)) problems.push(`${n.name}: own fingerprint at level ${lvl} expected ${fpId(e.eldest)} (${e.eldest}), got ${m.getFingerprint(lvl).id}`)
    }
  }
  return problems.slice(0, limit)
}

/** A stable text dump of one identity's map and own g-node info (to assert "nothing changed"). */
export function mapSnapshot (net: SimNetwork, name: string): string {
  const m = net.node(name).manager
  const out: unknown[] = []
  for (let lvl = 0; lvl < m.levels; lvl++) {
    for (const hc of m.getKnownDestinations(lvl)) {
      out.push([hcKey(hc), m.getAllPathsTo(hc).map(p => [p.key, p.cost, p.fingerprint.id, p.nodesInside])])
    }
  }
  for (let lvl = 0; lvl <= m.levels; lvl++) out.push([lvl, m.getFingerprint(lvl).id, m.getNodesInside(lvl)])
  return JSON.stringify(out)
}
