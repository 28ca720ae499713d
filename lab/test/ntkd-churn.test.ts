import test from 'ava'
import path from 'node:path'
import { deployLab, type RunningLab } from '../src/lab'
import { defaultKinds, loadTopology } from '../src/topology'
import type { ResolvedLab } from '../src/topology/model'
import { checkedBackend, leftovers, uniqueLabName } from './helpers/lab-fixture'
import { logTail, netnsSkipReason } from './helpers/ntkd-daemons'
import { runChurn } from './helpers/ntkd-churn'

// The short variant of bench/ntkd-churn.ts (100 flaps within a minute on the ring of 6 and the 3x3 grid): 20 flaps
// within 12 s on the ring of 6.

const skip = netnsSkipReason()
const serial = skip === undefined ? test.serial : test.skip

serial(`netns: 20 link flaps within 12 s on the ring of 6: afterwards every table equals the model with no stale entry, no daemon died, and resident memory grew by at most 10 %${skip === undefined ? '' : ` (skipped: ${skip})`}`, async t => {
  const spec: ResolvedLab = { ...loadTopology(path.join(__dirname, '..', '..', 'topologies', 'ntkd-ring6.yaml'), defaultKinds()), name: uniqueLabName('ntkc') }
  const backend = await checkedBackend('netns')
  let lab: RunningLab | undefined
  t.teardown(async () => { await lab?.destroy().catch(() => {}); await backend.removeLab(spec.name).catch(() => {}) })
  lab = await deployLab(spec, backend)
  const pids = [...lab.nodes.values()].map(n => n.pid)
  const r = await runChurn(lab, { flaps: 20, withinMs: 12_000, seed: 20, settleMs: 5_000, log: l => t.log(l) })
  if (r.convergedMs === null || r.stale.length > 0) for (const n of ['a', 'c', 'e']) t.log(`--- ${n} log\n${await logTail(lab, n)}`)
  t.not(r.convergedMs, null, `converged after the churn:\n${r.routeDiff.join('\n')}`)
  t.deepEqual(r.stale, [], 'no stale entry')
  t.deepEqual(r.died, [], 'no daemon died')
  t.true(r.maxGrowthPct <= 10, `resident memory grew by at most 10 % (${r.maxGrowthPct.toFixed(1)} %: ${[...r.rssBeforeMb].map(([n, mb]) => `${n} ${mb.toFixed(1)} -> ${r.rssAfterMb.get(n)?.toFixed(1) ?? '?'}`).join(', ')} MiB)`)
  t.log(`${r.flaps} flaps in ${(r.flapMs / 1000).toFixed(1)} s; converged ${((r.convergedMs ?? 0) / 1000).toFixed(1)} s after; memory growth at most ${r.maxGrowthPct.toFixed(1)} %`)
  await lab.destroy()
  lab = undefined
  t.deepEqual(await leftovers(spec.name, pids), [])
})
