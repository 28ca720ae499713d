import test from 'ava'
import path from 'node:path'
import { deployLab, type RunningLab } from '../src/lab'
import { loadTopology } from '../src/topology'
import type { ResolvedLab } from '../src/topology/model'
import { loadScenario } from '../src/scenario/scenario-file'
import { runScenario } from '../src/scenario/runner'
import { kernelView } from '../src/scenario/kernel-view'
import { formatProbe } from '../src/scenario/probe'
import { nftBinary } from '../src/wiring/radio'
import { checkedBackend, leftovers, runnableIf, uniqueLabName } from './helpers/lab-fixture'

// The whole story of the documented use cases on real kernels (netns): topologies/usecases/all.yaml replays
// entr01-entr06 and migr01-migr02 with ntkctl as the proof's operator did, checks every step's kernel state (§2.8)
// and the documented pings, and measures the traffic a continuous ping loses while migr01 and migr02 move the
// g-node its path crosses (at most 1 s each). Then every daemon stops, and its node holds nothing of it: no
// nested namespace, pseudo-interface, table, rule, mark or NAT rule; the lab's destroy leaves nothing on the host.

const FILE = path.join(__dirname, '..', '..', 'topologies', 'usecases', 'all.yaml')
const NTKD = ['alfa', 'beta', 'gamma', 'delta', 'mu', 'epsilon', 'lambda']

const why = process.getuid?.() !== 0 ? 'it needs root' : (() => { try { nftBinary(); return undefined } catch (err) { return (err as Error).message } })()
runnableIf(test.serial, why)('netns: the whole story replays: every operation, kernel expectation and documented ping; migr01 and migr02 cost at most 1 s of traffic; stopped daemons leave nothing', async t => {
  const backend = await checkedBackend('netns')
  const { scenario, lab: base } = await loadScenario(FILE, async f => loadTopology(path.resolve(path.dirname(FILE), f)))
  const spec: ResolvedLab = { ...base, name: uniqueLabName('story') }
  let lab: RunningLab | undefined
  t.teardown(async () => { await lab?.destroy().catch(() => {}) })
  lab = await deployLab(spec, backend)
  const pids = [...lab.nodes.values()].map(n => n.pid)
  const progress: string[] = []
  const r = await runScenario(scenario, lab, { seed: 1, progress: line => progress.push(line) })
  const failed = r.steps.find(s => s.status === 'failed')
  t.true(r.passed, `failed at ${failed?.label ?? '?'}: ${failed?.error ?? ''}\n${JSON.stringify(failed?.diff ?? null).slice(0, 3000)}\n${progress.slice(-12).join('\n')}`)
  t.is(r.steps.filter(s => s.status === 'passed').length, scenario.steps.length, 'every step ran and passed')
  for (const s of r.steps.filter(x => x.type === 'probe-end')) {
    t.log(`${s.label}: ${s.metrics?.probe === undefined ? '?' : formatProbe(s.metrics.probe)}`)
    t.true((s.metrics?.probe?.longestOutageMs ?? Infinity) <= 1000, s.label)
  }
  t.log(`the story took ${(r.durationMs / 1000).toFixed(1)} s`)

  // every daemon stops: what it added to its node goes, nested namespaces included
  for (const n of NTKD) await lab.stopNode(n)
  const left: Record<string, unknown> = {}
  for (const n of NTKD) {
    const v = kernelView(await lab.observe(n))
    const namespaces = Object.keys(v).filter(ns => ns !== 'default')
    const d = v.default
    const links = Object.keys(d.links).filter(l => l !== 'eth1')
    const tables = Object.keys(d.routes).filter(tb => tb !== 'main')
    const mainRoutes = Object.keys(d.routes.main ?? {})
    const addresses = Object.values(d.addresses).flat()
    const what = { namespaces, links, tables, mainRoutes, addresses, rules: d.rules, marks: Object.keys(d.marks), nat: d.nat }
    if (Object.values(what).some(x => x.length > 0)) left[n] = what
  }
  t.deepEqual(left, {}, 'no ntkv* namespace, pseudo-interface, ntk table, route, address, rule, mark or NAT rule is left')

  await lab.destroy()
  lab = undefined
  t.deepEqual(await leftovers(spec.name, pids), [])
})
