import test from 'ava'
import fc from 'fast-check'
import {
  Topology, TopologyError, anonymizingRange, cidrAnonymizing, cidrAnonymizingOf, cidrContains, cidrGlobal, cidrGlobalOf,
  cidrInternal, cidrInternalOf, firstCommonLevel, formatNaddr, gnodeOf, ipAnonymizing, ipGlobal, ipInternal,
  ipLocalhostSynonym, maxDistinctGnode, netmapRanges, parseIpv4, parseNaddr, highestVirtualLevel, AddressError
} from '../src/addressing'

const big = Topology.fromBits([2, 4, 8, 8])
const small = Topology.fromBits([2, 1, 1, 1])

test('topology from bits and from gsizes, top level first', t => {
  t.deepEqual(small.gsizes, [2, 2, 2, 4])
  t.deepEqual(small.gExp, [1, 1, 1, 2])
  t.is(small.levels, 4)
  t.is(small.toString(), '4·2·2·2')
  t.deepEqual(Topology.fromGsizes([4, 16, 256, 256]).gExp, big.gExp)
  t.deepEqual(big.bitsTopFirst(), [2, 4, 8, 8])
})

test('topology validation says which rule failed', t => {
  const rule = (f: () => unknown): string => (t.throws(f, { instanceOf: TopologyError }) as TopologyError).rule
  t.is(rule(() => Topology.fromGsizes([4, 3, 2])), 'not-power-of-two')
  t.is(rule(() => Topology.fromBits([2, 8, 8, 8])), 'too-many-bits')
  t.is(rule(() => Topology.fromBits([1, 1, 1, 1])), 'top-gsize-too-small')
  t.is(rule(() => Topology.fromBits([])), 'empty')
  t.regex(t.throws(() => Topology.fromBits([2, 8, 8, 8]))?.message ?? '', /26 address bits/)
  t.notThrows(() => Topology.fromBits([4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2]))
})

test('positions parse and format top first, stored level 0 first', t => {
  t.deepEqual(parseNaddr('3·1·0·1'), [1, 0, 1, 3])
  t.deepEqual(parseNaddr('3.1.0.1', small), [1, 0, 1, 3])
  t.is(formatNaddr([1, 0, 1, 3]), '3·1·0·1')
  t.is(formatNaddr([1, 0, 1, 3], '.'), '3.1.0.1')
  t.throws(() => parseNaddr('3·1·0', small), { instanceOf: AddressError, message: /3 positions.*4 levels/ })
  t.throws(() => parseNaddr('3·x·0·1'), { instanceOf: AddressError })
  t.is(highestVirtualLevel(small, parseNaddr('3·1·0·2')), 0)
  t.is(highestVirtualLevel(small, parseNaddr('2·1·1·3')), 0)
  t.is(highestVirtualLevel(small, parseNaddr('3·2·0·1')), 2)
  t.is(highestVirtualLevel(small, parseNaddr('3·1·0·1')), -1)
})

test('maximum distinct g-node and first common level', t => {
  const n = parseNaddr('3·10·123·45')
  t.deepEqual(maxDistinctGnode(n, parseNaddr('3·10·67·89')), { lvl: 1, pos: 67 })
  t.deepEqual(maxDistinctGnode(n, parseNaddr('2·10·237·242')), { lvl: 3, pos: 2 })
  t.is(maxDistinctGnode(n, n), null)
  t.is(firstCommonLevel(n, parseNaddr('3·10·67·89')), 2)
  t.is(firstCommonLevel(n, parseNaddr('3·10·123·44')), 1)
  t.is(firstCommonLevel(n, n), 0)
})

test('worked example 1 (2,4,8,8 bits): node n = 3·10·123·45', t => {
  const n = parseNaddr('3·10·123·45')
  t.is(ipGlobal(big, n), '10.58.123.45')
  t.is(ipInternal(big, n, 3), '10.122.123.45')
  t.is(ipInternal(big, n, 2), '10.96.123.45')
  t.is(ipInternal(big, n, 1), '10.80.0.45')
  t.is(ipAnonymizing(big, n), '10.186.123.45')
  t.is(ipInternal(big, n, 0), '10.64.0.0')
  t.is(ipLocalhostSynonym(big), '10.64.0.0')
  const m = parseNaddr('3·10·67·89')
  t.is(ipGlobal(big, m), '10.58.67.89')
  t.is(ipInternal(big, m, 2), '10.96.67.89')
  const hc = { lvl: 1, pos: 67 }
  t.is(cidrGlobalOf(big, n, hc), '10.58.67.0/24')
  t.is(cidrInternalOf(big, n, hc, 2), '10.96.67.0/24')
  t.is(cidrInternalOf(big, n, hc, 3), '10.122.67.0/24')
  t.is(cidrAnonymizingOf(big, n, hc), '10.186.67.0/24')
  const o = parseNaddr('2·10·237·242')
  t.is(ipGlobal(big, o), '10.42.237.242')
  const hco = maxDistinctGnode(n, o)
  t.deepEqual(hco, { lvl: 3, pos: 2 })
  t.is(cidrGlobalOf(big, n, { lvl: 3, pos: 2 }), '10.32.0.0/12')
  t.is(cidrAnonymizingOf(big, n, { lvl: 3, pos: 2 }), '10.160.0.0/12')
  t.throws(() => cidrInternalOf(big, n, { lvl: 3, pos: 2 }, 3), { instanceOf: AddressError })
})

test('tester.vala vectors, gsizes {256,256,16,4}', t => {
  const topo = Topology.fromGsizes([4, 16, 256, 256])
  const node = [234, 123, 15, 3]
  t.is(ipGlobal(topo, node), '10.63.123.234')
  t.is(ipAnonymizing(topo, node), '10.191.123.234')
  t.is(ipInternal(topo, node, 3), '10.127.123.234')
  t.is(ipInternal(topo, node, 0), '10.64.0.0')
  const g = gnodeOf(node, 1)
  t.is(cidrGlobal(topo, g), '10.63.123.0/24')
  t.is(cidrAnonymizing(topo, g), '10.191.123.0/24')
  t.is(cidrInternal(topo, g, 3), '10.127.123.0/24')
  t.is(cidrInternal(topo, g, 2), '10.96.123.0/24')
})

test('worked example 2 (4·2·2·2): ranges, α and δ', t => {
  t.is(anonymizingRange(small), '10.0.0.64/27')
  t.is(ipLocalhostSynonym(small), '10.0.0.32')
  const alpha = parseNaddr('3·0·1·0')
  t.deepEqual([ipGlobal(small, alpha), ipAnonymizing(small, alpha), ipInternal(small, alpha, 3), ipInternal(small, alpha, 2), ipInternal(small, alpha, 1)],
    ['10.0.0.26', '10.0.0.90', '10.0.0.58', '10.0.0.50', '10.0.0.40'])
  const delta = parseNaddr('3·1·0·1')
  t.deepEqual([ipGlobal(small, delta), ipAnonymizing(small, delta), ipInternal(small, delta, 3), ipInternal(small, delta, 2), ipInternal(small, delta, 1)],
    ['10.0.0.29', '10.0.0.93', '10.0.0.61', '10.0.0.49', '10.0.0.41'])
  // δ's destinations (§1.5)
  t.deepEqual([0, 1, 2].map(pos => cidrGlobalOf(small, delta, { lvl: 3, pos })), ['10.0.0.0/29', '10.0.0.8/29', '10.0.0.16/29'])
  t.deepEqual([0, 1, 2].map(pos => cidrAnonymizingOf(small, delta, { lvl: 3, pos })), ['10.0.0.64/29', '10.0.0.72/29', '10.0.0.80/29'])
  const l2 = { lvl: 2, pos: 0 }
  t.deepEqual([cidrGlobalOf(small, delta, l2), cidrAnonymizingOf(small, delta, l2), cidrInternalOf(small, delta, l2, 3)], ['10.0.0.24/30', '10.0.0.88/30', '10.0.0.56/30'])
  const l1 = { lvl: 1, pos: 1 }
  t.deepEqual([cidrGlobalOf(small, delta, l1), cidrAnonymizingOf(small, delta, l1), cidrInternalOf(small, delta, l1, 3), cidrInternalOf(small, delta, l1, 2)],
    ['10.0.0.30/31', '10.0.0.94/31', '10.0.0.62/31', '10.0.0.50/31'])
  const l0 = { lvl: 0, pos: 0 }
  t.deepEqual([cidrGlobalOf(small, delta, l0), cidrAnonymizingOf(small, delta, l0), cidrInternalOf(small, delta, l0, 3), cidrInternalOf(small, delta, l0, 2), cidrInternalOf(small, delta, l0, 1)],
    ['10.0.0.28/32', '10.0.0.92/32', '10.0.0.60/32', '10.0.0.48/32', '10.0.0.40/32'])
})

test('tester.vala vectors, 4·2·2·2', t => {
  t.deepEqual([ipGlobal(small, [1, 0, 1, 3]), ipAnonymizing(small, [1, 0, 1, 3]), ipInternal(small, [1, 0, 1, 3], 3)], ['10.0.0.29', '10.0.0.93', '10.0.0.61'])
  t.deepEqual([ipGlobal(small, [1, 0, 0, 1]), ipAnonymizing(small, [1, 0, 0, 1]), ipInternal(small, [1, 0, 0, 1], 3)], ['10.0.0.9', '10.0.0.73', '10.0.0.57'])
  t.is(ipInternal(small, [1, 1, 1, 2], 1), '10.0.0.41')
  const g1 = gnodeOf([1, 0, 1, 3], 1)
  t.deepEqual([cidrGlobal(small, g1), cidrAnonymizing(small, g1), cidrInternal(small, g1, 3)], ['10.0.0.28/31', '10.0.0.92/31', '10.0.0.60/31'])
  const g2 = gnodeOf([1, 0, 0, 1], 1)
  t.deepEqual([cidrGlobal(small, g2), cidrAnonymizing(small, g2), cidrInternal(small, g2, 3)], ['10.0.0.8/31', '10.0.0.72/31', '10.0.0.56/31'])
  t.is(cidrInternal(small, gnodeOf([1, 1, 1, 2], 1), 2), '10.0.0.50/31')
})

test('NETMAP ranges of λ 1·1·0·0, subnet level 1 (§2.6)', t => {
  const r = netmapRanges(small, parseNaddr('1·1·0·0'), 1)
  t.is(r.range1, '10.0.0.40/31')
  t.deepEqual(r.perLevel, [
    { level: 1, range2: '10.0.0.48/31', range3: '10.0.0.48/30' },
    { level: 2, range2: '10.0.0.60/31', range3: '10.0.0.56/29' }
  ])
  t.is(r.range2Upper, '10.0.0.12/31')
  t.is(r.range3Upper, '10.0.0.0/27')
  t.is(r.range4, '10.0.0.76/31')
  t.is(r.anonymizingRange, '10.0.0.64/27')
  t.throws(() => netmapRanges(small, parseNaddr('1·1·0·0'), 0), { instanceOf: AddressError, message: /subnet level 0/ })
})

test('virtual positions have no IPv4 address', t => {
  t.throws(() => ipGlobal(small, parseNaddr('3·1·0·2')), { instanceOf: AddressError, message: /virtual/ })
  // internal addresses below the virtual level survive (spec §1.3)
  t.is(ipInternal(small, parseNaddr('3·2·0·1'), 2), '10.0.0.49')
  t.throws(() => ipInternal(small, parseNaddr('3·2·0·1'), 3), { instanceOf: AddressError })
})

// ---- properties

const topologies = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 })
  .filter(bits => bits.reduce((a, b) => a + b, 0) <= 12 && 2 ** bits[0] >= bits.length)
  .map(bits => Topology.fromBits(bits))
const withAddr = (topo: Topology): fc.Arbitrary<number[]> => fc.tuple(...topo.gsizes.map(g => fc.integer({ min: 0, max: g - 1 })))

test('property: every address of a topology maps to distinct global, anonymizing and internal IPs', t => {
  t.notThrows(() => fc.assert(fc.property(topologies, topo => {
    const seen = new Set<string>()
    let count = 0
    const all = (level: number, prefix: number[]): void => {
      if (level < 0) {
        const n = [...prefix].reverse()
        const ips = [ipGlobal(topo, n), ipAnonymizing(topo, n), ...Array.from({ length: topo.levels - 1 }, (_, k) => ipInternal(topo, n, k + 1))]
        for (const ip of ips) { seen.add(`${ip}`); count++ }
        return
      }
      for (let p = 0; p < topo.gsizes[level]; p++) all(level - 1, [...prefix, p])
    }
    all(topo.levels - 1, [])
    // internal[k] is shared by nodes with equal positions below k; the global and anonymizing ones never are
    const nodes = topo.gsizes.reduce((a, b) => a * b, 1)
    const expectedInternal = Array.from({ length: topo.levels - 1 }, (_, k) => topo.gsizes.slice(0, k + 1).reduce((a, b) => a * b, 1)).reduce((a, b) => a + b, 0)
    return seen.size === 2 * nodes + expectedInternal && count >= seen.size
  }), { numRuns: 60 }))
})

test('property: distinct nodes have distinct global IPs, all inside 10/8 and the network range', t => {
  t.notThrows(() => fc.assert(fc.property(topologies.chain(topo => fc.tuple(fc.constant(topo), withAddr(topo), withAddr(topo))), ([topo, a, b]) => {
    const same = a.every((p, i) => p === b[i])
    return (ipGlobal(topo, a) === ipGlobal(topo, b)) === same &&
      (ipAnonymizing(topo, a) === ipAnonymizing(topo, b)) === same &&
      cidrContains(anonymizingRange(topo), ipAnonymizing(topo, a)) && !cidrContains(anonymizingRange(topo), ipGlobal(topo, a))
  }), { numRuns: 300 }))
})

test("property: a g-node's CIDRs contain exactly its members", t => {
  const arb = topologies.chain(topo => fc.tuple(fc.constant(topo), withAddr(topo), withAddr(topo), fc.integer({ min: 0, max: topo.levels - 1 })))
  t.notThrows(() => fc.assert(fc.property(arb, ([topo, n, m, level]) => {
    const g = gnodeOf(n, level)
    const member = m.every((p, c) => c < level || p === n[c])
    const ok = cidrContains(cidrGlobal(topo, g), ipGlobal(topo, m)) === member &&
      cidrContains(cidrAnonymizing(topo, g), ipAnonymizing(topo, m)) === member
    let internalOk = true
    for (let k = level + 1; k <= topo.levels - 1; k++) {
      // inside the level-k g-node of n, members of g are the nodes sharing n's positions in [level, k-1]
      const sameUpToK = m.every((p, c) => c >= k || c < level || p === n[c])
      internalOk &&= cidrContains(cidrInternal(topo, g, k), ipInternal(topo, m, k)) === sameUpToK
    }
    const prefix = Number(cidrGlobal(topo, g).split('/')[1])
    const size = 2 ** (32 - prefix)
    const members = topo.gsizes.slice(0, level).reduce((a, b) => a * b, 1)
    return ok && internalOk && size === members && (parseIpv4(cidrGlobal(topo, g).split('/')[0]) % size === 0)
  }), { numRuns: 400 }))
})
