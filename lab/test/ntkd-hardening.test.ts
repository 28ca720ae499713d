import test, { type ExecutionContext } from 'ava'
import path from 'node:path'
import { readFile } from 'node:fs/promises'
import { deployLab, type RunningLab } from '../src/lab'
import { defaultKinds, loadTopology } from '../src/topology'
import type { ResolvedLab } from '../src/topology/model'
import { initialState, type LabState } from '../src/scenario/lab-state'
import { realClock } from '../src/scenario/clock'
import { waitFor, type Check } from '../src/scenario/wait'
import { checkedBackend, leftovers, uniqueLabName } from './helpers/lab-fixture'
import { convergedCheck, daemonProcesses, logTail, netnsSkipReason, ntkctl, staleCheck } from './helpers/ntkd-daemons'

// Real ntkd daemons on the netns backend under faults: a daemon killed with SIGKILL and started again, and kernel
// state removed by hand under a running daemon (the periodic rescan puts it back).

const skip = netnsSkipReason()
const serial = skip === undefined ? test.serial : test.skip
const skipped = skip === undefined ? '' : ` (skipped: ${skip})`
const ring6 = (): ResolvedLab => loadTopology(path.join(__dirname, '..', '..', 'topologies', 'ntkd-ring6.yaml'), defaultKinds())

async function until (t: ExecutionContext, what: string, check: Check, budget: number, hold = 0): Promise<number> {
  const c = await waitFor(what, check, { clock: realClock(), budget, interval: 250, hold })
  t.log(`${what}: after ${(c.afterMs / 1000).toFixed(1)} s`)
  return c.afterMs
}

async function deploy (t: ExecutionContext, spec: ResolvedLab): Promise<{ lab: RunningLab, pids: number[] }> {
  const backend = await checkedBackend('netns')
  const pids: number[] = []
  let lab: RunningLab | undefined
  t.teardown(async () => {
    await lab?.destroy().catch(() => {})
    await backend.removeLab(spec.name).catch(() => {})
  })
  lab = await deployLab(spec, backend)
  for (const n of lab.nodes.values()) pids.push(n.pid)
  return { lab, pids }
}

interface KernelCounters { kernel: { rescans: number, repairs: number, repairedOps: number } }

serial(`netns: ring of 6: a daemon killed with SIGKILL and started again sweeps what it left, the ring converges and no table anywhere holds a stale entry; a route, the ntk rule and an address removed by hand come back within the rescan period${skipped}`, async t => {
  const spec: ResolvedLab = { ...ring6(), name: uniqueLabName('ntkh') }
  const { lab, pids } = await deploy(t, spec)
  let state: LabState = initialState(spec)
  const now = (): LabState => state
  try {
    await until(t, 'initial convergence', convergedCheck(lab, now), 90_000)
    await until(t, 'no stale entry', staleCheck(lab, now), 30_000)

    // kill -9 of a (whose absence splits no g-node: the route model holds): its kernel state stays behind
    // (nothing removes it), its neighbours route around it
    const before = await daemonProcesses(lab, ['a'])
    await lab.stopNode('a', { signal: 'SIGKILL' })
    const dead = await lab.observe('a')
    const left = dead.routes.filter(r => r.family === 'inet' && (r.table === 'ntk' || r.table === '251'))
    t.true(left.length > 0, `the killed daemon left ${left.length} routes in ntk`)
    t.true(dead.addresses.some(a => a.family === 'inet' && a.address.startsWith('169.254.')), 'and its link-locals')
    state = { ...state, stopped: new Set(['a']) }
    await until(t, 'a withdrawn', convergedCheck(lab, now), 30_000)

    // started again: it sweeps, takes new link-locals, and the ring converges with no trace of the old run anywhere
    await lab.startNode('a')
    state = { ...state, stopped: new Set() }
    await until(t, 'converged after the restart', convergedCheck(lab, now), 60_000)
    await until(t, 'no stale entry after the restart (kernels, arcs, host routes to the old link-locals)', staleCheck(lab, now), 30_000, 3_000)
    t.not((await daemonProcesses(lab, ['a'])).get('a')?.pid, before.get('a')?.pid, 'a new daemon')
    t.regex(await readFile(lab.logFile('a') ?? '', 'utf8'), /startup: removed \d+ kernel items an earlier run left behind/)

    // by hand, under the running daemon of b: one of its ntk routes, the `ip rule ... lookup ntk`, its global address
    const b = await lab.observe('b')
    const route = b.routes.find(r => r.family === 'inet' && (r.table === 'ntk' || r.table === '251') && r.type === 'unicast')
    const global = b.addresses.find(a => a.family === 'inet' && a.address === '10.0.0.28')
    if (route === undefined || global === undefined) { t.fail(`b has no unicast ntk route or no global address:\n${JSON.stringify(b.addresses)}`); return }
    const counters0 = await ntkctl(lab, 'b', ['counters']) as KernelCounters
    await lab.exec('b', ['ip', 'route', 'del', route.dst, 'table', '251'])
    await lab.exec('b', ['ip', 'rule', 'del', 'table', '251'])
    await lab.exec('b', ['ip', 'address', 'del', `${global.address}/${global.prefixlen}`, 'dev', global.ifname])
    const gone = await lab.observe('b')
    t.false(gone.rules.some(r => r.family === 'inet' && (r.table === 'ntk' || r.table === '251') && Object.keys(r.selector).length === 0), 'the rule is gone')
    const back: Check = async () => {
      const o = await lab.observe('b')
      const missing = [
        o.routes.some(r => r.family === 'inet' && r.dst === route.dst && (r.table === 'ntk' || r.table === '251')) ? null : `route ${route.dst}`,
        o.rules.some(r => r.family === 'inet' && (r.table === 'ntk' || r.table === '251') && Object.keys(r.selector).length === 0) ? null : 'rule lookup ntk',
        o.addresses.some(a => a.address === global.address && a.ifname === global.ifname) ? null : `address ${global.address}`
      ].filter((x): x is string => x !== null)
      return missing.length === 0 ? null : { summary: `still missing: ${missing.join(', ')}`, lines: [] }
    }
    // rescanSeconds is 5 with lab timers: back within one period and an apply
    const ms = await until(t, 'route, rule and address put back', back, 8_000)
    t.true(ms <= 8_000)
    const counters1 = await ntkctl(lab, 'b', ['counters']) as KernelCounters
    t.true(counters1.kernel.rescans > counters0.kernel.rescans, 'rescans counted')
    t.true(counters1.kernel.repairs > counters0.kernel.repairs, `the repair counted (${counters1.kernel.repairedOps - counters0.kernel.repairedOps} changes)`)
    await until(t, 'converged after the repair', convergedCheck(lab, now), 30_000)
    await until(t, 'no stale entry after the repair', staleCheck(lab, now), 30_000)
  } catch (e) {
    for (const n of ['a', 'b', 'f']) t.log(`--- ${n} log\n${await logTail(lab, n)}`)
    throw e
  }
  await lab.destroy()
  t.deepEqual(await leftovers(spec.name, pids), [])
})
