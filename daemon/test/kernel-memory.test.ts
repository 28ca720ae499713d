import test from 'ava'
import { Topology, parseNaddr } from '../src/addressing'
import {
  InMemoryKernel, KernelApplyError, SYSTEM_NS, TableAllocator, TableExhaustedError, canonicalState, emptyNamespace, plan,
  withoutNamespace, type KernelState, type NamespaceState
} from '../src/kernel'
import { hcKey, mainIdentityState, systemSysctls } from '../src/routes'

const topo = Topology.fromBits([2, 1, 1, 1])
const delta = parseNaddr('3·1·0·1')
const nic = { name: 'eth1', mac: '00:16:3E:1A:C4:45', linkLocal: '169.254.253.216' }
const mu = { dev: 'eth1', peerMac: '00:16:3E:2D:8D:DE', peerLinkLocal: '169.254.119.176', peerNaddr: parseNaddr('3·1·0·0') }
const TABLE_MU = 'ntk_from_00:16:3E:2D:8D:DE'

const startup = (): KernelState => ({ namespaces: new Map([[SYSTEM_NS, mainIdentityState({ topology: topo, naddr: delta, nics: [nic], serveAnonymous: true })]]) })
const withMu = (): KernelState => ({
  namespaces: new Map([[SYSTEM_NS, mainIdentityState({
    topology: topo, naddr: delta, nics: [nic], serveAnonymous: true, arcs: [mu],
    paths: new Map([[hcKey({ lvl: 0, pos: 0 }), [{ viaMac: mu.peerMac, hops: [{ lvl: 0, pos: 0 }] }]]])
  })]])
})

test('δ startup and μ arrival apply exactly, and a second apply is empty', async t => {
  const allocator = new TableAllocator()
  const k = new InMemoryKernel({ allocator, devices: ['eth1'] })
  const s1 = startup()
  t.is((await k.apply(s1)).ops, 3 /* sysctls not already at their value (rp_filter reads 0) */ + 1 /* eth1 up */ + 7 + 18 + 1 + 1)
  t.deepEqual(canonicalState(await k.read(s1)), canonicalState(s1))
  t.is((await k.apply(s1)).ops, 0)
  const s2 = withMu()
  const ops = await k.plan(s2)
  // the host route in main goes before the ntk routes that use it as gateway; rule before mark
  const kinds = ops.map(o => `${o.kind}:${o.op}:${o.kind === 'route' ? o.item.table : ''}`)
  t.true(kinds.indexOf('route:add:main') < kinds.indexOf('route:replace:ntk'))
  t.deepEqual(ops.filter(o => o.kind === 'route' && o.item.table === 'ntk').length, 5)
  await k.apply(s2)
  t.is(allocator.idOf(TABLE_MU), 250)
  t.deepEqual(canonicalState(await k.read(s2)), canonicalState(s2))
  t.is((await k.apply(s2)).ops, 0)
  // μ leaves: its table, mark, rule and host route go, and the id is free again
  await k.apply(s1)
  t.deepEqual(canonicalState(await k.read(s1)), canonicalState(s1))
  t.is(allocator.idOf(TABLE_MU), undefined)
})

test('the in-memory kernel refuses what Linux refuses', async t => {
  const k = new InMemoryKernel({ allocator: new TableAllocator(), devices: ['eth1'] })
  t.throws(() => k.applyOps([{ kind: 'route', op: 'add', ns: SYSTEM_NS, why: 'missing', item: { table: 'ntk', dst: '10.0.0.28/32', type: 'unicast', via: '169.254.119.176', dev: 'eth1' } }]),
    { instanceOf: KernelApplyError, message: /invalid gateway/ })
  t.throws(() => k.applyOps([{ kind: 'address', op: 'add', ns: SYSTEM_NS, why: 'missing', item: { dev: 'eth9', ip: '10.0.0.29' } }]), { instanceOf: KernelApplyError, message: /eth9/ })
  t.throws(() => k.applyOps([{ kind: 'mark', op: 'add', ns: SYSTEM_NS, why: 'missing', item: { mac: '00:16:3E:2D:8D:DE', markOf: TABLE_MU } }]), { instanceOf: KernelApplyError, message: /no id/ })
  // an apply that would add a route with src before its address would fail: plan orders addresses first
  await t.notThrowsAsync(k.apply(withMu()))
  // deleting an address flushes the routes that use it as src, as Linux does
  k.applyOps([{ kind: 'address', op: 'del', ns: SYSTEM_NS, why: 'unwanted', item: { dev: 'eth1', ip: '10.0.0.61' } }])
  const routes = (await k.read()).namespaces.get(SYSTEM_NS)?.routes ?? []
  t.false(routes.some(r => r.src === '10.0.0.61'))
})

test('apply converges from a half-applied state', async t => {
  const allocator = new TableAllocator()
  const k = new InMemoryKernel({ allocator, devices: ['eth1'] })
  const s2 = withMu()
  const half = plan(s2, { namespaces: new Map([[SYSTEM_NS, emptyNamespace()]]) })
  allocator.acquire('memory/', mu.peerMac)
  k.applyOps(half.slice(0, Math.floor(half.length / 2)))
  k.applyOps([{ kind: 'route', op: 'add', ns: SYSTEM_NS, why: 'missing', item: { table: 'ntk', dst: '10.0.0.200/32', type: 'blackhole' } }])
  const stats = await k.apply(s2)
  t.true(stats.ops > 0)
  t.deepEqual(canonicalState(await k.read(s2)), canonicalState(s2))
  t.is((await k.apply(s2)).ops, 0)
})

test('nested namespaces: pseudo-interfaces, tables shared by MAC across namespaces, removal', async t => {
  const allocator = new TableAllocator()
  const k = new InMemoryKernel({ allocator, devices: ['eth1'] })
  const nested: NamespaceState = {
    ...emptyNamespace(),
    sysctls: systemSysctls(['ntkv0_eth1']),
    linksUp: ['ntkv0_eth1'],
    pseudoInterfaces: [{ name: 'ntkv0_eth1', parent: 'eth1', mac: '4E:01:02:03:04:05' }],
    addresses: [{ dev: 'ntkv0_eth1', ip: '169.254.7.7' }],
    routes: [
      { table: 'main', dst: '169.254.119.176/32', type: 'unicast', dev: 'ntkv0_eth1', src: '169.254.7.7' },
      { table: TABLE_MU, dst: '10.0.0.0/29', type: 'unicast', via: '169.254.119.176', dev: 'ntkv0_eth1' }
    ],
    rules: [{ table: TABLE_MU, fwmarkOf: TABLE_MU }],
    marks: [{ mac: mu.peerMac, markOf: TABLE_MU }]
  }
  const both: KernelState = { namespaces: new Map([...withMu().namespaces, ['ntkv0', nested]]) }
  await k.apply(both)
  t.deepEqual(canonicalState(await k.read(both)), canonicalState(both))
  t.is(allocator.refcount(mu.peerMac), 2)
  t.is((await k.apply(both)).ops, 0)
  const back = withoutNamespace(both, 'ntkv0')
  const ops = await k.plan(back)
  t.deepEqual(ops.map(o => `${o.kind}:${o.op}`), ['netns:del'])
  await k.apply(back)
  t.is(allocator.refcount(mu.peerMac), 1)
  t.deepEqual([...(await k.read()).namespaces.keys()], [SYSTEM_NS])
})

test('table allocator: ids 250..200 from the top, refcounts per MAC, rt_tables lines', t => {
  const a = new TableAllocator()
  t.is(a.acquire('ns1', '00:16:3e:2d:8d:de'), 250)
  t.is(a.acquire('ns2', '00:16:3E:2D:8D:DE'), 250)
  t.is(a.acquire('ns1', '00:16:3E:FD:E2:AA'), 249)
  a.release('ns1', '00:16:3E:2D:8D:DE')
  t.is(a.idOfMac('00:16:3E:2D:8D:DE'), 250)
  a.release('ns2', '00:16:3E:2D:8D:DE')
  t.is(a.idOfMac('00:16:3E:2D:8D:DE'), undefined)
  t.is(a.acquire('ns3', '00:16:3E:5B:78:D5'), 250)
  const file = a.renderRtTables('255\tlocal\n254\tmain\n250 reserved_ntk_from_250\n')
  const lines = file.trim().split('\n')
  t.deepEqual(lines.slice(0, 4), ['255\tlocal', '254\tmain', '251 ntk', '250 ntk_from_00:16:3E:5B:78:D5'])
  t.is(lines[4], '249 ntk_from_00:16:3E:FD:E2:AA')
  t.is(lines[lines.length - 1], '200 reserved_ntk_from_200')
  t.is(lines.length, 2 + 1 + 51)
  for (let i = 0; i < 49; i++) a.acquire('x', `00:00:00:00:00:${i.toString(16).padStart(2, '0')}`)
  t.throws(() => a.acquire('x', '00:00:00:00:01:00'), { instanceOf: TableExhaustedError })
})
