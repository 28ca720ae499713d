import test from 'ava'
import { deployLab, type RunningLab } from '../src/lab'
import { HYGIENE_CATEGORIES, LeftoverTracker, daemonsAnswer, hygieneTopology, isDockerBridge, type Leftovers } from '../src/hygiene'
import { backendMissing, checkedBackend, firstMissing, missingTools, runnableIf, uniqueLabName } from './helpers/lab-fixture'

// The short variant of bench/lab-hygiene.ts: one deploy/destroy cycle of the hygiene lab (a line of 3 ntkd, a ring
// of 4 linux nodes) per backend. While the lab runs, the counter finds it in every category that backend uses (so a
// count of zero means something); once destroyed, nothing of it is left.

const counts = (l: Leftovers): Record<string, number> => Object.fromEntries(HYGIENE_CATEGORIES.map(c => [c, l[c].length]))

for (const backendName of ['netns', 'docker'] as const) {
  runnableIf(test.serial, firstMissing(backendMissing(backendName), missingTools('iptables')))(`${backendName}: the counter sees a running lab in every category, and nothing once it is destroyed`, async t => {
    const backend = await checkedBackend(backendName)
    const name = uniqueLabName(backendName === 'netns' ? 'hygn' : 'hygd')
    let lab: RunningLab | undefined
    t.teardown(async () => { await lab?.destroy().catch(() => {}); await backend.removeLab(name).catch(() => {}) })
    const tracker = await LeftoverTracker.start()
    lab = await deployLab(hygieneTopology(name), backend)
    await tracker.recordDeployed(lab)
    t.deepEqual(await daemonsAnswer(lab, 30_000), [], 'every daemon answers')

    const running = counts(await tracker.count())
    t.is(running['network namespaces'], 7, 'one per node')
    t.true(running.mounts >= 7, `netns mounts: ${running.mounts}`)
    t.true(running.processes >= 7 + 3, `holders and daemons: ${running.processes}`)
    if (backendName === 'docker') t.is(running.containers, 7)
    t.is(running['host rt_tables'], 0, "running daemons write their node's rt_tables, never the host's")
    // the run directory and the backend's state directory; on netns the daemons' control sockets are the host's
    t.true(running['run files and sockets'] >= (backendName === 'netns' ? 2 + 3 : 2), `run files: ${running['run files and sockets']}`)

    await lab.destroy()
    lab = undefined
    await tracker.recordDestroyed(name)
    const left = await tracker.count()
    t.deepEqual(left, Object.fromEntries(HYGIENE_CATEGORIES.map(c => [c, []])) as unknown as Leftovers, 'nothing of the lab is left')
  })
}

test('veths on Docker\'s own bridges are not a lab\'s (its containers have no Docker network): tests that build images meanwhile', t => {
  t.true(isDockerBridge('docker0'))
  t.true(isDockerBridge('br-0123456789ab'))
  for (const m of [undefined, '', 'ntklab0', 'br-lab', 'eth1', 42]) t.false(isDockerBridge(m), String(m))
})
