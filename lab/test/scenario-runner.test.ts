import test from 'ava'
import { ManualClock } from '../src/scenario/clock'
import { runScenario } from '../src/scenario/runner'
import { parseScenarioFile } from '../src/scenario/scenario-file'
import { ringLab, SimulatedLab } from '../src/scenario/simulated-lab'
import { formatSummary } from '../src/report/summary'
import { countChurn, findLoops, snapshot } from '../src/scenario/sampling'
import { initialState } from '../src/scenario/lab-state'
import { defaultRouteModels } from '../src/scenario/route-model'

const lab = ringLab(6)
const scenario = (lines: string[]): ReturnType<ReturnType<typeof parseScenarioFile>['compile']> =>
  parseScenarioFile(['topology: ring6.yaml', 'timeline:', ...lines].join('\n'), 'ring6-cuts.yaml').compile(lab)

const RING_CUTS = [
  '  - wait: converged',
  '  - at: 5s',
  '    link: [r1:eth2, r2:eth1]',
  '    state: down',
  '  - wait: converged',
  '  - expect: { reachability: partitions }',
  '  - after: 1s',
  '    link: [r4:eth2, r5:eth1]',
  '    state: down',
  '  - wait: withdrawn',
  '  - expect: { reachability: partitions, components: [[r1, r5, r6], [r2, r3, r4]] }',
  '  - at: 30s',
  '    link: [r1:eth2, r2:eth1]',
  '    state: up',
  '  - after: 0s',
  '    link: [r4:eth2, r5:eth1]',
  '    state: up',
  '  - wait: { converged: true, reachability: all }'
]

test('a ring of 6 through two cuts and a heal: events on time, convergence measured, all steps pass', async t => {
  const clock = new ManualClock()
  const sim = new SimulatedLab(lab, { clock, convergeMs: 2000 })
  const lines: string[] = []
  const r = await runScenario(scenario(RING_CUTS), sim, { clock, seed: 1, progress: l => lines.push(l) })
  t.true(r.passed, formatSummary(r))
  t.is(r.seed, 1)
  t.deepEqual(r.steps.map(s => s.status), Array(r.steps.length).fill('passed'))
  // events happened when planned
  t.deepEqual(sim.actions.map(a => [a.at, a.action]), [
    [5000, 'link r1:eth2--r2:eth1 down'],
    [r.steps[4].startedMs, 'link r4:eth2--r5:eth1 down'],
    [30_000, 'link r1:eth2--r2:eth1 up'],
    [30_000, 'link r4:eth2--r5:eth1 up']
  ])
  t.is(r.steps[1].plannedMs, 5000)
  t.is(r.steps[1].startedMs, 5000)
  t.is(r.steps[4].plannedMs, (r.steps[3].endedMs as number) + 1000, 'after: counts from the end of the previous step')
  // the simulated daemons take 2 s: checks every 500 ms see it at 2 s
  t.is(r.steps[2].metrics?.convergenceMs, 2000)
  t.is(r.steps[5].metrics?.convergenceMs, 2000)
  t.is(r.steps[3].metrics?.convergenceMs, undefined, 'an expect asserts, it does not measure')
  t.is(r.steps[5].metrics?.stableAtMs, 2000 + 2000, 'withdrawn holds 2 s by default')
  t.is(r.steps[9].metrics?.convergenceMs, 2000)
  t.regex(lines[0], /scenario ring6-cuts on lab ring6: 10 steps, seed 1/)
  t.true(lines.some(l => /2\/10 link r1:eth2--r2:eth1 down: passed/.test(l)))
  const summary = formatSummary(r)
  t.regex(summary, /PASSED/)
  t.regex(summary, /convergence: 0ms, 2\.00s, 2\.00s, 2\.00s\n/, summary)
})

test('an at step that comes due while an earlier step runs starts late, and the log shows both times', async t => {
  const clock = new ManualClock()
  const sim = new SimulatedLab(lab, { clock, convergeMs: 3000 })
  const r = await runScenario(scenario([
    '  - link: [r1:eth2, r2:eth1]',
    '    state: down',
    '  - wait: converged',
    '  - at: 1s',
    '    link: [r1:eth2, r2:eth1]',
    '    state: up'
  ]), sim, { clock, seed: 1 })
  t.true(r.passed)
  t.is(r.steps[2].plannedMs, 1000)
  t.is(r.steps[2].startedMs, 3000)
})

test('random link choices are seeded: the same seed picks the same links', async t => {
  const run = async (seed: number): Promise<string[]> => {
    const clock = new ManualClock()
    const sim = new SimulatedLab(lab, { clock })
    const r = await runScenario(scenario(['  - link: random', '    state: down', '  - link: random', '    state: down']), sim, { clock, seed })
    return r.steps.map(s => s.detail ?? '')
  }
  const a = await run(42)
  t.deepEqual(await run(42), a)
  t.regex(a[0], /^picked r\d:eth2--r\d:eth1$/)
  t.not(a[0], a[1], 'a link already down is not picked again')
})

test('a failing step stops the timeline, keeps the last diff and skips the rest', async t => {
  const clock = new ManualClock()
  // r1 never withdraws its route to r3 (a withdrawal bug)
  const sim = new SimulatedLab(lab, { clock, convergeMs: 1000, keepRoutes: { r1: ['172.31.3.1/32'] } })
  const r = await runScenario(scenario([
    '  - link: [r1:eth2, r2:eth1]',
    '    state: down',
    '  - link: [r4:eth2, r5:eth1]',
    '    state: down',
    '  - wait: withdrawn',
    '    within: 5s',
    '  - expect: { reachability: partitions }'
  ]), sim, { clock, seed: 3 })
  t.false(r.passed)
  t.deepEqual(r.steps.map(s => s.status), ['passed', 'passed', 'failed', 'skipped'])
  t.regex(r.steps[2].error ?? '', /wait withdrawn: not satisfied within 5\.00s/)
  t.deepEqual(r.steps[2].diff?.lines, ['r1:', '  extra   172.31.3.1/32 (of r3, unreachable) via eth2'])
  t.regex(formatSummary(r), /3 +wait withdrawn +.* FAILED +wait withdrawn: not satisfied/)
})

test('an exec step fails on an unexpected exit code and shows the output', async t => {
  const clock = new ManualClock()
  const sim = new SimulatedLab(lab, { clock, execResults: (node, argv) => argv.includes('ntkctl') ? { code: 2, stdout: '', stderr: `${node}: no daemon` } : undefined })
  const r = await runScenario(scenario(['  - ntkctl: status', '    node: r2']), sim, { clock, seed: 1 })
  t.is(r.steps[0].status, 'failed')
  t.is(r.steps[0].error, 'exited 2, expected 0')
  t.deepEqual(r.steps[0].diff?.lines, ['r2: no daemon'])
})

test('node stop and start take the node out of the expectations and back', async t => {
  const clock = new ManualClock()
  const sim = new SimulatedLab(lab, { clock, convergeMs: 1000 })
  const r = await runScenario(scenario([
    '  - node: r4',
    '    action: stop',
    '  - wait: { converged: true, reachability: partitions }',
    '  - node: r4',
    '    action: start',
    '  - wait: converged'
  ]), sim, { clock, seed: 1 })
  t.true(r.passed, formatSummary(r))
  t.deepEqual(sim.actions.map(a => a.action), ['stop r4 SIGTERM', 'start r4'])
})

test('route snapshots count churn and find forwarding loops', t => {
  const models = defaultRouteModels()
  const s = initialState(lab)
  const obs = (routes: Record<string, Array<[string, string]>>): Map<string, { addresses: never[], routes: Array<{ dst: string, dev: string, protocol: string }> }> =>
    new Map(Object.entries(routes).map(([n, rs]) => [n, { addresses: [], routes: rs.map(([dst, dev]) => ({ dst, dev, protocol: 'babel' })) }]))
  const a = snapshot(obs({ r1: [['172.31.4.1', 'eth2']], r2: [['172.31.4.1', 'eth2']] }), models, lab)
  // r2 now points back at r1 (eth1) for r4, and r1 still points at r2: a loop
  const b = snapshot(obs({ r1: [['172.31.4.1', 'eth2']], r2: [['172.31.4.1', 'eth1'], ['172.31.5.1', 'eth2']] }), models, lab)
  t.is(countChurn(a, b), 2)
  t.deepEqual(findLoops(a, lab, s), [])
  t.deepEqual(findLoops(b, lab, s), ['r1 -> r2 -> r1 for 172.31.4.1/32', 'r2 -> r1 -> r2 for 172.31.4.1/32'])
})
