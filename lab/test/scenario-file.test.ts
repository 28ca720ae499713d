import test from 'ava'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { loadScenario, parseScenarioFile, ScenarioError, scenarioFromLab } from '../src/scenario/scenario-file'
import { ringLab } from '../src/scenario/simulated-lab'
import { ntkctlArgv } from '../src/topology/kinds/ntkd'

const lab = ringLab(6)

function problems (text: string): string[] {
  try {
    parseScenarioFile(text, 'cuts.yaml').compile(lab)
  } catch (err) {
    if (err instanceof ScenarioError) return err.problems.map(p => `${p.line}:${p.path}: ${p.message}`)
    throw err
  }
  return []
}

test('a valid scenario compiles to steps with timing, events and source lines', t => {
  const sf = parseScenarioFile([
    'name: cuts',
    'topology: ../ring6.yaml',
    'seed: 7',
    'timeline:',
    '  - wait: converged',
    '    within: 20s',
    '  - at: 5s',
    '    link: [r2:eth1, r1:eth2]',
    '    state: down',
    '  - after: 500ms',
    '    node: r3',
    '    action: kill',
    '  - ntkctl: status --json',
    '    node: r4',
    '  - exec: ip route',
    '    node: r4',
    '    code: 0',
    '  - expect: { reachability: partitions, addresses: unique, routes: { r1: { main: { 172.31.2.1/32: null } } } }',
    '    hold: 1s'
  ].join('\n'), '/x/scen/cuts.yaml')
  t.is(sf.topology, '/x/ring6.yaml')
  t.is(sf.seed, 7)
  const s = sf.compile(lab)
  t.is(s.steps.length, 6)
  t.deepEqual(s.steps[0].event, { type: 'wait', condition: 'converged', within: 20_000, hold: 0, interval: 500, sample: undefined, nextHops: true })
  t.deepEqual(s.steps[1].timing, { at: 5000 })
  t.deepEqual(s.steps[1].event, { type: 'link', link: 'r1:eth2--r2:eth1', state: 'down', impair: undefined })
  t.is(s.steps[1].source?.line, 7)
  t.deepEqual(s.steps[2].timing, { after: 500 })
  t.deepEqual(s.steps[2].event, { type: 'node', node: 'r3', action: 'kill' })
  t.deepEqual(s.steps[3].event, { type: 'exec', node: 'r4', argv: ntkctlArgv(['status', '--json']), code: 0 }, 'ntkctl runs against the node\'s own daemon socket')
  t.deepEqual(s.steps[4].event, { type: 'exec', node: 'r4', argv: ['sh', '-c', 'ip route'], code: 0 })
  const e = s.steps[5].event
  t.is(e.type, 'expect')
  if (e.type === 'expect') {
    t.deepEqual(e.assertions.addresses, { unique: true })
    t.is(e.hold, 1000)
    t.is(e.within, 10_000)
  }
  t.is(s.steps[1].label, 'link r1:eth2--r2:eth1 down')
})

test('unknown keys, bad enums and bad durations are reported with line and key', t => {
  const p = problems([
    'topology: ring6.yaml',
    'timeline:',
    '  - at: 5 seconds',
    '    link: [r1:eth2, r2:eth1]',
    '    state: sideways',
    '  - wait: converged',
    '    whithin: 30s'
  ].join('\n'))
  t.deepEqual(p, [
    '3:timeline[0].at: not a duration (write e.g. 500ms, 2s, 1.5s, 1m)',
    '5:timeline[0].state: must be one of "up", "down"',
    '7:timeline[1].whithin: unknown key "whithin"'
  ])
})

test('steps are checked against the topology: nodes, links, one event per step', t => {
  const p = problems([
    'topology: ring6.yaml',
    'timeline:',
    '  - link: [r1:eth2, r3:eth1]',
    '    state: down',
    '  - node: r9',
    '    action: stop',
    '  - link: [r1:eth2, r2:eth1]',
    '    state: down',
    '    action: stop',
    '  - within: 3s',
    '  - expect: { routes: { r7: { main: {} } } }',
    '  - at: 10s',
    '    wait: converged',
    '  - at: 5s',
    '    wait: reachable'
  ].join('\n'))
  t.deepEqual(p, [
    '3:timeline[0].link: no link r1:eth2 -- r3:eth1 in the topology',
    '5:timeline[1].node: unknown node "r9" (nodes: r1, r2, r3, r4, r5, r6)',
    '9:timeline[2].action: action does not belong to a link step (it takes link, state, impair)',
    '10:timeline[3]: a step needs one event: link, hear, node, exec, ntkctl, together, probe, probe-end, wait, expect',
    '11:timeline[4].expect.routes.r7: unknown node "r7"',
    '14:timeline[6].at: at 5s is earlier than a previous step\'s at 10s'
  ])
})

test('a key that belongs to another event is named', t => {
  t.deepEqual(problems('topology: x.yaml\ntimeline:\n  - wait: converged\n    state: up\n'), [
    '4:timeline[0].state: state does not belong to a wait step (it takes wait, within, hold, interval, sample, next-hops)'
  ])
})

test('missing top-level keys and YAML errors are reported before anything runs', t => {
  t.deepEqual(problems('timeline: []\n'), ['1:: missing key "topology"'])
  const dup = problems('topology: a.yaml\ntopology: b.yaml\ntimeline: []\n')
  t.is(dup.length, 1)
  t.regex(dup[0], /^2:topology: duplicate key "topology"/)
})

test('ScenarioError names the file, line and key in its message', t => {
  const err = t.throws(() => parseScenarioFile('topology: r.yaml\ntimeline:\n  - wait: sideways\n', 'scen/bad.yaml').compile(lab), { instanceOf: ScenarioError })
  t.is(err?.name, 'ScenarioError')
  t.regex(err?.message ?? '', /invalid scenario scen\/bad\.yaml \(1 problem\):\n {2}scen\/bad\.yaml:3: timeline\[0\]\.wait: /)
})

test('loadScenario resolves the topology next to the scenario and compiles against it', async t => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ntklab-scenario-test-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(path.join(dir, 's.yaml'), 'topology: ring.yaml\ntimeline:\n  - link: random\n    state: down\n')
  const seen: string[] = []
  const { scenario } = await loadScenario(path.join(dir, 's.yaml'), async f => { seen.push(f); return lab })
  t.deepEqual(seen, [path.join(dir, 'ring.yaml')])
  t.deepEqual(scenario.steps[0].event, { type: 'link', link: 'random', state: 'down', impair: undefined })
})

test('a timeline inside a topology file is compiled with that file\'s lines', async t => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ntklab-scenario-test-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = path.join(dir, 'topo.yaml')
  await writeFile(file, 'name: ring6\nnodes: {}\ntimeline:\n  - wait: converged\n  - node: r1\n    action: explode\n')
  const err = t.throws(() => scenarioFromLab({ ...lab, file, timeline: [{ wait: 'converged' }, { node: 'r1', action: 'explode' }] }), { instanceOf: ScenarioError })
  t.deepEqual(err?.problems.map(p => [p.line, p.path]), [[6, 'timeline[1].action']])
})

test('two events in one step are refused', t => {
  t.deepEqual(problems('topology: x.yaml\ntimeline:\n  - wait: converged\n    expect: { converged: true }\n'), [
    '3:timeline[0]: a step has one event, this one has wait and expect'
  ])
})
