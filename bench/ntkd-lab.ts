// A 5x5 grid of real ntkd daemons on the netns backend (lab timers): deploy time, time until every control socket
// answers, time from then to full reachability (every node pings every other node's global address), reroute time
// after cutting the first link of a cheapest path, and resident memory per daemon. Prints a markdown table.
// Usage: node dist/bench/ntkd-lab.js [--bits 2,2,2,2|3,2,2] [--runs 1] [--fixed-cost µs] [--logs DIR]
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Topology, ipGlobal, parseNaddr } from '../daemon/src/addressing'
import { controlRequest } from '../daemon/src/node/control'
import { makeBackend } from '../lab/src/backend'
import { deployLab, destroyLab, type RunningLab } from '../lab/src/lab'
import { defaultKinds, parseTopology } from '../lab/src/topology'
import { findPython, IcmpProber } from './icmp-prober'
import { netnsId } from '../lab/src/util/proc'
import { daemonProcesses } from '../lab/test/helpers/ntkd-daemons'

const ROWS = 5
const COLS = 5
const TARGETS = { reachabilityS: 10, rerouteS: 3, rssMb: 80 }

/**
 * Addresses of the grid, top level first, built from 2x2 blocks of the grid (block row br, block column bc, each 0..2).
 * Every g-node of every level is a connected rectangle of the grid:
 *  - 2,2,2,2 (4·4·4·4): a block is a level-1 g-node; level 2: rows 1-2 cols 1-4 | rows 3-4 cols 1-4 | rows 1-4 col 5 |
 *    row 5 cols 1-4 | node 5x5; level 3: rows 1-4 | row 5.
 *  - 3,2,2 (8·4·4): a block is a level-1 g-node; level 2 (top): rows 1-4 cols 1-4 | rows 1-4 col 5 | row 5 cols 1-4 | 5x5.
 */
const BLOCK_PREFIX: Record<string, Record<string, number[]>> = {
  '2,2,2,2': { '0,0': [0, 0, 0], '0,1': [0, 0, 1], '1,0': [0, 1, 0], '1,1': [0, 1, 1], '0,2': [0, 2, 0], '1,2': [0, 2, 1], '2,0': [1, 0, 0], '2,1': [1, 0, 1], '2,2': [1, 1, 0] },
  '3,2,2': { '0,0': [0, 0], '0,1': [0, 1], '1,0': [0, 2], '1,1': [0, 3], '0,2': [1, 0], '1,2': [1, 1], '2,0': [2, 0], '2,1': [2, 1], '2,2': [3, 0] }
}

const nodeName = (r: number, c: number): string => `n${r}x${c}`

/** Node name -> address (top level first) for the grid, 1-based rows and columns. */
function gridAddresses (bits: string): Map<string, string> {
  const prefixes = BLOCK_PREFIX[bits]
  if (prefixes === undefined) throw new Error(`no grid layout for bits ${bits} (layouts: ${Object.keys(BLOCK_PREFIX).join(' | ')})`)
  const out = new Map<string, string>()
  for (let r = 0; r < ROWS; r++) {
    for (let c = 0; c < COLS; c++) {
      const prefix = prefixes[`${Math.floor(r / 2)},${Math.floor(c / 2)}`]
      out.set(nodeName(r + 1, c + 1), [...prefix, (r % 2) * 2 + (c % 2)].join('.'))
    }
  }
  return out
}

/** The topology file of the grid: interfaces e1 east, e2 south, e3 west, e4 north (as lab/src/topology/generate.ts). */
function gridYaml (bits: string, addresses: Map<string, string>, fixedCostUs?: number): string {
  const lines = ['name: ntkgrid', 'defaults: { kind: ntkd }', 'nodes:']
  const costs = (name: string): string => {
    if (fixedCostUs === undefined) return ''
    const [r, c] = name.slice(1).split('x').map(Number)
    const nics = [c < COLS && 'e1', r < ROWS && 'e2', c > 1 && 'e3', r > 1 && 'e4'].filter((n): n is string => n !== false)
    return `, costs: { ${nics.map(n => `${n}: ${fixedCostUs}`).join(', ')} }`
  }
  for (const [name, address] of addresses) lines.push(`  ${name}: { config: { topology: [${bits}], address: "${address}"${costs(name)} } }`)
  lines.push('links:')
  for (let r = 1; r <= ROWS; r++) {
    for (let c = 1; c <= COLS; c++) {
      if (c < COLS) lines.push(`  - endpoints: [${nodeName(r, c)}:e1, ${nodeName(r, c + 1)}:e3]`)
      if (r < ROWS) lines.push(`  - endpoints: [${nodeName(r, c)}:e2, ${nodeName(r + 1, c)}:e4]`)
    }
  }
  return lines.join('\n') + '\n'
}

/** Control socket of a node's daemon, reached from the host through the node holder's root (ntkd.ts kind: named after the netns inode). */
async function controlSocket (lab: RunningLab, node: string): Promise<string> {
  const h = lab.nodes.get(node)
  if (h === undefined) throw new Error(`no node ${node}`)
  const id = await netnsId(`/proc/${h.pid}/ns/net`)
  if (id === undefined) throw new Error(`node ${node}: holder ${h.pid} is gone`)
  return `/proc/${h.pid}/root/run/ntkd/ntkd-${id.replace(/\D/g, '')}.sock`
}

/** Waits until every daemon answers `status`; returns each node's first answer time (epoch ms). */
async function waitDaemonsUp (lab: RunningLab, budgetMs: number): Promise<Map<string, number>> {
  const deadline = Date.now() + budgetMs
  const up = new Map<string, number>()
  const sockets = new Map(await Promise.all([...lab.nodes.keys()].map(async n => [n, await controlSocket(lab, n)] as const)))
  while (up.size < sockets.size) {
    await Promise.all([...sockets].filter(([n]) => !up.has(n)).map(async ([n, sock]) => {
      const st = await controlRequest(sock, 'status', { timeoutMs: 2000 }).catch(() => undefined) as { address?: string } | undefined
      if (st?.address !== undefined) up.set(n, Date.now())
    }))
    if (up.size === sockets.size) break
    if (Date.now() >= deadline) throw new Error(`daemons not up within ${budgetMs} ms: ${[...sockets.keys()].filter(n => !up.has(n)).join(', ')}`)
    await sleep(50)
  }
  return up
}

interface Reachability { lastPairAt?: number, failing: string[], slowest: string[] }

/** A prober from every node to every other node's global address (the holder's netns is the node's). */
function allPairsProber (lab: RunningLab, python: string, globals: Map<string, string>, budgetMs: number, intervalMs: number): IcmpProber {
  const sources = [...globals.keys()].map(name => ({
    name,
    netns: `/proc/${(lab.nodes.get(name) as { pid: number }).pid}/ns/net`,
    targets: [...globals].filter(([n]) => n !== name).map(([, ip]) => ip)
  }))
  const p = new IcmpProber(python, sources, budgetMs, intervalMs)
  p.endInput()
  return p
}

/** Waits for an all-pairs prober to end; the last pair's first reply, the pairs that never answered. */
async function reachability (prober: IcmpProber, globals: Map<string, string>): Promise<Reachability> {
  await prober.done
  const nameOf = new Map([...globals].map(([n, ip]) => [ip, n]))
  const pairs = [...prober.firstReply].map(([key, at]) => { const [from, ip] = key.split(' '); return { pair: `${from}->${nameOf.get(ip) ?? ip}`, at } })
  const expected = globals.size * (globals.size - 1)
  if (pairs.length !== expected) throw new Error(`the prober reported ${pairs.length} pairs, expected ${expected}`)
  const failing = pairs.filter(p => p.at === undefined).map(p => p.pair)
  const answered = pairs.filter((p): p is { pair: string, at: number } => p.at !== undefined).sort((a, b) => b.at - a.at)
  return { lastPairAt: failing.length === 0 ? answered[0]?.at : undefined, failing, slowest: answered.slice(0, 3).map(p => p.pair) }
}

/** The kernel's choice for `dst` inside a node (`ip route get`, policy rules included): dev and gateway. */
async function routeGet (lab: RunningLab, node: string, dst: string): Promise<{ dev?: string, gateway?: string, type?: string }> {
  const r = await lab.exec(node, ['ip', '-j', 'route', 'get', dst], { check: false })
  if (r.code !== 0) return { type: r.stderr.trim() }
  const [first] = JSON.parse(r.stdout) as Array<{ dev?: string, gateway?: string, type?: string }>
  return first ?? {}
}

interface Reroute { pair: string, link: string, pingMs?: number, routeMs?: number, from?: string, to?: string, arcRemovedMs?: number }

/**
 * Cuts the first link of src's path to dst (the one the kernel uses: on a cheapest path by construction) and
 * measures from the cut until the pair pings again and until src's route for dst leaves the cut interface.
 */
async function reroute (lab: RunningLab, python: string, src: string, dst: string, dstIp: string, budgetMs: number): Promise<Reroute> {
  const before = await routeGet(lab, src, dstIp)
  const link = lab.spec.links.find(l => l.endpoints.some(e => e.node === src && e.ifname === before.dev))
  if (link === undefined) throw new Error(`${src} routes ${dstIp} via ${JSON.stringify(before)}: not a grid link`)
  const result: Reroute = { pair: `${src}->${dst}`, link: link.id, from: `${before.dev ?? '?'} via ${before.gateway ?? '?'}` }
  const prober = new IcmpProber(python, [{ name: src, netns: `/proc/${(lab.nodes.get(src) as { pid: number }).pid}/ns/net`, targets: [dstIp] }], budgetMs, 20)
  try {
    await prober.nextReply(src, dstIp) // the pair pings before the cut
    const cutAt = Date.now()
    await lab.setLinkState(link.id, 'down')
    const replied = prober.nextReply(src, dstIp)
    await prober.reset() // only echo requests sent from now on, with the link down, count
    prober.endInput()
    const deadline = cutAt + budgetMs
    const pinged = replied.then(at => { result.pingMs = at - cutAt }, () => {})
    const moved = (async () => {
      while (Date.now() < deadline) {
        const now = await routeGet(lab, src, dstIp)
        if (now.dev !== undefined && now.dev !== before.dev && now.gateway !== undefined) {
          result.routeMs = Date.now() - cutAt
          result.to = `${now.dev} via ${now.gateway}`
          return
        }
        await sleep(20)
      }
    })()
    await Promise.all([pinged, moved])
    result.arcRemovedMs = await logEventAfter(lab, src, /arc removed/, cutAt)
    return result
  } finally {
    prober.kill()
  }
}

/** ms from `after` to the first log line of the node matching `re` (the daemon stamps lines with ISO times). */
async function logEventAfter (lab: RunningLab, node: string, re: RegExp, after: number): Promise<number | undefined> {
  const text = await fs.readFile(lab.logFile(node) ?? '/dev/null', 'utf8').catch(() => '')
  for (const line of text.split('\n')) {
    const at = Date.parse(line.slice(0, 24))
    if (!Number.isNaN(at) && at >= after && re.test(line)) return at - after
  }
  return undefined
}

/** VmRSS and VmHWM (MiB) of every node's daemon. */
async function daemonMemory (lab: RunningLab): Promise<Array<{ node: string, pid: number, rssMb: number, hwmMb: number }>> {
  return [...await daemonProcesses(lab)].map(([node, p]) => ({ node, pid: p.pid, rssMb: p.rssMb, hwmMb: p.hwmMb }))
}

/** CPU seconds (user + system, with reaped children such as iptables-restore) of every ntkd process so far. */
async function daemonCpuSeconds (pids: number[]): Promise<number> {
  const ticks = await Promise.all(pids.map(async pid => {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i] ?? 0), 0)
  }))
  return ticks.reduce((a, b) => a + b, 0) / 100 // USER_HZ
}

/** Lines of all node logs matching re (e.g. arc removals: flapping arcs under load). */
async function countLogLines (lab: RunningLab, re: RegExp): Promise<number> {
  let n = 0
  for (const node of lab.nodes.keys()) {
    const text = await fs.readFile(lab.logFile(node) ?? '/dev/null', 'utf8').catch(() => '')
    n += text.split('\n').filter(l => re.test(l)).length
  }
  return n
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }
const sec = (ms: number | undefined): string => ms === undefined ? 'n/a' : (ms / 1000).toFixed(2)
const mark = (value: number | undefined, target: number): string => value === undefined ? ' ✗' : value <= target ? '' : ' ✗'

interface RunRow { loadBefore: string, proberLagMs: number, cpuS: number, cpuWallS: number, arcRemovals: number, deployMs: number, upMs: number, upSpreadMs: number, reachMs?: number, reach: Reachability, stable: string, reroute: Reroute, rss: number[], hwm: number[] }

/** Removes the lab of the run under way (Ctrl-C must not leave 25 daemons behind). */
let onInterrupt: (() => Promise<void>) | undefined
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`bench: ${sig}, destroying the lab\n`)
    void (onInterrupt?.() ?? Promise.resolve()).finally(() => process.exit(130))
  })
}

async function benchOnce (bits: string, fixedCostUs: number | undefined, python: string, logsDir: string | undefined, say: (m: string) => void): Promise<RunRow> {
  const addresses = gridAddresses(bits)
  const topo = Topology.fromBits(bits.split(',').map(Number))
  const globals = new Map([...addresses].map(([n, a]) => [n, ipGlobal(topo, parseNaddr(a, topo))]))
  const spec = { ...parseTopology(gridYaml(bits, addresses, fixedCostUs), 'ntkd-grid.yaml', defaultKinds()), name: `ntkb${randomBytes(3).toString('hex')}` }
  const backend = makeBackend('netns')
  let lab: RunningLab | undefined
  const probers: IcmpProber[] = []
  const loadBefore = (await fs.readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')
  onInterrupt = async () => { for (const p of probers) p.kill(); await destroyLab(spec.name, backend) }
  try {
    const t0 = Date.now()
    lab = await deployLab(spec, backend, { progress: m => say(`${spec.name}: ${m}`) })
    const deployedAt = Date.now()
    // probing starts now, so the prober is running (and its start cost paid) before the last daemon answers
    const first = allPairsProber(lab, python, globals, 180_000, 200)
    probers.push(first)
    const up = await waitDaemonsUp(lab, 120_000)
    const upTimes = [...up.values()]
    const upAt = Math.max(...upTimes)
    const proberLagMs = await first.started - upAt
    say(`daemons up ${upAt - deployedAt} ms after deploy returned`)
    const reach = await reachability(first, globals)
    say(`reachability: ${reach.failing.length === 0 ? `all pairs after ${sec((reach.lastPairAt ?? 0) - upAt)} s` : `${reach.failing.length} pairs failing`}`)
    const mem0 = await daemonMemory(lab)
    const cpuS = await daemonCpuSeconds(mem0.map(m => m.pid))
    const cpuWallS = (Date.now() - t0) / 1000
    const arcRemovals = await countLogLines(lab, /arc removed/)
    const confirm = allPairsProber(lab, python, globals, 5_000, 200)
    probers.push(confirm)
    const again = await reachability(confirm, globals)
    const stable = again.failing.length === 0 ? 'yes' : `no: ${again.failing.length} pairs (${again.failing.slice(0, 3).join(', ')})`
    say(`still all pairs: ${stable}`)
    const src = nodeName(1, 1)
    const dst = nodeName(ROWS, COLS)
    const rr: Reroute = reach.failing.length > 0
      ? { pair: `${src}->${dst}`, link: 'none (no full reachability to start from)' }
      : await reroute(lab, python, src, dst, globals.get(dst) as string, 30_000)
    say(`reroute ${rr.pair} after cutting ${rr.link}: ping ${sec(rr.pingMs)} s, route ${sec(rr.routeMs)} s`)
    const mem = await daemonMemory(lab)
    return {
      loadBefore,
      cpuS,
      cpuWallS,
      arcRemovals,
      proberLagMs,
      deployMs: deployedAt - t0,
      upMs: upAt - deployedAt,
      upSpreadMs: upAt - Math.min(...upTimes),
      reachMs: reach.lastPairAt === undefined ? undefined : reach.lastPairAt - upAt,
      reach,
      stable,
      reroute: rr,
      rss: mem.map(m => m.rssMb),
      hwm: mem.map(m => m.hwmMb)
    }
  } finally {
    for (const p of probers) p.kill()
    if (lab !== undefined && logsDir !== undefined) {
      const dir = path.join(logsDir, spec.name)
      await fs.mkdir(dir, { recursive: true })
      for (const n of lab.nodes.keys()) await fs.copyFile(lab.logFile(n) ?? '/dev/null', path.join(dir, `${n}.log`)).catch(() => {})
      say(`logs copied to ${dir}`)
    }
    if (lab !== undefined) { await lab.destroy(); say(`${spec.name} destroyed`) } else await backend.removeLab(spec.name).catch(() => {})
    onInterrupt = undefined
  }
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { bits: { type: 'string', default: '2,2,2,2' }, runs: { type: 'string', default: '1' }, logs: { type: 'string' }, 'fixed-cost': { type: 'string' } } })
  const bits = values.bits as string
  const runs = Number(values.runs)
  if (!Number.isInteger(runs) || runs < 1 || runs > 10) throw new Error('--runs must be 1..10')
  const fixedCostUs = values['fixed-cost'] === undefined ? undefined : Number(values['fixed-cost'])
  if (fixedCostUs !== undefined && (!Number.isInteger(fixedCostUs) || fixedCostUs < 1)) throw new Error('--fixed-cost must be a positive whole number of µs')
  const costs = fixedCostUs === undefined ? 'measured arc costs' : `fixed arc cost ${fixedCostUs} µs`
  const backend = makeBackend('netns')
  await backend.check()
  const python = await findPython()
  const started = Date.now()
  const say = (m: string): void => { process.stderr.write(`  [${sec(Date.now() - started)} s] ${m}\n`) }
  say(`${ROWS}x${COLS} grid of ntkd, topology bits ${bits}, ${costs}`)
  const rows: string[] = []
  const notes: string[] = []
  for (let k = 1; k <= runs; k++) {
    const r = await benchOnce(bits, fixedCostUs, python, values.logs, say)
    const rr = r.reroute
    const rerouteMs = rr.pingMs === undefined || rr.routeMs === undefined ? undefined : Math.max(rr.pingMs, rr.routeMs)
    const rssMax = Math.max(...r.rss)
    rows.push(`| ${k} | ${sec(r.deployMs)} | ${sec(r.upMs)} | ${sec(r.reachMs)}${mark(r.reachMs, TARGETS.reachabilityS * 1000)} | ${r.stable} | ` +
      `${sec(rerouteMs)}${mark(rerouteMs, TARGETS.rerouteS * 1000)} (ping ${sec(rr.pingMs)}, route ${sec(rr.routeMs)}) | ` +
      `${rssMax.toFixed(1)}${mark(rssMax, TARGETS.rssMb)} / ${median(r.rss).toFixed(1)} | ${Math.max(...r.hwm).toFixed(1)} |`)
    notes.push(`run ${k}: load average before ${r.loadBefore} on ${os.cpus().length} CPUs; daemons used ${r.cpuS.toFixed(1)} CPU-s in the ` +
      `${r.cpuWallS.toFixed(1)} s from deploy to full reachability; ${r.arcRemovals} arc removals logged by then; daemons answered over ${sec(r.upSpreadMs)} s; prober ready ${sec(-r.proberLagMs)} s before the last daemon answered; last pairs to answer: ${r.reach.slowest.join(', ')}` +
      (r.reach.failing.length > 0 ? `; never answered: ${r.reach.failing.slice(0, 5).join(', ')}${r.reach.failing.length > 5 ? ' …' : ''}` : '') +
      `; reroute ${rr.pair}: cut ${rr.link} (${rr.from ?? '?'} -> ${rr.to ?? '?'}), arc removed in the log after ${sec(rr.arcRemovedMs)} s`)
    process.stderr.write(rows[rows.length - 1] + '\n')
  }
  process.stdout.write(`ntkd lab bench: ${ROWS}x${COLS} grid, netns backend, lab timers, topology bits ${bits}, ${costs}; ICMP echo probes every 200 ms (reroute: 20 ms)\n\n` +
    `| run | deploy (s) | daemons up after deploy (s) | up -> all ${ROWS * COLS * (ROWS * COLS - 1)} pairs ping (s, ≤ ${TARGETS.reachabilityS}) | still all after | ` +
    `reroute (s, ≤ ${TARGETS.rerouteS}) | RSS max / median (MiB, ≤ ${TARGETS.rssMb}) | peak RSS max (MiB) |\n|---|---|---|---|---|---|---|---|\n` +
    rows.join('\n') + '\n\n' + notes.map(n => `- ${n}`).join('\n') + '\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
