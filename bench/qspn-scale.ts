/*
 * QSPN scale benchmark: many identities in one process over the in-memory network with a virtual clock.
 * Every node creates its network at t=0 and all arcs come up at once (the worst burst), then the network runs
 * until quiescent. Prints a markdown table: virtual convergence time, wall time, messages and bytes.
 *
 *   npx ts-node --transpile-only bench/qspn-scale.ts [sizes...]     (default: 100 500 1000)
 */
import { buildNetwork, gridTopology, type TopologySpec } from '../daemon/src/sim/topologies'
import { checkMaps } from '../daemon/src/sim/check'
import { SeededRandom } from '../daemon/src/util/random'

/** 3 levels of 16 positions (level 0 first): 4096 addresses, at most 45 destinations per node. */
const GSIZES = [16, 16, 16]

/** Grid shapes close to the wanted node count; g-nodes are rectangles so each is connected. */
const SHAPES: Record<number, [number, number]> = { 100: [10, 10], 500: [20, 25], 1000: [25, 40], 2000: [40, 50] }

function topology (size: number, seed: number): TopologySpec {
  const [w, h] = SHAPES[size] ?? [Math.ceil(Math.sqrt(size)), Math.ceil(size / Math.ceil(Math.sqrt(size)))]
  const rnd = new SeededRandom(seed)
  // RTT-like costs: 1 ms ± 30 %, per link.
  return gridTopology(w, h, GSIZES, () => 700 + rnd.int(600))
}

/** Coalescing window of partial ETPs (QspnConfig.etpFlushMs); `--flush-ms=N` on the command line. */
let flushMs = 0

async function run (size: number): Promise<string> {
  const spec = topology(size, size)
  const t0 = process.hrtime.bigint()
  const net = buildNetwork(spec, { seed: 1, defaultLatencyMs: 1, qspn: { etpFlushMs: flushMs } })
  const r = await net.runUntilQuiescent({ maxVirtualMs: 600_000 })
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
  // The exact oracle (per-node Dijkstra) is quadratic; check the maps where it stays cheap.
  const verified = spec.nodes.length <= 150 ? (checkMaps(net, spec).length === 0 ? 'yes' : 'NO') : 'not checked'
  const destinations = net.nodes().reduce((s, n) => s + [0, 1, 2].reduce((a, l) => a + n.manager.getKnownDestinations(l).length, 0), 0) / spec.nodes.length
  const mb = (net.traffic.bytes / 1e6).toFixed(1)
  return `| ${spec.nodes.length} | ${spec.links.length} | ${destinations.toFixed(1)} | ${r.convergedAfterMs} | ${(wallMs / 1000).toFixed(1)} | ${net.traffic.messages} | ${mb} | ${(net.traffic.messages / spec.nodes.length).toFixed(0)} | ${verified} |`
}

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  flushMs = Number(args.find(a => a.startsWith('--flush-ms='))?.slice(11) ?? 0)
  const sizes = args.filter(a => !a.startsWith('--')).map(Number).filter(n => n > 0)
  console.log(`QSPN in-process convergence, grid topologies, gsizes ${JSON.stringify(GSIZES)} (level 0 first), one-way latency = cost/2 (RTT/2, 0.35-0.65 ms), ETP coalescing window ${flushMs} ms\n`)
  console.log('| nodes | links | destinations/node | virtual ms | wall s | messages | MB sent | messages/node | map verified |')
  console.log('|---|---|---|---|---|---|---|---|---|')
  for (const size of sizes.length > 0 ? sizes : [100, 500, 1000]) console.log(await run(size))
}

main().catch(e => { console.error(e); process.exit(1) })
