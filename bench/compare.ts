/*
 * ntkd beside babeld on the same links (issue 15): for each topology, kind `ntkd` (lab timers, no address, 1000 µs
 * on every interface) and kind `babeld` (as its kind runs it), alternating, `--runs` times each:
 *  - initial: all routes (`converged` without next hops), then with next hops (ntkd), then all pairs ping (raw ICMP);
 *  - reroute: a link on a cheapest path cut (routes, then next hops for ntkd), then put back;
 *  - split: a cut that separates a part (far side `withdrawn`, then each side's routes);
 *  - heal: the cut put back (routes, then cheapest next hops);
 *  - steady state: tx bytes per node per second over a window with lab timers, and on a deploy of its own with
 *    default timers (ntkd `timers: default`, babeld hello 4 s); resident memory per daemon; routes per node.
 * Writes bench-results/<timestamp>/: report.md, results.json, SVG plots; prints the report.
 *
 *   make bench-compare                                   (as root; all topologies, 3 runs)
 *   flock /tmp/ntk-lab.lock node dist/bench/compare.js --topologies ring10,line10,grid5 --runs 1
 * Options: --topologies grid5,ring10,line10,grid10,random50 (default all) --runs N (3) --seed S (random graph, 1)
 *   --window S (steady window with lab timers, 20) --default-window S (60) --default-timers LIST|all|none (all)
 *   --budget S (each wait, 180) --babeld-next-hops (also wait for babeld's next hops at initial and reroute)
 *   --ntkd-address auto|configured (ntkd founds and merges, or is given an address as babeld is)
 *   --out DIR (bench-results) --logs DIR (copy node logs) --replot DIR (rewrite report and plots of a results.json)
 */
import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { makeBackend } from '../lab/src/backend'
import { findPython } from './icmp-prober'
import { rerouteLink, topologies, type DaemonKind, type Graph } from './compare/graphs'
import { destroyCurrent, measure, type MeasureOptions } from './compare/measure'
import { markdownReport, plots, type Results } from './compare/report'

class UsageError extends Error {}

const USAGE = `node dist/bench/compare.js [options]   (as root; make bench-compare runs it with none)
  --topologies LIST      grid5,ring10,line10,grid10,random50 or all (default all)
  --runs N               runs of each kind per topology, alternating ntkd/babeld (default 3)
  --seed S               seed of the random graph (default 1)
  --window S             steady-state window with lab timers, seconds (default 20; 0: none)
  --default-timers LIST  topologies also deployed with default timers for traffic, or all / none (default all)
  --default-window S     steady-state window with default timers, seconds (default 60)
  --budget S             budget of each wait, seconds (default 180)
  --babeld-next-hops     also wait for babeld's cheapest next hops at the initial and reroute steps
  --ntkd-address MODE    auto: ntkd founds its network and merges by Hooking (default); configured: each ntkd is
                         given an address (3·3·3, g-nodes connected inside), as babeld is given its own
  --out DIR              results go to DIR/<timestamp>/ (default bench-results)
  --logs DIR             copy every node's log there
  --replot DIR           rewrite report.md and the plots of DIR/results.json, run nothing
`

const OPTIONS = {
  topologies: { type: 'string' },
  runs: { type: 'string', default: '3' },
  seed: { type: 'string', default: '1' },
  window: { type: 'string', default: '20' },
  'default-window': { type: 'string', default: '60' },
  'default-timers': { type: 'string', default: 'all' },
  budget: { type: 'string', default: '180' },
  'babeld-next-hops': { type: 'boolean', default: false },
  'ntkd-address': { type: 'string', default: 'auto' },
  out: { type: 'string', default: 'bench-results' },
  logs: { type: 'string' },
  replot: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false }
} as const

function number (name: string, v: string, min: number, max: number, integer = false): number {
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} ${JSON.stringify(v)}: expected ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`)
  }
  return n
}

/** A comma list of known names; `all` (or absent) is every one, `none` none. */
function nameList (option: string, v: string | undefined, known: string[]): string[] {
  if (v === undefined || v === 'all') return known
  if (v === 'none') return []
  const names = v.split(',').map(s => s.trim()).filter(s => s !== '')
  const bad = names.filter(n => !known.includes(n))
  if (names.length === 0 || bad.length > 0) throw new UsageError(`--${option}: unknown ${bad.length > 0 ? bad.map(b => JSON.stringify(b)).join(', ') : 'empty list'} (known: ${known.join(', ')}, or all${option === 'default-timers' ? ', none' : ''})`)
  return [...new Set(names)]
}

async function writeReport (dir: string, r: Results): Promise<string> {
  const md = markdownReport(r)
  await fs.writeFile(path.join(dir, 'results.json'), JSON.stringify(r, null, 2) + '\n')
  await fs.writeFile(path.join(dir, 'report.md'), md)
  for (const [file, svg] of plots(r)) await fs.writeFile(path.join(dir, file), svg)
  return md
}

const loadAvg = async (): Promise<string> => (await fs.readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')

function gitCommit (): string {
  try { return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() } catch { return 'unknown' }
}

async function main (): Promise<void> {
  let values
  try {
    ({ values } = parseArgs({ options: OPTIONS, strict: true, allowPositionals: false }))
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (values.help) { process.stdout.write(USAGE); return }
  if (values.replot !== undefined) {
    const r = JSON.parse(await fs.readFile(path.join(values.replot, 'results.json'), 'utf8')) as Results
    process.stdout.write(await writeReport(values.replot, r))
    return
  }
  const seed = number('seed', values.seed, 0, 2 ** 31 - 1, true)
  const known = topologies(seed)
  const chosen = nameList('topologies', values.topologies, [...known.keys()])
  const defaultFor = new Set(nameList('default-timers', values['default-timers'], chosen).filter(t => chosen.includes(t)))
  const runs = number('runs', values.runs, 1, 20, true)
  const windowMs = number('window', values.window, 0, 600) * 1000
  const defaultWindowMs = number('default-window', values['default-window'], 1, 1200) * 1000
  const budgetMs = number('budget', values.budget, 5, 1800) * 1000
  const ntkdAddress = values['ntkd-address']
  if (ntkdAddress !== 'auto' && ntkdAddress !== 'configured') throw new UsageError(`--ntkd-address ${JSON.stringify(ntkdAddress)}: expected auto or configured`)

  if (process.getuid?.() !== 0) throw new UsageError('the lab needs root (netns backend): run it as root')
  await makeBackend('netns').check()
  const python = await findPython()
  const graphs: Graph[] = chosen.map(id => (known.get(id) as () => Graph)())
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const dir = path.join(values.out, stamp)
  await fs.mkdir(dir, { recursive: true })
  const started = Date.now()
  const say = (m: string): void => { process.stderr.write(`  [${((Date.now() - started) / 1000).toFixed(1)} s] ${m}\n`) }
  const results: Results = {
    startedAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', loadBefore: await loadAvg(), commit: gitCommit() },
    options: { topologies: chosen, runs, seed, windowS: windowMs / 1000, defaultWindowS: defaultWindowMs / 1000, defaultTimers: [...defaultFor], budgetS: budgetMs / 1000, babeldNextHops: values['babeld-next-hops'], ntkdAddress },
    topologies: graphs.map(g => ({ id: g.id, label: g.label, nodes: g.nodes.length, links: g.links.length, reroute: ((l) => l === undefined ? undefined : `${l.a}-${l.b}`)(rerouteLink(g)), split: g.split.map(l => `${l.a}-${l.b}`).join(', ') })),
    runs: []
  }
  say(`writing to ${dir}; ${graphs.map(g => `${g.id} (${g.nodes.length} nodes)`).join(', ')}; ${runs} runs; load ${results.machine.loadBefore}`)
  const base: Omit<MeasureOptions, 'windowMs'> = { budgetMs, babeldNextHops: values['babeld-next-hops'], python, say, logsDir: values.logs, ntkdAddress }
  for (let run = 1; run <= runs; run++) {
    for (const g of graphs) {
      const kinds: DaemonKind[] = (run + graphs.indexOf(g)) % 2 === 1 ? ['ntkd', 'babeld'] : ['babeld', 'ntkd']
      for (const kind of kinds) {
        say(`run ${run}/${runs}: ${g.id} ${kind}`)
        results.runs.push(await measure(g, kind, 'lab', { ...base, windowMs }))
        if (defaultFor.has(g.id)) results.runs.push(await measure(g, kind, 'default', { ...base, windowMs: defaultWindowMs }))
        await writeReport(dir, results) // what is done so far survives an interrupted run
      }
    }
  }
  results.finishedAt = new Date().toISOString()
  results.machine.loadAfter = await loadAvg()
  process.stdout.write(await writeReport(dir, results))
  process.stdout.write(`\n(${dir})\n`)
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`bench-compare: ${sig}, destroying the lab under way\n`)
    void destroyCurrent().finally(() => process.exit(130))
  })
}

main().catch((err: unknown) => {
  process.stderr.write(err instanceof UsageError ? `bench-compare: ${err.message}\n` : `bench-compare: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = err instanceof UsageError ? 2 : 1
})
