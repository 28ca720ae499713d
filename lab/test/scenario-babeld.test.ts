import test from 'ava'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { deployLab, type RunningLab } from '../src/lab'
import { defaultKinds, loadTopology } from '../src/topology'
import { registerBabeld } from '../src/topology/kinds/babeld'
import type { ResolvedLab } from '../src/topology/model'
import { parseScenarioFile } from '../src/scenario/scenario-file'
import { runScenario } from '../src/scenario/runner'
import { formatSummary } from '../src/report/summary'
import { junitXml } from '../src/report/junit'
import { backendMissing, checkedBackend, firstMissing, leftovers, missingTools, runnableIf, uniqueLabName } from './helpers/lab-fixture'

// End to end: six babeld nodes in a ring on each backend, driven by the scenario files in
// topologies/scenarios/. Each test deploys once and runs the passing scenario, then the failing one.
const dir = path.join(__dirname, '..', '..', 'topologies', 'scenarios')

function kinds (): ReturnType<typeof defaultKinds> {
  const k = defaultKinds()
  if (!k.has('babeld')) registerBabeld(k)
  return k
}

async function scenario (file: string, lab: ResolvedLab): Promise<ReturnType<ReturnType<typeof parseScenarioFile>['compile']>> {
  const full = path.join(dir, file)
  return parseScenarioFile(await readFile(full, 'utf8'), full).compile(lab)
}

for (const backendName of ['netns', 'docker'] as const) {
  const serial = runnableIf(test.serial, firstMissing(missingTools('babeld'), backendMissing(backendName), missingTools('ping')))
  serial(`${backendName}: babeld ring of 6 converges, reroutes, splits, heals; a failing scenario leaves a bundle`, async t => {
    const backend = await checkedBackend(backendName)
    const spec: ResolvedLab = { ...loadTopology(path.join(dir, 'ring6-babeld.yaml'), kinds()), name: uniqueLabName(backendName === 'netns' ? 'sbn' : 'sbd') }
    const bundles = await mkdtemp(path.join(tmpdir(), 'ntklab-babeld-bundle-'))
    const pids: number[] = []
    let lab: RunningLab | undefined
    t.teardown(async () => {
      await lab?.destroy().catch(() => {})
      await backend.removeLab(spec.name).catch(() => {})
      await rm(bundles, { recursive: true, force: true })
    })
    const cuts = await scenario('ring6-cuts.yaml', spec)
    const fails = await scenario('ring6-fails.yaml', spec)
    lab = await deployLab(spec, backend, { progress: m => t.log(m) })
    for (const n of lab.nodes.values()) pids.push(n.pid)

    const r = await runScenario(cuts, lab, { progress: l => t.log(l), concurrency: 6 })
    t.log('\n' + formatSummary(r))
    t.true(r.passed, formatSummary(r))
    const step = (name: string): typeof r.steps[number] => r.steps.find(s => s.label === name) as typeof r.steps[number]
    for (const name of ['initial convergence', 'reroute around the cut', 'far side withdrawn', 'healed']) {
      const ms = step(name).metrics?.convergenceMs
      t.is(typeof ms, 'number', `${name}: convergence time measured`)
      t.true((ms as number) >= 0 && (ms as number) < 60_000, `${name}: ${String(ms)} ms`)
    }
    t.true((step('reroute around the cut').metrics?.churn?.samples ?? 0) > 0, 'routes sampled during rerouting')

    // The failing scenario: a bundle with diff, dumps, timeline and graph for the failed step.
    const f = await runScenario(fails, lab, { bundleDir: bundles, concurrency: 6 })
    t.false(f.passed)
    const failed = f.steps.find(s => s.status === 'failed')
    t.is(failed?.label, 'r1 still reaches r3 (wrong on purpose)')
    const b = failed?.bundle as string
    // babeld withdraws by installing an unreachable route (later flushed): either is a failure here
    t.regex(await readFile(path.join(b, 'diff.txt'), 'utf8'), /> r1->main->172\.31\.3\.1\/32(->type: expected "unicast", is "unreachable"|: missing)/)
    t.regex(await readFile(path.join(b, 'timeline.txt'), 'utf8'), /link r4:eth2--r5:eth1 down/)
    t.regex(await readFile(path.join(b, 'graph.dot'), 'utf8'), /cluster_partition_2/)
    t.deepEqual((await readdir(path.join(b, 'nodes'))).sort(), ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'])
    const routes = JSON.parse(await readFile(path.join(b, 'nodes', 'r1', 'routes.json'), 'utf8')) as Array<{ dst: string, protocol?: string, type?: string }>
    t.true(routes.some(x => x.dst.startsWith('172.31.6.1') && x.protocol === 'babel' && x.type === 'unicast'), 'r1 dump holds its babel route to r6')
    t.false(routes.some(x => x.dst.startsWith('172.31.3.1') && x.type === 'unicast'), 'and none to r3 across the cut')
    t.true(existsSync(path.join(b, 'nodes', 'r1', 'log.txt')), 'the daemon log is in the bundle')
    t.regex(await readFile(path.join(b, 'timeline.txt'), 'utf8'), /^seed 2\n/)
    t.regex(junitXml([r, f]), /failures="1"/)

    await lab.destroy()
    lab = undefined
    t.deepEqual(await leftovers(spec.name, pids), [], 'destroy leaves nothing behind')
  })
}
