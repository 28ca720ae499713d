import test, { type ExecutionContext } from 'ava'
import path from 'node:path'
import { deployLab, type RunningLab } from '../src/lab'
import { defaultKinds, loadTopology } from '../src/topology'
import type { ResolvedLab } from '../src/topology/model'
import { scenarioFromLab } from '../src/scenario/scenario-file'
import { runScenario } from '../src/scenario/runner'
import { ntkdStatuses } from '../src/scenario/ntkd-taken'
import { assertNothingStale } from './helpers/ntkd-formed'
import { backendMissing, checkedBackend, leftovers, runnableIf, uniqueLabName } from './helpers/lab-fixture'

// Networks that meet merge by themselves, on real kernels (netns), addresses never configured:
// topologies/merge/two-lines.yaml. Each line of four daemons founds one network (Hooking among lone daemons), then
// the link between the lines comes up and the two networks become one: one network id, unique global addresses,
// every node's ntk table equal to the model computed from the addresses the daemons took, all pairs ping. Nothing
// stale is left: no ntkv* namespace, no pseudo-interface, one identity per node. topologies/split/ring-cut.yaml: a
// network cut in two goes on as two networks (each with its own id, routing inside) and merges again when healed.
// topologies/merge/grid-line.yaml: a 5x5 grid meets a line of five (issue 13); its formation alone can take minutes
// on a loaded 2-core machine, so that case gets a longer test timeout and runs only with NTK_LAB_SLOW=1 (CI keeps the
// smaller merges: a 25-daemon formation still shows rare Hooking races, README "Known limits").

const DIR = path.join(__dirname, '..', '..', 'topologies')

const CASES: Array<[string, 'netns' | 'docker', string]> = [
  ['merge/two-lines.yaml', 'netns', 'two lines of four ntkd without addresses become two networks, then one when a link joins them'],
  ['merge/two-rings.yaml', 'netns', 'two rings of six ntkd without addresses become two networks, then one when two links join them at once'],
  ['merge/grid-line.yaml', 'netns', 'a 5x5 grid and a line of five ntkd without addresses become two networks, then one when a link joins them'],
  ['split/ring-cut.yaml', 'netns', 'a ring of eight cut in two lives on as two networks (withdrawn routes, two ids, each routing inside), and merges again when healed'],
  ['merge/two-lines.yaml', 'docker', 'two lines of four ntkd without addresses become two networks, then one when a link joins them']
]

const SLOW = new Set(['merge/grid-line.yaml'])
/** A slow case left out on purpose: skipped with the reason in its title (not a missing backend, so never a failure). */
const skippedAsSlow = (why: string) => (title: string, impl: (t: ExecutionContext) => Promise<void>): void => { test.skip(`${title} (skipped: ${why})`, impl) }
const slowSkipped = (file: string): string | undefined => SLOW.has(file) && process.env.NTK_LAB_SLOW !== '1' ? 'a formation of 30 daemons that takes minutes: NTK_LAB_SLOW=1 runs it' : undefined

for (const [file, backendName, title] of CASES) (slowSkipped(file) === undefined ? runnableIf(test.serial, backendMissing(backendName)) : skippedAsSlow(slowSkipped(file) as string))(`${backendName}: ${title}; nothing stale left`, async t => {
  if (file === 'merge/grid-line.yaml') t.timeout(12 * 60_000)
  const backend = await checkedBackend(backendName)
  const base = loadTopology(path.join(DIR, file), defaultKinds())
  const spec: ResolvedLab = { ...base, name: uniqueLabName('merge') }
  let lab: RunningLab | undefined
  t.teardown(async () => { await lab?.destroy().catch(() => {}) })
  lab = await deployLab(spec, backend)
  const pids = [...lab.nodes.values()].map(n => n.pid)
  const r = await runScenario(scenarioFromLab(spec), lab, { seed: 1 })
  const failed = r.steps.find(s => s.status === 'failed')
  t.true(r.passed, `failed at ${failed?.label ?? '?'}: ${failed?.error ?? ''}\n${(failed?.diff?.lines ?? []).slice(0, 40).join('\n')}`)
  t.log(r.steps.map(s => `${s.label}: ${s.status} ${s.startedMs === undefined || s.endedMs === undefined ? '' : `${((s.endedMs - s.startedMs) / 1000).toFixed(1)} s`}`).join('\n'))

  const after = await ntkdStatuses(lab, spec.nodes.map(n => n.name))
  const ids = new Set([...after.values()].map(s => typeof s === 'string' ? s : s.networkId))
  t.is(ids.size, 1, `one network id: ${[...ids].join(', ')}`)
  const addrs = [...after.values()].map(s => typeof s === 'string' ? s : s.address)
  t.is(new Set(addrs).size, addrs.length, `unique addresses: ${addrs.join(', ')}`)
  await assertNothingStale(t, lab, spec.nodes.map(n => n.name))
  await lab.destroy()
  lab = undefined
  t.deepEqual(await leftovers(spec.name, pids), [])
})
