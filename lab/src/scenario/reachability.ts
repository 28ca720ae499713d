import { mapBounded } from '../util/pool'
import type { ResolvedLab } from '../topology/model'
import { components, type LabState } from './lab-state'
import type { RouteModels } from './route-model'
import type { ScenarioLab } from './scenario-lab'
import type { Diff } from './wait'

/** Node name -> the address other nodes ping (the first announced prefix, without its length). */
export function pingTargets (lab: ResolvedLab, models: RouteModels): Map<string, string> {
  const out = new Map<string, string>()
  for (const n of lab.nodes) {
    const first = models.get(n.kind)?.destinations(n)[0]
    if (first !== undefined) out.set(n.name, first.split('/')[0])
  }
  return out
}

export interface ReachabilityMatrix {
  /** Row and column order. */
  nodes: string[]
  /** reachable[from][to]; the diagonal is left out. */
  reachable: Record<string, Record<string, boolean>>
}

/** Pings every ordered pair once (`ping -c 1 -W 1`), at most `concurrency` at a time. */
export async function reachabilityMatrix (lab: ScenarioLab, targets: Map<string, string>,
  o: { concurrency?: number, nodes?: string[] } = {}): Promise<ReachabilityMatrix> {
  const nodes = (o.nodes ?? [...targets.keys()]).filter(n => targets.has(n)).sort()
  const pairs = nodes.flatMap(a => nodes.filter(b => b !== a).map(b => [a, b] as const))
  const results = await mapBounded(pairs, o.concurrency ?? 8, async ([a, b]) => {
    const r = await lab.exec(a, ['ping', '-c', '1', '-W', '1', targets.get(b) as string], { check: false })
    return r.code === 0
  })
  const reachable: Record<string, Record<string, boolean>> = {}
  for (const n of nodes) reachable[n] = {}
  pairs.forEach(([a, b], i) => { reachable[a][b] = results[i] })
  return { nodes, reachable }
}

/** The matrix the partitions imply: a pair is reachable exactly when both ends share a component. */
export function expectedMatrix (lab: ResolvedLab, state: LabState, nodes: string[]): ReachabilityMatrix {
  const member = new Set(nodes)
  const compOf = new Map<string, number>()
  components(lab, state, member).forEach((c, i) => { for (const n of c) compOf.set(n, i) })
  const sorted = [...nodes].sort()
  const reachable: Record<string, Record<string, boolean>> = {}
  for (const a of sorted) {
    reachable[a] = {}
    for (const b of sorted) {
      if (a === b) continue
      const ca = compOf.get(a)
      reachable[a][b] = ca !== undefined && ca === compOf.get(b)
    }
  }
  return { nodes: sorted, reachable }
}

export function compareMatrix (expected: ReachabilityMatrix, actual: ReachabilityMatrix): Diff | null {
  const lines: string[] = []
  for (const a of expected.nodes) {
    for (const b of expected.nodes) {
      if (a === b) continue
      const e = expected.reachable[a]?.[b]
      const got = actual.reachable[a]?.[b]
      if (e !== got) lines.push(`${a} -> ${b}: ${got === true ? 'reachable' : 'unreachable'}, expected ${e === true ? 'reachable' : 'unreachable'}`)
    }
  }
  if (lines.length === 0) return null
  return { summary: `${lines.length} pairs differ from the partitions`, lines, data: { expected, actual } }
}

/** A matrix as text: one row per source, "+" reachable, "." not, "x" where it differs from expected. */
export function formatMatrix (m: ReachabilityMatrix, expected?: ReachabilityMatrix): string {
  const w = Math.max(4, ...m.nodes.map(n => n.length))
  const head = ''.padEnd(w) + ' ' + m.nodes.map(n => n.padStart(w)).join(' ')
  const rows = m.nodes.map(a => a.padEnd(w) + ' ' + m.nodes.map(b => {
    if (a === b) return '-'.padStart(w)
    const got = m.reachable[a]?.[b] === true
    const mark = expected !== undefined && expected.reachable[a]?.[b] !== got ? 'x' : got ? '+' : '.'
    return mark.padStart(w)
  }).join(' '))
  return [head, ...rows].join('\n')
}
