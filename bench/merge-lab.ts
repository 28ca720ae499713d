/*
 * Networks merging by Hooking in the lab (issue 13): ntkd with lab timers, no address configured, topology 3·2·2·2,
 * 1000 µs on every interface (config.costs, so the route model is exact), netns backend. Each case deploys both
 * networks with the joining link down, waits until each formed apart (one network per component, main identities
 * only, unique addresses, every ntk table the model's), then brings the link up and measures from that moment:
 *  - one network with unique addresses (`network: single` + `addresses: unique`);
 *  - converged (the same, plus `identities: main` and every ntk table the model's);
 *  - all pairs ping (`reachability: all`).
 * Times are to the end of the first passing check (checked every 250 ms), so they include the checks. Messages and
 * bytes per node cover the link-up .. converged window: the messages each daemon accepted (`ntkctl counters`,
 * wire.accepted) and the packets and bytes sent on its interfaces (/proc/<pid>/net/dev of the node), before the
 * all-pairs ping adds its own traffic. Cases: 5 (a line of 5 meets a ring of 5), 25 (two 5x5 grids), 125 (a 5x5 grid
 * meets a 10x10 grid: 125 daemons on one machine, not run by default). A failed case keeps its daemons' logs under
 * /tmp/merge-lab-<lab>/ (with the failed check's whole diff in failure.txt) and the table says where it stopped. Prints a markdown table.
 *
 * --configured: each side is a configured network instead (addresses given, every g-node connected inside, both
 * sides in top-level g-node 0, so every address is held twice until the merge; network ids 1 and 2; topology
 * 8·8·8·8): formed by QSPN alone in seconds, where 50 lone daemons take minutes to form by Hooking on 2 cores.
 *
 * NTK_BENCH_KEEP_LOGS=1 keeps the daemons' logs of a case that passed too.
 *
 *   flock /tmp/ntk-lab.lock npx ts-node --transpile-only bench/merge-lab.ts [--configured] [5,25,125]   (as root; default 5,25)
 */
import os from 'node:os'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { makeBackend } from '../lab/src/backend'
import { deployLab, type RunningLab } from '../lab/src/lab'
import { defaultKinds, parseTopology } from '../lab/src/topology'
import { scenarioFromLab } from '../lab/src/scenario/scenario-file'
import { runScenario } from '../lab/src/scenario/runner'
import type { ScenarioResult } from '../lab/src/scenario/result'
import { ntkdStatuses } from '../lab/src/scenario/ntkd-taken'
import { controlQuery, hostControlSocket } from '../lab/src/scenario/ntkd-control'
import type { Link } from '../lab/test/helpers/gnode-cut'
import { configuredAddressesInTopGnode } from './compare/graphs'

interface Graph { nodes: string[], links: Link[], join: Link }

/** Two graphs given as node pairs, joined by one more pair (the last link, declared down). */
function graphOf (pairs: Array<[string, string]>, join: [string, string]): Graph {
  const nics = new Map<string, number>()
  const nic = (n: string): string => { const k = (nics.get(n) ?? 0) + 1; nics.set(n, k); return `eth${k}` }
  const links = [...pairs, join].map(([a, b]) => ({ a, b, ifa: nic(a), ifb: nic(b) }))
  return { nodes: [...nics.keys()], links, join: links[links.length - 1] }
}
const line = (p: string, n: number): Array<[string, string]> => Array.from({ length: n - 1 }, (_, i) => [`${p}${i + 1}`, `${p}${i + 2}`])
const ring = (p: string, n: number): Array<[string, string]> => Array.from({ length: n }, (_, i) => [`${p}${i + 1}`, `${p}${(i + 1) % n + 1}`])
function grid (p: string, rows: number, cols: number): Array<[string, string]> {
  const pairs: Array<[string, string]> = []
  for (let r = 1; r <= rows; r++) for (let c = 1; c <= cols; c++) {
    if (c < cols) pairs.push([`${p}${r}x${c}`, `${p}${r}x${c + 1}`])
    if (r < rows) pairs.push([`${p}${r}x${c}`, `${p}${r + 1}x${c}`])
  }
  return pairs
}

interface Case { key: string, title: string, g: Graph, formWithin: number }
const CASES: Case[] = [
  { key: '5', title: 'line of 5 + ring of 5', g: graphOf([...line('a', 5), ...ring('b', 5)], ['a5', 'b1']), formWithin: 180 },
  { key: '25', title: '5x5 grid + 5x5 grid', g: graphOf([...grid('a', 5, 5), ...grid('b', 5, 5)], ['a3x5', 'b3x1']), formWithin: 480 },
  { key: '125', title: '5x5 grid + 10x10 grid', g: graphOf([...grid('a', 5, 5), ...grid('b', 10, 10)], ['a3x5', 'b5x1']), formWithin: 600 }
]

const linkRef = (l: Link): string => `[${l.a}:${l.ifa}, ${l.b}:${l.ifb}]`

const CONFIGURED = process.argv.includes('--configured')
const TOPOLOGY = CONFIGURED ? [3, 3, 3, 3] : [3, 2, 2, 2]

/**
 * --configured: each side a configured network (network ids 1 and 2), its addresses given (every g-node connected
 * inside, all in top-level g-node 0, so both sides hold the same addresses until they merge).
 */
function configuredPlan (g: Graph): Map<string, string> {
  const out = new Map<string, string>()
  for (const side of ['a', 'b']) {
    const nodes = g.nodes.filter(n => n.startsWith(side))
    const links = g.links.filter(l => l !== g.join && l.a.startsWith(side))
    const address = configuredAddressesInTopGnode({ id: side, nodes, links }, TOPOLOGY)
    for (const n of nodes) out.set(n, `address: "${address.get(n) as string}", networkId: ${side === 'a' ? 1 : 2}, `)
  }
  return out
}

function yamlOf (name: string, g: Graph, timeline: string): string {
  const nicsOf = (n: string): string[] => g.links.flatMap(l => l.a === n ? [l.ifa] : l.b === n ? [l.ifb] : [])
  const plan = CONFIGURED ? configuredPlan(g) : new Map<string, string>()
  return `name: ${name}
defaults:
  kind: ntkd
  config: { topology: [${TOPOLOGY.join(', ')}] }
nodes:
${g.nodes.map(n => `  ${n}: { config: { ${plan.get(n) ?? ''}costs: { ${nicsOf(n).map(x => `${x}: 1000`).join(', ')} } } }`).join('\n')}
links:
${g.links.map(l => `  - endpoints: ${linkRef(l)}${l === g.join ? '\n    state: down' : ''}`).join('\n')}
${timeline}`
}

const wait = (name: string, cond: string, within: number, interval = '250ms'): string => `  - name: ${JSON.stringify(name)}\n    wait: ${cond}\n    within: ${within}s\n    interval: ${interval}`
const ALL = '{ network: single, identities: main, addresses: unique, converged: true }'

async function scenario (lab: RunningLab, yaml: string): Promise<ScenarioResult> {
  const spec = { ...parseTopology(yaml, `${lab.spec.name}.yaml`, defaultKinds()), name: lab.spec.name }
  const r = await runScenario(scenarioFromLab(spec), lab, { seed: 1 })
  const failed = r.steps.find(s => s.status === 'failed')
  if (failed !== undefined) throw new StepError(`${failed.label}: ${(failed.error ?? '').split('\n').slice(0, 6).join(' / ')}`, [failed.error ?? '', ...(failed.diff?.lines ?? [])].join('\n'))
  return r
}
/** A failed step, with its whole error and diff (kept beside the daemons' logs). */
class StepError extends Error { constructor (message: string, readonly full: string) { super(message) } }
const byLabel = (r: ScenarioResult, label: string): number | undefined => r.steps.find(s => s.label === label)?.metrics?.convergedByMs

/** Messages each daemon accepted (wire.accepted) and packets/bytes its node sent on eth*, per node. */
async function counters (lab: RunningLab, nodes: readonly string[]): Promise<Map<string, { msgs: number, pkts: number, bytes: number }>> {
  const out = new Map<string, { msgs: number, pkts: number, bytes: number }>()
  await Promise.all(nodes.map(async n => {
    const pid = lab.nodes.get(n)?.pid
    if (pid === undefined) throw new Error(`${n}: no process`)
    const sock = await hostControlSocket(pid)
    if (sock === undefined) throw new Error(`${n}: no control socket`)
    const c = await controlQuery(sock, 'counters') as { wire: { accepted: number } | null }
    let pkts = 0
    let bytes = 0
    for (const l of (await readFile(`/proc/${pid}/net/dev`, 'utf8')).split('\n')) {
      const m = /^\s*(eth\d+):\s*(.*)$/.exec(l)
      if (m === null) continue
      const f = m[2].trim().split(/\s+/).map(Number) // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets ...
      bytes += f[8]
      pkts += f[9]
    }
    out.set(n, { msgs: c.wire?.accepted ?? 0, pkts, bytes })
  }))
  return out
}

/** Network ids and their sizes among the nodes, from the daemons' status (where a formation that did not finish got to). */
async function networksOf (lab: RunningLab, nodes: readonly string[]): Promise<string> {
  const st = await ntkdStatuses(lab, nodes)
  const ids = new Map<string, number>()
  for (const s of st.values()) { const k = typeof s === 'string' ? 'no answer' : String(s.networkId); ids.set(k, (ids.get(k) ?? 0) + 1) }
  return `${ids.size} network ids, sizes ${[...ids.values()].sort((a, b) => b - a).join('+')}`
}

async function keepLogs (lab: RunningLab, nodes: readonly string[], failure: string): Promise<string> {
  const dir = `/tmp/merge-lab-${lab.spec.name}`
  await mkdir(dir, { recursive: true })
  await writeFile(`${dir}/failure.txt`, failure + '\n')
  for (const n of nodes) { const f = lab.logFile(n); if (f !== undefined) await copyFile(f, `${dir}/${n}.log`).catch(() => {}) }
  return dir
}

interface Row { c: Case, formedS?: number, singleS?: number, convergedS?: number, pingS?: number, msgs?: number, pkts?: number, kib?: number, windowS?: number, note: string }

async function runCase (c: Case): Promise<Row> {
  const name = `bmerge${c.key}${Math.floor(Math.random() * 1e5)}`
  const g = c.g
  const row: Row = { c, note: '' }
  const sides = [g.nodes.filter(n => n.startsWith('a')), g.nodes.filter(n => n.startsWith('b'))]
  const spec = { ...parseTopology(yamlOf(name, g, ''), `${name}.yaml`, defaultKinds()), name }
  const t0 = Date.now()
  const lab = await deployLab(spec, makeBackend('netns'))
  running = { lab, nodes: g.nodes }
  let stage = 'formation'
  try {
    const formed = await scenario(lab, yamlOf(name, g, `timeline:\n${wait('formed', ALL, c.formWithin, '1s')}\n`))
    row.formedS = (byLabel(formed, 'formed') ?? 0) / 1000
    stage = 'merge'
    const before = await counters(lab, g.nodes)
    const tUp = Date.now()
    const merge = await scenario(lab, yamlOf(name, g, `timeline:\n  - link: ${linkRef(g.join)}\n    state: up\n${wait('single', '{ network: single, addresses: unique }', 120)}\n${wait('converged', ALL, 120)}\n`))
    const after = await counters(lab, g.nodes)
    const tAfter = Date.now()
    row.singleS = (byLabel(merge, 'single') ?? 0) / 1000
    row.convergedS = (byLabel(merge, 'converged') ?? 0) / 1000
    row.windowS = (tAfter - tUp) / 1000
    const d = g.nodes.map(n => { const a = after.get(n), b = before.get(n); return a === undefined || b === undefined ? { msgs: 0, pkts: 0, bytes: 0 } : { msgs: a.msgs - b.msgs, pkts: a.pkts - b.pkts, bytes: a.bytes - b.bytes } })
    row.msgs = d.reduce((s, x) => s + x.msgs, 0) / d.length
    row.pkts = d.reduce((s, x) => s + x.pkts, 0) / d.length
    row.kib = d.reduce((s, x) => s + x.bytes, 0) / d.length / 1024
    stage = 'all pairs ping'
    const tPing = Date.now()
    const ping = await scenario(lab, yamlOf(name, g, `timeline:\n${wait('ping', '{ reachability: all }', 60, '500ms')}\n`))
    row.pingS = (tPing - tUp) / 1000 + (byLabel(ping, 'ping') ?? 0) / 1000
  } catch (e) {
    const got = await Promise.all(sides.map(async s => await networksOf(lab, s).catch(err => String(err))))
    row.note = `failed at ${stage} after ${((Date.now() - t0) / 1000).toFixed(0)} s: ${String((e as Error).message ?? e).slice(0, 300)}; a side: ${got[0]}; b side: ${got[1]}; logs: ${await keepLogs(lab, g.nodes, e instanceof StepError ? e.full : String((e as Error).stack ?? e))}`
  } finally {
    if (row.note === '' && process.env.NTK_BENCH_KEEP_LOGS === '1') console.error(`logs kept in ${await keepLogs(lab, g.nodes, 'passed')}`)
    running = undefined
    await lab.destroy().catch(() => {})
  }
  return row
}

/** The lab of the case running: a bench stopped by a signal (Ctrl-C, timeout) keeps its logs and destroys it. */
let running: { lab: RunningLab, nodes: readonly string[] } | undefined
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    const r = running
    if (r === undefined) process.exit(130)
    void keepLogs(r.lab, r.nodes, `stopped by ${sig}`).then(dir => console.error(`stopped by ${sig}: logs in ${dir}`), () => {})
      .then(async () => await r.lab.destroy()).catch(() => {}).finally(() => process.exit(130))
  })
}

async function main (): Promise<void> {
  const keys = (process.argv.slice(2).filter(a => a !== '--configured')[0] ?? '5,25').split(',')
  const unknown = keys.filter(k => !CASES.some(c => c.key === k))
  if (unknown.length > 0) throw new Error(`unknown case ${unknown.join(', ')}; the cases are ${CASES.map(c => c.key).join(', ')}`)
  const rows: Row[] = []
  for (const c of CASES.filter(c => keys.includes(c.key))) {
    const row = await runCase(c)
    rows.push(row)
    console.error(`${c.title}: ${JSON.stringify({ ...row, c: undefined })}`)
  }
  const s = (x: number | undefined): string => x === undefined ? '-' : `${x.toFixed(1)} s`
  const n = (x: number | undefined, d = 0): string => x === undefined ? '-' : x.toFixed(d)
  console.log(`Merges by Hooking in the lab (netns), ntkd (lab timers, ${CONFIGURED ? 'configured networks (ids 1 and 2, the same addresses)' : 'no address'}, topology ${TOPOLOGY.map(b => 2 ** b).join('·')}, 1000 µs arcs); ${new Date().toISOString()}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load ${os.loadavg().map(x => x.toFixed(2)).join(' ')}`)
  console.log('')
  console.log('| networks | daemons | formed apart | one network, unique addresses | converged (every table the model\'s) | all pairs ping | messages accepted / node | packets / KiB sent / node (window) |')
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const r of rows) {
    console.log(`| ${r.c.title} | ${r.c.g.nodes.length} | ${s(r.formedS)} | ${s(r.singleS)} | ${s(r.convergedS)} | ${s(r.pingS)} | ${n(r.msgs)} | ${r.pkts === undefined ? '-' : `${n(r.pkts)} / ${n(r.kib, 1)} (${s(r.windowS)})`} |`)
  }
  for (const r of rows.filter(r => r.note !== '')) console.log(`\n${r.c.title}: ${r.note}`)
}

main().catch(e => { console.error(e); process.exitCode = 1 })
