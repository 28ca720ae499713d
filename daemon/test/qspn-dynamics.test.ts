import test from 'ava'
import { buildNetwork, dominantCostBase, gridTopology, hierarchicalTopology, ringTopology, type TopologySpec } from '../src/sim/topologies'
import { checkMaps } from '../src/sim/check'
import { expectedMap } from '../src/sim/oracle'
import { maxDistinctGnode } from '../src/qspn/types'
import type { QspnEvents } from '../src/qspn/events'

const PROOF = [2, 2, 2, 4]

/** The spec with the links currently up in the network (the oracle must see what QSPN sees). */
const withLinks = (spec: TopologySpec, links: Array<{ a: string, b: string, cost: number }>): TopologySpec => ({ ...spec, links })

/** Does every g-node that exists stay internally connected (no split) with these links? */
function noSplit (spec: TopologySpec): boolean {
  return spec.nodes.every(n => [...expectedMap(spec, n.name).values()].every(d => Number.isFinite(d.cost)))
}

const dominantGrid = (): TopologySpec =>
  gridTopology(4, 4, PROOF, (a, b) => dominantCostBase(PROOF, maxDistinctGnode(a, b)!.lvl) + 17 * (a[0] + 2 * b[1] + 3 * a[2]))

test('removing an arc: every node falls back to the new shortest path; adding it back restores the map', async t => {
  const spec = dominantGrid()
  const net = buildNetwork(spec, { seed: 5 })
  await net.runUntilQuiescent()
  t.deepEqual(checkMaps(net, spec), [])
  let tried = 0
  for (const l of spec.links) {
    const rest = spec.links.filter(x => x !== l)
    if (!noSplit(withLinks(spec, rest))) continue
    tried++
    const link = net.findLink(l.a, l.b)
    net.unlink(link)
    await net.runUntilQuiescent()
    t.deepEqual(checkMaps(net, withLinks(spec, rest)), [], `after removing ${l.a} - ${l.b}`)
    // No path anywhere still leaves through the removed arc.
    t.false(net.node(l.a).manager.getAllPathsTo(maxDistinctGnode(net.node(l.a).naddr, net.node(l.b).naddr)!).some(p => p.arcId === link.arcAtA))
    net.link(l.a, l.b, l.cost)
    await net.runUntilQuiescent()
    t.deepEqual(checkMaps(net, spec), [], `after adding ${l.a} - ${l.b} back`)
  }
  t.true(tried >= 4, `only ${tried} removable links`)
})

test('removing an arc yields the alternative path the map already held', async t => {
  const spec = ringTopology(8, [8])
  const net = buildNetwork(spec, { seed: 3 })
  await net.runUntilQuiescent()
  const m = net.node('0').manager
  const d = { lvl: 0, pos: 2 }
  const [best, alt] = m.getPathsTo(d)
  t.deepEqual([best.cost, alt.cost], [2000, 6000])
  net.unlink(net.findLink('1', '2'))
  await net.runUntilQuiescent()
  const now = m.getPathsTo(d)
  t.is(now.length, 1)
  t.is(now[0].key, alt.key)
  t.is(now[0].cost, 6000)
  t.deepEqual(checkMaps(net, withLinks(spec, spec.links.filter(l => !(l.a === '1' && l.b === '2')))), [])
})

test('changing a cost reorders the paths and every map follows', async t => {
  const spec = ringTopology(6, [8])
  const net = buildNetwork(spec, { seed: 9 })
  await net.runUntilQuiescent()
  const m = net.node('0').manager
  const d = { lvl: 0, pos: 3 }
  const before = m.getPathsTo(d)
  t.deepEqual(before.map(p => p.cost), [3000, 3000])
  const viaOne = before.find(p => p.hops[0].pos === 1)!
  net.setCost(net.findLink('0', '1'), 4000)
  await net.runUntilQuiescent()
  const after = m.getPathsTo(d)
  t.deepEqual(after.map(p => [p.hops[0].pos, p.cost]), [[5, 3000], [1, 6000]])
  t.is(after[1].key, viaOne.key)
  const links = spec.links.map(l => l.a === '0' && l.b === '1' ? { ...l, cost: 4000 } : l)
  t.deepEqual(checkMaps(net, withLinks(spec, links)), [])
  // And back: the way through 1 is cheapest again for node 1's neighbour 2 -> 0.
  net.setCost(net.findLink('0', '1'), 500)
  await net.runUntilQuiescent()
  t.deepEqual(m.getPathsTo(d).map(p => [p.hops[0].pos, p.cost]), [[1, 2500], [5, 3000]])
  t.deepEqual(checkMaps(net, withLinks(spec, spec.links.map(l => l.a === '0' && l.b === '1' ? { ...l, cost: 500 } : l))), [])
})

test('cost changes across levels in a hierarchical network keep every map exact', async t => {
  const spec = hierarchicalTopology([4, 4, 4], { seed: 21, fill: 0.7, extraLinks: 2 })
  const net = buildNetwork(spec, { seed: 2 })
  await net.runUntilQuiescent()
  let links = [...spec.links]
  for (const k of [0, 3, 7, 11]) {
    const l = links[k % links.length]
    const lvl = maxDistinctGnode(spec.nodes.find(n => n.name === l.a)!.naddr, spec.nodes.find(n => n.name === l.b)!.naddr)!.lvl
    // stay inside the level's dominant band, so the oracle's shortest paths are ones QSPN can express
    const cost = dominantCostBase([4, 4, 4], lvl) + ((l.cost * 7 + k) % dominantCostBase([4, 4, 4], lvl))
    net.setCost(net.findLink(l.a, l.b), cost)
    links = links.map(x => x === l ? { ...x, cost } : x)
    await net.runUntilQuiescent()
    t.deepEqual(checkMaps(net, withLinks(spec, links)), [], `after setting ${l.a} - ${l.b} to ${cost}`)
  }
})

test('events: destinations and paths come and go, own g-node info changes, bootstrap completes', async t => {
  const spec = ringTopology(4, [2, 2])
  const net = buildNetwork(spec, { seed: 4 })
  const seen: Array<[keyof QspnEvents, string]> = []
  const m = net.node('0·0').manager
  for (const name of ['destination_added', 'destination_removed', 'path_added', 'path_removed', 'changed_nodes_inside', 'bootstrap_complete'] as const) {
    m.events.on(name, (e: any) => seen.push([name, e.hc !== undefined ? `${e.hc.lvl}:${e.hc.pos}` : e.lvl !== undefined ? `L${e.lvl}` : '']))
  }
  await net.runUntilQuiescent()
  t.true(seen.some(([n]) => n === 'bootstrap_complete'))
  t.deepEqual(seen.filter(([n]) => n === 'destination_added').map(([, h]) => h).sort(), ['0:1', '1:1'])
  t.deepEqual(m.getNodesInside(2), 4)
  seen.length = 0
  // Cut 0·0 off: both arcs go, so both destinations and every path disappear.
  net.unlink(net.findLink('0·0', '0·1'))
  net.unlink(net.findLink('1·1', '0·0'))
  await net.runUntilQuiescent()
  t.deepEqual(seen.filter(([n]) => n === 'destination_removed').map(([, h]) => h).sort(), ['0:1', '1:1'])
  t.true(seen.filter(([n]) => n === 'path_removed').length >= 2)
  t.deepEqual([...new Set(seen.filter(([n]) => n === 'changed_nodes_inside').map(([, l]) => l))].sort(), ['L1', 'L2'])
  t.is(m.getNodesInside(2), 1)
  t.deepEqual(m.getKnownDestinations(0), [])
  // The other three see one node fewer.
  t.is(net.node('1·0').manager.getNodesInside(2), 3)
})

test('a request over an arc the peer has not added yet waits for it, then is refused after arc_timeout', async t => {
  const net = buildNetwork({ gsizes: [4], nodes: [{ name: '0', naddr: [0] }, { name: '1', naddr: [1] }], links: [] }, { seed: 1, qspn: { arcTimeoutMs: 5000 } })
  const b = net.node('1').manager
  const request = { kind: 'get_full_etp', requesterAddress: [0] }
  const early = b.getFullEtp('1>0#0', request)
  let answered = false
  void early.then(() => { answered = true })
  await new Promise(resolve => setImmediate(resolve))
  t.false(answered)
  b.arcAdd({ id: '1>0#0', cost: 1000 })
  t.deepEqual((await early).nodeAddress, [1])
  const late = b.getFullEtp('1>9#0', request)
  while ((net.clock.nextAt() ?? Infinity) <= 6000) net.clock.step()
  await t.throwsAsync(late, { name: 'QspnNotAcceptedError', message: /1>9#0/ })
})
