import test from 'ava'
import { spawnSync } from 'node:child_process'
import { deployLab, type RunningLab } from '../src/lab'
import { defaultKinds, parseTopology } from '../src/topology'
import type { ResolvedLab } from '../src/topology/model'
import { parseScenarioFile, ScenarioError } from '../src/scenario/scenario-file'
import { ringLab } from '../src/scenario/simulated-lab'
import { runScenario } from '../src/scenario/runner'
import { probeReport } from '../src/scenario/probe'
import { backendMissing, checkedBackend, firstMissing, leftovers, missingTools, runnableIf, uniqueLabName } from './helpers/lab-fixture'

// Probes: a continuous ping started by one timeline step and ended by a later one, reporting how long traffic
// stopped in between. The report comes from `ping -D -O` output alone; on netns a link cut of 2 s shows as an
// outage of about 2 s (and fails a max-outage of 1 s), an undisturbed probe as none.

const T0 = 1_796_611_433
const reply = (seq: number, at: number): string => `[${(T0 + at).toFixed(6)}] 64 bytes from 10.0.0.62: icmp_seq=${seq} ttl=62 time=0.1 ms`
const noAnswer = (seq: number, at: number): string => `[${(T0 + at).toFixed(6)}] no answer yet for icmp_seq=${seq}`
const window = (from: number, to: number): { startMs: number, endMs: number } => ({ startMs: (T0 + from) * 1000, endMs: (T0 + to) * 1000 })

test('probe report: steady replies, no outage', t => {
  const out = ['PING 10.0.0.62 (10.0.0.62) 56(84) bytes of data.', ...[1, 2, 3, 4, 5].map(s => reply(s, s * 0.1))].join('\n')
  t.like(probeReport(out, 100), { sent: 5, received: 5, lost: 0, lossPercent: 0, longestOutageMs: 0, outages: [] })
  t.like(probeReport(out, 100, window(0.05, 0.55)), { longestOutageMs: 0, outages: [] }, 'started just before the first reply, ended just after the last')
})

test('probe report: requests without reply are an outage of about that many intervals; a late reply still counts', t => {
  const lines = [reply(1, 0.1), reply(2, 0.2), reply(3, 0.3)]
  for (let s = 4; s <= 8; s++) lines.push(noAnswer(s, s * 0.1 + 0.1))
  lines.push(reply(9, 0.9), reply(4, 0.95), reply(10, 1.0), `[${T0 + 1.0}] 64 bytes from 10.0.0.62: icmp_seq=10 ttl=62 time=0.1 ms (DUP!)`)
  const r = probeReport(lines.join('\n'), 100)
  t.like(r, { sent: 10, received: 6, lost: 4, lossPercent: 40 })
  t.deepEqual(r.outages, [{ atMs: 200, ms: 500 }], 'no reply between 0.3 s and 0.9 s: 0.5 s beyond the spacing')
})

test('probe report: requests that could not leave (no route: no numbers) still show as the time between replies', t => {
  const r = probeReport([reply(1, 0.1), reply(2, 0.2), 'ping: sendmsg: Network is unreachable', 'ping: sendmsg: Network is unreachable', reply(3, 2.2), reply(4, 2.3)].join('\n'), 100)
  t.like(r, { sent: 4, received: 4, lost: 0, longestOutageMs: 1900 })
})

test('probe report: nothing at the start or the end is measured from the probe\'s window, or counted in requests without one', t => {
  const lines = [noAnswer(1, 0.1), noAnswer(2, 0.2), reply(3, 0.3), reply(4, 0.4), noAnswer(5, 0.6), noAnswer(6, 0.7)]
  t.deepEqual(probeReport(lines.join('\n'), 100).outages.map(o => o.ms), [200, 200])
  t.deepEqual(probeReport(lines.join('\n'), 100, window(0, 1.4)).outages, [{ atMs: 400, ms: 900 }, { atMs: 0, ms: 200 }])
  t.like(probeReport('PING 10.0.0.1\n' + noAnswer(1, 0.1), 100), { sent: 1, received: 0, lost: 1, lossPercent: 100, longestOutageMs: 0 })
})

const lab6 = ringLab(6)
function problems (lines: string[]): string[] {
  try {
    parseScenarioFile(['topology: ring6.yaml', 'timeline:', ...lines].join('\n'), 'probes.yaml').compile(lab6)
  } catch (err) {
    if (err instanceof ScenarioError) return err.problems.map(p => `${p.line}:${p.path}: ${p.message}`)
    throw err
  }
  return []
}

test('probe steps are checked: a name started twice, an end without a start, a short interval, a bad loss, a missing target', t => {
  t.deepEqual(problems([
    '  - { probe: p1, node: r1, to: 10.0.0.1, interval: 50ms, for: 30s }',
    '  - { probe: p1, node: r2, to: 10.0.0.2 }',
    '  - { probe-end: p2 }',
    '  - { probe: p3, node: r1, to: 10.0.0.1, interval: 5ms }',
    '  - { probe-end: p1, max-loss: 120% }',
    '  - { probe: p4, node: r9, to: 10.0.0.1 }',
    '  - { probe: p5, node: r1 }',
    '  - { probe-end: p1, max-outage: 1s, max-loss: 5% }'
  ]), [
    '4:timeline[1].probe: probe p1 is started twice (end it with probe-end: p1 first, or use another name)',
    '5:timeline[2].probe-end: probe-end: "p2" names no probe started by an earlier step (running: p1)',
    '6:timeline[3].interval: interval 5ms is too short for a probe (at least 10ms)',
    '7:timeline[4].max-loss: max-loss "120%" is no percentage (0 to 100, e.g. 5%)',
    '8:timeline[5].node: unknown node "r9" (nodes: r1, r2, r3, r4, r5, r6)',
    '9:timeline[6].probe: a probe needs to: <address> (what the node pings)'
  ])
})

const PAIR = `name: probe2
defaults: { kind: linux }
nodes:
  a: { interfaces: { eth1: { ipv4: [169.254.61.1/24] } } }
  b: { interfaces: { eth1: { ipv4: [169.254.61.2/24] } } }
links:
  - { endpoints: [a:eth1, b:eth1] }
`

runnableIf(test.serial, firstMissing(backendMissing('netns'), missingTools('ping', 'pgrep')))('netns: a probe across a 2 s cut reports an outage of about 2 s and fails max-outage 1s; an undisturbed one reports none', async t => {
  const backend = await checkedBackend('netns')
  const spec: ResolvedLab = { ...parseTopology(PAIR, 'probe2.yaml', defaultKinds()), name: uniqueLabName('probe') }
  let lab: RunningLab | undefined
  t.teardown(async () => { await lab?.destroy().catch(() => {}) })
  lab = await deployLab(spec, backend)
  const pids = [...lab.nodes.values()].map(n => n.pid)
  const link = spec.links[0].id
  const run = async (lines: string[]): ReturnType<typeof runScenario> =>
    await runScenario(parseScenarioFile(['topology: probe2.yaml', 'timeline:', ...lines].join('\n'), 'p.yaml').compile(spec), lab as RunningLab, { seed: 1 })

  const cut = await run([
    '  - { probe: across, node: a, to: 169.254.61.2, interval: 50ms }',
    '  - { after: 1s, link: [a:eth1, b:eth1], state: down }',
    `  - { after: 2s, link: ${link}, state: up }`,
    '  - { after: 1s, probe-end: across, max-outage: 1s }'
  ])
  const end = cut.steps[3]
  t.is(end.status, 'failed', end.detail)
  const outage = end.metrics?.probe?.longestOutageMs ?? 0
  // the link was down at least from the end of the down step to the start of the up step, at most from the start of
  // one to the end of the other, plus the time the link takes to carry again (carrier, neighbour resolution; slower
  // on a loaded host)
  const [down, up] = [cut.steps[1], cut.steps[2]]
  const least = (up.startedMs ?? 0) - (down.endedMs ?? 0)
  const most = (up.endedMs ?? 0) - (down.startedMs ?? 0) + 1500
  t.true(least >= 1900, `the cut lasted ${least} ms`)
  t.true(outage >= least - 150 && outage <= most, `outage ${outage} ms for a cut of ${least}..${most} ms`)
  t.regex(end.error ?? '', /^traffic stopped for \d\.\d\d s, more than 1(\.00)?s \(sent \d+, received \d+, lost \d+/)
  t.log(`2 s cut: ${end.detail ?? ''}`)

  const calm = await run([
    '  - { probe: calm, node: b, to: 169.254.61.1, interval: 50ms }',
    '  - { after: 2s, probe-end: calm, max-outage: 1s, max-loss: 0% }'
  ])
  t.true(calm.passed, JSON.stringify(calm.steps.map(s => [s.status, s.detail, s.error])))
  // no loss; gaps between replies only of scheduling jitter on a loaded machine, far from the cut's 2 s
  t.like(calm.steps[1].metrics?.probe, { lost: 0 })
  t.true((calm.steps[1].metrics?.probe?.longestOutageMs ?? Infinity) < 500, `longest gap ${String(calm.steps[1].metrics?.probe?.longestOutageMs)} ms`)
  t.true((calm.steps[1].metrics?.probe?.received ?? 0) >= 30, 'about 40 replies in 2 s')

  const unended = await run(['  - { probe: left, node: a, to: 169.254.61.2, for: 60s }'])
  t.true(unended.passed)
  const ping = spawnSync('pgrep', ['-f', 'ping -D -O -n -i 0.1 -w 60 169.254.61.2'], { encoding: 'utf8' })
  t.is(ping.stdout.trim(), '', 'a probe the timeline did not end stops with the scenario')

  await lab.destroy()
  lab = undefined
  t.deepEqual(await leftovers(spec.name, pids), [])
})
