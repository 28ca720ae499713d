import test, { type ExecutionContext } from 'ava'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { SeededRandom } from '../../daemon/src/util/random'
import { randomConnected } from '../../daemon/test/helpers/hooking-networks'
import { bridges, configuredAddresses, grid, keepsGnodesWhole, labYaml, line, randomGraph, rerouteLink, ring, type Graph } from '../../bench/compare/graphs'
import { markdownReport, plots, svgPlot, type Results } from '../../bench/compare/report'
import type { Measured } from '../../bench/compare/measure'
import { defaultKinds, parseTopology } from '../src/topology'
import { registerBabeld } from '../src/topology/kinds/babeld'

// bench/compare.ts in process: its topologies and cuts, its lab files, its report and plots, its argument errors.

/** Connected components of the graph without the given links. */
function parts (g: Graph, cut: Graph['links']): string[][] {
  const cutKeys = new Set(cut.map(l => `${l.a}|${l.b}`))
  const adj = new Map(g.nodes.map(n => [n, [] as string[]]))
  for (const l of g.links) if (!cutKeys.has(`${l.a}|${l.b}`)) { adj.get(l.a)?.push(l.b); adj.get(l.b)?.push(l.a) }
  const seen = new Set<string>()
  const out: string[][] = []
  for (const s of g.nodes) {
    if (seen.has(s)) continue
    const comp = [s]
    seen.add(s)
    for (let i = 0; i < comp.length; i++) for (const m of adj.get(comp[i]) ?? []) if (!seen.has(m)) { seen.add(m); comp.push(m) }
    out.push(comp)
  }
  return out
}

test('each topology is connected, its split cut leaves two connected parts, its reroute cut none', t => {
  for (const g of [grid(5, 5), ring(10), line(10), grid(10, 10), randomGraph(50, 1)]) {
    t.is(parts(g, []).length, 1, `${g.id} is connected`)
    const sides = parts(g, g.split)
    t.is(sides.length, 2, `${g.id}: the split cut makes two parts`)
    t.true(Math.min(...sides.map(s => s.length)) >= 2, `${g.id}: both parts hold several nodes`)
    const r = rerouteLink(g)
    if (g.id === 'line10') t.is(r, undefined, 'a line has no link whose cut only reroutes')
    else {
      t.not(r, undefined, `${g.id} has a reroute cut`)
      t.is(parts(g, [r as Graph['links'][number]]).length, 1, `${g.id}: the reroute cut splits nothing`)
      t.true(keepsGnodesWhole(g, r as Graph['links'][number], configuredAddresses(g)), `${g.id}: the reroute cut leaves every configured g-node whole`)
    }
  }
  t.is(bridges(line(10)).size, 9)
  t.is(bridges(ring(10)).size, 0)
  // the ring's g-node of 8 (r1..r5, r8..r10) holds its first links: cutting r1-r2 splits it, so the cut moves on
  const ring10 = ring(10)
  const first = ring10.links.find(l => `${l.a}-${l.b}` === 'r1-r2')!
  t.false(keepsGnodesWhole(ring10, first, configuredAddresses(ring10)), 'cutting r1-r2 splits a g-node of the ring')
  t.not(`${rerouteLink(ring10)?.a}-${rerouteLink(ring10)?.b}`, 'r1-r2')
})

test('the random graph is the same for a seed and another for another seed', t => {
  const key = (g: Graph): string => g.links.map(l => `${l.a}-${l.b}`).join(',')
  t.is(key(randomGraph(50, 7)), key(randomGraph(50, 7)))
  t.not(key(randomGraph(50, 7)), key(randomGraph(50, 8)))
  t.is(randomGraph(50, 7).nodes.length, 50)
})

test('the lab files parse: ntkd without address with 1000 µs on every interface, babeld with hello 4 s on default timers', t => {
  const kinds = defaultKinds()
  if (!kinds.has('babeld')) registerBabeld(kinds)
  const g = grid(5, 5)
  const ntkd = parseTopology(labYaml('cmpt', g, 'ntkd', 'lab'), 'cmpt.yaml', kinds)
  const corner = ntkd.nodes.find(n => n.name === 'g1x1')
  t.deepEqual(corner?.config, { topology: [2, 2, 2], timers: 'lab', costs: { eth1: 1000, eth2: 1000 } })
  t.is(ntkd.links.length, 40)
  const babeld = parseTopology(labYaml('cmpt', g, 'babeld', 'default'), 'cmpt.yaml', kinds)
  t.deepEqual(babeld.nodes.find(n => n.name === 'g5x5')?.config, { address: '172.31.0.25/32', 'hello-interval': 4 })
  t.is(new Set(babeld.nodes.map(n => String(n.config.address))).size, 25)
})

/** Every g-node of levels 1 .. levels-1 of `addr` (top level first) connected inside over `g`'s links. */
function gnodesConnected (t: ExecutionContext, g: Graph, addr: Map<string, string>, levels: number): void {
  // the g-node of level k of a node: its address without the last k positions
  for (let k = 1; k < levels; k++) {
    const gnodeOf = (n: string): string => (addr.get(n) as string).split('.').slice(0, levels - k).join('.')
    for (const id of new Set(g.nodes.map(gnodeOf))) {
      const inside = g.nodes.filter(n => gnodeOf(n) === id)
      const sub: Graph = { ...g, nodes: inside, links: g.links.filter(l => inside.includes(l.a) && inside.includes(l.b)) }
      t.is(parts(sub, []).length, 1, `${g.id}: g-node ${id} of level ${k} (${inside.join(' ')}) is connected inside`)
    }
  }
}

test('configured ntkd addresses: unique, and every g-node of every level connected inside (else its routes break)', t => {
  for (const g of [grid(5, 5), ring(10), line(10), grid(10, 10), randomGraph(50, 1)]) {
    const addr = configuredAddresses(g)
    t.is(new Set(addr.values()).size, g.nodes.length, `${g.id}: unique addresses`)
    for (const a of addr.values()) t.regex(a, /^[0-7]\.[0-7]\.[0-7]$/)
    gnodesConnected(t, g, addr, 3)
  }
  t.throws(() => configuredAddresses(line(10), [1, 1, 1]), { message: /line10: 10 nodes do not fit 1·1·1/ })
  const kinds = defaultKinds()
  const spec = parseTopology(labYaml('cmpt', grid(5, 5), 'ntkd', 'lab', 'configured'), 'cmpt.yaml', kinds)
  t.like(spec.nodes.find(n => n.name === 'g1x1')?.config, { topology: [3, 3, 3], address: configuredAddresses(grid(5, 5)).get('g1x1'), timers: 'lab' })
})

test('configured addresses of a sparse graph of 500 in 16·16·16: packed along a spanning tree where the walk leaves too many g-nodes', t => {
  for (const seed of [1, 2, 3]) {
    // the in-process merge bench's graphs: a random tree of 500 plus 125 links (the walk alone fits none of these)
    const names = Array.from({ length: 500 }, (_, i) => `v${i}`)
    const g = { id: `sparse500-${seed}`, label: '', nodes: names, links: randomConnected(names, 125, new SeededRandom(seed * 1000 + 500)).map(e => ({ a: e.a, b: e.b, ifa: '', ifb: '' })), split: [] }
    const addr = configuredAddresses(g, [4, 4, 4])
    t.is(new Set(addr.values()).size, 500, `seed ${seed}: unique addresses`)
    for (const a of addr.values()) t.regex(a, /^\d+\.\d+\.\d+$/)
    for (const a of addr.values()) t.true(a.split('.').every(p => Number(p) < 16), `${a} fits 16·16·16`)
    gnodesConnected(t, g, addr, 3)
  }
})

const measured = (kind: 'ntkd' | 'babeld', initialMs: number | null, extra: Partial<Measured> = {}): Measured => ({
  topology: 'ring10', kind, timers: 'lab', nodes: 10, links: 10, deployMs: 100, steps: { 'initial routes': initialMs }, failures: initialMs === null ? ['initial routes: not satisfied'] : [],
  loadBefore: '1 1 1', cuts: { split: 'r2-r3' }, ...extra
})

test('the report: min / median / max per kind, the ratio of the medians, failures counted, plots as SVG', t => {
  const r: Results = {
    startedAt: '2026-01-01T00:00:00Z',
    machine: { cpus: 2, model: 'test cpu', loadBefore: '1 1 1', commit: 'abc' },
    options: {},
    topologies: [{ id: 'ring10', label: 'ring of 10', nodes: 10, links: 10, split: 'r2-r3, r7-r8' }],
    runs: [
      measured('babeld', 1000, { rssMb: [2, 2.4, 3] }), measured('babeld', 2000), measured('babeld', 4000),
      measured('ntkd', 3000, { rssMb: [50, 52, 60] }), measured('ntkd', null), measured('ntkd', 5000),
      { ...measured('ntkd', 9000, { txBytesPerS: [100, 300] }), timers: 'default' }
    ]
  }
  const md = markdownReport(r)
  t.regex(md, /\| initial routes \| s \| 1\.00 \/ 2\.00 \/ 4\.00 \| 3\.00 \/ 4\.00 \/ 5\.00 \(1 failed\) \| 2\.00 \|/)
  t.regex(md, /\| resident memory per daemon \(median\) \| MiB \| 2\.4 \| 52\.0 \| 21\.67 \|/)
  t.regex(md, /\| steady tx per node, default timers \| B\/s \| - \| 200 \| - \|/)
  t.regex(md, /- ntkd \(lab timers\): initial routes: not satisfied/)
  const svgs = plots(r)
  t.true(svgs.has('time-initial-routes.svg'))
  t.true(svgs.has('bytes-steady.svg'))
  const svg = svgs.get('time-initial-routes.svg') as string
  t.true(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'))
  t.is((svg.match(/<circle /g) ?? []).length, 2, 'one point per kind (ring10, median)')
  t.regex(svgPlot('a <b> & c', 'x', 'y', []), /a &lt;b&gt; &amp; c/)
})

test('bad arguments get an error naming them, exit 2, before any lab is made', t => {
  const script = path.join(__dirname, '..', '..', 'bench', 'compare.ts')
  const runIt = (...args: string[]): { code: number | null, err: string } => {
    const r = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', script, ...args], { encoding: 'utf8', cwd: path.join(__dirname, '..', '..') })
    return { code: r.status, err: r.stderr }
  }
  const cases: Array<[string[], RegExp]> = [
    [['--topologies', 'ring10,moebius'], /--topologies: unknown "moebius" \(known: grid5, ring10, line10, grid10, random50/],
    [['--runs', '0'], /--runs "0": expected a whole number from 1 to 20/],
    [['--window', 'soon'], /--window "soon": expected a number/],
    [['--default-timers', 'ring11'], /--default-timers: unknown "ring11"/],
    [['--ntkd-address', 'dhcp'], /--ntkd-address "dhcp": expected auto or configured/],
    [['--frobnicate'], /Unknown option '--frobnicate'/]
  ]
  for (const [args, re] of cases) {
    const r = runIt(...args)
    t.is(r.code, 2, args.join(' '))
    t.regex(r.err, re)
  }
})
