// One deploy of one topology with one daemon kind, and what bench/compare.ts measures on it: the steps (initial,
// reroute, split, heal) with the lab's own conditions, steady-state traffic, resident memory and routes per node.
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { makeBackend } from '../../lab/src/backend'
import { deployLab, type RunningLab } from '../../lab/src/lab'
import { defaultKinds, parseTopology } from '../../lab/src/topology'
import { registerBabeld } from '../../lab/src/topology/kinds/babeld'
import { routesCheck, type CheckContext } from '../../lab/src/scenario/assertions'
import { initialState, type LabState } from '../../lab/src/scenario/lab-state'
import { defaultRouteModels, inModelTable, type RouteModel } from '../../lab/src/scenario/route-model'
import { pingTargets } from '../../lab/src/scenario/reachability'
import { withTakenAddresses } from '../../lab/src/scenario/ntkd-taken'
import { realClock } from '../../lab/src/scenario/clock'
import { waitFor, NotConvergedError, type Check } from '../../lab/src/scenario/wait'
import { mapBounded } from '../../lab/src/util/pool'
import { daemonProcesses } from '../../lab/test/helpers/ntkd-daemons'
import { IcmpProber } from '../icmp-prober'
import { labYaml, linkIdIn, rerouteLink, type DaemonKind, type Graph, type Link, type NtkdAddressing, type Timers } from './graphs'

/** Step names, in the order they run. Times are ms from the moment deploy returned (initial) or the event. */
export const STEPS = [
  'initial routes', 'initial next hops', 'initial all pairs ping',
  'reroute routes', 'reroute next hops',
  'split withdrawn', 'split routes',
  'heal routes', 'heal next hops'
] as const
export type StepName = typeof STEPS[number]

export interface MeasureOptions {
  /** Budget of each wait, ms. */
  budgetMs: number
  /** Also wait for babeld's cheapest next hops at the initial and reroute steps (ntkd: always). */
  babeldNextHops: boolean
  /** Steady-state window, ms (0: none). */
  windowMs: number
  python: string
  say: (m: string) => void
  /** Where to copy the node logs (each lab in its own folder); none when absent. */
  logsDir?: string
  /** ntkd founds its networks and merges (auto, the default) or is given its address. */
  ntkdAddress?: NtkdAddressing
}

export interface Measured {
  topology: string
  kind: DaemonKind
  timers: Timers
  nodes: number
  links: number
  deployMs: number
  /** Per step: ms, or null when the condition did not hold within the budget (see `failures`). */
  steps: Partial<Record<StepName, number | null>>
  failures: string[]
  /** tx bytes per second of each node over the steady window (all its interfaces but lo). */
  txBytesPerS?: number[]
  rssMb?: number[]
  /** The daemon's unicast routes per node, and all its entries (ntkd also keeps `unreachable` ones). */
  routes?: number[]
  entries?: number[]
  loadBefore: string
  cuts: { reroute?: string, split: string }
}

const KINDS = (): ReturnType<typeof defaultKinds> => { const k = defaultKinds(); if (!k.has('babeld')) registerBabeld(k); return k }
const describeLink = (l: Link): string => `${l.a}-${l.b}`
const loadAvg = async (): Promise<string> => (await fs.readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')

/** The lab under way, so that Ctrl-C can destroy it. */
let current: RunningLab | undefined
export async function destroyCurrent (): Promise<void> { await current?.destroy().catch(() => {}) }

/**
 * Deploys `g` with `kind` and runs the steps (timers lab), or only brings it up and measures the steady state
 * (timers default). A wait that does not hold within the budget is recorded as null with its reason; the initial
 * routes failing ends the measure (nothing after it means anything).
 */
export async function measure (g: Graph, kind: DaemonKind, timers: Timers, o: MeasureOptions): Promise<Measured> {
  const name = `cmp${kind === 'ntkd' ? 'n' : 'b'}${randomBytes(3).toString('hex')}`
  const spec = { ...parseTopology(labYaml(name, g, kind, timers, o.ntkdAddress), `${name}.yaml`, KINDS()), name }
  const reroute = rerouteLink(g)
  const out: Measured = {
    topology: g.id, kind, timers, nodes: g.nodes.length, links: g.links.length, deployMs: 0, steps: {}, failures: [],
    loadBefore: await loadAvg(), cuts: { reroute: reroute === undefined ? undefined : describeLink(reroute), split: g.split.map(describeLink).join(', ') }
  }
  const backend = makeBackend('netns')
  const t0 = Date.now()
  const lab = await deployLab(spec, backend)
  current = lab
  const deployedAt = Date.now()
  out.deployMs = deployedAt - t0
  const state: LabState = initialState(spec)
  const ctx: CheckContext = { lab, state: () => state, models: defaultRouteModels(), concurrency: 8 }
  const probers: IcmpProber[] = []
  const say = (m: string): void => o.say(`${g.id} ${kind} (${timers} timers): ${m}`)
  /** Waits for a check from `from` (epoch ms); the step's time is the end of the first passing check. */
  const step = async (label: StepName, check: Check, from: number, hold = 0): Promise<boolean> => {
    const started = Date.now()
    try {
      const c = await waitFor(label, check, { clock: realClock(), budget: o.budgetMs, interval: 200, hold })
      out.steps[label] = started + c.checkedMs - from
      say(`${label} ${((out.steps[label] as number) / 1000).toFixed(2)} s`)
      return true
    } catch (err) {
      if (!(err instanceof NotConvergedError)) throw err
      out.steps[label] = null
      out.failures.push(`${label}: ${err.message.split('\n').slice(0, 6).join(' / ')}`)
      say(`${label} FAILED: ${err.message.split('\n')[0]}`)
      return false
    }
  }
  const routes = routesCheck(ctx, { nextHops: false })
  const nextHops = routesCheck(ctx, { nextHops: true })
  const withdrawn = routesCheck(ctx, { nextHops: false, only: 'absent' })
  const wantNextHops = kind === 'ntkd' || o.babeldNextHops
  const setLinks = async (links: Link[], s: 'up' | 'down'): Promise<number> => {
    await Promise.all(links.map(async l => { const id = linkIdIn(spec, l); await lab.setLinkState(id, s); state.links.set(id, s) }))
    return Date.now()
  }
  try {
    // with default timers the traffic is measured even when the routes did not all form within the budget (the
    // failure is recorded beside it); with lab timers nothing after a failed start means anything
    if (!await step('initial routes', routes, deployedAt) && timers === 'lab') return out
    if (timers === 'lab') {
      const prober = await allPairsProber(lab, ctx, o.python, o.budgetMs)
      probers.push(prober)
      if (wantNextHops) await step('initial next hops', nextHops, deployedAt)
      const last = await lastFirstReply(prober)
      if (typeof last === 'number') out.steps['initial all pairs ping'] = last - deployedAt
      else { out.steps['initial all pairs ping'] = null; out.failures.push(`initial all pairs ping: ${last}`) }
      say(`initial all pairs ping ${typeof last === 'number' ? `${((last - deployedAt) / 1000).toFixed(2)} s` : `FAILED: ${last}`}`)

      if (reroute !== undefined) {
        const cutAt = await setLinks([reroute], 'down')
        await step('reroute routes', routes, cutAt)
        if (wantNextHops) await step('reroute next hops', nextHops, cutAt)
        await setLinks([reroute], 'up')
        await settle(wantNextHops ? nextHops : routes, o.budgetMs, out, 'after the reroute link came back')
      }

      const splitAt = await setLinks(g.split, 'down')
      await step('split withdrawn', withdrawn, splitAt, 1000)
      await step('split routes', routes, splitAt)
      const healAt = await setLinks(g.split, 'up')
      await step('heal routes', routes, healAt)
      await step('heal next hops', nextHops, healAt)
    } else {
      // the default timers are measured for traffic only: once the routes held (or the budget passed), let the first exchanges pass
      await sleep(10_000)
    }
    for (const p of probers) p.kill()
    if (o.windowMs > 0) {
      await sleep(2000) // the last step's checks and probes are over; the window starts on quiet links
      out.txBytesPerS = await txRates(lab, o.windowMs)
      say(`steady tx ${mean(out.txBytesPerS).toFixed(0)} B/s per node over ${o.windowMs / 1000} s`)
    }
    const daemon = kind === 'ntkd' ? { runs: /ntkd(\.js|\.ts)?$/, name: 'ntkd' } : { runs: /(^|\/)babeld$/, name: 'babeld' }
    out.rssMb = [...(await daemonProcesses(lab, undefined, daemon)).values()].map(p => p.rssMb)
    const counted = await routeCounts(lab, spec.nodes.map(n => n.name), ctx.models.get(kind) as RouteModel)
    out.routes = counted.map(c => c.routes)
    out.entries = counted.map(c => c.entries)
    return out
  } finally {
    for (const p of probers) p.kill()
    if (o.logsDir !== undefined) {
      const dir = `${o.logsDir}/${name}-${g.id}-${kind}-${timers}`
      await fs.mkdir(dir, { recursive: true })
      for (const n of lab.nodes.keys()) await fs.copyFile(lab.logFile(n) ?? '/dev/null', `${dir}/${n}.log`).catch(() => {})
    }
    await lab.destroy()
    current = undefined
  }
}

/** Waits (untimed) for a state to hold before the next event; a lapse is recorded as a failure. */
async function settle (check: Check, budgetMs: number, out: Measured, what: string): Promise<void> {
  try {
    await waitFor(what, check, { clock: realClock(), budget: budgetMs, interval: 200 })
  } catch (err) {
    if (!(err instanceof NotConvergedError)) throw err
    out.failures.push(`${what}: ${err.message.split('\n').slice(0, 6).join(' / ')}`)
  }
}

export const mean = (xs: readonly number[]): number => xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length

/**
 * One raw ICMP prober from every node to every other node's first address (ntkd: the global one the daemon took;
 * babeld: the one it announces), every 200 ms until each pair answered once.
 */
async function allPairsProber (lab: RunningLab, ctx: CheckContext, python: string, budgetMs: number): Promise<IcmpProber> {
  const names = [...lab.nodes.keys()]
  const taken = await withTakenAddresses(lab, new Set(names))
  if (taken.problems.length > 0) throw new Error(`addresses not taken after the routes converged: ${taken.problems.join('; ')}`)
  const targets = pingTargets(taken.spec, ctx.models)
  const sources = names.map(name => ({
    name,
    netns: `/proc/${(lab.nodes.get(name) as { pid: number }).pid}/ns/net`,
    targets: names.filter(n => n !== name).map(n => targets.get(n) as string)
  }))
  const p = new IcmpProber(python, sources, budgetMs, 200)
  p.endInput()
  return p
}

/** The epoch ms of the last pair's first reply, or why not all pairs answered. */
async function lastFirstReply (p: IcmpProber): Promise<number | string> {
  await p.done
  const missing = [...p.firstReply].filter(([, at]) => at === undefined).map(([k]) => k)
  if (missing.length > 0) return `${missing.length} pairs never answered (${missing.slice(0, 3).join(', ')})`
  return Math.max(...[...p.firstReply.values()] as number[])
}

/** tx bytes of every interface but lo, per node, with the time of the read. */
async function txBytes (lab: RunningLab): Promise<Map<string, { at: number, bytes: number }>> {
  const names = [...lab.nodes.keys()]
  const reads = await mapBounded(names, 8, async n => {
    const r = await lab.exec(n, ['ip', '-j', '-s', 'link', 'show'])
    const at = Date.now()
    const links = JSON.parse(r.stdout) as Array<{ ifname: string, stats64?: { tx?: { bytes?: number } } }>
    return { at, bytes: links.filter(l => l.ifname !== 'lo').reduce((s, l) => s + (l.stats64?.tx?.bytes ?? 0), 0) }
  })
  return new Map(names.map((n, i) => [n, reads[i]]))
}

/** Per node, tx bytes per second over a window of `windowMs` (each node's own read times). */
async function txRates (lab: RunningLab, windowMs: number): Promise<number[]> {
  const a = await txBytes(lab)
  await sleep(windowMs)
  const b = await txBytes(lab)
  return [...a].map(([n, x]) => { const y = b.get(n) as { at: number, bytes: number }; return (y.bytes - x.bytes) / ((y.at - x.at) / 1000) })
}

/** The daemon's routes of each node: unicast ones, and all entries of its kind in its table. */
async function routeCounts (lab: RunningLab, nodes: string[], model: RouteModel): Promise<Array<{ routes: number, entries: number }>> {
  return await mapBounded(nodes, 8, async n => {
    const o = await lab.observe(n)
    const mine = o.routes.filter(r => inModelTable(model, r.table) && (model.protocol === undefined || r.protocol === model.protocol))
    return { routes: mine.filter(r => (r.type ?? 'unicast') === 'unicast').length, entries: mine.length }
  })
}
