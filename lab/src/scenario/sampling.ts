import type { ResolvedLab } from '../topology/model'
import type { Clock } from './clock'
import { adjacency, type LabState } from './lab-state'
import { normalizePrefix, type NodeObservation } from './observation'
import { expectRoutes, inModelTable, type RouteModels } from './route-model'

/** One snapshot: per node, destination -> outgoing interface of the daemon's route. */
export type RouteSnapshot = Map<string, Map<string, string>>

export interface ChurnMetrics {
  samples: number
  /** Routes added, removed or moved to another interface between consecutive samples. */
  churn: number
  /** Largest number of (node, destination) pairs that should have had a route and had none. */
  maxMissing: number
  /** Samples in which some destination had no route on a node that should reach it. */
  blackholeSamples: number
  /** Samples in which following next hops for some destination went round in a circle. */
  loopSamples: number
  /** A few loops as "a -> b -> a for 172.31.3.1/32". */
  loops: string[]
}

export function snapshot (obs: Map<string, NodeObservation>, models: RouteModels, lab: ResolvedLab): RouteSnapshot {
  const kindOf = new Map(lab.nodes.map(n => [n.name, n.kind]))
  const out: RouteSnapshot = new Map()
  for (const [node, o] of obs) {
    const model = models.get(kindOf.get(node) ?? '')
    const m = new Map<string, string>()
    for (const r of o.routes) {
      if (model !== undefined && (!inModelTable(model, r.table) || (model.protocol !== undefined && r.protocol !== model.protocol))) continue
      if (r.dev !== undefined) m.set(normalizePrefix(r.dst), r.dev)
    }
    out.set(node, m)
  }
  return out
}

export function countChurn (prev: RouteSnapshot, next: RouteSnapshot): number {
  let n = 0
  for (const [node, m] of next) {
    const p = prev.get(node) ?? new Map<string, string>()
    for (const [dst, dev] of m) if (p.get(dst) !== dev) n++
    for (const dst of p.keys()) if (!m.has(dst)) n++
  }
  return n
}

/** Follows next hops (interface -> neighbour over up links) per destination and reports cycles. */
export function findLoops (snap: RouteSnapshot, lab: ResolvedLab, state: LabState): string[] {
  const adj = adjacency(lab, state)
  const hop = (node: string, dev: string): string | undefined => {
    // On a radio segment one interface reaches several neighbours; the device alone does not say which.
    const via = adj.get(node)?.filter(a => a.ifname === dev) ?? []
    return via.length === 1 ? via[0].neighbour : undefined
  }
  const dsts = new Set([...snap.values()].flatMap(m => [...m.keys()]))
  const loops: string[] = []
  for (const dst of dsts) {
    for (const start of snap.keys()) {
      const seen: string[] = []
      let at: string | undefined = start
      while (at !== undefined && !seen.includes(at)) {
        seen.push(at)
        const dev: string | undefined = snap.get(at)?.get(dst)
        at = dev === undefined ? undefined : hop(at, dev)
      }
      if (at !== undefined && at === start) loops.push(`${[...seen, at].join(' -> ')} for ${dst}`)
    }
  }
  return loops
}

export function missingCount (snap: RouteSnapshot, lab: ResolvedLab, state: LabState, models: RouteModels): number {
  let n = 0
  for (const [node, exp] of expectRoutes(lab, state, models)) {
    const have = snap.get(node)
    if (have === undefined) continue
    for (const r of exp.routes) if (!have.has(r.dst)) n++
  }
  return n
}

/**
 * Samples every node's routes each `period` ms until stopped (a wait finishing). Cheap from the
 * host (a few ms per node), so a period of a few hundred ms catches transient loops and black holes.
 */
export function startSampling (o: {
  observe: () => Promise<Map<string, NodeObservation>>
  lab: ResolvedLab
  state: () => LabState
  models: RouteModels
  clock: Clock
  period: number
}): { stop: () => Promise<ChurnMetrics> } {
  const metrics: ChurnMetrics = { samples: 0, churn: 0, maxMissing: 0, blackholeSamples: 0, loopSamples: 0, loops: [] }
  const ac = new AbortController()
  let prev: RouteSnapshot | undefined
  const loop = async (): Promise<void> => {
    while (!ac.signal.aborted) {
      const snap = snapshot(await o.observe(), o.models, o.lab)
      const st = o.state()
      metrics.samples++
      if (prev !== undefined) metrics.churn += countChurn(prev, snap)
      prev = snap
      const missing = missingCount(snap, o.lab, st, o.models)
      metrics.maxMissing = Math.max(metrics.maxMissing, missing)
      if (missing > 0) metrics.blackholeSamples++
      const loops = findLoops(snap, o.lab, st)
      if (loops.length > 0) {
        metrics.loopSamples++
        for (const l of loops) if (metrics.loops.length < 5 && !metrics.loops.includes(l)) metrics.loops.push(l)
      }
      try { await o.clock.sleep(o.period, ac.signal) } catch { return }
    }
  }
  const running = loop().catch(() => { /* an observation failing mid-run ends sampling; the wait reports */ })
  return {
    stop: async () => { ac.abort(); await running; return metrics }
  }
}
