import { setTimeout as sleep } from 'node:timers/promises'
import type { RunningLab } from '../../src/lab'
import { initialState } from '../../src/scenario/lab-state'
import { realClock } from '../../src/scenario/clock'
import { seededRandom } from '../../src/scenario/random'
import { NotConvergedError, waitFor, type Check } from '../../src/scenario/wait'
import { convergedCheck, daemonProcesses, ntkctl, staleCheck, type DaemonProcess } from './ntkd-daemons'

/*
 * Link churn on a lab of ntkd daemons: N flaps (a random link down, then up again) one after the other within a
 * time span, then the network must come back to the route model with no stale entry, no daemon may have died, and
 * resident memory per daemon must not have grown by more than 10 %.
 *
 * Memory is read right after a full garbage collection (`ntkctl memory`), and compared warm with warm: a few
 * warm-up flaps first run the code paths a daemon has not run since it started (removing and making arcs again),
 * whose first use pages in more of the node binary and compiles code (about 1 MiB, measured in /proc/<pid>/smaps);
 * the cold reading is reported too.
 */

export interface ChurnOptions {
  readonly flaps: number
  /** The flaps are spread evenly over this many ms; each link stays down for 20..80 % of its slot. */
  readonly withinMs: number
  readonly seed: number
  /** Flaps run before the baseline reading, within withinMs * warmup / flaps (default 10). */
  readonly warmupFlaps?: number
  /** Quiet time before each memory reading (after convergence). */
  readonly settleMs?: number
  readonly log?: (line: string) => void
}

export interface ChurnResult {
  readonly daemons: number
  readonly flaps: number
  /** How long the flaps took, ms (setting links down and up takes time of its own). */
  readonly flapMs: number
  /** From the last flap to the route model holding, ms; null when it did not within the budget. */
  readonly convergedMs: number | null
  /** Stale or missing kernel entries and arcs left once converged (empty: none). */
  readonly stale: string[]
  readonly routeDiff: string[]
  /** Daemons that died or were replaced during the churn. */
  readonly died: string[]
  /** Resident memory once converged, before any flap. */
  readonly rssColdMb: ReadonlyMap<string, number>
  /** After the warm-up flaps: the baseline. */
  readonly rssBeforeMb: ReadonlyMap<string, number>
  readonly rssAfterMb: ReadonlyMap<string, number>
  /** The anonymous part of the resident memory (heap, stacks, malloc arenas) at the baseline and after; the rest is the node binary's pages. */
  readonly anonBeforeMb: ReadonlyMap<string, number>
  readonly anonAfterMb: ReadonlyMap<string, number>
  /** Live V8 heap without compiled code (after a full collection) at each reading, per daemon: the daemon's objects. */
  readonly heapBeforeMb: ReadonlyMap<string, number>
  readonly heapAfterMb: ReadonlyMap<string, number>
  /** Largest growth of one daemon's resident memory over the baseline, percent. */
  readonly maxGrowthPct: number
  /** The same over the cold reading. */
  readonly maxGrowthColdPct: number
}

async function holds (what: string, check: Check, budget: number, hold = 0): Promise<{ ms: number | null, lines: string[] }> {
  try {
    return { ms: (await waitFor(what, check, { clock: realClock(), budget, interval: 250, hold })).afterMs, lines: [] }
  } catch (e) {
    if (e instanceof NotConvergedError) return { ms: null, lines: [e.last?.summary ?? '', ...(e.last?.lines ?? [])] }
    throw e
  }
}

type MemoryReply = { heapUsedMb?: number, heapCodeMb?: number, heapTotalMb?: number, externalMb?: number }

/**
 * Each daemon's PID and resident memory after `windowMs` of quiet, read right after a full garbage collection
 * (`ntkctl memory`): V8 frees old garbage only when its heap reaches a limit, so without it two readings would
 * compare points of a saw tooth several MiB high rather than what each daemon holds. With them, each daemon's live
 * V8 heap without compiled code (its objects), as the last collection's answer gives it; V8's reserved heap and
 * external memory are logged.
 */
async function settledMemory (lab: RunningLab, windowMs: number, log: (line: string) => void = () => {}): Promise<{ processes: Map<string, DaemonProcess>, heapMb: Map<string, number> }> {
  await sleep(windowMs)
  // two collections a second apart: V8 hands the pages a collection freed back to the system from a background task,
  // and only after the next one (measured: one collection left 3-6 MiB of such pages, which left by themselves later)
  const last = new Map<string, MemoryReply>()
  for (let round = 0; round < 2; round++) {
    for (const n of lab.nodes.keys()) last.set(n, await ntkctl(lab, n, ['memory']) as MemoryReply)
    await sleep(1_000)
  }
  log(`V8 heap reserved + external, MiB: ${[...last.values()].map(m => `${m.heapTotalMb ?? '?'}+${m.externalMb ?? '?'}`).join(', ')}`)
  const heapMb = new Map([...last].map(([n, m]) => [n, (m.heapUsedMb ?? NaN) - (m.heapCodeMb ?? 0)]))
  return { processes: await daemonProcesses(lab), heapMb }
}

export async function runChurn (lab: RunningLab, o: ChurnOptions): Promise<ChurnResult> {
  const log = o.log ?? (() => {})
  const state = initialState(lab.spec)
  const now = (): typeof state => state
  const first = await holds('initial convergence', convergedCheck(lab, now), 120_000)
  if (first.ms === null) throw new Error(`the lab did not converge before the churn:\n${first.lines.join('\n')}`)
  const clean = await holds('no stale entry before the churn', staleCheck(lab, now), 30_000)
  if (clean.ms === null) throw new Error(`stale entries before the churn:\n${clean.lines.join('\n')}`)
  const cold = (await settledMemory(lab, o.settleMs ?? 10_000)).processes
  log(`converged after ${(first.ms / 1000).toFixed(1)} s; resident memory ${[...cold.values()].map(p => p.rssMb.toFixed(1)).join(', ')} MiB`)

  const rnd = seededRandom(o.seed)
  const links = lab.spec.links.map(l => l.id)
  const slot = o.withinMs / o.flaps
  const flap = async (n: number): Promise<number> => {
    const t0 = Date.now()
    for (let k = 0; k < n; k++) {
      const wait = t0 + k * slot - Date.now()
      if (wait > 0) await sleep(wait)
      const link = rnd.pick(links)
      await lab.setLinkState(link, 'down')
      await sleep(slot * (0.2 + 0.6 * rnd.next()))
      await lab.setLinkState(link, 'up')
    }
    return Date.now() - t0
  }
  const warmup = o.warmupFlaps ?? 10
  if (warmup > 0) {
    await flap(warmup)
    const again = await holds('converged after the warm-up', convergedCheck(lab, now), 60_000, 2_000)
    if (again.ms === null) throw new Error(`the lab did not converge after ${warmup} warm-up flaps:\n${again.lines.join('\n')}`)
  }
  const { processes: before, heapMb: heapBefore } = await settledMemory(lab, o.settleMs ?? 10_000, log)
  log(`after ${warmup} warm-up flaps: resident memory ${[...before.values()].map(p => p.rssMb.toFixed(1)).join(', ')} MiB; live objects ${[...heapBefore.values()].map(x => x.toFixed(2)).join(', ')} MiB`)

  const flapMs = await flap(o.flaps)
  log(`${o.flaps} flaps in ${(flapMs / 1000).toFixed(1)} s`)

  const converged = await holds('converged after the churn', convergedCheck(lab, now), 60_000, 2_000)
  const stale = converged.ms === null ? { ms: null, lines: [] } : await holds('no stale entry after the churn', staleCheck(lab, now), 30_000)
  const died: string[] = []
  let after = new Map<string, DaemonProcess>()
  let heapAfter = new Map<string, number>()
  try {
    const m = await settledMemory(lab, o.settleMs ?? 10_000, log)
    after = m.processes
    heapAfter = m.heapMb
  } catch (e) { died.push((e as Error).message) }
  for (const [n, p] of before) if (after.has(n) && after.get(n)?.pid !== p.pid) died.push(`${n}: pid ${p.pid} became ${after.get(n)?.pid ?? '?'}`)
  log(`after the churn: resident memory ${[...after.values()].map(p => p.rssMb.toFixed(1)).join(', ')} MiB; live objects ${[...heapAfter.values()].map(x => x.toFixed(2)).join(', ')} MiB`)
  const growth = (from: typeof before): number[] => [...from].map(([n, p]) => 100 * ((after.get(n)?.rssMb ?? p.rssMb) - p.rssMb) / p.rssMb)
  return {
    daemons: before.size,
    flaps: o.flaps,
    flapMs,
    convergedMs: converged.ms,
    routeDiff: converged.lines,
    stale: stale.lines,
    died,
    rssColdMb: new Map([...cold].map(([n, p]) => [n, p.rssMb])),
    rssBeforeMb: new Map([...before].map(([n, p]) => [n, p.rssMb])),
    rssAfterMb: new Map([...after].map(([n, p]) => [n, p.rssMb])),
    anonBeforeMb: new Map([...before].map(([n, p]) => [n, p.anonMb])),
    anonAfterMb: new Map([...after].map(([n, p]) => [n, p.anonMb])),
    heapBeforeMb: heapBefore,
    heapAfterMb: heapAfter,
    maxGrowthPct: Math.max(...growth(before)),
    maxGrowthColdPct: Math.max(...growth(cold))
  }
}
