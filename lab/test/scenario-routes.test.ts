import test from 'ava'
import { components, initialState, cheapestPaths } from '../src/scenario/lab-state'
import { diffRoutes, expectRoutes, defaultRouteModels, formatRouteDiff } from '../src/scenario/route-model'
import type { NodeObservation } from '../src/scenario/observation'
import { ringLab } from '../src/scenario/simulated-lab'

// ring r1..r6: link i is r<i>:eth2 -- r<i+1>:eth1, the last r6:eth2 -- r1:eth1
const lab = ringLab(6)
const models = defaultRouteModels()
const cut = (...ids: number[]): ReturnType<typeof initialState> => {
  const s = initialState(lab)
  for (const i of ids) s.links.set(lab.links[i - 1].id, 'down')
  return s
}

test('an intact ring of 6 is one component; the opposite node has two cheapest first hops', t => {
  const s = cut()
  t.deepEqual(components(lab, s), [['r1', 'r2', 'r3', 'r4', 'r5', 'r6']])
  const p = cheapestPaths(lab, s, 'r1')
  t.deepEqual(p.get('r2'), { hops: 1, ifnames: ['eth2'], neighbours: ['r2'] })
  t.deepEqual(p.get('r6'), { hops: 1, ifnames: ['eth1'], neighbours: ['r6'] })
  t.deepEqual(p.get('r3'), { hops: 2, ifnames: ['eth2'], neighbours: ['r2'] })
  t.deepEqual(p.get('r4'), { hops: 3, ifnames: ['eth1', 'eth2'], neighbours: ['r2', 'r6'] })
  const e = expectRoutes(lab, s, models).get('r1')
  t.is(e?.routes.length, 5)
  t.is(e?.unreachable.length, 0)
  t.deepEqual(e?.routes.find(r => r.owner === 'r4')?.dst, '172.31.4.1/32')
})

test('one cut keeps one component and reroutes the long way round', t => {
  const s = cut(1) // r1 -- r2 down
  t.deepEqual(components(lab, s), [['r1', 'r2', 'r3', 'r4', 'r5', 'r6']])
  const p = cheapestPaths(lab, s, 'r1')
  t.deepEqual(p.get('r2'), { hops: 5, ifnames: ['eth1'], neighbours: ['r6'] })
  t.deepEqual(p.get('r4'), { hops: 3, ifnames: ['eth1'], neighbours: ['r6'] })
})

test('two cuts split the ring; each side expects the far side unreachable', t => {
  const s = cut(1, 4) // r1--r2 and r4--r5 down
  t.deepEqual(components(lab, s), [['r1', 'r5', 'r6'], ['r2', 'r3', 'r4']])
  const e = expectRoutes(lab, s, models)
  const r1 = e.get('r1')
  t.deepEqual(r1?.routes.map(r => r.owner).sort(), ['r5', 'r6'])
  t.deepEqual(r1?.unreachable.map(u => u.owner).sort(), ['r2', 'r3', 'r4'])
  t.deepEqual(e.get('r3')?.routes.map(r => r.owner).sort(), ['r2', 'r4'])
})

test('a stopped node leaves the graph: it is expected nowhere and expects nothing', t => {
  const s = cut()
  s.stopped.add('r4')
  const e = expectRoutes(lab, s, models)
  t.false(e.has('r4'))
  t.deepEqual(e.get('r1')?.unreachable.map(u => u.owner), ['r4'])
  t.deepEqual(cheapestPaths(lab, s, 'r1').get('r3')?.ifnames, ['eth2'])
})

function obs (routes: Array<[string, string]>): NodeObservation {
  return { addresses: [], routes: routes.map(([dst, dev]) => ({ dst, dev, protocol: 'babel', table: 'main' })) }
}

test('the diff names missing, wrong next hop and extra routes per node', t => {
  const s = cut(1, 4)
  const e = expectRoutes(lab, s, models)
  const observed = new Map<string, NodeObservation>([
    // r1 should have r5 via eth1 (2 hops through r6) and r6 via eth1; it has r5 via eth2 (wrong),
    // no r6 (missing), and still a route to r3 (extra: across the cut). ip -j prints /32 bare.
    ['r1', obs([['172.31.5.1', 'eth2'], ['172.31.3.1', 'eth2']])],
    ['r5', obs([['172.31.6.1', 'eth2'], ['172.31.1.1', 'eth2']])],
    ['r6', obs([['172.31.5.1', 'eth1'], ['172.31.1.1', 'eth2']])]
  ])
  const d = diffRoutes(e, observed)
  const r1 = d.find(x => x.node === 'r1')
  t.deepEqual(r1?.missing.map(m => m.dst), ['172.31.6.1/32'])
  t.deepEqual(r1?.wrong.map(w => [w.expected.dst, w.actual.dev]), [['172.31.5.1/32', 'eth2']])
  t.deepEqual(r1?.extra.map(x => x.dst), ['172.31.3.1/32'])
  t.false(d.some(x => x.node === 'r5' || x.node === 'r6'))
  // the other side observed nothing at all: everything missing
  t.is(d.find(x => x.node === 'r3')?.missing.length, 2)
  const text = formatRouteDiff(d).join('\n')
  t.regex(text, /r1:\n {2}missing 172\.31\.6\.1\/32 \(of r6, 1 hops via eth1\)/)
  t.regex(text, /wrong {3}172\.31\.5\.1\/32 via eth2, expected via eth1/)
  t.regex(text, /extra {3}172\.31\.3\.1\/32 \(of r3, unreachable\)/)
  // presence-only diff ignores next hops
  t.deepEqual(diffRoutes(e, observed, { checkNextHops: false }).find(x => x.node === 'r1')?.wrong, [])
})

test('routes of other protocols and tables are not the daemon\'s and are ignored', t => {
  const s = cut(1, 4)
  const e = new Map([['r1', expectRoutes(lab, s, models).get('r1') as NonNullable<ReturnType<typeof expectRoutes> extends Map<string, infer V> ? V : never>]])
  const o: NodeObservation = { addresses: [], routes: [
    { dst: '172.31.5.1', dev: 'eth1', protocol: 'babel' },
    { dst: '172.31.6.1', dev: 'eth1', protocol: 'babel', table: 254 },
    { dst: '172.31.3.1', dev: 'eth2', protocol: 'static' },
    { dst: '172.31.4.1', dev: 'eth2', protocol: 'babel', table: 'other' }
  ] }
  t.deepEqual(diffRoutes(e, new Map([['r1', o]])), [])
})
