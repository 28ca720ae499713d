/*
 * Link churn on real ntkd daemons (netns backend, lab timers): 100 link flaps (a random link down, then up) within a
 * minute on topologies/ntkd-ring6.yaml and topologies/ntkd-grid3x3.yaml; afterwards every ntk table must equal the
 * route model with no stale entry in any kernel or arc, no daemon may have died, and each daemon's resident memory
 * may have grown by at most 10 % (warm against warm: see lab/test/helpers/ntkd-churn.ts). Prints a markdown table;
 * exits 1 when a target is missed. As root, under the lab lock:
 *
 *   flock /tmp/ntk-lab.lock npx ts-node --transpile-only bench/ntkd-churn.ts [--flaps 100] [--within 60] [--seed 1] [--topology ring6|grid3x3]...
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { makeBackend } from '../lab/src/backend'
import { deployLab, type RunningLab } from '../lab/src/lab'
import { defaultKinds, loadTopology } from '../lab/src/topology'
import { runChurn, type ChurnResult } from '../lab/test/helpers/ntkd-churn'

const { values } = parseArgs({
  options: {
    flaps: { type: 'string', default: '100' },
    within: { type: 'string', default: '60' },
    seed: { type: 'string', default: '1' },
    topology: { type: 'string', multiple: true, default: ['ring6', 'grid3x3'] }
  }
})
const MAX_GROWTH_PCT = 10

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }

async function one (name: string, flaps: number, withinS: number, seed: number): Promise<ChurnResult> {
  const spec = { ...loadTopology(path.join(__dirname, '..', 'topologies', `ntkd-${name}.yaml`), defaultKinds()), name: `churn-${name}`.slice(0, 20) }
  const backend = makeBackend('netns')
  await backend.check()
  await backend.removeLab(spec.name).catch(() => {})
  let lab: RunningLab | undefined
  try {
    lab = await deployLab(spec, backend)
    return await runChurn(lab, { flaps, withinMs: withinS * 1000, seed, log: l => process.stderr.write(`${name}: ${l}\n`) })
  } finally {
    await lab?.destroy().catch(() => {})
    await backend.removeLab(spec.name).catch(() => {})
  }
}

async function main (): Promise<number> {
  const flaps = Number(values.flaps)
  const within = Number(values.within)
  const seed = Number(values.seed)
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  const rows: string[] = []
  let ok = true
  for (const name of values.topology ?? []) {
    const r = await one(name, flaps, within, seed)
    const before = [...r.rssBeforeMb.values()]
    const after = [...r.rssAfterMb.values()]
    const pass = r.convergedMs !== null && r.stale.length === 0 && r.died.length === 0 && r.maxGrowthPct <= MAX_GROWTH_PCT
    ok &&= pass
    rows.push(`| ${name} | ${r.daemons} | ${r.flaps} in ${(r.flapMs / 1000).toFixed(1)} s | ${r.convergedMs === null ? 'no' : `${(r.convergedMs / 1000).toFixed(1)} s`} | ` +
      `${r.stale.length} | ${r.died.length === 0 ? 'none' : r.died.join('; ')} | ${median([...r.rssColdMb.values()]).toFixed(1)} / ${median(before).toFixed(1)} / ` +
      `${after.length === 0 ? '-' : median(after).toFixed(1)} | ${r.maxGrowthPct.toFixed(1)} % (${r.maxGrowthColdPct.toFixed(1)} %) | ` +
      `${median([...r.anonBeforeMb.values()]).toFixed(1)} / ${r.anonAfterMb.size === 0 ? '-' : median([...r.anonAfterMb.values()]).toFixed(1)} | ` +
      `${median([...r.heapBeforeMb.values()]).toFixed(2)} / ${r.heapAfterMb.size === 0 ? '-' : median([...r.heapAfterMb.values()]).toFixed(2)} | ${pass ? 'pass' : 'FAIL'} |`)
    if (!pass) process.stderr.write(`${name}:\n${[...r.routeDiff, ...r.stale, ...r.died].join('\n')}\n`)
  }
  process.stdout.write([
    `Link churn, seed ${seed}, load before ${load} (${new Date().toISOString()})`,
    '',
    '| topology | daemons | flaps | converged after the last flap | stale entries | daemons died | RSS cold / warm / after, median (MiB) | largest RSS growth over warm (cold) | of which anonymous warm / after, median (MiB) | live objects (V8 heap without code) warm / after, median (MiB) | |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows
  ].join('\n') + '\n')
  return ok ? 0 : 1
}

main().then(code => process.exit(code), (e: Error) => { process.stderr.write(`ntkd-churn: ${e.stack ?? e.message}\n`); process.exit(1) })
