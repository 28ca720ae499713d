import test from 'ava'
import { ManualClock, realClock } from '../src/scenario/clock'
import { parseDuration, DurationError } from '../src/scenario/duration'
import { NotConvergedError, waitFor, type Diff } from '../src/scenario/wait'

const diff = (n: number): Diff => ({ summary: `attempt ${n} failed`, lines: [`line ${n}`] })

/** A check scripted by attempt number: true = holds. */
function scripted (outcomes: boolean[]): { check: () => Promise<Diff | null>, calls: () => number } {
  let i = 0
  return {
    check: async () => { const ok = outcomes[Math.min(i, outcomes.length - 1)]; i++; return ok ? null : diff(i) },
    calls: () => i
  }
}

test('succeeds after N failed checks and reports the elapsed time on the clock', async t => {
  const clock = new ManualClock()
  const s = scripted([false, false, false, true])
  const c = await waitFor('routes', s.check, { clock, budget: 10_000, interval: 500 })
  t.is(c.afterMs, 1500)
  t.is(c.attempts, 4)
  t.is(clock.now(), 1500)
})

test('fails at the budget with the last diff', async t => {
  const clock = new ManualClock()
  const s = scripted([false])
  const err = await t.throwsAsync(waitFor('routes of r1', s.check, { clock, budget: 2000, interval: 500 }), { instanceOf: NotConvergedError })
  t.is(err?.name, 'NotConvergedError')
  // checks at 0, 500, 1000, 1500, 2000, then once more in full for the report
  t.is(err?.last?.summary, 'attempt 6 failed')
  t.regex(err?.message ?? '', /routes of r1: not satisfied within 2\.00s \(5 checks\): attempt 6 failed\nline 6/)
  t.is(clock.now(), 2000)
})

test('a wait polls quick checks and asks a full one for its report when the budget is spent', async t => {
  const clock = new ManualClock()
  const asked: Array<boolean | undefined> = []
  const check = async (_signal?: AbortSignal, o?: { quick?: boolean }): Promise<Diff | null> => {
    asked.push(o?.quick)
    return o?.quick === true ? { summary: 'network: 2 ids', lines: ['first part'] } : { summary: 'network: 2 ids; converged: 3 routes differ', lines: ['first part', 'second part'] }
  }
  const err = await t.throwsAsync(waitFor('merged', check, { clock, budget: 1000, interval: 500 }), { instanceOf: NotConvergedError })
  t.deepEqual(asked, [true, true, true, undefined], 'three polls, then the full check')
  t.is(err?.last?.summary, 'network: 2 ids; converged: 3 routes differ', 'the report names every failing part')
  const ok = await waitFor('merged', async (_s, o) => { asked.push(o?.quick); return null }, { clock, budget: 1000 })
  t.is(ok.attempts, 1)
  t.is(asked.pop(), true, 'a check that holds is not asked again')
})

test('a budget of 0 still checks once', async t => {
  const clock = new ManualClock()
  const c = await waitFor('x', async () => null, { clock, budget: 0 })
  t.is(c.attempts, 1)
  t.is(c.afterMs, 0)
})

test('the hold window restarts when the condition flaps', async t => {
  const clock = new ManualClock()
  // holds at 0 and 500, breaks at 1000, holds from 1500 on
  const s = scripted([true, true, false, true])
  const c = await waitFor('stable', s.check, { clock, budget: 10_000, interval: 500, hold: 2000 })
  t.is(c.afterMs, 1500, 'convergence counts from the start of the final streak')
  t.is(c.stableAtMs, 3500)
  t.is(c.flaps, 1)
})

test('a streak begun within the budget may finish its hold after it; one that breaks fails', async t => {
  const ok = await waitFor('late', scripted([false, false, true]).check, { clock: new ManualClock(), budget: 1000, interval: 500, hold: 2000 })
  t.is(ok.afterMs, 1000)
  t.is(ok.stableAtMs, 3000)
  const err = await t.throwsAsync(waitFor('flappy', scripted([false, false, true, true, false]).check,
    { clock: new ManualClock(), budget: 1000, interval: 500, hold: 2000 }), { instanceOf: NotConvergedError })
  t.is(err?.last?.summary, 'attempt 6 failed') // the 5th broke the streak after the budget; the 6th, in full, is the report
})

test('abort stops the wait', async t => {
  const ac = new AbortController()
  const clock = new ManualClock({ auto: false })
  const p = waitFor('x', async () => diff(1), { clock, budget: 10_000, interval: 1000, signal: ac.signal })
  await new Promise(resolve => setImmediate(resolve))
  ac.abort(new Error('stop now'))
  await t.throwsAsync(p, { message: 'stop now' })
})

test('the real clock sleeps and can be aborted', async t => {
  const clock = realClock()
  const start = clock.now()
  await clock.sleep(30)
  t.true(clock.now() - start >= 25)
  const ac = new AbortController()
  const p = clock.sleep(10_000, ac.signal)
  ac.abort()
  await t.throwsAsync(p, { name: "AbortedError" })
})

test('durations parse from the file syntax', t => {
  t.is(parseDuration('500ms'), 500)
  t.is(parseDuration('2s'), 2000)
  t.is(parseDuration('1.5s'), 1500)
  t.is(parseDuration('1m'), 60_000)
  t.is(parseDuration(3), 3000)
  t.throws(() => parseDuration('5 sec'), { instanceOf: DurationError })
})
