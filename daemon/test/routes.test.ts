import test from 'ava'
import { Topology, parseNaddr } from '../src/addressing'
import { destinationSet, localAddressSet, destinationCidrs, hcKey, mainIdentityState, RoutesInputError } from '../src/routes'
import type { RouteItem } from '../src/kernel'

const topo = Topology.fromBits([2, 1, 1, 1])
const delta = parseNaddr('3·1·0·1')
const deltaNic = { name: 'eth1', mac: '00:16:3E:1A:C4:45', linkLocal: '169.254.253.216' }
const mu = { dev: 'eth1', peerMac: '00:16:3e:2d:8d:de', peerLinkLocal: '169.254.119.176', peerNaddr: parseNaddr('3·1·0·0') }
const DELTA_DESTS = ['10.0.0.0/29', '10.0.0.64/29', '10.0.0.8/29', '10.0.0.72/29', '10.0.0.16/29', '10.0.0.80/29', '10.0.0.24/30', '10.0.0.88/30', '10.0.0.56/30',
  '10.0.0.30/31', '10.0.0.94/31', '10.0.0.62/31', '10.0.0.50/31', '10.0.0.28/32', '10.0.0.92/32', '10.0.0.60/32', '10.0.0.48/32', '10.0.0.40/32']

test('local addresses of δ (§2.3): global, anonymizing, internal 3..1 on the NIC; localhost synonym on lo', t => {
  const local = localAddressSet({ topology: topo, naddr: delta, main: true, serveAnonymous: true })
  t.deepEqual(local.onNic, ['10.0.0.29', '10.0.0.93', '10.0.0.61', '10.0.0.49', '10.0.0.41'])
  t.is(local.localhostSynonym, '10.0.0.32')
  t.deepEqual(localAddressSet({ topology: topo, naddr: delta, main: true }).onNic, ['10.0.0.29', '10.0.0.61', '10.0.0.49', '10.0.0.41'])
  t.deepEqual(localAddressSet({ topology: topo, naddr: parseNaddr('3·1·0·2'), main: false }).onNic, [])
})

test('a main identity in transit keeps only the internal addresses below its virtual level', t => {
  const local = localAddressSet({ topology: topo, naddr: parseNaddr('3·2·0·1'), main: true, serveAnonymous: true })
  t.is(local.global, null)
  t.is(local.anonymizing, null)
  t.deepEqual(local.onNic, ['10.0.0.49', '10.0.0.41'])
})

test("destination set of δ (§2.4): 6 HCoords, 18 CIDRs in the docs' order", t => {
  const dests = destinationSet({ topology: topo, naddr: delta, main: true })
  t.deepEqual(dests.map(d => hcKey(d.hc)), ['3:0', '3:1', '3:2', '2:0', '1:1', '0:0'])
  const local = localAddressSet({ topology: topo, naddr: delta, main: true })
  t.deepEqual(dests.flatMap(d => destinationCidrs(d, local).map(c => c.cidr)), DELTA_DESTS)
})

test('an identity with a virtual position routes only the CIDRs that do not hold it (the proof\'s rule); subnet level stops the loop', t => {
  // connectivity identity 3·2·0·1, virtual at level 2: below it only internal CIDRs inside levels 1 and 2 exist
  const conn = destinationSet({ topology: topo, naddr: parseNaddr('3·2·0·1'), main: false })
  const shown = conn.map(d => [hcKey(d.hc), d.global, [...d.internal].map(([k, c]) => `${k}:${c}`).join(' ')])
  t.deepEqual(shown, [
    ['3:0', '10.0.0.0/29', ''], ['3:1', '10.0.0.8/29', ''], ['3:2', '10.0.0.16/29', ''],
    ['2:0', '10.0.0.24/30', '3:10.0.0.56/30'], ['2:1', '10.0.0.28/30', '3:10.0.0.60/30'],
    ['1:1', null, '2:10.0.0.50/31'],
    ['0:0', null, '2:10.0.0.48/32 1:10.0.0.40/32']
  ])
  // δ entering as 2·1·2·1 (virtual at level 1, between phase 1 and 2): the members of its level-1 g-node keep
  // their internal level-1 routes, and the level-1 g-nodes of the host are routed in full
  const transit = destinationSet({ topology: topo, naddr: parseNaddr('2·1·2·1'), main: true })
  t.deepEqual(transit.filter(d => d.hc.lvl <= 1).map(d => [hcKey(d.hc), d.global, [...d.internal].map(([k, c]) => `${k}:${c}`).join(' ')]), [
    ['1:0', '10.0.0.20/31', '3:10.0.0.60/31 2:10.0.0.48/31'], ['1:1', '10.0.0.22/31', '3:10.0.0.62/31 2:10.0.0.50/31'],
    ['0:0', null, '1:10.0.0.40/32']
  ])
  const sub = destinationSet({ topology: topo, naddr: parseNaddr('1·1·0·0'), main: true, subnetLevel: 1 })
  t.deepEqual(sub.map(d => hcKey(d.hc)), ['3:0', '3:2', '3:3', '2:0', '1:1'])
  const largest = destinationSet({ topology: Topology.fromBits([2, 4, 8, 8]), naddr: [0, 0, 0, 0], main: true })
  t.is(largest.length, 3 + 15 + 255 + 255)
})

test('δ startup state (§2.10): addresses, 18 unreachable routes in ntk, SNAT, rule', t => {
  const s = mainIdentityState({ topology: topo, naddr: delta, nics: [deltaNic], serveAnonymous: true })
  t.deepEqual(s.addresses, [
    { dev: 'eth1', ip: '169.254.253.216' },
    ...['10.0.0.29', '10.0.0.93', '10.0.0.61', '10.0.0.49', '10.0.0.41'].map(ip => ({ dev: 'eth1', ip })),
    { dev: 'lo', ip: '10.0.0.32' }
  ])
  t.deepEqual(s.routes, DELTA_DESTS.map(dst => ({ table: 'ntk', dst, type: 'unreachable' })))
  t.deepEqual(s.rules, [{ table: 'ntk' }])
  t.deepEqual(s.nat, [{ chain: 'POSTROUTING', dst: '10.0.0.64/27', target: 'SNAT', to: '10.0.0.29' }])
  t.deepEqual(s.marks, [])
  t.is(s.sysctls.get('net.ipv4.conf.eth1.arp_announce'), '2')
  t.is(s.sysctls.get('net.ipv4.ip_forward'), '1')
  t.deepEqual(mainIdentityState({ topology: topo, naddr: delta, nics: [deltaNic], anonymize: false }).nat, [])
})

test("μ's arrival (§2.10): host route, ntk_from table all unreachable, mark and rule, five ntk routes with src", t => {
  const s = mainIdentityState({
    topology: topo, naddr: delta, nics: [deltaNic], serveAnonymous: true, arcs: [mu],
    paths: new Map([[hcKey({ lvl: 0, pos: 0 }), [{ viaMac: mu.peerMac, hops: [{ lvl: 0, pos: 0 }] }]]])
  })
  const table = 'ntk_from_00:16:3E:2D:8D:DE'
  t.deepEqual(s.routes.filter(r => r.table === 'main'), [{ table: 'main', dst: '169.254.119.176/32', type: 'unicast', dev: 'eth1', src: '169.254.253.216' }])
  const via = (dst: string, src: string): RouteItem => ({ table: 'ntk', dst, type: 'unicast', via: '169.254.119.176', dev: 'eth1', src })
  const ntk = s.routes.filter(r => r.table === 'ntk')
  t.deepEqual(ntk.filter(r => r.type === 'unicast'), [via('10.0.0.28/32', '10.0.0.29'), via('10.0.0.92/32', '10.0.0.29'), via('10.0.0.60/32', '10.0.0.61'), via('10.0.0.48/32', '10.0.0.49'), via('10.0.0.40/32', '10.0.0.41')])
  t.is(ntk.filter(r => r.type === 'unreachable').length, 13)
  const fwd = s.routes.filter(r => r.table === table)
  t.is(fwd.length, 18)
  t.true(fwd.every(r => r.type === 'unreachable'))
  t.deepEqual(s.marks, [{ mac: '00:16:3E:2D:8D:DE', markOf: table }])
  t.deepEqual(s.rules, [{ table: 'ntk' }, { table, fwmarkOf: table }])
})

test('ntk_from routes take the best path avoiding the neighbour, without src', t => {
  const other = { dev: 'eth1', peerMac: '00:16:3E:FD:E2:AA', peerLinkLocal: '169.254.69.30', peerNaddr: parseNaddr('3·0·1·0') }
  const s = mainIdentityState({
    topology: topo, naddr: delta, nics: [deltaNic], arcs: [mu, other],
    paths: new Map([[hcKey({ lvl: 3, pos: 0 }), [
      { viaMac: other.peerMac, hops: [{ lvl: 2, pos: 0 }, { lvl: 3, pos: 0 }] },
      { viaMac: mu.peerMac, hops: [{ lvl: 0, pos: 0 }, { lvl: 3, pos: 0 }] }
    ]]])
  })
  const r = (table: string): RouteItem | undefined => s.routes.find(x => x.table === table && x.dst === '10.0.0.0/29')
  t.deepEqual(r('ntk'), { table: 'ntk', dst: '10.0.0.0/29', type: 'unicast', via: '169.254.69.30', dev: 'eth1', src: '10.0.0.29' })
  // packets from α (max distinct g-node (2,0)) must not go back through (2,0): μ's path is used
  t.deepEqual(r('ntk_from_00:16:3E:FD:E2:AA'), { table: 'ntk_from_00:16:3E:FD:E2:AA', dst: '10.0.0.0/29', type: 'unicast', via: '169.254.119.176', dev: 'eth1' })
  // packets from μ go the best way, through α
  t.deepEqual(r('ntk_from_00:16:3E:2D:8D:DE'), { table: 'ntk_from_00:16:3E:2D:8D:DE', dst: '10.0.0.0/29', type: 'unicast', via: '169.254.69.30', dev: 'eth1' })
})

test('a neighbour whose address is unknown gets an all-unreachable table; bad inputs are refused', t => {
  const s = mainIdentityState({ topology: topo, naddr: delta, nics: [deltaNic], arcs: [{ ...mu, peerNaddr: undefined }], paths: new Map([[hcKey({ lvl: 3, pos: 0 }), [{ viaMac: mu.peerMac, hops: [{ lvl: 3, pos: 0 }] }]]]) })
  t.true(s.routes.filter(r => r.table.startsWith('ntk_from_')).every(r => r.type === 'unreachable'))
  t.throws(() => mainIdentityState({ topology: topo, naddr: delta, nics: [deltaNic], arcs: [{ ...mu, dev: 'eth7' }] }), { instanceOf: RoutesInputError, message: /eth7/ })
  t.throws(() => mainIdentityState({ topology: topo, naddr: delta, nics: [deltaNic], arcs: [mu], paths: new Map([['3:0', [{ viaMac: '00:11:22:33:44:55', hops: [] }]]]) }), { instanceOf: RoutesInputError })
})

test('λ, gateway of a level-1 subnet (§2.6): addresses and NETMAP rules', t => {
  const s = mainIdentityState({ topology: topo, naddr: parseNaddr('1·1·0·0'), nics: [{ name: 'eth1', mac: '00:16:3E:06:3E:90', linkLocal: '169.254.109.22' }], serveAnonymous: true, subnetLevel: 1 })
  t.deepEqual(s.addresses.map(a => a.ip), ['169.254.109.22', '10.0.0.12', '10.0.0.76', '10.0.0.60', '10.0.0.48', '10.0.0.40', '10.0.0.32'])
  t.deepEqual(s.nat, [
    { chain: 'POSTROUTING', dst: '10.0.0.64/27', target: 'SNAT', to: '10.0.0.12' },
    { chain: 'PREROUTING', dst: '10.0.0.48/31', target: 'NETMAP', to: '10.0.0.40/31' },
    { chain: 'POSTROUTING', dst: '10.0.0.48/30', src: '10.0.0.40/31', target: 'NETMAP', to: '10.0.0.48/31' },
    { chain: 'PREROUTING', dst: '10.0.0.60/31', target: 'NETMAP', to: '10.0.0.40/31' },
    { chain: 'POSTROUTING', dst: '10.0.0.56/29', src: '10.0.0.40/31', target: 'NETMAP', to: '10.0.0.60/31' },
    { chain: 'PREROUTING', dst: '10.0.0.12/31', target: 'NETMAP', to: '10.0.0.40/31' },
    { chain: 'POSTROUTING', dst: '10.0.0.0/27', src: '10.0.0.40/31', target: 'NETMAP', to: '10.0.0.12/31' },
    { chain: 'PREROUTING', dst: '10.0.0.76/31', target: 'NETMAP', to: '10.0.0.40/31' },
    { chain: 'POSTROUTING', dst: '10.0.0.64/27', src: '10.0.0.40/31', target: 'NETMAP', to: '10.0.0.12/31' }
  ])
  // no destinations of level 0 in ntk: the subnet's inside is not ours to route
  t.false(s.routes.some(r => r.dst.endsWith('/32')))
})
