import test from 'ava'
import { SYSTEM_NS, TABLE_NTK, emptyNamespace, type RouteItem } from '../src/kernel'
import { Topology, parseNaddr, cidrGlobalOf } from '../src/addressing'
import { destinationSet, destinationCidrs, localAddressSet } from '../src/routes'
import { validateConfig } from '../src/node'
import { type DaemonPlan, runFor, startDaemons, ntkRoutes, linkLocalOf, inside } from './helpers/inprocess-network'

// Whole daemons (startNode: Neighborhood + QSPN over the wire codec + kernel sync) in one process, over an
// in-memory network with a virtual clock and in-memory kernels: what each node's kernel ends up holding.
const TOPOLOGY = Topology.fromBits([2, 1, 1, 1])

async function network (plan: Record<string, DaemonPlan>) {
  const dn = await startDaemons(plan, { topologyBits: [2, 1, 1, 1] })
  return { clock: dn.clock, dn, nodes: Object.fromEntries(dn.list().map(d => [d.name, d])) }
}

const LINE = {
  a: { address: '3.1.0.1', nics: ['a1'] },
  b: { address: '3.1.0.0', nics: ['b1', 'b2'] },
  c: { address: '3.0.1.0', nics: ['c1', 'c2'] },
  d: { address: '1.0.0.0', nics: ['d1'] }
}

async function line () {
  const n = await network(LINE)
  n.dn.link({ node: 'a', nic: 'a1' }, { node: 'b', nic: 'b1' })
  n.dn.link({ node: 'b', nic: 'b2' }, { node: 'c', nic: 'c1' })
  n.dn.link({ node: 'c', nic: 'c2' }, { node: 'd', nic: 'd1' })
  return n
}

// Which neighbour (node, my NIC, its NIC) leads towards which nodes on the line.
const LINE_NEXT: Record<string, Array<{ via: string, myNic: string, peerNic: string, reaches: string[] }>> = {
  a: [{ via: 'b', myNic: 'a1', peerNic: 'b1', reaches: ['b', 'c', 'd'] }],
  b: [{ via: 'a', myNic: 'b1', peerNic: 'a1', reaches: ['a'] }, { via: 'c', myNic: 'b2', peerNic: 'c1', reaches: ['c', 'd'] }],
  c: [{ via: 'b', myNic: 'c1', peerNic: 'b2', reaches: ['a', 'b'] }, { via: 'd', myNic: 'c2', peerNic: 'd1', reaches: ['d'] }],
  d: [{ via: 'c', myNic: 'd1', peerNic: 'c2', reaches: ['a', 'b', 'c'] }]
}

test('a line of 4 daemons spanning every level converges: each ntk table routes every existing g-node via the right neighbour with the right src', async t => {
  const { clock, dn, nodes } = await line()
  t.teardown(async () => await dn.stopAll())
  await runFor(clock, 20_000)
  for (const n of Object.values(nodes)) await n.node.syncKernel()

  for (const me of Object.values(nodes)) {
    const got = await ntkRoutes(me.kernel)
    const local = localAddressSet({ topology: TOPOLOGY, naddr: me.naddr, main: true })
    const expected = new Map<string, RouteItem>()
    for (const d of destinationSet({ topology: TOPOLOGY, naddr: me.naddr, main: true })) {
      const members = Object.values(nodes).filter(o => o !== me && inside(me.naddr, d.hc, o.naddr)).map(o => o.name)
      const step = LINE_NEXT[me.name].find(s => s.reaches.some(r => members.includes(r)))
      for (const { cidr, src } of destinationCidrs(d, local)) {
        expected.set(cidr, step === undefined
          ? { table: TABLE_NTK, dst: cidr, type: 'unreachable' }
          : { table: TABLE_NTK, dst: cidr, type: 'unicast', via: linkLocalOf(nodes[step.via], step.peerNic), dev: step.myNic, src: src as string })
      }
    }
    t.is(got.size, 18, `${me.name}: 18 destination CIDRs in 4·2·2·2`)
    t.deepEqual([...got.values()].sort((x, y) => x.dst.localeCompare(y.dst)), [...expected.values()].sort((x, y) => x.dst.localeCompare(y.dst)), `ntk of ${me.name}`)
  }

  // Spec §2.10 written out for δ = 3·1·0·1 (node a), whose neighbour μ = 3·1·0·0 is b here.
  const a = await ntkRoutes(nodes.a.kernel)
  const viaB = linkLocalOf(nodes.b, 'b1')
  for (const [dst, src] of [['10.0.0.28/32', '10.0.0.29'], ['10.0.0.92/32', '10.0.0.29'], ['10.0.0.60/32', '10.0.0.61'], ['10.0.0.48/32', '10.0.0.49'], ['10.0.0.40/32', '10.0.0.41'],
    ['10.0.0.24/30', '10.0.0.29'], ['10.0.0.56/30', '10.0.0.61'], ['10.0.0.8/29', '10.0.0.29'], ['10.0.0.72/29', '10.0.0.29']]) {
    t.deepEqual(a.get(dst), { table: 'ntk', dst, type: 'unicast', via: viaB, dev: 'a1', src }, dst)
  }
  for (const dst of ['10.0.0.0/29', '10.0.0.16/29', '10.0.0.30/31', '10.0.0.50/31']) t.is(a.get(dst)?.type, 'unreachable', dst)
  const aState = (await nodes.a.kernel.read()).namespaces.get(SYSTEM_NS)
  t.deepEqual(aState?.addresses.filter(x => x.dev === 'a1' && x.ip.startsWith('10.')).map(x => x.ip), ['10.0.0.29', '10.0.0.61', '10.0.0.49', '10.0.0.41'])
  t.true(aState?.rules.some(r => r.table === 'ntk' && r.fwmarkOf === undefined))
  t.deepEqual(nodes.a.node.map().map(d => d.cidr).sort(), [cidrGlobalOf(TOPOLOGY, nodes.a.naddr, { lvl: 3, pos: 1 }), cidrGlobalOf(TOPOLOGY, nodes.a.naddr, { lvl: 2, pos: 0 }), '10.0.0.28/32'].sort())
  for (const n of Object.values(nodes)) t.is((n.node.counters().kernel as { applyErrors: number }).applyErrors, 0, `${n.name}: no failed apply`)
})

test('a ring takes the cheaper way round, by configured arc costs', async t => {
  // a - b - c - d - a; the arcs on a2/d2 are expensive, so a reaches d through b and c
  const { clock, dn, nodes } = await network({
    a: { address: '0.0.0.0', nics: ['a1', 'a2'], costs: { a2: 50_000 } },
    b: { address: '0.0.0.1', nics: ['b1', 'b2'] },
    c: { address: '0.0.1.0', nics: ['c1', 'c2'] },
    d: { address: '1.0.0.0', nics: ['d1', 'd2'], costs: { d2: 50_000 } }
  })
  t.teardown(async () => await dn.stopAll())
  dn.link({ node: 'a', nic: 'a1' }, { node: 'b', nic: 'b1' })
  dn.link({ node: 'b', nic: 'b2' }, { node: 'c', nic: 'c1' })
  dn.link({ node: 'c', nic: 'c2' }, { node: 'd', nic: 'd1' })
  dn.link({ node: 'd', nic: 'd2' }, { node: 'a', nic: 'a2' })
  await runFor(clock, 20_000)
  for (const n of Object.values(nodes)) await n.node.syncKernel()
  const a = await ntkRoutes(nodes.a.kernel)
  // d = 1·0·0·0 is the level-3 g-node (3,1) for a: global 10.0.0.8/29
  t.deepEqual(a.get('10.0.0.8/29'), { table: 'ntk', dst: '10.0.0.8/29', type: 'unicast', via: linkLocalOf(nodes.b, 'b1'), dev: 'a1', src: '10.0.0.0' })
  const d = await ntkRoutes(nodes.d.kernel)
  t.is(d.get('10.0.0.0/29')?.via, linkLocalOf(nodes.c, 'c2'), 'd reaches a\'s g-node through c')
  // the forwarding table for packets from b never sends them back to b's g-node
  const fromB = (await nodes.a.kernel.read()).namespaces.get(SYSTEM_NS)?.routes.filter(r => r.table.startsWith('ntk_from_') && r.dst === '10.0.0.8/29')
  t.true((fromB ?? []).some(r => r.type === 'unicast' && r.dev === 'a2'), 'from b, d is reached through the other arc')
})

test('stopping a daemon empties its kernel, and its neighbour stops routing to it', async t => {
  const { clock, dn, nodes } = await line()
  t.teardown(async () => await dn.stopAll())
  await runFor(clock, 20_000)
  t.is((await ntkRoutes(nodes.c.kernel)).get('10.0.0.8/29')?.type, 'unicast')
  await nodes.d.node.stop()
  const left = (await nodes.d.kernel.read()).namespaces.get(SYSTEM_NS)
  t.deepEqual(left?.routes, [])
  t.deepEqual(left?.addresses, [])
  t.deepEqual(left?.rules, [])
  t.deepEqual(left?.marks, [])
  t.deepEqual(left?.nat, [])
  await runFor(clock, 20_000)
  for (const n of ['a', 'b', 'c']) await nodes[n].node.syncKernel()
  t.is((await ntkRoutes(nodes.c.kernel)).get('10.0.0.8/29')?.type, 'unreachable', 'c forgets d once the arc dies')
  t.is((await ntkRoutes(nodes.a.kernel)).get('10.0.0.8/29')?.type, 'unreachable', 'a too')
  t.is(nodes.c.node.arcs().length, 1)
})

test('bad configuration is refused with a message that names the problem', t => {
  t.throws(() => validateConfig({ interfaces: ['eth1'], topology: [2, 1, 1, 1], address: '4.0.0.0' }), { name: 'ConfigError', message: /address 4\.0\.0\.0: position 4 at level 3 does not fit gsize 4/ })
  t.throws(() => validateConfig({ interfaces: [], topology: [2, 1, 1, 1], address: '0.0.0.0' }), { name: 'ConfigError', message: /interfaces/ })
  t.throws(() => validateConfig({ interfaces: ['eth1'], topology: [2, 1, 1, 1], address: '0.0.0.0', costs: { eth2: 5 } }), { name: 'ConfigError', message: /costs: eth2 is not a managed NIC/ })
  t.throws(() => validateConfig({ interfaces: ['eth1'], topology: [2, 1, 1, 1], address: '0.0.0.0', timers: 'fast' }), { name: 'ConfigError', message: /timers/ })
  t.is(parseNaddr('3.1.0.1').join(), '1,0,1,3')
})

test('an arc QSPN drops (the neighbour refuses) loses its identity-arc and its kernel state at once, and no listener throws', async t => {
  // The neighbour's QSPN stops answering (refuses every request, as a peer that no longer accepts the arc does);
  // a cost change makes a ask it for its full ETP, the refusal makes QSPN drop the arc. Before, the node removed the
  // arc twice: the second removal threw inside a listener, which was swallowed, and the kernel sync after it never
  // ran (a's table for b stood).
  const n = await network({ a: { address: '3.1.0.1', nics: ['a1'], costs: { a1: 1000 } }, b: { address: '3.1.0.0', nics: ['b1'], costs: { b1: 1000 } } })
  t.teardown(async () => await n.dn.stopAll())
  n.dn.link({ node: 'a', nic: 'a1' }, { node: 'b', nic: 'b1' })
  await runFor(n.clock, 5_000)
  await n.dn.syncKernels()
  const a = n.nodes.a.node
  const bMac = n.nodes.b.node.status().nics[0].mac
  const table = `ntk_from_${bMac}`
  const before = (await n.nodes.a.kernel.read()).namespaces.get(SYSTEM_NS)
  t.true(before?.marks.some(m => m.markOf === table), 'a marks packets from b')
  t.is((await ntkRoutes(n.nodes.a.kernel)).get('10.0.0.28/32')?.type, 'unicast')

  n.nodes.b.node.system.main.qspn.stop()
  const physical = a.system.identities.arcsOf(a.system.identities.mainId)[0].arcId
  a.system.main.arcCostChanged(physical, 2000)
  await runFor(n.clock, 3_000)
  await n.dn.syncKernels()
  const after = (await n.nodes.a.kernel.read()).namespaces.get(SYSTEM_NS)
  t.false(after?.marks.some(m => m.markOf === table) ?? true, 'the mark for b is gone')
  t.false(after?.rules.some(r => r.table === table) ?? true, 'the rule for b\'s table is gone')
  t.false(after?.routes.some(r => r.table === table) ?? true, 'b\'s table is empty')
  t.is((await ntkRoutes(n.nodes.a.kernel)).get('10.0.0.28/32')?.type, 'unreachable', 'b is no longer routed')
  t.deepEqual(a.identities()[0].arcs, [], 'the identity-arc went with it')
  t.is((a.counters().listenerErrors as { count: number }).count, 0)
  t.is(a.arcs().length, 0)
})

test('--no-link-up: the daemon leaves its NICs as it found them (a lab keeps a link down until its timeline brings it up); by default it brings them up', async t => {
  const dn = await startDaemons({ keep: { address: '3.1.0.1', nics: ['eth1'], config: { linkUp: false } }, bring: { address: '3.1.0.0', nics: ['eth1'] } }, { topologyBits: [2, 1, 1, 1], seed: 5 })
  t.teardown(async () => await dn.stopAll())
  await runFor(dn.clock, 2000)
  // the kernel reports the links the hint names that are up
  const hint = { namespaces: new Map([[SYSTEM_NS, { ...emptyNamespace(), linksUp: ['lo', 'eth1'] }]]) }
  const up = async (name: string): Promise<readonly string[]> => (await dn.get(name).kernel.read(hint)).namespaces.get(SYSTEM_NS)?.linksUp ?? []
  t.deepEqual([...await up('keep')], ['lo'], 'eth1 stays down')
  t.deepEqual([...await up('bring')].sort(), ['eth1', 'lo'])
  t.deepEqual(dn.get('keep').node.arcs(), [], 'no arc over a NIC that is down')
})
