import test from 'ava'
import { distribution, formWithFaults, type FormationShape } from './helpers/formation-faults'

// Issue 15 item 3, "cheapest paths hold": while a network forms, links flap (down for 100-500 ms), one end of an arc
// drops it (its remove_arc lost, so the same arc is agreed again), a few ETPs are lost on the wire and latencies
// jitter. An ETP the transport could not deliver must not leave its neighbour on a longer path until the periodic
// full ETP (30 s with lab timers): every map equals the Dijkstra oracle within 5 s of the last event, for every
// seed. (A lost ETP shows when its unicast times out, 4 s with lab timers; the full ETP that repairs it follows
// 0.5 s later.) Without the repair, about one seed in three waits ~27 s for the periodic full ETP.

const SEEDS = 20
const BUDGET_MS = 5_000

for (const [shape, what] of [['grid', '5x5 grid'], ['line', 'line of 10']] as Array<[FormationShape, string]>) {
  test(`a ${what} forming while links flap and ETPs get lost: maps equal the oracle within 5 s of the last event (${SEEDS} seeds)`, async t => {
    const late: string[] = []
    const times: Array<number | null> = []
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await formWithFaults(shape, seed, 'flap+rearc+drop+jitter', BUDGET_MS)
      await r.dn.stopAll()
      times.push(r.convergedMs)
      if (r.convergedMs === null) late.push(`seed ${seed} (last event at ${r.lastEventMs} ms): ${r.problems.join(' | ')}`)
    }
    const d = distribution(times)
    t.log(`ms after the last event: median ${d.median}, p90 ${d.p90}, max ${d.max}`)
    t.deepEqual(late, [], `${late.length} of ${SEEDS} seeds did not converge within ${BUDGET_MS} ms of the last event`)
  })
}
