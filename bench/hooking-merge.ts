/*
 * Two networks merging by Hooking (issue 13), whole daemons in process (virtual clock, lab timers): each network of n
 * lone daemons on a seeded random connected graph forms apart, then one link joins the two; measures the virtual
 * time from the join to the invariants (one network id, unique real addresses, one identity per system, every map
 * and kernel equal to the Dijkstra oracle's), the wall time, and the messages and bytes each daemon sent during the
 * merge (from the join to the invariants).
 *
 *   npx ts-node --transpile-only bench/hooking-merge.ts [--configured] [sizes, comma-separated: 5,25,100; n+m for unequal ones: 2+100] [seeds per size: 1]
 *
 * --configured: each network is a configured one instead (addresses packed into top-level g-node 0 on both sides,
 * so every address is held twice before the merge; network ids 1 and 2), formed by QSPN alone: the merge is timed
 * without first forming hundreds of lone daemons by Hooking.
 *
 * NTK_BENCH_WATCH=5000 prints to stderr, every 5000 ms of virtual time, the network ids of each component (largest
 * groups first), wall seconds and heap, while forming and merging. NTK_BENCH_DIAG_MS=40000 prints once, at that
 * virtual time, what each network of a component knows of its size and the Hooking state (arcs, last events, last log
 * lines) at both ends of the links between two networks of one component (a merge that does not happen).
 */
import { SeededRandom } from '../daemon/src/util/random'
import { runUntil } from '../daemon/test/helpers/inprocess-network'
import { configuredAddressesInTopGnode } from './compare/graphs'
import { type Edge, components, randomConnected, settled, startHookingNetworks } from '../daemon/test/helpers/hooking-networks'

const configured = process.argv.includes('--configured')
const args = process.argv.slice(2).filter(a => a !== '--configured')
const sizes = (args[0] ?? '5,25,100').split(',').map(s => s.split('+').map(Number)).map(([n, m]) => ({ n, m: m ?? n }))
for (const { n, m } of sizes) if (!(Number.isInteger(n) && Number.isInteger(m) && n > 0 && m > 0)) throw new Error(`sizes: ${args[0]}: each is n or n+m with whole numbers above 0`)
const seeds = Number(args[1] ?? 1)
const BITS = configured ? [3, 4, 4, 4] : [3, 3, 3, 4]

/** A configured network's addresses, all in top-level g-node 0 (see configuredAddressesInTopGnode), and its id. */
function inTopGnode (names: string[], links: Edge[], networkId: number): Array<[string, { address: string, networkId: number }]> {
  const address = configuredAddressesInTopGnode({ id: `network ${networkId}`, nodes: names, links }, BITS)
  return names.map(n => [n, { address: address.get(n) as string, networkId }])
}

interface Row { n: number, m: number, seed: number, formMs: number | null, mergeMs: number | null, wallS: number, cpuS: number, msgs: number, kbytes: number, problems: string[] }

async function once (n: number, m: number, seed: number): Promise<Row> {
  const wall = Date.now()
  const cpu = process.cpuUsage()
  const rnd = new SeededRandom(seed)
  const A = Array.from({ length: n }, (_, i) => `a${i}`)
  const B = Array.from({ length: m }, (_, i) => `b${i}`)
  const innerA = randomConnected(A, Math.floor(n / 4), rnd)
  const innerB = randomConnected(B, Math.floor(m / 4), rnd)
  const inner = [...innerA, ...innerB]
  const join = { a: A[rnd.int(n)], b: B[rnd.int(m)] }
  const diagMs = Number(process.env.NTK_BENCH_DIAG_MS ?? 0)
  const logs = new Map<string, string[]>()
  const log = diagMs <= 0 ? undefined : (node: string, line: string): void => {
    let l = logs.get(node)
    if (l === undefined) { l = []; logs.set(node, l) }
    l.push(`${(dn.clock.now() / 1000).toFixed(2)} ${line}`)
    if (l.length > 40) l.shift()
  }
  const given = configured ? new Map([...inTopGnode(A, innerA, 1), ...inTopGnode(B, innerB, 2)]) : undefined
  const { dn, join: up } = await startHookingNetworks([...A, ...B], inner, [join], { seed, bits: BITS, ...(log === undefined ? {} : { log }), ...(given === undefined ? {} : { configured: (name: string) => given.get(name) }) })
  const everyMs = Number(process.env.NTK_BENCH_WATCH ?? 0)
  let nextWatch = 0
  let diagnosed = false
  const watch = (comps: string[][]) => () => {
    if (diagMs > 0 && !diagnosed && dn.clock.now() >= diagMs) { diagnosed = true; diagnose(comps) }
    if (everyMs <= 0 || dn.clock.now() < nextWatch) return
    nextWatch = dn.clock.now() + everyMs
    const ids = comps.map(c => {
      const count = new Map<string, number>()
      for (const name of c) { const id = String(dn.get(name).node.status().networkId); count.set(id, (count.get(id) ?? 0) + 1) }
      return `${count.size} ids [${[...count.values()].sort((x, y) => y - x).slice(0, 12).join(' ')}]`
    })
    process.stderr.write(`  ${(dn.clock.now() / 1000).toFixed(2)} s virtual, ${((Date.now() - wall) / 1000).toFixed(0)} s wall, heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB: ${ids.join(' | ')}\n`)
  }
  const diagnose = (comps: string[][]): void => {
    const out: string[] = [`--- diagnosis at ${dn.clock.now()} ms virtual`]
    const idOf = (n: string): string => String(dn.get(n).node.status().networkId)
    const sizeSeen = (n: string): number => { try { return dn.get(n).node.system.main.qspn.getNodesInside(dn.topology.levels) } catch { return -1 } }
    for (const [k, comp] of comps.entries()) {
      const groups = new Map<string, string[]>()
      for (const n of comp) groups.set(idOf(n), [...(groups.get(idOf(n)) ?? []), n])
      if (groups.size < 2) continue
      out.push(`component ${k}: ${[...groups].map(([id, ns]) => `${id}: ${ns.length} nodes (sizes seen ${[...new Set(ns.map(sizeSeen))].slice(0, 5).join('/')})`).join('; ')}`)
      const inComp = new Set(comp)
      const cross = [...inner, join].filter(e => inComp.has(e.a) && idOf(e.a) !== idOf(e.b)).slice(0, 8)
      for (const e of cross) {
        for (const n of [e.a, e.b]) {
          const d = dn.get(n)
          const v = d.node.system.hooking.view()
          out.push(`  ${n} (${idOf(n)}, ${[...d.naddr].reverse().join('.')}, ids ${d.node.identities().map(i => `${i.index}:${i.kind}`).join(' ')}) arcs ${v.arcs.map(a => `${a.arc}=${a.status}${a.networkId === null ? '' : `:${a.networkId}`}`).join(' ')} entering ${String(v.entering)} evals ${JSON.stringify(v.evaluations)} locks ${JSON.stringify(v.locks)}`)
          for (const ev of d.node.system.hooking.events.list().slice(-8)) out.push(`    ev ${JSON.stringify(ev)}`)
          for (const line of (logs.get(n) ?? []).slice(-15)) out.push(`    log ${line}`)
        }
      }
    }
    process.stderr.write(out.join('\n') + '\n')
  }
  try {
    const apartComps = components([...A, ...B], inner)
    // a configured network holds its ids from the start: formed once every link inside is a qspn-arc at both ends
    const degree = new Map<string, number>()
    for (const e of inner) for (const x of [e.a, e.b]) degree.set(x, (degree.get(x) ?? 0) + 1)
    const arcsUp = configured ? await runUntil(dn.clock, () => dn.list().every(d => d.node.system.main.qspnArcs.size === (degree.get(d.name) ?? 0)), { budgetMs: 300_000, stepMs: 250 }) : 0
    const apart = arcsUp === null ? { ms: null, problems: ['the configured networks\' arcs did not all become qspn-arcs within 300 s'] } : await settled(dn, apartComps, 300_000, undefined, watch(apartComps))
    const sent0 = dn.list().map(d => ({ ...d.codec.sent }))
    up()
    const joined = components([...A, ...B], [...inner, join])
    const r = await settled(dn, joined, 300_000, undefined, watch(joined))
    const sent = dn.list().map((d, i) => ({ messages: d.codec.sent.messages - sent0[i].messages, bytes: d.codec.sent.bytes - sent0[i].bytes }))
    return {
      n, m, seed, formMs: apart.ms === null || arcsUp === null ? null : arcsUp + apart.ms, mergeMs: r.ms, wallS: (Date.now() - wall) / 1000, cpuS: (({ user, system }) => (user + system) / 1e6)(process.cpuUsage(cpu)),
      msgs: sent.reduce((s, x) => s + x.messages, 0) / sent.length,
      kbytes: sent.reduce((s, x) => s + x.bytes, 0) / sent.length / 1024,
      problems: [...apart.problems, ...r.problems]
    }
  } finally { await dn.stopAll() }
}

async function main (): Promise<void> {
  const rows: Row[] = []
  for (const { n, m } of sizes) for (let s = 1; s <= seeds; s++) { const r = await once(n, m, 100 * n + m + s - n); rows.push(r); process.stderr.write(`${n}+${m} seed ${r.seed}: ${JSON.stringify(r)}\n`) }
  const f = (ms: number | null): string => ms === null ? 'not within 300 s' : `${(ms / 1000).toFixed(2)} s`
  console.log(`Two networks of n and m ${configured ? 'configured daemons (ids 1 and 2, the same addresses)' : 'lone daemons'} merging over one link, in process (virtual time, lab timers), ${new Date().toISOString()}, load ${(await import('node:os')).loadavg()[0].toFixed(2)}`)
  console.log('')
  console.log('| n + m | seed | formed apart (virtual) | merged after the join (virtual) | messages / node during the merge | KiB / node during the merge | wall (CPU) |')
  console.log('| --- | --- | --- | --- | --- | --- | --- |')
  for (const r of rows) console.log(`| ${r.n} + ${r.m} | ${r.seed} | ${f(r.formMs)} | ${f(r.mergeMs)} | ${r.msgs.toFixed(0)} | ${r.kbytes.toFixed(1)} | ${r.wallS.toFixed(1)} s (${r.cpuS.toFixed(1)} s) |`)
  const bad = rows.filter(r => r.problems.length > 0)
  for (const r of bad) console.log(`\n${r.n}+${r.m} seed ${r.seed}: ${r.problems.join('; ')}`)
  process.exitCode = bad.length > 0 ? 1 : 0
}
void main()
