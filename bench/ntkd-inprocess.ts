/*
 * Whole-daemon scale benchmark: one startNode per grid node (Neighborhood + QSPN over the wire codec + kernel sync
 * into an InMemoryKernel) in one process, over the in-memory network with a virtual clock. All daemons start at
 * t=0, links come up at once, and the clock runs until every node's map holds every existing g-node and no kernel
 * has changed for SETTLE_MS. Each size runs in its own child process (clean RSS). Prints a markdown table.
 *
 *   npx ts-node --transpile-only bench/ntkd-inprocess.ts [sizes...] [--kernel-interval-ms=N]    (default: 100 500 1000)
 */
import { rowInChild } from './in-child'
import { gridTopology, type TopologySpec } from '../daemon/src/sim/topologies'
import { SeededRandom } from '../daemon/src/util/random'
import { hcKey, maxDistinctGnode } from '../daemon/src/addressing'
import { type DaemonNetwork, runFor, startSpec } from '../daemon/test/helpers/inprocess-network'
import { RouteOracle } from '../daemon/test/helpers/route-oracle'
import { kernelProblems, mapProblems, unsyncedKernels } from '../daemon/test/helpers/daemon-checks'

/** 4 levels of 8 positions (level 0 first, bits [3,3,3,3]): 4096 addresses, at most 28 destinations per node. */
const GSIZES = [8, 8, 8, 8]
/** Grid shapes close to the wanted node count; g-nodes are rectangles so each is connected (as bench/qspn-scale). */
const SHAPES: Record<number, [number, number]> = { 100: [10, 10], 500: [16, 32], 1000: [32, 32] }
/** Virtual ms without any kernel change after which the network counts as settled. */
const SETTLE_MS = 10_000
/** V8 young-generation semi-space of each size's child process (MB). */
const SEMI_SPACE_MB = 256
/** Virtual ms between two completeness checks. */
const STEP_MS = 250
const MAX_VIRTUAL_MS = 600_000
/** The exact oracle (Dijkstra per node and level) is quadratic: verify maps and kernels up to this size. */
const VERIFY_UP_TO = 150

function topology (size: number): TopologySpec {
  const [w, h] = SHAPES[size] ?? [Math.ceil(Math.sqrt(size)), Math.ceil(size / Math.ceil(Math.sqrt(size)))]
  const rnd = new SeededRandom(size)
  // RTT-like fixed costs: 1 ms ± 30 %, per link; links have 1 ms latency
  return gridTopology(w, h, GSIZES, () => 700 + rnd.int(600))
}

interface Row {
  nodes: number
  links: number
  mapsCompleteMs: number | null
  convergedMs: number | null
  /** wall seconds until the step at which the network counted as converged */
  convergedWallS: number | null
  wallS: number
  cpuS: number
  messages: number
  mb: number
  applies: number
  kernelOps: number
  rssMb: number
  verified: string
}

/** Destination keys each node must end up knowing: the max-distinct g-node of every other node. */
function expectedDestinations (spec: TopologySpec): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const n of spec.nodes) {
    const s = new Set<string>()
    for (const m of spec.nodes) { const hc = maxDistinctGnode(n.naddr, m.naddr); if (hc !== null) s.add(hcKey(hc)) }
    out.set(n.name, s)
  }
  return out
}

function sent (dn: DaemonNetwork): { messages: number, bytes: number } {
  let messages = 0; let bytes = 0
  for (const d of dn.list()) { messages += d.codec.sent.messages; bytes += d.codec.sent.bytes }
  return { messages, bytes }
}

function kernelTotals (dn: DaemonNetwork): { applies: number, ops: number } {
  let applies = 0; let ops = 0
  for (const d of dn.list()) {
    const k = d.node.counters().kernel as { applies: number, ops: number }
    applies += k.applies; ops += k.ops
  }
  return { applies, ops }
}

async function run (size: number, kernelIntervalMs: number | undefined): Promise<Row> {
  const spec = topology(size)
  const want = expectedDestinations(spec)
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const dn = await startSpec(spec, kernelIntervalMs === undefined ? {} : { kernelIntervalMs })
  const incomplete = new Set(spec.nodes.map(n => n.name))
  let mapsCompleteMs: number | null = null
  let lastOps = -1
  let lastKernelChangeMs = 0
  // traffic sent by the end of each step, to report what convergence cost (not the liveness traffic after it)
  const sentAt = new Map<number, { messages: number, bytes: number }>()
  const wallAt = new Map<number, number>()
  while (dn.clock.now() < MAX_VIRTUAL_MS) {
    await runFor(dn.clock, STEP_MS)
    const now = dn.clock.now()
    const { ops } = kernelTotals(dn)
    if (ops !== lastOps) { lastOps = ops; lastKernelChangeMs = now }
    sentAt.set(now, sent(dn))
    wallAt.set(now, (performance.now() - t0) / 1000)
    if (mapsCompleteMs === null) {
      for (const name of [...incomplete]) {
        const got = new Set(dn.get(name).node.map().map(x => hcKey(x.hc)))
        const w = want.get(name) as Set<string>
        if (got.size === w.size && [...w].every(k => got.has(k))) incomplete.delete(name)
      }
      if (incomplete.size === 0) mapsCompleteMs = now
    } else if (now - lastKernelChangeMs >= SETTLE_MS) break
  }
  const wallS = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const cpuS = (cpu.user + cpu.system) / 1e6
  const settled = mapsCompleteMs !== null && dn.clock.now() - lastKernelChangeMs >= SETTLE_MS
  const convergedMs = settled ? Math.max(mapsCompleteMs as number, lastKernelChangeMs) : null
  let verified = 'not checked'
  if (spec.nodes.length <= VERIFY_UP_TO) {
    const oracle = RouteOracle.ofSpec(spec)
    const problems = [...mapProblems(dn, oracle, { alternatives: false }), ...await kernelProblems(dn, oracle), ...(await unsyncedKernels(dn)).map(n => `${n}: kernel differs from desired`)]
    verified = problems.length === 0 ? 'yes' : `NO: ${problems[0]}`
  }
  const { messages, bytes } = sentAt.get(convergedMs ?? dn.clock.now()) ?? sent(dn)
  const { applies, ops } = kernelTotals(dn)
  const rssMb = process.resourceUsage().maxRSS / 1024
  await dn.stopAll()
  const convergedWallS = convergedMs === null ? null : wallAt.get(convergedMs) ?? null
  return { nodes: spec.nodes.length, links: spec.links.length, mapsCompleteMs, convergedMs, convergedWallS, wallS, cpuS, messages, mb: bytes / 1e6, applies, kernelOps: ops, rssMb, verified }
}

function format (r: Row): string {
  const ms = (v: number | null): string => v === null ? `> ${MAX_VIRTUAL_MS}` : String(v)
  return `| ${r.nodes} | ${r.links} | ${ms(r.mapsCompleteMs)} | ${ms(r.convergedMs)} | ${r.convergedWallS?.toFixed(1) ?? '-'} | ${r.wallS.toFixed(1)} | ${r.cpuS.toFixed(1)} | ${r.messages} | ${r.mb.toFixed(1)} | ${(r.messages / r.nodes).toFixed(0)} | ${r.applies} | ${r.kernelOps} | ${r.rssMb.toFixed(0)} | ${r.verified} |`
}


async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const flag = (name: string): string | undefined => args.find(a => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  const kernelIntervalMs = flag('kernel-interval-ms') === undefined ? undefined : Number(flag('kernel-interval-ms'))
  const one = flag('one')
  if (one !== undefined) {
    const row = format(await run(Number(one), kernelIntervalMs))
    if (process.send !== undefined) process.send(row); else console.log(row)
    return
  }
  const sizes = args.filter(a => !a.startsWith('--')).map(Number).filter(n => n > 0)
  const flags = args.filter(a => a.startsWith('--'))
  console.log(`Whole ntkd daemons in process (Neighborhood + QSPN over the wire codec + InMemoryKernel), grid topologies, gsizes ${JSON.stringify(GSIZES)} (level 0 first), fixed costs 0.7-1.3 ms, 1 ms links, lab timers, kernel coalescing ${kernelIntervalMs ?? 50} ms; node --max-semi-space-size=${SEMI_SPACE_MB}\n`)
  console.log(`| nodes | links | maps complete (virtual ms) | converged: maps + kernels settled (virtual ms) | wall s until converged | wall s in all (+${SETTLE_MS / 1000} s virtual quiet) | CPU s | messages sent until converged | MB sent | messages/node | kernel applies | kernel ops | max RSS MB | verified |`)
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const size of sizes.length > 0 ? sizes : [100, 500, 1000]) console.log(await rowInChild(__filename, size, flags, SEMI_SPACE_MB))
}

main().catch(e => { console.error(e); process.exit(1) })
