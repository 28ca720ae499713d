import test from 'ava'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { deployLab, type RunningLab } from '../src/lab'
import { defaultKinds, loadTopology } from '../src/topology'
import type { ResolvedLab } from '../src/topology/model'
import type { NodeObservation } from '../src/observe'
import { initialState } from '../src/scenario/lab-state'
import { defaultRouteModels, diffRoutes, expectRoutes, formatRouteDiff } from '../src/scenario/route-model'
import { pairTargets } from '../src/scenario/reachability'
import { scenarioFromLab } from '../src/scenario/scenario-file'
import { runScenario } from '../src/scenario/runner'
import { formatSummary } from '../src/report/summary'
import { ManualClock } from '../src/scenario/clock'
import { waitFor } from '../src/scenario/wait'
import type { ScenarioResult } from '../src/scenario/result'
import { backendMissing, checkedBackend, firstMissing, leftovers, missingTools, runnableIf, uniqueLabName } from './helpers/lab-fixture'

// Real ntkd daemons on the netns backend, driven by the timelines written in topologies/ntkd-*.yaml:
// converge (every ntk table equals the hierarchical route model, next hop and src; every node pings
// every other node's global and shared internal addresses), cut a link and reroute within 3 s, heal,
// stop a daemon (its neighbours withdraw the routes to it; it leaves no kernel state behind).
const dir = path.join(__dirname, '..', '..', 'topologies')
const load = (file: string): ResolvedLab => loadTopology(path.join(dir, file), defaultKinds())

/** What a stopped ntkd may have left in its node: routes in ntk or its own in main, rules, 10.x/169.254 addresses, iptables rules. */
function daemonLeftovers (o: NodeObservation): string[] {
  const found: string[] = []
  const ntk = o.routes.filter(r => r.family === 'inet' && (r.table === 'ntk' || r.table === '251' || r.table.startsWith('ntk_from') || (Number(r.table) >= 200 && Number(r.table) <= 250)))
  if (ntk.length > 0) found.push(`${ntk.length} routes in ntk tables`)
  const own = o.routes.filter(r => r.family === 'inet' && r.protocol === '78')
  if (own.length > 0) found.push(`${own.length} daemon routes in main`)
  const rules = o.rules.filter(r => r.table === 'ntk' || r.table === '251' || (r.table ?? '').startsWith('ntk_from') || r.selector.fwmark !== undefined)
  if (rules.length > 0) found.push(`rules: ${rules.map(r => r.table ?? r.action ?? '?').join(', ')}`)
  const addrs = o.addresses.filter(x => x.family === 'inet' && (x.address.startsWith('10.') || x.address.startsWith('169.254.')))
  if (addrs.length > 0) found.push(`addresses: ${addrs.map(x => `${x.address} on ${x.ifname}`).join(', ')}`)
  if (/MARK|SNAT|NETMAP/.test(o.iptables.mangle + o.iptables.nat)) found.push('iptables MARK/SNAT/NETMAP rules')
  return found
}

const stepOf = (r: ScenarioResult, label: string): ScenarioResult['steps'][number] => {
  const s = r.steps.find(x => x.label === label)
  if (s === undefined) throw new Error(`no step ${label}`)
  return s
}

test('ntkd route model on ring6: g-nodes via the cheapest neighbour inside the common g-node, src per CIDR, absent g-nodes unreachable', t => {
  const lab = load('ntkd-ring6.yaml')
  const s = initialState(lab)
  const a = expectRoutes(lab, s, defaultRouteModels()).get('a')
  if (a === undefined) { t.fail('no expectation for a'); return }
  t.is(a.table, 'ntk')
  t.true(a.unreachableRoutes)
  t.is(a.routes.length + a.unreachable.length, 18, 'every destination CIDR of 4·2·2·2')
  const by = new Map(a.routes.map(r => [r.dst, r]))
  // 1· = {e, f}: f is one hop away on eth1; its global and anonymizing CIDRs with a's global as src
  t.like(by.get('10.0.0.8/29'), { ifnames: ['eth1'], neighbours: ['f'], src: '10.0.0.29', cost: 1250 })
  t.like(by.get('10.0.0.72/29'), { ifnames: ['eth1'], src: '10.0.0.29' })
  // 3·0· = {d}: only inside 3·, so via b, c although f-e-d is outside: src is a's internal[3] for the L3 CIDR
  t.like(by.get('10.0.0.24/30'), { ifnames: ['eth2'], neighbours: ['b'], hops: 3, cost: 3700 })
  t.like(by.get('10.0.0.56/30'), { ifnames: ['eth2'], src: '10.0.0.61' })
  // b = 3·1·0·0: internal CIDRs of levels 3, 2, 1 with the matching internal src
  t.like(by.get('10.0.0.40/32'), { ifnames: ['eth2'], src: '10.0.0.41' })
  t.like(by.get('10.0.0.48/32'), { src: '10.0.0.49' })
  t.deepEqual(a.unreachable.map(u => u.dst).sort(), ['10.0.0.0/29', '10.0.0.16/29', '10.0.0.64/29', '10.0.0.80/29'])
  // after the f-a cut, 1· is reached the long way round
  s.links.set(lab.links[5].id, 'down')
  const cut = expectRoutes(lab, s, defaultRouteModels())
  t.like(cut.get('a')?.routes.find(r => r.dst === '10.0.0.8/29'), { ifnames: ['eth2'], neighbours: ['b'], cost: 5700 })
  t.like(cut.get('c')?.routes.find(r => r.dst === '10.0.0.8/29'), { ifnames: ['eth2'], neighbours: ['d'] })
  // with f stopped, e sees 1·1· as unreachable
  s.stopped.add('f')
  const stopped = expectRoutes(lab, s, defaultRouteModels())
  t.false(stopped.has('f'))
  t.true(stopped.get('e')?.unreachable.some(u => u.dst === '10.0.0.12/30'))
  // ping targets: global, plus the internal address of every g-node both share
  const targets = pairTargets(lab, defaultRouteModels())
  t.deepEqual(targets('a', 'b'), ['10.0.0.28', '10.0.0.60', '10.0.0.48', '10.0.0.40'])
  t.deepEqual(targets('a', 'd'), ['10.0.0.26', '10.0.0.58'])
  t.deepEqual(targets('a', 'e'), ['10.0.0.8'])
})

test('ntkd route model: the diff checks next hop, src and the unreachable routes', t => {
  const lab = load('ntkd-ring6.yaml')
  const exp = new Map([...expectRoutes(lab, initialState(lab), defaultRouteModels())].filter(([n]) => n === 'f'))
  const f = exp.get('f')
  if (f === undefined) { t.fail('no expectation for f'); return }
  const routes: NodeObservation['routes'] = [
    ...f.routes.map(r => ({ table: 'ntk', family: 'inet' as const, dst: r.dst.replace(/\/32$/, ''), type: 'unicast', dev: r.ifnames[0], gateway: '169.254.1.1', src: r.src })),
    ...f.unreachable.map(u => ({ table: '251', family: 'inet' as const, dst: u.dst, type: 'unreachable' }))
  ]
  const obs = (rs: NodeObservation['routes']): Map<string, NodeObservation> => new Map([['f', { routes: rs, addresses: [] } as unknown as NodeObservation]])
  t.deepEqual(diffRoutes(exp, obs(routes)), [])
  const wrongSrc = routes.map(r => r.dst === '10.0.0.56/30' ? { ...r, src: '10.0.0.12' } : r)
  t.deepEqual(diffRoutes(exp, obs(wrongSrc))[0]?.wrong.map(w => w.expected.dst), ['10.0.0.56/30'])
  const noMarks = routes.filter(r => r.type !== 'unreachable')
  t.is(diffRoutes(exp, obs(noMarks))[0]?.unmarked.length, f.unreachable.length)
})

test('ntkd route model: a wrong next hop says when the model guessed it (arc costs measured, not configured)', t => {
  const fixed = load('ntkd-ring6.yaml')
  const measured: ResolvedLab = { ...fixed, nodes: fixed.nodes.map(n => ({ ...n, config: { ...n.config, costs: undefined } })) }
  const wrongLines = (lab: ResolvedLab): string[] => {
    const exp = new Map([...expectRoutes(lab, initialState(lab), defaultRouteModels())].filter(([n]) => n === 'f'))
    const f = exp.get('f')
    if (f === undefined) return []
    // every route out of the other interface than the model's first choice
    const ifs = [...new Set(f.routes.flatMap(r => r.ifnames))]
    const routes: NodeObservation['routes'] = [
      ...f.routes.map(r => ({ table: 'ntk', family: 'inet' as const, dst: r.dst.replace(/\/32$/, ''), type: 'unicast', dev: ifs.find(i => !r.ifnames.includes(i)) ?? 'none', gateway: '169.254.1.1', src: r.src })),
      ...f.unreachable.map(u => ({ table: '251', family: 'inet' as const, dst: u.dst, type: 'unreachable' }))
    ]
    const obs = new Map([['f', { routes, addresses: [] } as unknown as NodeObservation]])
    return formatRouteDiff(diffRoutes(exp, obs)).filter(l => l.includes('wrong'))
  }
  const exact = wrongLines(fixed)
  const guessed = wrongLines(measured)
  t.true(exact.length > 0 && guessed.length > 0, 'the moved routes show as wrong')
  t.true(exact.every(l => !l.includes('a guess')), exact.join('\n'))
  t.true(guessed.every(l => l.includes('a guess: arc costs are measured')), guessed.join('\n'))
})

test('a wait reports when its passing check started and ended: convergence lies between (slow observations)', async t => {
  const clock = new ManualClock()
  let calls = 0
  // each check observes for 700 ms; the second one passes
  const check = async (): Promise<null | { summary: string, lines: string[] }> => { calls++; clock.advance(700); return calls >= 2 ? null : { summary: 'not yet', lines: [] } }
  const c = await waitFor('routes', check, { clock, budget: 3000, interval: 100 })
  t.is(c.afterMs, 800)
  t.is(c.checkedMs, 1500)
})

// The docker backend runs the daemon from the image's /opt/ntk/dist: build first (npx tsc -p tsconfig.json).
for (const [backendName, file] of [['netns', 'ntkd-ring6.yaml'], ['netns', 'ntkd-grid3x3.yaml'], ['docker', 'ntkd-ring6.yaml']] as const) {
  runnableIf(test.serial, firstMissing(backendMissing(backendName), missingTools('ping', 'iptables')))(`${backendName}: ${file} converges to the route model, reroutes a cut within 3 s, a stopped daemon is withdrawn and leaves no kernel state`, async t => {
    const backend = await checkedBackend(backendName)
    const spec: ResolvedLab = { ...load(file), name: uniqueLabName(backendName === 'netns' ? 'ntks' : 'ntkds') }
    const scenario = scenarioFromLab(spec)
    let lab: RunningLab | undefined
    const pids: number[] = []
    t.teardown(async () => {
      await lab?.destroy().catch(() => {})
      await backend.removeLab(spec.name).catch(() => {})
    })
    lab = await deployLab(spec, backend, { progress: m => t.log(m) })
    for (const n of lab.nodes.values()) pids.push(n.pid)
    const r = await runScenario(scenario, lab, { progress: l => t.log(l), concurrency: 8 })
    if (!r.passed) {
      for (const n of spec.nodes) t.log(`--- ${n.name} log\n${(await readFile(lab.logFile(n.name) ?? '/dev/null', 'utf8').catch(() => '')).slice(-2000)}`)
    }
    t.true(r.passed, formatSummary(r))
    const ms = (x: number | undefined): string => x === undefined ? '?' : x.toFixed(0)
    for (const s of r.steps.filter(x => x.type === 'wait')) t.log(`${s.label}: converged ${ms(s.metrics?.convergenceMs)}..${ms(s.metrics?.convergedByMs)} ms after the event (first passing check start..end)`)
    const reroute = stepOf(r, 'reroute around the cut').metrics?.convergenceMs
    t.true(reroute !== undefined && reroute <= 3000, `reroute after the cut took ${String(reroute)} ms`)

    // the stopped daemon removed everything it had put into its node's kernel
    const stopped = scenario.steps.flatMap(s => s.event.type === 'node' && s.event.action === 'stop' ? [s.event.node] : [])
    t.true(stopped.length > 0)
    for (const n of stopped) t.deepEqual(daemonLeftovers(await lab.observe(n)), [], `${n} after stop`)

    await lab.destroy()
    lab = undefined
    t.deepEqual(await leftovers(spec.name, pids), [], 'destroy leaves nothing behind')
  })
}
