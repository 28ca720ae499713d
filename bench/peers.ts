/*
 * PeerServices and Coordinator benchmark.
 *
 * In process (virtual clock): a grid of N nodes converges (QSPN), then every node gets PeerServices and a Coordinator;
 * three workloads run one after the other and each reports its requests' latency (virtual ms, from the client's
 * call to its answer; one-way link latency = half the link's RTT cost, 0.35-0.65 ms) and the messages per request
 * (neighbour legs + routed legs to the client; a routed leg crosses several hops, shown apart):
 *   - coordinator read: get_memory to the Coordinator of each level (from every node, or a sample of 200);
 *   - key lookup: a request for a random key of a non-optional service (H_t over the whole network);
 *   - reservation: a write to the whole network's Coordinator, with its 15 replicas (counted in its messages): alone,
 *     then 50 at once (writes during a replication are folded into one more pass with the newest memory).
 * In the lab (--lab, as root, under the lab lock): a 5x5 grid of ntkd on the netns backend; the round trip of a
 * Coordinator request measured by the daemons (ntkctl peers latency) and through the control socket.
 *
 *   npx ts-node --transpile-only bench/peers.ts [sizes...] [--lab] [--no-inprocess]   (default sizes: 100 1000)
 */
import { parseArgs } from 'node:util'
import os from 'node:os'
import { buildNetwork, gridTopology, type TopologySpec } from '../daemon/src/sim/topologies'
import { PeersNetwork } from '../daemon/src/sim/peers-network'
import { PeerServices } from '../daemon/src/peers'
import { Coordinator, registerCoordinatorMessages } from '../daemon/src/coordinator'
import { SeededRandom } from '../daemon/src/util/random'
import { expectedCoordinator, expectedServant } from '../daemon/test/helpers/peers-oracle'

const GSIZES = [8, 8, 8, 8]
const SHAPES: Record<number, [number, number]> = { 100: [10, 10], 500: [16, 32], 1000: [32, 32] }
const ECHO = 7

interface Node { peers: PeerServices, coord: Coordinator }
interface Row { size: number, workload: string, requests: number, failed: number, wrong: number, p50: number, p95: number, max: number, perRequest: number, hopsPerRouted: number, wallS: number }

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN }
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d

/** Runs the jobs at once (or one after the other, each settled, with `sequential`) and measures them. */
/** A job resolves true when the servant was the one the oracle prescribes. */
async function workload (pn: PeersNetwork<Node>, size: number, name: string, jobs: Array<() => Promise<boolean>>, settle?: () => Promise<void>, sequential = false): Promise<Row> {
  const t0 = Date.now()
  const before = { ...pn.traffic }
  const lat: number[] = []
  let failed = 0
  let wrong = 0
  const one = async (job: () => Promise<boolean>): Promise<void> => {
    const start = pn.clock.now()
    try {
      if (!await job()) wrong++
      lat.push(pn.clock.now() - start)
    } catch { failed++ }
  }
  if (sequential) {
    for (const job of jobs) { await pn.run(one(job), 3_600_000); await settle?.() }
  } else {
    await pn.run(Promise.all(jobs.map(one)), 24 * 3_600_000)
    await settle?.()
  }
  const msgs = (pn.traffic.neighbourMessages - before.neighbourMessages) + (pn.traffic.contactMessages - before.contactMessages)
  const routed = pn.traffic.contactMessages - before.contactMessages
  return {
    size, workload: name, requests: jobs.length, failed, wrong, p50: round(pct(lat, 0.5)), p95: round(pct(lat, 0.95)), max: round(Math.max(...lat)),
    perRequest: round(msgs / jobs.length), hopsPerRouted: round((pn.traffic.contactHops - before.contactHops) / Math.max(1, routed)), wallS: round((Date.now() - t0) / 1000)
  }
}

async function inProcess (size: number, say: (m: string) => void): Promise<Row[]> {
  const [w, h] = SHAPES[size] ?? [Math.ceil(Math.sqrt(size)), Math.ceil(size / Math.ceil(Math.sqrt(size)))]
  const rnd = new SeededRandom(size)
  const spec: TopologySpec = gridTopology(w, h, GSIZES, () => 700 + rnd.int(600))
  const t0 = Date.now()
  const sim = buildNetwork(spec, { seed: 1, latencyOf: c => c / 2000 })
  await sim.runUntilQuiescent({ maxVirtualMs: 600_000 })
  say(`${spec.nodes.length} nodes: QSPN converged in ${round((Date.now() - t0) / 1000)} s wall`)
  const pn = new PeersNetwork<Node>(sim, { seed: 2, registry: registerCoordinatorMessages })
  pn.attachAll((_, ports) => {
    const peers = new PeerServices(ports)
    peers.register({ pId: ECHO, optional: false, exec: () => ({ by: peers.naddr }) })
    return { peers, coord: new Coordinator(peers) }
  })
  const names = spec.nodes.map(n => n.name)
  const pick = new SeededRandom(7)
  const clients = names.length <= 200 ? names : Array.from({ length: 200 }, () => names[pick.int(names.length)])
  const rows: Row[] = []
  const same = (a: readonly number[], b: readonly number[] | undefined): boolean => b !== undefined && a.join('.') === b.join('.')
  rows.push(await workload(pn, spec.nodes.length, 'coordinator read (each level)', clients.flatMap(c => [1, 2, 3, 4].map(lvl => async () =>
    same((await pn.node(c).value.coord.memory(lvl)).servant, expectedCoordinator(spec, c, lvl)?.naddr)))))
  say(JSON.stringify(rows[rows.length - 1]))
  rows.push(await workload(pn, spec.nodes.length, 'key lookup (whole network)', clients.map((c, k) => async () => {
    const p = pn.node(c).value.peers
    const xbar = p.perfectTuple(`key-${k}`)
    const r = await p.contactPeer(ECHO, xbar, {}, { timeoutExecMs: 1000 })
    return same((r.response as { by: number[] }).by, expectedServant(spec, c, xbar, () => true)?.naddr)
  })))
  say(JSON.stringify(rows[rows.length - 1]))
  const replicated = async (): Promise<void> => {
    for (let i = 0; i < 10_000 && [...pn.nodes.values()].some(n => n.value.coord.replicationsRunning > 0); i++) await pn.runFor(500)
  }
  rows.push(await workload(pn, spec.nodes.length, 'reservation alone + its 15 replicas', clients.slice(0, 5).map((c, k) => async () => { await pn.node(c).value.coord.reserve(4, 20_000 + k); return true }), replicated, true))
  say(JSON.stringify(rows[rows.length - 1]))
  rows.push(await workload(pn, spec.nodes.length, '50 reservations at once + replicas (folded)', clients.slice(0, 50).map((c, k) => async () => { await pn.node(c).value.coord.reserve(4, 10_000 + k); return true }), replicated))
  say(JSON.stringify(rows[rows.length - 1]))
  const routingErrors = pn.traffic.routingErrors
  if (routingErrors > 0) say(`routing errors: ${routingErrors}: ${pn.routingProblems.slice(0, 3).join('; ')}`)
  return rows
}

async function lab (say: (m: string) => void): Promise<string> {
  const { deployLab } = await import('../lab/src/lab')
  const { makeBackend } = await import('../lab/src/backend')
  const { defaultKinds, parseTopology } = await import('../lab/src/topology')
  const { controlRequest } = await import('../daemon/src/node/control')
  const { netnsId } = await import('../lab/src/util/proc')
  const { randomBytes } = await import('node:crypto')
  // the 5x5 grid of bench/ntkd-lab.ts (bits 2,2,2,2): 2x2 blocks are level-1 g-nodes, rectangles at every level
  const prefix: Record<string, number[]> = { '0,0': [0, 0, 0], '0,1': [0, 0, 1], '1,0': [0, 1, 0], '1,1': [0, 1, 1], '0,2': [0, 2, 0], '1,2': [0, 2, 1], '2,0': [1, 0, 0], '2,1': [1, 0, 1], '2,2': [1, 1, 0] }
  const name = (r: number, c: number): string => `n${r}x${c}`
  const lines = ['name: peersgrid', 'defaults: { kind: ntkd }', 'nodes:']
  for (let r = 0; r < 5; r++) for (let c = 0; c < 5; c++) lines.push(`  ${name(r + 1, c + 1)}: { config: { topology: [2, 2, 2, 2], address: "${[...prefix[`${Math.floor(r / 2)},${Math.floor(c / 2)}`], (r % 2) * 2 + (c % 2)].join('.')}" } }`)
  lines.push('links:')
  for (let r = 1; r <= 5; r++) {
    for (let c = 1; c <= 5; c++) {
      if (c < 5) lines.push(`  - endpoints: [${name(r, c)}:e1, ${name(r, c + 1)}:e3]`)
      if (r < 5) lines.push(`  - endpoints: [${name(r, c)}:e2, ${name(r + 1, c)}:e4]`)
    }
  }
  const spec = { ...parseTopology(lines.join('\n') + '\n', 'peersgrid.yaml', defaultKinds()), name: `ntkpeers${randomBytes(2).toString('hex')}` }
  const backend = makeBackend('netns')
  await backend.check()
  const loadBefore = os.loadavg().map(x => x.toFixed(1)).join(' ')
  const running = await deployLab(spec, backend)
  try {
    const sock = new Map<string, string>()
    for (const [n, h] of running.nodes) sock.set(n, `/proc/${h.pid}/root/run/ntkd/ntkd-${(await netnsId(`/proc/${h.pid}/ns/net`))!.replace(/\D/g, '')}.sock`)
    const view = async (n: string): Promise<{ levels: Array<{ error?: string }> } | undefined> =>
      await controlRequest(sock.get(n)!, 'coordinator', { timeoutMs: 60_000 }).catch(() => undefined) as { levels: Array<{ error?: string }> } | undefined
    const t0 = Date.now()
    for (;;) {
      const vs = await Promise.all([...sock.keys()].map(view))
      if (vs.every(v => v !== undefined && v.levels.every(l => l.error === undefined))) break
      if (Date.now() - t0 > 180_000) throw new Error('Coordinator views incomplete after 180 s')
      await new Promise(resolve => setTimeout(resolve, 1000))
    }
    say(`5x5 grid: every node reaches every Coordinator ${round((Date.now() - t0) / 1000)} s after deploy`)
    // the daemons' own count from here on: note what they answered so far
    const answered = async (): Promise<Map<string, { answered: number, total: number, max: number }>> => new Map(await Promise.all([...sock].map(async ([n, s]) => {
      const p = await controlRequest(s, 'peers') as { services: Array<{ pId: number, answered: number, latencyMsAvg: number | null, latencyMsMax: number | null }> }
      const c = p.services.find(x => x.pId === 1)
      return [n, { answered: c?.answered ?? 0, total: (c?.latencyMsAvg ?? 0) * (c?.answered ?? 0), max: c?.latencyMsMax ?? 0 }] as const
    })))
    const measure = async (what: string, run: (rtt: number[]) => Promise<void>): Promise<string> => {
      const before = await answered()
      const rtt: number[] = []
      await run(rtt)
      const after = await answered()
      let count = 0; let total = 0
      for (const [n, a] of after) { const b = before.get(n)!; count += a.answered - b.answered; total += a.total - b.total }
      return `| ${what} | ${count} | ${round(total / Math.max(1, count))} | ${pct(rtt, 0.5)} / ${pct(rtt, 0.95)} / ${Math.max(...rtt)} |`
    }
    const reserve = async (n: string, id: number, rtt: number[]): Promise<void> => {
      const t = Date.now()
      await controlRequest(sock.get(n)!, 'coordinator', { args: ['reserve', '4', String(id)], timeoutMs: 60_000 })
      rtt.push(Date.now() - t)
    }
    // n1x1 is 0.0.0.0, the network's Coordinator; n5x5 the farthest node from it
    const counters = async (): Promise<Record<string, number>> => {
      const sums: Record<string, number> = {}
      for (const s of sock.values()) {
        const c = (await controlRequest(s, 'peers') as { counters: Record<string, number> }).counters
        for (const k of ['timeouts', 'redos', 'exclusions', 'contactFailures', 'noGateway', 'forwarded', 'retargeted', 'served']) sums[k] = (sums[k] ?? 0) + c[k]
      }
      return sums
    }
    const c0 = await counters()
    const rows = [
      await measure('one client (n5x5), 20 reservations one after the other', async rtt => { for (let k = 0; k < 20; k++) await reserve('n5x5', 1000 + k, rtt); say(`sequential round trips (ms): ${rtt.join(' ')}`) }),
      await measure('every node at once, 5 rounds of 25', async rtt => {
        for (let r = 0; r < 5; r++) await Promise.all([...sock.keys()].map(async n => await reserve(n, 2000 + r * 100 + Number(n.replace(/\D/g, '')), rtt)))
      })
    ]
    // what slowed requests down: timeouts, redos, exclusions, contact failures (all nodes, since deploy)
    const c1 = await counters()
    say(`counters over all daemons during the measures: ${JSON.stringify(Object.fromEntries(Object.entries(c1).map(([k, v]) => [k, v - (c0[k] ?? 0)])))}`)
    return rows.map(r => `${r} ${loadBefore} |`).join('\n')
  } finally {
    const logs = process.env.PEERS_BENCH_LOGS
    if (logs !== undefined) {
      const { mkdir, copyFile } = await import('node:fs/promises')
      await mkdir(logs, { recursive: true })
      for (const n of running.nodes.keys()) await copyFile(running.logFile(n) ?? '/dev/null', `${logs}/${n}.log`).catch(() => {})
    }
    await running.destroy()
  }
}

async function main (): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { lab: { type: 'boolean', default: false }, 'no-inprocess': { type: 'boolean', default: false } } })
  const sizes = positionals.length > 0 ? positionals.map(Number) : [100, 1000]
  const say = (m: string): void => { process.stderr.write(`  ${m}\n`) }
  const out: string[] = []
  if (values['no-inprocess'] !== true) {
    const rows: Row[] = []
    for (const s of sizes) rows.push(...await inProcess(s, say))
    out.push(`PeerServices in process: grids in ${[...GSIZES].reverse().join('·')}, link RTT 0.7-1.3 ms (one way = half), load ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs\n`,
      '| nodes | workload | requests | failed | wrong servant (oracle) | latency p50 / p95 / max (virtual ms) | messages per request | hops per routed leg | wall (s) |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows.map(r => `| ${r.size} | ${r.workload} | ${r.requests} | ${r.failed} | ${r.workload.includes('reservation') ? '-' : r.wrong} | ${r.p50} / ${r.p95} / ${r.max} | ${r.perRequest} | ${r.hopsPerRouted} | ${r.wallS} |`), '')
  }
  if (values.lab === true) {
    out.push('Reservations at the network Coordinator on a 5x5 grid of ntkd (netns, lab timers)\n',
      '| workload | requests measured by the daemons | latency avg (ms, daemon) | control round trip p50 / p95 / max (ms) | load before |',
      '|---|---|---|---|---|', await lab(say), '')
  }
  process.stdout.write(out.join('\n') + '\n')
}

main().catch((e: unknown) => { process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`); process.exitCode = 1 })
