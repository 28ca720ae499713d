import { writeStepBundle } from '../report/bundle'
import { AbortedError, realClock, type Clock } from './clock'
import { conditionCheck, assertionsCheck, observeAll, type CheckContext } from './assertions'
import { formatDuration } from './duration'
import { copyState, initialState, type LabState } from './lab-state'
import { newSeed, seededRandom, type Random } from './random'
import type { ScenarioResult, StepResult } from './result'
import { defaultRouteModels, type RouteModels } from './route-model'
import type { Scenario } from './scenario-file'
import type { ScenarioLab } from './scenario-lab'
import { startSampling } from './sampling'
import { describeEvent, plannedStart, type Event, type Step } from './timeline'
import { NotConvergedError, waitFor, type Diff } from './wait'
import { formatProbe, probeArgv, probeReport, probeStopArgv } from './probe'
import type { RunResult } from '../util/exec'

export interface RunOptions {
  /** Where failure bundles go (a folder per step); none written when absent. */
  bundleDir?: string
  /** Write a bundle after every step, not only failed ones. */
  keep?: boolean
  /** Seed of random choices; default the scenario's, else a fresh one. Recorded in the result. */
  seed?: number
  progress?: (line: string) => void
  clock?: Clock
  signal?: AbortSignal
  models?: RouteModels
  /** Parallel pings and observations (default 8). */
  concurrency?: number
  /** Status commands per kind for the bundle (default: ntkd -> ntkctl status). */
  statusCommands?: Record<string, string[]>
}

export class StepFailedError extends Error {
  constructor (readonly step: Step, message: string, readonly diff?: Diff) {
    super(message)
    this.name = 'StepFailedError'
  }
}

interface Run {
  lab: ScenarioLab
  state: LabState
  random: Random
  ctx: CheckContext
  clock: Clock
  t0: number
  /** When the last topology event happened (ms from t0): convergence is measured from it. */
  lastEventMs: number
  signal?: AbortSignal
  /** Probes running in the background, by id. */
  probes: Map<string, RunningProbe>
}

interface RunningProbe { node: string, pidFile: string, intervalMs: number, done: Promise<RunResult>, startedAt: number }

/** Where a probe's ping records its PID inside its node (a directory every node image has). */
const probePidFile = (lab: string, id: string): string => `/var/log/ntklab-probe-${lab}-${id.replace(/[^A-Za-z0-9_.-]/g, '_')}.pid`

/** Ends a probe (SIGINT) and waits for its output; a ping that does not end within 10 s is reported. */
async function endProbe (run: Run, id: string, p: RunningProbe): Promise<RunResult> {
  run.probes.delete(id)
  await run.lab.exec(p.node, probeStopArgv(p.pidFile), { check: false })
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<RunResult>(resolve => { timer = setTimeout(() => resolve({ code: -1, stdout: '', stderr: 'the probe did not end within 10 s of SIGINT' }), 10_000) })
  try { return await Promise.race([p.done, late]) } finally { clearTimeout(timer) }
}

async function applyEvent (run: Run, step: Step, e: Event, res: StepResult): Promise<void> {
  const { lab, state } = run
  switch (e.type) {
    case 'link': {
      let id = e.link
      if (id === 'random') {
        const candidates = lab.spec.links.filter(l => state.links.get(l.id) !== e.state).map(l => l.id).sort()
        if (candidates.length === 0) throw new StepFailedError(step, `no link is left to set ${e.state ?? ''}`)
        id = run.random.pick(candidates)
        res.detail = `picked ${id}`
      }
      if (e.impair !== undefined) {
        await lab.impair(id, e.impair ?? undefined)
        if (e.impair === null) state.impaired.delete(id); else state.impaired.add(id)
      }
      if (e.state !== undefined) {
        await lab.setLinkState(id, e.state)
        state.links.set(id, e.state)
      }
      run.lastEventMs = run.clock.now() - run.t0
      return
    }
    case 'node': {
      if (e.action === 'start') {
        await lab.startNode(e.node)
        state.stopped.delete(e.node)
      } else {
        await lab.stopNode(e.node, { signal: e.action === 'kill' ? 'SIGKILL' : 'SIGTERM' })
        state.stopped.add(e.node)
      }
      run.lastEventMs = run.clock.now() - run.t0
      return
    }
    case 'together': {
      const results = await Promise.all(e.commands.map(async c => ({ c, r: await lab.exec(c.node, c.argv, { check: false }) })))
      res.detail = results.map(({ c, r }) => `${c.node}: exit ${r.code}`).join(', ')
      const failed = results.filter(({ c, r }) => r.code !== c.code)
      if (failed.length > 0) {
        const lines = failed.flatMap(({ c, r }) => [`${c.node}: exited ${r.code}, expected ${c.code}`, ...[r.stdout.trim(), r.stderr.trim()].filter(x => x !== '').join('\n').slice(0, 2000).split('\n')])
        throw new StepFailedError(step, failed.map(({ c, r }) => `${c.node} exited ${r.code}`).join(', '), { summary: 'a command failed', lines, data: failed.map(({ r }) => r) })
      }
      return
    }
    case 'exec': {
      let r = await lab.exec(e.node, e.argv, { check: false })
      // with a budget: run it again until it gives the expected code (a condition only the daemon can tell)
      const deadline = run.clock.now() + (e.within ?? 0)
      while (r.code !== e.code && run.clock.now() + (e.interval ?? 500) <= deadline) {
        await run.clock.sleep(e.interval ?? 500)
        r = await lab.exec(e.node, e.argv, { check: false })
      }
      const out = [r.stdout.trim(), r.stderr.trim()].filter(x => x !== '').join('\n').slice(0, 2000)
      res.detail = out.split('\n')[0]?.slice(0, 120)
      if (r.code !== e.code) {
        throw new StepFailedError(step, `exited ${r.code}, expected ${e.code}`, { summary: `exit ${r.code}`, lines: out.split('\n'), data: r })
      }
      return
    }
    case 'probe': {
      const pidFile = probePidFile(lab.spec.name, e.id)
      const done = lab.exec(e.node, probeArgv(pidFile, e.to, e.intervalMs, e.maxMs), { check: false })
      const probe: RunningProbe = { node: e.node, pidFile, intervalMs: e.intervalMs, done, startedAt: Date.now() }
      run.probes.set(e.id, probe)
      // running once its PID is recorded (the step that ends it needs it); a ping that fails at once is reported here
      const deadline = run.clock.now() + 10_000
      let ended: RunResult | undefined
      void done.then(r => { ended = r })
      while ((await lab.exec(e.node, ['sh', '-c', `test -s ${pidFile}`], { check: false })).code !== 0) {
        if (ended !== undefined) { run.probes.delete(e.id); throw new StepFailedError(step, `the probe's ping exited ${ended.code} at once: ${(ended.stderr + ended.stdout).trim().slice(0, 300)}`) }
        if (run.clock.now() >= deadline) throw new StepFailedError(step, 'the probe\'s ping did not start within 10 s')
        await run.clock.sleep(50)
      }
      // ping's timestamps are wall-clock time: so is the probe's window
      probe.startedAt = Date.now()
      res.detail = `${e.node} pings ${e.to} every ${formatDuration(e.intervalMs)}`
      return
    }
    case 'probe-end': {
      const p = run.probes.get(e.id)
      if (p === undefined) throw new StepFailedError(step, `probe ${e.id} is not running`)
      const endedAt = Date.now()
      const out = await endProbe(run, e.id, p)
      if (out.code === -1) throw new StepFailedError(step, out.stderr)
      const report = probeReport(out.stdout, p.intervalMs, { startMs: p.startedAt, endMs: endedAt })
      res.detail = formatProbe(report)
      res.metrics = { ...res.metrics, probe: report }
      const lines = report.outages.map(o => `no reply for ${(o.ms / 1000).toFixed(2)} s from ${(o.atMs / 1000).toFixed(2)} s into the probe`)
      if (report.received === 0) throw new StepFailedError(step, `no reply at all (${formatProbe(report)})`, { summary: 'no reply', lines: out.stdout.trim().split('\n').slice(-20), data: report })
      if (e.maxOutageMs !== undefined && report.longestOutageMs > e.maxOutageMs) {
        throw new StepFailedError(step, `traffic stopped for ${(report.longestOutageMs / 1000).toFixed(2)} s, more than ${formatDuration(e.maxOutageMs)} (${formatProbe(report)})`, { summary: 'outage too long', lines, data: report })
      }
      if (e.maxLossPercent !== undefined && report.lossPercent > e.maxLossPercent) {
        throw new StepFailedError(step, `lost ${report.lossPercent}% of the requests, more than ${e.maxLossPercent}% (${formatProbe(report)})`, { summary: 'loss too high', lines, data: report })
      }
      return
    }
    case 'wait':
    case 'expect': {
      const check = e.type === 'wait'
        ? conditionCheck(run.ctx, e.condition, { nextHops: e.nextHops })
        : assertionsCheck(run.ctx, e.assertions, { nextHops: e.nextHops })
      const sampler = e.type === 'wait' && e.sample !== undefined && e.sample > 0
        ? startSampling({ observe: async () => await observeAll(run.ctx), lab: lab.spec, state: () => run.state, models: run.ctx.models, clock: run.clock, period: e.sample })
        : undefined
      const startedAt = run.clock.now() - run.t0
      try {
        const c = await waitFor(step.label, check, { clock: run.clock, budget: e.within, hold: e.hold, interval: e.interval, signal: run.signal })
        res.metrics = {
          waitedMs: c.afterMs,
          // A wait measures convergence from the last topology event; an expect only asserts.
          convergenceMs: e.type === 'wait' ? startedAt - run.lastEventMs + c.afterMs : undefined,
          convergedByMs: e.type === 'wait' ? startedAt - run.lastEventMs + c.checkedMs : undefined,
          stableAtMs: c.stableAtMs,
          attempts: c.attempts,
          flaps: c.flaps
        }
      } catch (err) {
        if (err instanceof NotConvergedError) throw new StepFailedError(step, err.message, err.last ?? undefined)
        throw err
      } finally {
        const churn = await sampler?.stop()
        if (churn !== undefined) res.metrics = { ...res.metrics, churn }
      }
    }
  }
}

function progressLine (r: StepResult, total: number): string {
  const at = `[${formatDuration(r.startedMs ?? r.plannedMs).padStart(7)}]`
  const late = r.startedMs !== undefined && r.startedMs - r.plannedMs > 50 ? ` (planned ${formatDuration(r.plannedMs)})` : ''
  const conv = r.metrics?.convergenceMs !== undefined ? ` converged in ${formatDuration(r.metrics.convergenceMs)}` : ''
  const detail = r.detail !== undefined ? ` ${r.detail}` : ''
  return `${at} ${r.index + 1}/${total} ${r.label}: ${r.status}${conv}${detail}${late}${r.error !== undefined ? `\n    ${r.error.split('\n').join('\n    ')}` : ''}`
}

/**
 * Runs a scenario's timeline on a running lab: events at their planned times, waits and expectations
 * retried within their budgets, convergence measured from the last topology event. After the first
 * failed step the rest are skipped (FRR topotests: fail once, not forty times) and a bundle is written.
 * The lab is not destroyed here: its owner does that.
 */
export async function runScenario (scenario: Scenario, lab: ScenarioLab, o: RunOptions = {}): Promise<ScenarioResult> {
  const clock = o.clock ?? realClock()
  const seed = o.seed ?? scenario.seed ?? newSeed()
  const state = initialState(lab.spec)
  const ctx: CheckContext = { lab, state: () => state, models: o.models ?? defaultRouteModels(), concurrency: o.concurrency }
  const run: Run = { lab, state, random: seededRandom(seed), ctx, clock, t0: clock.now(), lastEventMs: 0, signal: o.signal, probes: new Map() }
  const startedAt = new Date().toISOString()
  const results: StepResult[] = scenario.steps.map(s => ({
    index: s.index,
    label: s.label,
    type: s.event.type,
    status: 'skipped',
    plannedMs: 'at' in s.timing ? s.timing.at : Number.NaN,
    source: s.source !== undefined ? `${s.source.file}:${s.source.line}` : undefined
  }))
  const total = scenario.steps.length
  o.progress?.(`scenario ${scenario.name} on lab ${lab.spec.name}: ${total} steps, seed ${seed}`)
  let prevEnd = 0
  let failed = false
  const partial = (): ScenarioResult => ({ name: scenario.name, lab: lab.spec.name, seed, passed: !failed && results.every(r => r.status === 'passed'), startedAt, durationMs: clock.now() - run.t0, steps: results, bundleDir: o.bundleDir })
  for (const step of scenario.steps) {
    const res = results[step.index] ?? results.find(r => r.index === step.index) as StepResult
    res.plannedMs = plannedStart(step, prevEnd)
    if (failed) continue
    const stateBefore = copyState(state)
    try {
      if (o.signal?.aborted === true) throw new AbortedError('scenario')
      const wait = res.plannedMs - (clock.now() - run.t0)
      if (wait > 0) await clock.sleep(wait, o.signal)
      res.startedMs = clock.now() - run.t0
      await applyEvent(run, step, step.event, res)
      res.status = 'passed'
    } catch (err) {
      failed = true
      res.status = 'failed'
      res.error = err instanceof Error ? err.message : String(err)
      if (err instanceof StepFailedError && err.diff !== undefined) res.diff = err.diff
      if (res.startedMs === undefined) res.startedMs = clock.now() - run.t0
    }
    res.endedMs = clock.now() - run.t0
    prevEnd = res.endedMs
    o.progress?.(progressLine(res, total))
    if (o.bundleDir !== undefined && (res.status === 'failed' || o.keep === true)) {
      try {
        res.bundle = await writeStepBundle({
          dir: o.bundleDir, lab, step, result: res, scenario: partial(), state, stateBefore,
          models: ctx.models, statusCommands: o.statusCommands, concurrency: o.concurrency
        })
        if (res.status === 'failed') o.progress?.(`    bundle: ${res.bundle}`)
      } catch (err) {
        o.progress?.(`    bundle not written: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
  }
  // probes a failed step left running (or never ended by the timeline) stop with the scenario
  for (const [id, p] of [...run.probes]) await endProbe(run, id, p).catch(() => {})
  return partial()
}

export { describeEvent }
