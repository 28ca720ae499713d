/*
 * QSPN scale benchmark: many identities in one process over the in-memory network with a virtual clock.
 * Every node creates its network at t=0 and all arcs come up at once (the worst burst), then the network runs
 * until quiescent. Prints a markdown table: virtual convergence time, wall and CPU time, messages, bytes, peak RSS
 * and whether the maps match the Dijkstra oracle (every node up to 150 nodes, a sample of 100 nodes above). Each
 * size runs in a child process of its own (its peak RSS alone) with a large V8 young generation, as
 * bench/ntkd-inprocess.ts does.
 *
 *   npx ts-node --transpile-only bench/qspn-scale.ts [sizes...] [--gsizes=8,8,8,8] [--latency=1|cost]
 *     [--flush-ms=N] [--info-ms=N] [--pacing-ms=N] [--hold-ms=N] [--fp-settle-ms=N]   (QSPN config; default: its defaults)
 *   (default sizes: 100 500 1000; without --gsizes, sizes above 4096 get a fifth level of 8: 8,8,8,8,8)
 */
import { rowInChild } from './in-child'
import { buildNetwork, gridTopology, type TopologySpec } from '../daemon/src/sim/topologies'
import { checkMaps } from '../daemon/src/sim/check'
import { SeededRandom } from '../daemon/src/util/random'
import { DEFAULT_QSPN_CONFIG } from '../daemon/src/qspn/config'

/**
 * 4 levels of 8 positions (level 0 first): 4096 addresses, at most 28 destinations per node. A real network of
 * this size has several levels (ntkd's IPv4 layouts use more, smaller levels); with 3 levels of 16 every
 * level-1 destination is reached over long chains of 16-node g-nodes, and the candidate paths per destination
 * (and the traffic) grow with the network instead of with the level count.
 */
let gsizes = [8, 8, 8, 8]
let gsizesGiven = false
/** V8 young-generation semi-space of each size's child process (MB): QSPN's messages are short-lived garbage. */
const SEMI_SPACE_MB = 256

/** Grid shapes near the wanted node count whose recursive tiling fits gsizes (g-nodes are connected rectangles). */
const SHAPES: Record<string, Record<number, [number, number]>> = {
  '8,8,8,8': { 100: [10, 10], 500: [16, 32], 1000: [32, 32], 4000: [64, 64] },
  '8,8,8,8,8': { 10000: [100, 100] },
  '16,16,16': { 100: [10, 10], 256: [16, 16], 500: [20, 25], 1000: [25, 40] }
}

/** Nodes checked against the oracle above this size: an even sample (the oracle is one Dijkstra per node). */
const FULL_CHECK_UP_TO = 150
const SAMPLE = 100

function topology (size: number, seed: number): TopologySpec {
  const shape = SHAPES[gsizes.join(',')]?.[size]
  const [w, h] = shape ?? [Math.ceil(Math.sqrt(size)), Math.ceil(size / Math.ceil(Math.sqrt(size)))]
  const rnd = new SeededRandom(seed)
  // RTT-like costs: 1 ms ± 30 %, per link.
  return gridTopology(w, h, gsizes, () => 700 + rnd.int(600))
}

let flushMs = 0
let infoMs = 0
let pacingMs: number | undefined
let holdMs: number | undefined
let settleMs: number | undefined
let latencyFromCost = false
let peakRss = 0
const sampleRss = (): void => { peakRss = Math.max(peakRss, process.memoryUsage().rss) }

async function run (size: number): Promise<string> {
  if (!gsizesGiven && size > 4096) gsizes = [8, 8, 8, 8, 8]
  const spec = topology(size, size)
  peakRss = 0
  const rssTimer = setInterval(sampleRss, 200)
  const t0 = process.hrtime.bigint()
  const cpu0 = process.cpuUsage()
  const qspn = { etpFlushMs: flushMs, infoFlushMs: infoMs, ...(pacingMs === undefined ? {} : { etpPacingMs: pacingMs }), ...(holdMs === undefined ? {} : { ownInfoHoldMs: holdMs }), ...(settleMs === undefined ? {} : { fingerprintSettleMs: settleMs }) }
  // --latency=cost: one-way latency = half the link's RTT cost, so messages arrive at scattered instants as on a real
  // network; otherwise every link takes 1 ms and nodes move in lock-step rounds.
  const net = buildNetwork(spec, { seed: 1, defaultLatencyMs: 1, ...(latencyFromCost ? { latencyOf: (c: number) => c / 2000 } : {}), qspn })
  const r = await net.runUntilQuiescent({ maxVirtualMs: 600_000 })
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
  const cpuS = (({ user, system }) => (user + system) / 1e6)(process.cpuUsage(cpu0))
  clearInterval(rssTimer)
  sampleRss()
  peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024)
  const names = spec.nodes.map(n => n.name)
  const step = Math.max(1, Math.floor(names.length / SAMPLE))
  const checked = names.length <= FULL_CHECK_UP_TO ? names : names.filter((_, k) => k % step === 0)
  const problems = checkMaps(net, spec, { only: checked })
  const verified = problems.length === 0
    ? (checked.length === names.length ? 'yes (all)' : `yes (${checked.length} sampled)`)
    : `NO: ${problems[0]}`
  const mb = (net.traffic.bytes / 1e6).toFixed(1)
  return `| ${spec.nodes.length} | ${gsizes.join(',')} | ${spec.links.length} | ${r.convergedAfterMs.toFixed(0)} | ${(wallMs / 1000).toFixed(1)} | ${cpuS.toFixed(1)} | ${net.traffic.messages} | ${mb} | ${(net.traffic.messages / spec.nodes.length).toFixed(0)} | ${(peakRss / 1e6).toFixed(0)} | ${verified} |`
}

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const opt = (name: string): string | undefined => args.find(a => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  flushMs = Number(opt('flush-ms') ?? 0)
  infoMs = Number(opt('info-ms') ?? 0)
  const num = (name: string): number | undefined => opt(name) === undefined ? undefined : Number(opt(name))
  pacingMs = num('pacing-ms')
  holdMs = num('hold-ms')
  settleMs = num('fp-settle-ms')
  const latency = opt('latency') ?? '1'
  if (latency !== '1' && latency !== 'cost') throw new Error(`--latency must be 1 or cost, got ${latency}`)
  latencyFromCost = latency === 'cost'
  gsizesGiven = opt('gsizes') !== undefined
  gsizes = (opt('gsizes') ?? gsizes.join(',')).split(',').map(Number)
  const sizes = args.filter(a => !a.startsWith('--')).map(Number).filter(n => n > 0)
  const one = num('one')
  if (one !== undefined) {
    const row = await run(one)
    if (process.send !== undefined) process.send(row); else console.log(row)
    return
  }
  const cfg = { ...DEFAULT_QSPN_CONFIG, etpFlushMs: flushMs, infoFlushMs: infoMs, ...(pacingMs === undefined ? {} : { etpPacingMs: pacingMs }), ...(holdMs === undefined ? {} : { ownInfoHoldMs: holdMs }), ...(settleMs === undefined ? {} : { fingerprintSettleMs: settleMs }) }
  console.log(`QSPN in-process convergence, grid topologies, gsizes ${JSON.stringify(gsizes)} (level 0 first), link costs 700-1300 µs, one-way latency ${latencyFromCost ? 'cost/2 (RTT/2)' : '1 ms'}, etpFlushMs ${cfg.etpFlushMs}, infoFlushMs ${cfg.infoFlushMs}, etpPacingMs ${cfg.etpPacingMs}, ownInfoHoldMs ${cfg.ownInfoHoldMs}, fingerprintSettleMs ${cfg.fingerprintSettleMs}\n`)
  console.log(`node --max-semi-space-size=${SEMI_SPACE_MB}, one child process per size, load ${(await import('node:os')).loadavg().map(l => l.toFixed(1)).join(' / ')}\n`)
  console.log('| nodes | gsizes | links | virtual convergence ms | wall s | CPU s | messages | bytes (MB) | messages/node | RSS MB (peak) | map verified |')
  console.log('|---|---|---|---|---|---|---|---|---|---|---|')
  const flags = args.filter(a => a.startsWith('--'))
  for (const size of sizes.length > 0 ? sizes : [100, 500, 1000]) console.log(await rowInChild(__filename, size, flags, SEMI_SPACE_MB))
}


main().catch(e => { console.error(e); process.exit(1) })
