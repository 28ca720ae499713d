import test from 'ava'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { ntkAddress, ntkAnonymizing, ntkDestinations, ntkGlobal, ntkGnodeName, ntkInternal, ntkLocalAddresses, ntkMaxDistinct } from '../src/scenario/ntk-addressing'
import { expectRoutes, defaultRouteModels } from '../src/scenario/route-model'
import { initialState } from '../src/scenario/lab-state'
import { defaultKinds, parseTopology } from '../src/topology'
import { Topology, ipGlobal, ipInternal } from '../../daemon/src/addressing'
import { destinationCidrs, destinationSet, localAddressSet } from '../../daemon/src/routes'

// The lab's own addressing (spec §1.5, §2.3, §2.4, §2.5), which the ntkd route model uses instead of the daemon's
// functions: hand-computed vectors of the spec, no import from daemon/, and agreement with the daemon as a cross-check.

const delta = ntkAddress([2, 1, 1, 1], '3.1.0.1')

test('δ 3·1·0·1 in 4·2·2·2: its addresses (§1.5, §2.10)', t => {
  t.deepEqual(delta, { gsizes: [2, 2, 2, 4], naddr: [1, 0, 1, 3] })
  t.deepEqual([ntkGlobal(delta), ntkAnonymizing(delta), ntkInternal(delta, 3), ntkInternal(delta, 2), ntkInternal(delta, 1), ntkInternal(delta, 0)],
    ['10.0.0.29', '10.0.0.93', '10.0.0.61', '10.0.0.49', '10.0.0.41', '10.0.0.32'])
  // §2.10 startup: .29 .93 .61 .49 .41 on eth1 (serve anonymous), .32 on lo
  t.deepEqual(ntkLocalAddresses(delta, { serveAnonymous: true }), { onNic: ['10.0.0.29', '10.0.0.93', '10.0.0.61', '10.0.0.49', '10.0.0.41'], lo: '10.0.0.32' })
  t.deepEqual(ntkLocalAddresses(delta).onNic, ['10.0.0.29', '10.0.0.61', '10.0.0.49', '10.0.0.41'])
  const alpha = ntkAddress([2, 1, 1, 1], '3.0.1.0')
  t.deepEqual([ntkGlobal(alpha), ntkAnonymizing(alpha), ntkInternal(alpha, 3), ntkInternal(alpha, 2), ntkInternal(alpha, 1)],
    ['10.0.0.26', '10.0.0.90', '10.0.0.58', '10.0.0.50', '10.0.0.40'])
  // §2.6: λ 1·1·0·0 assigns .12, .76, .60, .48, .40 on eth1 and .32 on lo
  t.deepEqual(ntkLocalAddresses(ntkAddress([2, 1, 1, 1], '1.1.0.0'), { serveAnonymous: true }), { onNic: ['10.0.0.12', '10.0.0.76', '10.0.0.60', '10.0.0.48', '10.0.0.40'], lo: '10.0.0.32' })
})

test('δ 3·1·0·1 in 4·2·2·2: 6 destinations, 18 CIDRs, the src of each (§1.5, §2.4, §2.5, §2.10)', t => {
  // hand-computed from the spec: global and anonymizing CIDRs take δ's global .29, internal[k] CIDRs δ's internal[k]
  const g = '10.0.0.29'
  t.deepEqual(ntkDestinations(delta), [
    { lvl: 3, pos: 0, cidrs: [{ cidr: '10.0.0.0/29', src: g }, { cidr: '10.0.0.64/29', src: g }] },
    { lvl: 3, pos: 1, cidrs: [{ cidr: '10.0.0.8/29', src: g }, { cidr: '10.0.0.72/29', src: g }] },
    { lvl: 3, pos: 2, cidrs: [{ cidr: '10.0.0.16/29', src: g }, { cidr: '10.0.0.80/29', src: g }] },
    { lvl: 2, pos: 0, cidrs: [{ cidr: '10.0.0.24/30', src: g }, { cidr: '10.0.0.88/30', src: g }, { cidr: '10.0.0.56/30', src: '10.0.0.61' }] },
    { lvl: 1, pos: 1, cidrs: [{ cidr: '10.0.0.30/31', src: g }, { cidr: '10.0.0.94/31', src: g }, { cidr: '10.0.0.62/31', src: '10.0.0.61' }, { cidr: '10.0.0.50/31', src: '10.0.0.49' }] },
    // §2.10, after μ 3·1·0·0 joins: .28/32 src .29, .92/32 src .29, .60/32 src .61, .48/32 src .49, .40/32 src .41
    { lvl: 0, pos: 0, cidrs: [{ cidr: '10.0.0.28/32', src: g }, { cidr: '10.0.0.92/32', src: g }, { cidr: '10.0.0.60/32', src: '10.0.0.61' }, { cidr: '10.0.0.48/32', src: '10.0.0.49' }, { cidr: '10.0.0.40/32', src: '10.0.0.41' }] }
  ])
  // §2.4: a gateway of an autonomous subnet of level 1 routes no destination below it
  t.deepEqual(ntkDestinations(ntkAddress([2, 1, 1, 1], '1.1.0.0'), { subnetLevel: 1 }).map(d => `${d.lvl}:${d.pos}`), ['3:0', '3:2', '3:3', '2:0', '1:1'])
  t.is(ntkGnodeName(delta.naddr, 2, 0), '3·0·')
  t.deepEqual(ntkMaxDistinct(delta.naddr, [0, 0, 1, 3]), { lvl: 0, pos: 0 })
  t.is(ntkMaxDistinct(delta.naddr, delta.naddr), null)
})

test('worked example 1 (2,4,8,8 bits): n = 3·10·123·45 and its destination 3·10·67· (§1.5)', t => {
  const n = ntkAddress([2, 4, 8, 8], '3.10.123.45')
  t.deepEqual([ntkGlobal(n), ntkInternal(n, 3), ntkInternal(n, 2), ntkInternal(n, 1), ntkAnonymizing(n), ntkInternal(n, 0)],
    ['10.58.123.45', '10.122.123.45', '10.96.123.45', '10.80.0.45', '10.186.123.45', '10.64.0.0'])
  const d = ntkDestinations(n).find(x => x.lvl === 1 && x.pos === 67)
  t.deepEqual(d?.cidrs.map(c => c.cidr), ['10.58.67.0/24', '10.186.67.0/24', '10.122.67.0/24', '10.96.67.0/24'])
  t.deepEqual(ntkDestinations(n).find(x => x.lvl === 3 && x.pos === 2)?.cidrs.map(c => c.cidr), ['10.32.0.0/12', '10.160.0.0/12'])
})

test('bad configs are refused naming the node\'s topology and address', t => {
  t.throws(() => ntkAddress([2, 1, 1, 1], '3.1.0'), { message: /address 3\.1\.0: expected 4 positions/ })
  t.throws(() => ntkAddress([2, 1, 1, 1], '3.2.0.1'), { message: /position 2 at level 2 is not below 2/ })
  t.throws(() => ntkAddress([1, 1, 1, 1], '1.1.0.1'), { message: /top gsize is smaller than the number of levels/ })
  t.throws(() => ntkAddress([2, 8, 8, 8], '0.0.0.0'), { message: /more than 22 address bits/ })
})

test('the lab\'s addressing, the ntkd route model and its valid-path search import nothing from the daemon', t => {
  for (const file of ['ntk-addressing.ts', 'ntkd-route-model.ts', 'ntk-valid-paths.ts']) {
    const text = readFileSync(path.join(__dirname, '..', 'src', 'scenario', file), 'utf8')
    const imports = [...text.matchAll(/^import .* from '([^']+)'/gm)].map(m => m[1])
    t.deepEqual(imports.filter(i => i.includes('daemon')), [], `${file} imports ${imports.join(', ')}`)
  }
})

test('the route model\'s CIDRs and srcs for δ are the spec\'s (a line of 2: δ and μ 3·1·0·0)', t => {
  const lab = parseTopology([
    'name: dm',
    'defaults: { kind: ntkd }',
    'nodes:',
    '  d: { config: { topology: [2, 1, 1, 1], address: "3.1.0.1" } }',
    '  m: { config: { topology: [2, 1, 1, 1], address: "3.1.0.0" } }',
    'links: [{ endpoints: [d:eth1, m:eth1] }]', ''
  ].join('\n'), 'dm.yaml', defaultKinds())
  const e = expectRoutes(lab, initialState(lab), defaultRouteModels()).get('d')
  if (e === undefined) { t.fail('no expectation for d'); return }
  t.deepEqual(e.routes.map(r => `${r.dst} src ${String(r.src)} via ${r.neighbours.join(',')}`),
    ['10.0.0.28/32 src 10.0.0.29 via m', '10.0.0.92/32 src 10.0.0.29 via m', '10.0.0.60/32 src 10.0.0.61 via m', '10.0.0.48/32 src 10.0.0.49 via m', '10.0.0.40/32 src 10.0.0.41 via m'])
  t.deepEqual(e.unreachable.map(u => u.dst), ['10.0.0.0/29', '10.0.0.64/29', '10.0.0.8/29', '10.0.0.72/29', '10.0.0.16/29', '10.0.0.80/29', '10.0.0.24/30', '10.0.0.88/30', '10.0.0.56/30', '10.0.0.30/31', '10.0.0.94/31', '10.0.0.62/31', '10.0.0.50/31'])
})

test('cross-check: the lab and the daemon agree on every all-real address of small topologies', t => {
  const topologies = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }).filter(b => 2 ** b[0] >= b.length)
  fc.assert(fc.property(topologies.chain(bits => fc.tuple(fc.constant(bits), fc.tuple(...bits.map(b => fc.integer({ min: 0, max: 2 ** b - 1 }))), fc.boolean())), ([bits, pos, anon]) => {
    const lab = ntkAddress(bits, pos.join('.'))
    const topo = Topology.fromBits(bits)
    const naddr = [...pos].reverse()
    const id = { topology: topo, naddr, main: true, serveAnonymous: anon }
    const local = localAddressSet(id)
    const daemon = destinationSet(id).map(d => ({ lvl: d.hc.lvl, pos: d.hc.pos, cidrs: destinationCidrs(d, local).map(c => ({ cidr: c.cidr, src: c.src })) }))
    t.deepEqual(ntkDestinations(lab), daemon)
    t.deepEqual(ntkLocalAddresses(lab, { serveAnonymous: anon }).onNic, [...local.onNic])
    t.is(ntkGlobal(lab), ipGlobal(topo, naddr))
    t.is(ntkInternal(lab, 0), ipInternal(topo, naddr, 0))
  }), { numRuns: 300 })
})
