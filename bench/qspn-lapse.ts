/*
 * Cheapest paths after faults while a network forms (issue 15 item 3): whole daemons in process (virtual clock),
 * links that flap, arcs dropped on one end, ETPs lost, latencies that jitter, during the first 3 s; measures the
 * virtual time from the last event to "every map equals the Dijkstra oracle" over many seeds.
 *
 *   npx ts-node --transpile-only bench/qspn-lapse.ts [grid|line] [seeds] [flap|rearc|drop|jitter, joined by +]
 */
import { distribution, formWithFaults, type FormationShape } from '../daemon/test/helpers/formation-faults'

const shape = (process.argv[2] ?? 'grid') as FormationShape
const seeds = Number(process.argv[3] ?? 20)
const faults = process.argv[4] ?? 'flap'
const BUDGET_MS = 60_000

async function main (): Promise<void> {
  const out: Array<number | null> = []
  for (let seed = 1; seed <= seeds; seed++) {
    const wall = Date.now()
    const r = await formWithFaults(shape, seed, faults, BUDGET_MS)
    await r.dn.stopAll()
    out.push(r.convergedMs)
    console.log(`seed ${seed}: ${r.convergedMs ?? `not within ${BUDGET_MS}`} ms after the last event at ${r.lastEventMs} ms (${Date.now() - wall} ms wall) ${r.problems.join(' | ')}`)
  }
  const d = distribution(out)
  console.log(`${shape} ${faults}, ${seeds} seeds: median ${d.median} ms, p90 ${d.p90} ms, max ${d.max} ms; over 5 s: ${out.filter(v => v === null || v > 5000).length}`)
}
void main()
