import { gridTopology, lineTopology, type TopologySpec } from '../../src/sim/topologies'
import { SeededRandom } from '../../src/util/random'
import { runFor, runUntil, startSpec, type DaemonNetwork } from './inprocess-network'
import { RouteOracle } from './route-oracle'
import { mapProblems } from './daemon-checks'

/*
 * A network of whole daemons (in process, virtual clock) that forms while things go wrong, seeded: links that go
 * down for 100-500 ms, arcs one end drops (its remove_arc lost, so the other end agrees to the same arc again),
 * ETPs lost on the wire, latencies that jitter (messages overtake each other). Then: how long after the last event
 * until every map equals the Dijkstra oracle (issue 15: cheapest paths hold).
 */

/** 4·4·4, level 0 first. */
const QUAD = [4, 4, 4]

export type FormationShape = 'grid' | 'line'
/** Any of 'flap', 'rearc', 'drop', 'jitter', joined by '+'. */
export type FormationFaults = string

/** The 5x5 grid (link costs 1000-1900 µs drawn from the seed) or the line of 10 (1000 µs). */
export function formationSpec (shape: FormationShape, seed: number): TopologySpec {
  const rnd = new SeededRandom(seed)
  return shape === 'line' ? lineTopology(10, QUAD, 1000) : gridTopology(5, 5, QUAD, () => 1000 + 100 * rnd.int(10))
}

export interface FormationResult {
  /** Virtual ms from the start to the last event. */
  readonly lastEventMs: number
  /** Virtual ms from the last event until every map equalled the oracle; null past the budget. */
  readonly convergedMs: number | null
  /** What was still wrong at the end (empty when converged). */
  readonly problems: string[]
  readonly dn: DaemonNetwork
}

/** Runs one seeded formation with faults during its first 3 s; the caller stops the daemons (`dn.stopAll()`). */
export async function formWithFaults (shape: FormationShape, seed: number, faults: FormationFaults, budgetMs: number): Promise<FormationResult> {
  const spec = formationSpec(shape, seed)
  const dn = await startSpec(spec, { seed })
  const rnd = new SeededRandom(seed * 7919 + 1)
  const ends = spec.links.map(l => {
    const nic = dn.get(l.a).config.interfaces.find(n => dn.peerOf(l.a, n).node === l.b) as string
    return { a: { node: l.a, nic }, b: dn.peerOf(l.a, nic) }
  })
  const events: Array<{ at: number, f: () => void }> = []
  const kinds = new Set(faults.split('+'))
  if (kinds.has('flap')) {
    for (let k = 0; k < 6; k++) {
      const e = ends[rnd.int(ends.length)]
      const at = 200 + rnd.int(2800)
      events.push({ at, f: () => dn.setLinkUp(e.a, e.b, false) })
      events.push({ at: at + 100 + rnd.int(400), f: () => dn.setLinkUp(e.a, e.b, true) })
    }
  }
  // what the medium's tap does to a message leaving (replacement bytes: undecodable, so dropped)
  const taps: Array<(bytes: Buffer, via: string) => Buffer | undefined> = []
  if (kinds.has('rearc')) {
    taps.push(bytes => bytes.includes('"remove_arc"') ? Buffer.from('x') : undefined)
    for (let k = 0; k < 4; k++) {
      const name = spec.nodes[rnd.int(spec.nodes.length)].name
      const pick = rnd.int(4)
      events.push({
        at: 200 + rnd.int(2800),
        f: () => {
          const nb = dn.get(name).node.system.neighborhood
          const arcs = nb.arcs()
          if (arcs.length > 0) void nb.removeArc(arcs[pick % arcs.length].id)
        }
      })
    }
  }
  if (kinds.has('drop')) taps.push((bytes, via) => via === 'unicast' && bytes.includes('"qspn_etp"') && rnd.next() < 0.03 ? Buffer.from('x') : undefined)
  if (taps.length > 0) {
    dn.net.tap = leg => { for (const tap of taps) { const b = tap(leg.bytes, leg.via); if (b !== undefined) return b } return undefined }
    events.push({ at: 3000, f: () => { dn.net.tap = undefined } })
  }
  if (kinds.has('jitter')) {
    for (let at = 0; at < 3000; at += 50) {
      const e = ends[rnd.int(ends.length)]
      const latency = 1 + rnd.int(40)
      events.push({ at, f: () => dn.setLatency(e.a, e.b, latency) })
    }
    events.push({ at: 3000, f: () => { for (const e of ends) dn.setLatency(e.a, e.b, 1) } })
  }
  events.sort((x, y) => x.at - y.at)
  const t0 = dn.clock.now()
  for (const ev of events) {
    await runFor(dn.clock, t0 + ev.at - dn.clock.now())
    ev.f()
  }
  const lastEventMs = dn.clock.now() - t0
  const oracle = RouteOracle.ofSpec(spec)
  let problems: string[] = []
  const convergedMs = await runUntil(dn.clock, () => {
    problems = mapProblems(dn, oracle, { limit: 3, alternatives: false })
    return problems.length === 0
  }, { budgetMs, stepMs: 100 })
  return { lastEventMs, convergedMs, problems, dn }
}

/** Median, 90th percentile and maximum (null counts as Infinity). */
export function distribution (values: ReadonlyArray<number | null>): { median: number, p90: number, max: number } {
  const s = values.map(v => v ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b)
  return { median: s[Math.floor(s.length / 2)], p90: s[Math.floor(s.length * 0.9)], max: s[s.length - 1] }
}
