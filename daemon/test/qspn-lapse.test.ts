import test from 'ava'
import { distribution, formWithFaults, type FormationShape } from './helpers/formation-faults'
import { runUntil, startDaemons } from './helpers/inprocess-network'
import { mapProblems, oracleOfArcs } from './helpers/daemon-checks'

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

// Networks that merge (hooking): new identities ask their neighbours for full ETPs while those neighbours' own maps
// still change, so a spontaneous ETP often crosses the answer. The answer, full and possibly older, must not leave
// the map without what the crossing ETP brought until the periodic full ETP (it did: ~30 s for this line).
test('a line of 5 lone daemons merging into one network: maps equal the oracle within 3 s of the last entry', async t => {
  const k = 5
  const plan = Object.fromEntries(Array.from({ length: k }, (_, i) => [`n${i}`, { nics: i === 0 || i === k - 1 ? ['e0'] : ['e0', 'e1'] }]))
  const dn = await startDaemons(plan, { topologyBits: [2, 1, 1, 1], seed: 11 })
  t.teardown(async () => await dn.stopAll())
  for (let i = 0; i + 1 < k; i++) dn.link({ node: `n${i}`, nic: i === 0 ? 'e0' : 'e1' }, { node: `n${i + 1}`, nic: 'e0' })
  const oneNetwork = (): boolean => new Set(dn.list().map(d => d.node.status().networkId)).size === 1 &&
    new Set(dn.list().map(d => d.naddr.join('.'))).size === k && dn.list().every(d => d.node.identities().length === 1)
  const merged = await runUntil(dn.clock, oneNetwork, { budgetMs: 60_000, stepMs: 100 })
  if (merged === null) return t.fail('the daemons did not become one network within 60 s (hooking)')
  let problems: string[] = []
  const ms = await runUntil(dn.clock, () => { problems = mapProblems(dn, oracleOfArcs(dn), { limit: 5, alternatives: false }); return problems.length === 0 }, { budgetMs: 3_000, stepMs: 100 })
  t.log(`one network after ${merged} ms, maps equal the oracle ${String(ms)} ms later`)
  t.deepEqual(problems, [])
})
