import test from 'ava'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { ManualClock } from '../src/scenario/clock'
import { runScenario } from '../src/scenario/runner'
import { parseScenarioFile } from '../src/scenario/scenario-file'
import { ringLab, SimulatedLab } from '../src/scenario/simulated-lab'
import { junitXml } from '../src/report/junit'

const lab = ringLab(6)

async function tempDir (t: { teardown: (f: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ntklab-bundle-test-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

const SPLIT = [
  'topology: ring6.yaml',
  'timeline:',
  '  - wait: converged',
  '  - at: 1s',
  '    link: [r1:eth2, r2:eth1]',
  '    state: down',
  '  - link: [r4:eth2, r5:eth1]',
  '    state: down',
  '  - wait: withdrawn',
  '    within: 4s',
  '  - expect: { reachability: partitions }'
].join('\n')

test('a deliberately failing scenario leaves a bundle with the diff, state dumps, log, timeline and graph', async t => {
  const dir = await tempDir(t)
  const log = path.join(dir, 'r1.log')
  await writeFile(log, 'babeld r1: route to 172.31.3.1 kept\n')
  const clock = new ManualClock()
  const withLog = new SimulatedLab(lab, { clock, convergeMs: 1000, keepRoutes: { r1: ['172.31.3.1/32'] }, logFiles: { r1: log } })
  const bundleDir = path.join(dir, 'bundle')
  const r = await runScenario(parseScenarioFile(SPLIT, 'split.yaml').compile(lab), withLog, { clock, seed: 9, bundleDir, statusCommands: { babeld: ['babel-status'] } })
  t.false(r.passed)
  const step = r.steps[3]
  t.is(step.status, 'failed')
  t.is(step.bundle, path.join(bundleDir, 'step-04-wait-withdrawn'))
  const b = step.bundle as string
  const files = (await readdir(b)).sort()
  t.deepEqual(files, ['diff.json', 'diff.txt', 'expected-routes.json', 'graph.dot', 'graph.mmd', 'graph.svg', 'nodes', 'state.json', 'timeline.json', 'timeline.txt'])
  t.deepEqual((await readdir(path.join(b, 'nodes'))).sort(), ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'])

  const diff = await readFile(path.join(b, 'diff.txt'), 'utf8')
  t.regex(diff, /step 4: wait withdrawn \(split\.yaml:9\)/)
  t.regex(diff, /last check: routes across the cut not withdrawn: 1 entries on 1 nodes \(r1\)/)
  t.regex(diff, /r1:\n {2}extra {3}172\.31\.3\.1\/32 \(of r3, unreachable\) via eth2/)
  const diffJson = JSON.parse(await readFile(path.join(b, 'diff.json'), 'utf8'))
  t.is(diffJson.routes[0].node, 'r1')
  t.is(diffJson.routes[0].extra[0].dst, '172.31.3.1/32')

  const r1 = path.join(b, 'nodes', 'r1')
  t.deepEqual((await readdir(r1)).sort(), ['addresses.json', 'iptables.txt', 'links.json', 'log.txt', 'namespaces.json', 'observation.json', 'routes.json', 'rules.json', 'status.txt'])
  const routes = JSON.parse(await readFile(path.join(r1, 'routes.json'), 'utf8')) as Array<{ dst: string }>
  t.true(routes.some(x => x.dst === '172.31.3.1/32'), 'the stale route is in the dump')
  t.deepEqual(JSON.parse(await readFile(path.join(r1, 'addresses.json'), 'utf8'))[1], { ifname: 'lo', address: '172.31.1.1', prefixlen: 32 })
  t.is(await readFile(path.join(r1, 'log.txt'), 'utf8'), 'babeld r1: route to 172.31.3.1 kept\n')
  t.regex(await readFile(path.join(r1, 'status.txt'), 'utf8'), /^\$ babel-status {2}\(exit 0\)/)

  const timeline = await readFile(path.join(b, 'timeline.txt'), 'utf8')
  t.regex(timeline, /^seed 9\n#\s+planned\s+actual\s+end\s+status\s+step\n/)
  t.regex(timeline, /2\s+1\.00s\s+1\.00s\s+1\.00s\s+passed\s+link r1:eth2--r2:eth1 down/)
  t.regex(timeline, /4\s+1\.00s\s+1\.00s\s+5\.00s\s+failed\s+wait withdrawn/)
  t.regex(timeline, /5\s+-\s+-\s+-\s+skipped\s+expect reachability/)

  const mmd = await readFile(path.join(b, 'graph.mmd'), 'utf8')
  t.regex(mmd, /subgraph partition_1\["partition 1"\]/)
  t.regex(mmd, /n_r1\["r1 \(babeld\)<br\/>1 extra"\]/)
  t.regex(mmd, /n_r1 -\.-\|"eth2 \/ eth1 DOWN"\| n_r2/)
  const dot = await readFile(path.join(b, 'graph.dot'), 'utf8')
  t.regex(dot, /subgraph cluster_partition_2/)
  t.regex(dot, /"r4" -- "r5" \[label="eth2 \/ eth1 DOWN", color="#dd0000", style=dashed/)
  t.regex(await readFile(path.join(b, 'graph.svg'), 'utf8'), /<svg[\s\S]*partition 1[\s\S]*<\/svg>/)

  const state = JSON.parse(await readFile(path.join(b, 'state.json'), 'utf8'))
  t.is(state.links['r1:eth2--r2:eth1'], 'down')
})

test('with keep a bundle is written for every step; without bundleDir none', async t => {
  const dir = await tempDir(t)
  const clock = new ManualClock()
  const ok = parseScenarioFile('topology: r.yaml\ntimeline:\n  - wait: converged\n  - expect: { reachability: all }\n', 's.yaml').compile(lab)
  const r = await runScenario(ok, new SimulatedLab(lab, { clock }), { clock, seed: 1, bundleDir: dir, keep: true })
  t.true(r.passed)
  t.deepEqual((await readdir(dir)).sort(), ['step-01-wait-converged', 'step-02-expect-reachability'])
  const r2 = await runScenario(ok, new SimulatedLab(lab, { clock }), { clock, seed: 1 })
  t.is(r2.steps[0].bundle, undefined)
})

test('JUnit XML has a testsuite per scenario and a testcase per step, the failure holding the diff', async t => {
  const clock = new ManualClock()
  const sim = new SimulatedLab(lab, { clock, convergeMs: 1000, keepRoutes: { r1: ['172.31.3.1/32'] } })
  const r = await runScenario(parseScenarioFile(SPLIT, 'split.yaml').compile(lab), sim, { clock, seed: 9 })
  const xml = junitXml([r])
  t.regex(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="ntklab" tests="5" failures="1" time="[0-9.]+">/)
  t.regex(xml, /<testsuite name="split" tests="5" failures="1" errors="0" skipped="1" time="5\.000"/)
  t.regex(xml, /<property name="seed" value="9"\/>/)
  t.regex(xml, /<testcase classname="ntklab\.split" name="01 wait converged" time="0\.000">\n\s+<system-out>converged in 0\.000s<\/system-out>/)
  t.regex(xml, /<testcase classname="ntklab\.split" name="04 wait withdrawn" time="4\.000">\n\s+<failure message="wait withdrawn: not satisfied within 4\.00s \(9 checks\): routes across the cut not withdrawn: 1 entries on 1 nodes \(r1\)" type="wait">/)
  t.regex(xml, /extra {3}172\.31\.3\.1\/32 \(of r3, unreachable\) via eth2/)
  t.regex(xml, /name="05 expect reachability" time="0\.000">\n\s+<skipped message="an earlier step failed"\/>/)
  t.is((xml.match(/<testcase /g) ?? []).length, 5)
  t.notRegex(xml.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, ''), /[<>]\s*[^<>\n]*&(?!amp;|lt;|gt;|quot;)/)
})
