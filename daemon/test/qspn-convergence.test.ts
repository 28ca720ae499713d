import test from 'ava'
import { buildNetwork, dominantCostBase, gridTopology, hierarchicalTopology, lineTopology, ringTopology, type TopologySpec } from '../src/sim/topologies'
import { checkMaps } from '../src/sim/check'
import { expectedMap } from '../src/sim/oracle'
import { hcKey, maxDistinctGnode, type HCoord } from '../src/qspn/types'
import type { NodePath } from '../src/qspn/node-path'
import type { SimNetwork } from '../src/sim/network'

/** 4·2·2·2 of the proof docs, level 0 first. */
const PROOF = [2, 2, 2, 4]
/** bits [2,2,2]: 64 addresses, 4 per g-node. */
const QUAD = [4, 4, 4]

const cases: Array<[string, () => TopologySpec]> = [
  ['line of 8 in 4·2·2·2', () => lineTopology(8, PROOF)],
  ['line of 16 in 4·2·2·2 (spans every level)', () => lineTopology(16, PROOF)],
  ['ring of 16 in 4·2·2·2', () => ringTopology(16, PROOF)],
  ['grid 4x4 in 4·2·2·2', () => gridTopology(4, 4, PROOF)],
  ['grid 4x8 in 4·2·2·2 with level-dominant costs', () => gridTopology(4, 8, PROOF, (a, b) => dominantCostBase(PROOF, maxDistinctGnode(a, b)!.lvl))],
  ['hierarchical random in 4·2·2·2 (seed 7)', () => hierarchicalTopology(PROOF, { seed: 7 })],
  ['hierarchical random in 4·2·2·2 (seed 8, full)', () => hierarchicalTopology(PROOF, { seed: 8, fill: 1, extraLinks: 2 })],
  ['line of 20 in [4,4,4]', () => lineTopology(20, QUAD)],
  ['ring of 24 in [4,4,4]', () => ringTopology(24, QUAD)],
  ['grid 8x8 in [4,4,4]', () => gridTopology(8, 8, QUAD)],
  ['hierarchical random in [4,4,4] (seed 3)', () => hierarchicalTopology(QUAD, { seed: 3, fill: 0.7, extraLinks: 2 })],
  ['hierarchical random in [3,3,3] (seed 5)', () => hierarchicalTopology([3, 3, 3], { seed: 5, fill: 0.8, extraLinks: 2 })]
]

for (const [name, make] of cases) {
  test(`converges to the true map: ${name}`, async t => {
    const spec = make()
    const net = buildNetwork(spec, { seed: 42 })
    await net.runUntilQuiescent()
    t.deepEqual(checkMaps(net, spec, { limit: 10 }), [])
    // The whole network's nodes-inside, seen from every node, is the number of nodes.
    const levels = spec.gsizes.length
    t.deepEqual(new Set(net.nodes().map(n => n.manager.getNodesInside(levels))), new Set([spec.nodes.length]))
    // Everybody agrees on the network id.
    t.is(new Set(net.nodes().map(n => n.manager.getFingerprint(levels).id)).size, 1)
    t.deepEqual(alternativesViolatingDisjointness(net, spec), [])
  })
}

test('destinations are exactly the g-nodes that exist, as HCoords relative to each node', async t => {
  // 0·0·0·0 .. 0·1·1·1 and 1·0·0·0: node 0·0·0·0 must know (0,1), (1,1), (2,1), (3,1) and nothing else.
  const spec = lineTopology(9, PROOF)
  const net = buildNetwork(spec, { seed: 1 })
  await net.runUntilQuiescent()
  const m = net.node('0·0·0·0').manager
  t.deepEqual([0, 1, 2, 3].map(l => m.getKnownDestinations(l)), [[{ lvl: 0, pos: 1 }], [{ lvl: 1, pos: 1 }], [{ lvl: 2, pos: 1 }], [{ lvl: 3, pos: 1 }]])
  t.is(m.getPathsTo({ lvl: 3, pos: 1 })[0].cost, 8000)
  t.is(m.getPathsTo({ lvl: 3, pos: 1 })[0].nodesInside, 1)
  t.is(m.getPathsTo({ lvl: 2, pos: 1 })[0].nodesInside, 4)
  t.deepEqual([1, 2, 3, 4].map(l => m.getNodesInside(l)), [2, 4, 8, 9])
  // The eldest node (smallest positions) passes its fingerprint id up to every level.
  t.is(m.getFingerprint(4).id, net.node('0·0·0·0').fingerprint.id)
  t.is(net.node('1·0·0·0').manager.getFingerprint(4).id, net.node('0·0·0·0').fingerprint.id)
  t.is(net.node('1·0·0·0').manager.getFingerprint(3).id, net.node('1·0·0·0').fingerprint.id)
})

test('a ring keeps a disjoint alternative the other way round', async t => {
  const spec = ringTopology(8, [8])
  const net = buildNetwork(spec, { seed: 3 })
  await net.runUntilQuiescent()
  const paths = net.node('0').manager.getPathsTo({ lvl: 0, pos: 3 })
  t.deepEqual(paths.map(p => p.cost), [3000, 5000])
  t.deepEqual(paths.map(p => p.hops.map(h => h.pos)), [[1, 2, 3], [7, 6, 5, 4, 3]])
})

/**
 * Independent check of §4.5 on the converged maps: every kept path after the first is either mandatory (first of
 * its fingerprint, first avoiding some neighbour's max-distinct g-node, first through some adjacent g-node) or
 * shares at most max_common_hops_ratio (0.6) of the weighted hops with every path kept before it.
 */
function alternativesViolatingDisjointness (net: SimNetwork, spec: TopologySpec): string[] {
  const bad: string[] = []
  for (const n of spec.nodes) {
    const m = net.node(n.name).manager
    const neighbours = m.arcIds().map(a => maxDistinctGnode(n.naddr, m.getNaddrForArc(a)!)!)
    const want = expectedMap(spec, n.name)
    const nn = (h: HCoord): number => want.get(hcKey(h))?.members.length ?? 0
    for (const d of want.values()) {
      const paths = m.getAllPathsTo(d.hc)
      for (let k = 1; k < paths.length; k++) {
        const earlier = paths.slice(0, k)
        const p = paths[k]
        const newFp = earlier.every(q => q.fingerprint.id !== p.fingerprint.id)
        const avoids = neighbours.some(g => !has(p, g) && earlier.every(q => has(q, g)))
        const adjacent = Array.from({ length: d.hc.lvl + 1 }, (_, l) => p.hops.find(h => h.lvl >= l)).some(h => h !== undefined && earlier.every(q => !has(q, h)))
        if (newFp || avoids || adjacent) continue
        for (const q of earlier) {
          const r = commonRatio(p, q, d.hc, nn)
          if (r > 0.6) bad.push(`${n.name} -> ${hcKey(d.hc)}: path ${k} shares ${r.toFixed(2)} with an earlier one`)
        }
      }
    }
  }
  return bad
}

const has = (p: NodePath, g: HCoord): boolean => p.hops.some(h => h.lvl === g.lvl && h.pos === g.pos)

function commonRatio (p1: NodePath, p2: NodePath, dest: HCoord, nn: (h: HCoord) => number): number {
  let total = 0; let common = 0
  for (let k = 0; k < p2.hops.length - 1; k++) {
    const w = Math.floor(1.5 * Math.sqrt(nn(p2.hops[k])))
    total += w
    const j = p1.hops.findIndex(h => h.lvl === p2.hops[k].lvl && h.pos === p2.hops[k].pos)
    if (j < 0) continue
    const same = Number(p1.arcs[j] === p2.arcs[k]) + Number(p1.arcs[j + 1] === p2.arcs[k + 1])
    common += same === 2 ? w : same === 1 ? Math.ceil(w / 2) : 0
  }
  if (dest.lvl > 0) {
    const w = Math.floor(0.75 * Math.sqrt(nn(dest))) - 1
    if (w > 0) { total += w; if (p1.arcs[p1.arcs.length - 1] === p2.arcs[p2.arcs.length - 1]) common += w }
  }
  return total > 0 ? common / total : 0
}
