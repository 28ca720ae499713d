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

/**
 * The addresses of `to` that `from` must reach, for models that name several per pair (ntkd: the
 * global address and the internal ones of every g-node both share); undefined: the node's one target.
 */
export function pairTargets (lab: ResolvedLab, models: RouteModels): (from: string, to: string) => string[] | undefined {
  const spec = new Map(lab.nodes.map(n => [n.name, n]))
  return (from, to) => {
    const a = spec.get(from)
    const b = spec.get(to)
    const f = b === undefined ? undefined : models.get(b.kind)?.pingTargets
    return a === undefined || b === undefined || f === undefined ? undefined : f(a, b)
  }
}

export interface ReachabilityMatrix {
  /** Row and column order. */
  nodes: string[]
  /** reachable[from][to]: every target address of `to` answered; the diagonal is left out. */
  reachable: Record<string, Record<string, boolean>>
  /** Pairs where some target addresses answered and these did not (only with several targets per pair). */
  partial?: Record<string, Record<string, string[]>>
}

/**
 * Pings every ordered pair (`ping -c 1 -W 1`, once per target address), at most `concurrency` at a
 * time. `perPair` names several addresses for a pair; otherwise the pair's one address is `targets`'.
 */
export async function reachabilityMatrix (lab: ScenarioLab, targets: Map<string, string>,
  o: { concurrency?: number, nodes?: string[], perPair?: (from: string, to: string) => string[] | undefined } = {}): Promise<ReachabilityMatrix> {
  const nodes = (o.nodes ?? [...targets.keys()]).filter(n => targets.has(n)).sort()
  const pairs = nodes.flatMap(a => nodes.filter(b => b !== a).map(b => [a, b] as const))
  const pings = pairs.flatMap(([a, b]) => (o.perPair?.(a, b) ?? [targets.get(b) as string]).map(address => ({ a, b, address })))
  const results = await mapBounded(pings, o.concurrency ?? 8, async ({ a, address }) => {
    const r = await lab.exec(a, ['ping', '-c', '1', '-W', '1', address], { check: false })
    return r.code === 0
  })
  const answered = new Map<string, { ok: number, failed: string[] }>()
  pings.forEach(({ a, b, address }, i) => {
    const k = `${a}\u0000${b}`
    const e = answered.get(k) ?? { ok: 0, failed: [] }
    if (results[i]) e.ok++; else e.failed.push(address)
    answered.set(k, e)
  })
  const reachable: Record<string, Record<string, boolean>> = {}
  const partial: Record<string, Record<string, string[]>> = {}
  for (const n of nodes) reachable[n] = {}
  for (const [a, b] of pairs) {
    const e = answered.get(`${a}\u0000${b}`) ?? { ok: 0, failed: [] }
    reachable[a][b] = e.failed.length === 0
    if (e.ok > 0 && e.failed.length > 0) (partial[a] ??= {})[b] = e.failed
  }
  return Object.keys(partial).length > 0 ? { nodes, reachable, partial } : { nodes, reachable }
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
      const silent = actual.partial?.[a]?.[b]
      if (silent !== undefined) lines.push(`${a} -> ${b}: partly reachable (${silent.join(', ')} not answering), expected ${e === true ? 'reachable' : 'unreachable'}`)
      else if (e !== got) lines.push(`${a} -> ${b}: ${got === true ? 'reachable' : 'unreachable'}, expected ${e === true ? 'reachable' : 'unreachable'}`)
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
