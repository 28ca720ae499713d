import test from 'ava'
import { ManualClock } from '../src/scenario/clock'
import { initialState } from '../src/scenario/lab-state'
import { compareMatrix, expectedMatrix, formatMatrix, pingTargets, reachabilityMatrix } from '../src/scenario/reachability'
import { defaultRouteModels } from '../src/scenario/route-model'
import type { ScenarioLab } from '../src/scenario/scenario-lab'
import { ringLab, SimulatedLab } from '../src/scenario/simulated-lab'

const lab = ringLab(4)
const models = defaultRouteModels()

/** A lab whose pings succeed only between listed pairs, recording how many run at once. */
function pingLab (ok: Set<string>, delayMs = 5): { lab: ScenarioLab, calls: string[][], maxInFlight: () => number } {
  const calls: string[][] = []
  let inFlight = 0
  let max = 0
  const addrOwner = new Map([...pingTargets(lab, models)].map(([n, a]) => [a, n]))
  const fake: ScenarioLab = {
    spec: lab,
    setLinkState: async () => {},
    impair: async () => {},
    stopNode: async () => {},
    startNode: async () => {},
    observe: async () => ({ addresses: [], routes: [] }),
    logFile: () => undefined,
    exec: async (node, argv) => {
      calls.push([node, ...argv])
      inFlight++; max = Math.max(max, inFlight)
      await new Promise(resolve => setTimeout(resolve, delayMs))
      inFlight--
      const to = addrOwner.get(argv[argv.length - 1]) ?? '?'
      return ok.has(`${node}>${to}`) ? { code: 0, stdout: '', stderr: '' } : { code: 1, stdout: '', stderr: '' }
    }
  }
  return { lab: fake, calls, maxInFlight: () => max }
}

test('pings every ordered pair once with ping -c 1 -W 1 and bounded concurrency', async t => {
  const all = new Set<string>()
  for (const a of ['r1', 'r2', 'r3', 'r4']) for (const b of ['r1', 'r2', 'r3', 'r4']) if (a !== b) all.add(`${a}>${b}`)
  const f = pingLab(all)
  const m = await reachabilityMatrix(f.lab, pingTargets(lab, models), { concurrency: 3 })
  t.is(f.calls.length, 12)
  t.deepEqual(f.calls.find(c => c[0] === 'r1' && c[6] === '172.31.3.1'), ['r1', 'ping', '-c', '1', '-W', '1', '172.31.3.1'])
  t.true(f.maxInFlight() <= 3)
  t.true(f.maxInFlight() > 1, 'pings run in parallel')
  t.deepEqual(compareMatrix(expectedMatrix(lab, initialState(lab), m.nodes), m), null)
})

test('after a split the matrix shows the two parts, and a leak across the cut is reported', async t => {
  const s = initialState(lab)
  s.links.set(lab.links[0].id, 'down') // r1--r2
  s.links.set(lab.links[2].id, 'down') // r3--r4: parts {r1,r4} and {r2,r3}
  const expected = expectedMatrix(lab, s, ['r1', 'r2', 'r3', 'r4'])
  t.true(expected.reachable.r1.r4)
  t.false(expected.reachable.r1.r2)
  const f = pingLab(new Set(['r1>r4', 'r4>r1', 'r2>r3', 'r3>r2', 'r1>r3']))
  const m = await reachabilityMatrix(f.lab, pingTargets(lab, models))
  const d = compareMatrix(expected, m)
  t.deepEqual(d?.lines, ['r1 -> r3: reachable, expected unreachable'])
  t.is(formatMatrix(m, expected).split('\n')[1], 'r1      -    .    x    +')
})

test('the simulated lab delivers pings along its routes only once converged', async t => {
  const clock = new ManualClock()
  const sim = new SimulatedLab(lab, { clock, convergeMs: 1000 })
  const targets = pingTargets(lab, models)
  const full = await reachabilityMatrix(sim, targets)
  t.true(Object.values(full.reachable).every(row => Object.values(row).every(Boolean)))
  await sim.setLinkState(lab.links[0].id, 'down')
  const during = await reachabilityMatrix(sim, targets)
  t.false(during.reachable.r1.r2, 'stale route into the cut link drops packets')
  clock.advance(1000)
  const after = await reachabilityMatrix(sim, targets)
  t.true(after.reachable.r1.r2, 'rerouted the long way round')
})
