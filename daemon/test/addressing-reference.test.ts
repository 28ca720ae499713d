import test, { type ExecutionContext } from 'ava'
import fc from 'fast-check'
import {
  AddressError, Topology, cidrAnonymizing, cidrAnonymizingOf, cidrGlobal, cidrGlobalOf, cidrInternal, cidrInternalOf,
  ipAnonymizing, ipGlobal, ipInternal, type AddressRule
} from '../src/addressing'
import { destinationSet } from '../src/routes'

// The addressing functions checked against a reference written here from the spec's formulas (§1.5 IPv4 mapping,
// §1.3 real and virtual positions, §2.4 destination set), sharing no code with daemon/src: on valid input both give
// the same address or CIDR, on invalid input the daemon refuses with an AddressError naming a rule the reference
// says is broken. The spec's own vectors pass on both.

// ---- the reference (positions level 0 first, gsizes level 0 first)

type Ref = { value: string } | { broken: ReadonlySet<AddressRule> }
const TYPE = { global: 0, internal: 1, anonymizing: 2 } as const

const log2 = (g: number): number => Math.round(Math.log2(g))
const dotted = (v: number): string => [24, 16, 8, 0].map(s => Math.floor(v / 2 ** s) % 256).join('.')
const isIndex = (x: number): boolean => Number.isInteger(x) && x >= 0

/** §1.5: start with v = type; for c from l-1 down to 0: v = (v << g_exp[c]) + field[c]; the address is 10.x.y.z, x.y.z = v. */
function encode (gsizes: number[], type: number, field: number[]): number {
  let v = type
  for (let c = gsizes.length - 1; c >= 0; c--) v = v * 2 ** log2(gsizes[c]) + field[c]
  return 10 * 2 ** 24 + v
}
/** §1.5: a g-node of level i has prefix 32 - sum(g_exp[0..i-1]). */
const prefix = (gsizes: number[], i: number): number => 32 - gsizes.slice(0, i).reduce((a, g) => a + log2(g), 0)

/** Positions [from, to) must be real: non-negative integers below gsize (§1.3). */
function needReal (gsizes: number[], p: number[], from: number, to: number, broken: Set<AddressRule>): void {
  for (let c = from; c < to; c++) {
    if (!isIndex(p[c])) broken.add('position-range')
    else if (p[c] >= gsizes[c]) broken.add('virtual-position')
  }
}
/** An address: one position per level, each a non-negative integer (virtual ones allowed). */
function needAddress (gsizes: number[], n: number[], broken: Set<AddressRule>): boolean {
  if (n.length !== gsizes.length) { broken.add('positions-count'); return false }
  if (!n.every(isIndex)) broken.add('position-range')
  return true
}
const result = (broken: Set<AddressRule>, value: () => string): Ref => broken.size > 0 ? { broken } : { value: value() }

type AddrKind = 'global' | 'anonymizing' | { internal: number }

/** Global/anonymizing address: type 0/2, field[c] = n[c]. Internal address inside n's g-node of level k (0 <= k < l):
 *  type 1, field[l-1] = k, field[c] = 0 for k <= c <= l-2, field[c] = n[c] for c < k. */
function refIp (gsizes: number[], kind: AddrKind, n: number[]): Ref {
  const l = gsizes.length
  const broken = new Set<AddressRule>()
  if (!needAddress(gsizes, n, broken)) return { broken }
  if (typeof kind === 'string') {
    needReal(gsizes, n, 0, l, broken)
    return result(broken, () => dotted(encode(gsizes, TYPE[kind], n)))
  }
  const k = kind.internal
  if (!(isIndex(k) && k <= l - 1)) { broken.add('level-range'); return { broken } }
  needReal(gsizes, n, 0, k, broken)
  return result(broken, () => dotted(encode(gsizes, TYPE.internal, gsizes.map((_, c) => c === l - 1 ? k : c < k ? n[c] : 0))))
}

/** Global/anonymizing CIDR of g-node g of level i (0..l, l the whole network): field[c] = g[c] for c >= i, else 0.
 *  Internal CIDR of g inside its ancestor of level k (i <= k <= l-1): type 1, field[l-1] = k, fields [i, k-1] = g, others 0. */
function refCidr (gsizes: number[], kind: AddrKind, i: number, g: number[]): Ref {
  const l = gsizes.length
  const broken = new Set<AddressRule>()
  const highest = typeof kind === 'string' ? l : l - 1
  if (!(isIndex(i) && i <= highest)) { broken.add('level-range'); return { broken } }
  if (g.length !== l) { broken.add('positions-count'); return { broken } }
  if (typeof kind === 'string') {
    needReal(gsizes, g, i, l, broken)
    return result(broken, () => `${dotted(encode(gsizes, TYPE[kind], gsizes.map((_, c) => c >= i ? g[c] : 0)))}/${prefix(gsizes, i)}`)
  }
  const k = kind.internal
  if (!(Number.isInteger(k) && k >= i && k <= l - 1)) { broken.add('level-range'); return { broken } }
  needReal(gsizes, g, i, k, broken)
  return result(broken, () => `${dotted(encode(gsizes, TYPE.internal, gsizes.map((_, c) => c === l - 1 ? k : c >= i && c < k ? g[c] : 0)))}/${prefix(gsizes, i)}`)
}

/** The same CIDRs of HCoord (i, j) seen from n (§1.2: n's positions above i, j at i); internal levels k > i only. */
function refCidrOf (gsizes: number[], kind: AddrKind, n: number[], hc: { lvl: number, pos: number }): Ref {
  const broken = new Set<AddressRule>()
  if (!needAddress(gsizes, n, broken)) return { broken }
  if (!(isIndex(hc.lvl) && hc.lvl <= gsizes.length - 1)) broken.add('level-range')
  else if (typeof kind !== 'string' && !(kind.internal > hc.lvl)) broken.add('level-range')
  if (broken.size > 0) return { broken }
  const g = [...n]
  g[hc.lvl] = hc.pos
  return refCidr(gsizes, kind, hc.lvl, g)
}

/** §2.4 with the proof's rule for virtual positions (compute_destination_ip_set): for i from l-1 down to 0, every
 *  real j != n[i]; its global and anonymizing CIDRs when the positions of n above i are all real, its internal[k]
 *  (k = l-1 .. i+1) when those between i and k are; a destination with no CIDR left is no destination. An all-real
 *  connectivity identity is refused (§1.3). One line per destination: "i:j cidr cidr ...". */
function refDestinations (gsizes: number[], n: number[], main: boolean): Ref {
  const l = gsizes.length
  const broken = new Set<AddressRule>()
  if (!needAddress(gsizes, n, broken)) return { broken }
  const virtual = n.map((p, c) => p >= gsizes[c])
  if (!main && !virtual.includes(true)) broken.add('connectivity-real')
  if (broken.size > 0) return { broken }
  const realFrom = (a: number, b: number): boolean => { for (let c = a; c <= b; c++) if (virtual[c]) return false; return true }
  const lines: string[] = []
  for (let i = l - 1; i >= 0; i--) {
    for (let j = 0; j < gsizes[i]; j++) {
      if (j === n[i]) continue
      const g = [...n]
      g[i] = j
      const kinds: AddrKind[] = realFrom(i + 1, l - 1) ? ['global', 'anonymizing'] : []
      for (let k = l - 1; k > i; k--) if (realFrom(i + 1, k - 1)) kinds.push({ internal: k })
      if (kinds.length === 0) continue
      lines.push(`${i}:${j} ${kinds.map(kind => (refCidr(gsizes, kind, i, g.map((p, c) => c > i && virtual[c] ? 0 : p)) as { value: string }).value).join(' ')}`)
    }
  }
  return { value: lines.join('\n') }
}

// ---- the daemon's functions in the same shape

function daemonIp (topo: Topology, kind: AddrKind, n: number[]): string {
  if (kind === 'global') return ipGlobal(topo, n)
  if (kind === 'anonymizing') return ipAnonymizing(topo, n)
  return ipInternal(topo, n, kind.internal)
}
function daemonCidr (topo: Topology, kind: AddrKind, i: number, g: number[]): string {
  if (kind === 'global') return cidrGlobal(topo, { level: i, positions: g })
  if (kind === 'anonymizing') return cidrAnonymizing(topo, { level: i, positions: g })
  return cidrInternal(topo, { level: i, positions: g }, kind.internal)
}
function daemonCidrOf (topo: Topology, kind: AddrKind, n: number[], hc: { lvl: number, pos: number }): string {
  if (kind === 'global') return cidrGlobalOf(topo, n, hc)
  if (kind === 'anonymizing') return cidrAnonymizingOf(topo, n, hc)
  return cidrInternalOf(topo, n, hc, kind.internal)
}
function daemonDestinations (topo: Topology, n: number[], main: boolean): string {
  return destinationSet({ topology: topo, naddr: n, main })
    .map(d => `${d.hc.lvl}:${d.hc.pos} ${[d.global, d.anonymizing, ...d.internal.values()].filter(c => c !== null).join(' ')}`).join('\n')
}

/** Outcome of a daemon call as the reference states it: its value, or the rule its AddressError names. */
function outcome (f: () => string): Ref {
  try {
    return { value: f() }
  } catch (err) {
    if (!(err instanceof AddressError) || err.rule === undefined) throw err
    return { broken: new Set([err.rule]) }
  }
}
/** The daemon agrees with the reference: same value, or a refusal naming one of the rules the reference finds broken. */
function agrees (ref: Ref, got: Ref): boolean {
  if ('value' in ref) return 'value' in got && got.value === ref.value
  return 'broken' in got && [...got.broken].every(r => ref.broken.has(r))
}
const show = (r: Ref): string => 'value' in r ? r.value : `refused (${[...r.broken].join(', ')})`

// ---- the spec's vectors (§1.5 worked examples 1 and 2, tester.vala), on both

const big = [256, 256, 16, 4] // 4·16·256·256, level 0 first
const small = [2, 2, 2, 4] // 4·2·2·2
const parse = (written: string): number[] => written.split('·').map(Number).reverse()

const vectors: Array<[string, number[], () => Ref, (topo: Topology) => string, string]> = []
const ip = (gs: number[], kind: AddrKind, n: number[], want: string): void => {
  vectors.push([`${JSON.stringify(kind)} address of ${n.join(',')}`, gs, () => refIp(gs, kind, n), topo => daemonIp(topo, kind, n), want])
}
const cidrOf = (gs: number[], kind: AddrKind, n: number[], hc: { lvl: number, pos: number }, want: string): void => {
  vectors.push([`${JSON.stringify(kind)} CIDR of (${hc.lvl},${hc.pos}) from ${n.join(',')}`, gs, () => refCidrOf(gs, kind, n, hc), topo => daemonCidrOf(topo, kind, n, hc), want])
}
const cidr = (gs: number[], kind: AddrKind, i: number, g: number[], want: string): void => {
  vectors.push([`${JSON.stringify(kind)} CIDR of level-${i} g-node of ${g.join(',')}`, gs, () => refCidr(gs, kind, i, g), topo => daemonCidr(topo, kind, i, g), want])
}
{
  const n = parse('3·10·123·45')
  ip(big, 'global', n, '10.58.123.45')
  ip(big, { internal: 3 }, n, '10.122.123.45')
  ip(big, { internal: 2 }, n, '10.96.123.45')
  ip(big, { internal: 1 }, n, '10.80.0.45')
  ip(big, 'anonymizing', n, '10.186.123.45')
  ip(big, { internal: 0 }, n, '10.64.0.0')
  ip(big, 'global', parse('3·10·67·89'), '10.58.67.89')
  ip(big, { internal: 2 }, parse('3·10·67·89'), '10.96.67.89')
  cidrOf(big, 'global', n, { lvl: 1, pos: 67 }, '10.58.67.0/24')
  cidrOf(big, { internal: 2 }, n, { lvl: 1, pos: 67 }, '10.96.67.0/24')
  cidrOf(big, { internal: 3 }, n, { lvl: 1, pos: 67 }, '10.122.67.0/24')
  cidrOf(big, 'anonymizing', n, { lvl: 1, pos: 67 }, '10.186.67.0/24')
  ip(big, 'global', parse('2·10·237·242'), '10.42.237.242')
  cidrOf(big, 'global', n, { lvl: 3, pos: 2 }, '10.32.0.0/12')
  cidrOf(big, 'anonymizing', n, { lvl: 3, pos: 2 }, '10.160.0.0/12')
  const node = [234, 123, 15, 3]
  ip(big, 'global', node, '10.63.123.234')
  ip(big, 'anonymizing', node, '10.191.123.234')
  ip(big, { internal: 3 }, node, '10.127.123.234')
  ip(big, { internal: 0 }, node, '10.64.0.0')
  cidr(big, 'global', 1, node, '10.63.123.0/24')
  cidr(big, 'anonymizing', 1, node, '10.191.123.0/24')
  cidr(big, { internal: 3 }, 1, node, '10.127.123.0/24')
  cidr(big, { internal: 2 }, 1, node, '10.96.123.0/24')
  // 4·2·2·2: the ranges, α and δ, tester.vala
  cidr(small, 'anonymizing', 4, [0, 0, 0, 0], '10.0.0.64/27')
  cidr(small, 'global', 4, [0, 0, 0, 0], '10.0.0.0/27')
  ip(small, { internal: 0 }, [0, 0, 0, 0], '10.0.0.32')
  cidr(small, { internal: 3 }, 3, [0, 0, 0, 0], '10.0.0.56/29')
  cidr(small, { internal: 2 }, 2, [0, 0, 0, 0], '10.0.0.48/30')
  cidr(small, { internal: 1 }, 1, [0, 0, 0, 0], '10.0.0.40/31')
  const alpha = parse('3·0·1·0')
  const delta = parse('3·1·0·1')
  for (const [kind, a, d] of [['global', '26', '29'], ['anonymizing', '90', '93'], [{ internal: 3 }, '58', '61'], [{ internal: 2 }, '50', '49'], [{ internal: 1 }, '40', '41']] as const) {
    ip(small, kind, alpha, `10.0.0.${a}`)
    ip(small, kind, delta, `10.0.0.${d}`)
  }
  ip(small, 'global', [1, 0, 0, 1], '10.0.0.9')
  ip(small, 'anonymizing', [1, 0, 0, 1], '10.0.0.73')
  ip(small, { internal: 3 }, [1, 0, 0, 1], '10.0.0.57')
  ip(small, { internal: 1 }, [1, 1, 1, 2], '10.0.0.41')
  cidr(small, 'global', 1, delta, '10.0.0.28/31')
  cidr(small, 'anonymizing', 1, delta, '10.0.0.92/31')
  cidr(small, { internal: 3 }, 1, delta, '10.0.0.60/31')
  cidr(small, 'global', 1, [1, 0, 0, 1], '10.0.0.8/31')
  cidr(small, 'anonymizing', 1, [1, 0, 0, 1], '10.0.0.72/31')
  cidr(small, { internal: 3 }, 1, [1, 0, 0, 1], '10.0.0.56/31')
  cidr(small, { internal: 2 }, 1, [1, 1, 1, 2], '10.0.0.50/31')
}

// δ 3·1·0·1 in 4·2·2·2: its 6 destinations and 18 CIDRs (§1.5, §2.4, §2.10)
const DELTA_DESTINATIONS = [
  '3:0 10.0.0.0/29 10.0.0.64/29', '3:1 10.0.0.8/29 10.0.0.72/29', '3:2 10.0.0.16/29 10.0.0.80/29',
  '2:0 10.0.0.24/30 10.0.0.88/30 10.0.0.56/30',
  '1:1 10.0.0.30/31 10.0.0.94/31 10.0.0.62/31 10.0.0.50/31',
  '0:0 10.0.0.28/32 10.0.0.92/32 10.0.0.60/32 10.0.0.48/32 10.0.0.40/32'
].join('\n')

test('the spec\'s vectors (§1.5): the reference and the daemon both give them', t => {
  for (const [what, gs, ref, daemon, want] of vectors) {
    const topo = Topology.fromGsizes([...gs].reverse())
    t.is(show(ref()), want, `reference: ${what}`)
    t.is(show(outcome(() => daemon(topo))), want, `daemon: ${what}`)
  }
  const topo = Topology.fromGsizes([4, 2, 2, 2])
  t.is(show(refDestinations(small, parse('3·1·0·1'), true)), DELTA_DESTINATIONS)
  t.is(daemonDestinations(topo, parse('3·1·0·1'), true), DELTA_DESTINATIONS)
  t.is(DELTA_DESTINATIONS.split(/\s+/).filter(w => w.includes('/')).length, 18)
})

// ---- the gaps this reference found, each refused naming its rule

test('refused with the rule named: g-node level above the levels, too many or too few positions, an all-real connectivity identity', t => {
  const topo = Topology.fromGsizes([4, 2, 2, 2])
  const delta = parse('3·1·0·1')
  const rule = (f: () => unknown, r: AddressRule, message: RegExp): void => {
    const err = t.throws(f, { instanceOf: AddressError })
    t.is(err?.rule, r, err?.message)
    t.regex(err?.message ?? '', message)
    t.notRegex(err?.message ?? '', /NaN|undefined/, 'no NaN or undefined in the message')
  }
  rule(() => cidrGlobal(topo, { level: 5, positions: delta }), 'level-range', /^invalid address \(level-range\): global CIDR: g-node level 5 is out of range 0\.\.4 for topology 4·2·2·2$/)
  rule(() => cidrAnonymizing(topo, { level: 7, positions: delta }), 'level-range', /g-node level 7 is out of range 0\.\.4/)
  rule(() => cidrInternal(topo, { level: 4, positions: delta }, 3), 'level-range', /g-node level 4 is out of range 0\.\.3/)
  rule(() => cidrGlobalOf(topo, delta, { lvl: 4, pos: 0 }), 'level-range', /HCoord level 4 is out of range 0\.\.3/)
  rule(() => ipGlobal(topo, [1, 0, 1, 3, 0]), 'positions-count', /^invalid address \(positions-count\): address 0·3·1·0·1 has 5 positions; topology 4·2·2·2 has 4 levels$/)
  rule(() => ipGlobal(topo, [1, 0, 1]), 'positions-count', /has 3 positions/)
  rule(() => ipAnonymizing(topo, [1, 0, 1]), 'positions-count', /has 3 positions/)
  rule(() => ipInternal(topo, [1, 0, 1, 3, 1], 1), 'positions-count', /has 5 positions/)
  rule(() => ipInternal(topo, [1, 0], 1), 'positions-count', /has 2 positions/)
  rule(() => cidrGlobal(topo, { level: 1, positions: [1, 0, 1] }), 'positions-count', /g-node 1·0·1 has 3 positions/)
  rule(() => cidrAnonymizing(topo, { level: 1, positions: [1, 0, 1, 3, 0] }), 'positions-count', /has 5 positions/)
  rule(() => cidrInternal(topo, { level: 1, positions: [1, 0, 1] }, 2), 'positions-count', /has 3 positions/)
  rule(() => cidrInternalOf(topo, [1, 0, 1], { lvl: 1, pos: 1 }, 2), 'positions-count', /has 3 positions/)
  rule(() => destinationSet({ topology: topo, naddr: delta, main: false }), 'connectivity-real',
    /^invalid address \(connectivity-real\): connectivity identity 3·1·0·1 has only real positions; a connectivity identity holds at least one virtual position/)
  rule(() => destinationSet({ topology: topo, naddr: [1, 0, 1], main: true }), 'positions-count', /has 3 positions/)
  rule(() => ipGlobal(topo, [1, -1, 1, 3]), 'position-range', /position -1 at level 1/)
  // the whole network (level l) is a g-node too: its ranges
  t.is(cidrGlobal(topo, { level: 4, positions: delta }), '10.0.0.0/27')
  t.is(cidrAnonymizing(topo, { level: 4, positions: delta }), '10.0.0.64/27')
  // a connectivity identity with a virtual position is still served: levels 3 and 2 in full, and below its virtual
  // level the internal CIDRs that do not hold it (the proof's rule)
  t.is(destinationSet({ topology: topo, naddr: parse('3·2·0·1'), main: false }).length, 3 + 2 + 1 + 1, 'levels 3 and 2, (1,1) and (0,0) internal only')
})

// ---- properties: valid and invalid input drawn together, every rule exercised

const topologies = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 })
  .filter(bits => bits.reduce((a, b) => a + b, 0) <= 12 && 2 ** bits[0] >= bits.length)
  .map(bits => [...bits].reverse().map(b => 2 ** b))
/** A position: mostly real, sometimes virtual, now and then negative or fractional. */
const position = (g: number): fc.Arbitrary<number> => fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: g - 1 }) },
  { weight: 2, arbitrary: fc.integer({ min: g, max: 2 * g }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 0.5) })
/** Positions for a topology: mostly one per level, sometimes one fewer or one more. */
const positions = (gs: number[], pos = position): fc.Arbitrary<number[]> => fc.tuple(...gs.map(pos)).chain(p => fc.oneof(
  { weight: 8, arbitrary: fc.constant(p) },
  { weight: 1, arbitrary: fc.constant(p.slice(0, -1)) },
  { weight: 1, arbitrary: fc.constant<number[]>([...p, 0]) }))
/** A level: mostly 0..l, sometimes above, below or fractional. */
const level = (l: number): fc.Arbitrary<number> => fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: 0, max: l }) },
  { weight: 2, arbitrary: fc.integer({ min: l + 1, max: l + 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 1.5) })
const kindOf = (l: number): fc.Arbitrary<AddrKind> => fc.oneof(fc.constantFrom<AddrKind>('global', 'anonymizing'), level(l).map(k => ({ internal: k })))

function tally (t: ExecutionContext, seen: Map<string, number>, ref: Ref): void {
  const key = 'value' in ref ? 'valid' : [...ref.broken].sort().join('+')
  seen.set(key, (seen.get(key) ?? 0) + 1)
}
function everyRuleSeen (t: ExecutionContext, seen: Map<string, number>, rules: string[]): void {
  for (const r of ['valid', ...rules]) t.true([...seen.keys()].some(k => k.split('+').includes(r)), `${r} drawn (seen: ${JSON.stringify([...seen])})`)
}

test('property: addresses agree with the reference, or are refused with a rule it finds broken', t => {
  const seen = new Map<string, number>()
  fc.assert(fc.property(topologies.chain(gs => fc.tuple(fc.constant(gs), kindOf(gs.length), positions(gs))), ([gs, kind, n]) => {
    const ref = refIp(gs, kind, n)
    tally(t, seen, ref)
    const got = outcome(() => daemonIp(Topology.fromGsizes([...gs].reverse()), kind, n))
    if (!agrees(ref, got)) throw new Error(`${JSON.stringify(kind)} of ${JSON.stringify(n)} in ${gs.join(',')}: reference ${show(ref)}, daemon ${show(got)}`)
  }), { numRuns: 4000 })
  everyRuleSeen(t, seen, ['positions-count', 'position-range', 'virtual-position', 'level-range'])
})

test('property: CIDRs of g-nodes, and of HCoords seen from an address, agree with the reference', t => {
  const seen = new Map<string, number>()
  fc.assert(fc.property(topologies.chain(gs => fc.tuple(fc.constant(gs), kindOf(gs.length), level(gs.length), positions(gs))), ([gs, kind, i, g]) => {
    const ref = refCidr(gs, kind, i, g)
    tally(t, seen, ref)
    const got = outcome(() => daemonCidr(Topology.fromGsizes([...gs].reverse()), kind, i, g))
    if (!agrees(ref, got)) throw new Error(`${JSON.stringify(kind)} CIDR of level ${i} g-node ${JSON.stringify(g)} in ${gs.join(',')}: reference ${show(ref)}, daemon ${show(got)}`)
  }), { numRuns: 4000 })
  everyRuleSeen(t, seen, ['positions-count', 'position-range', 'virtual-position', 'level-range'])
  const seenOf = new Map<string, number>()
  fc.assert(fc.property(topologies.chain(gs => fc.tuple(fc.constant(gs), kindOf(gs.length), positions(gs), level(gs.length), fc.integer({ min: -1, max: 2 * Math.max(...gs) }))), ([gs, kind, n, lvl, pos]) => {
    const hc = { lvl, pos }
    const ref = refCidrOf(gs, kind, n, hc)
    tally(t, seenOf, ref)
    const got = outcome(() => daemonCidrOf(Topology.fromGsizes([...gs].reverse()), kind, n, hc))
    if (!agrees(ref, got)) throw new Error(`${JSON.stringify(kind)} CIDR of ${JSON.stringify(hc)} from ${JSON.stringify(n)} in ${gs.join(',')}: reference ${show(ref)}, daemon ${show(got)}`)
  }), { numRuns: 4000 })
  everyRuleSeen(t, seenOf, ['positions-count', 'position-range', 'virtual-position', 'level-range'])
})

test('property: destination sets of main identities (all real, or in transit) and connectivity identities agree with the reference (§2.4)', t => {
  const seen = new Map<string, number>()
  const real = (g: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: g - 1 })
  const identities = topologies.chain(gs => fc.oneof(
    fc.tuple(fc.constant(gs), positions(gs, real), fc.constant(true)),
    fc.tuple(fc.constant(gs), positions(gs, g => fc.oneof(real(g), fc.integer({ min: g, max: 2 * g }))), fc.constant(true)),
    fc.tuple(fc.constant(gs), positions(gs, g => fc.oneof(real(g), fc.integer({ min: g, max: 2 * g }))), fc.constant(false))))
  fc.assert(fc.property(identities, ([gs, n, main]) => {
    const ref = refDestinations(gs, n, main)
    tally(t, seen, ref)
    const got = outcome(() => daemonDestinations(Topology.fromGsizes([...gs].reverse()), n, main))
    if (!agrees(ref, got)) throw new Error(`${main ? 'main' : 'connectivity'} ${JSON.stringify(n)} in ${gs.join(',')}:\nreference ${show(ref)}\ndaemon ${show(got)}`)
  }), { numRuns: 1500 })
  everyRuleSeen(t, seen, ['positions-count', 'connectivity-real'])
})
