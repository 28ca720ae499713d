import type { NodeSpec, ResolvedLab } from '../topology/model'
import { ntkdModel } from './ntkd-route-model'
import { cheapestPaths, components, type LabState } from './lab-state'
import { normalizePrefix, tableName, type NodeObservation, type ObservedRoute } from './observation'

/**
 * How a kind of routing daemon turns the topology into kernel routes: which prefixes each node
 * announces and where the routes land. Flat models (babeld) expect every node to hold a route to
 * every prefix in its partition via a first hop on a cheapest path. A hierarchical model (ntkd)
 * computes each node's expectation itself (`expect`) and names the addresses to ping (`pingTargets`).
 */
export interface RouteModel {
  readonly kind: string
  /** Prefixes the node announces or owns (normalized, with length); the first one is pinged by default. */
  destinations (node: NodeSpec): string[]
  /** Table holding the daemon's routes. */
  readonly table: string
  /** Other names `ip` may show for that table (its number when no rt_tables entry names it). */
  readonly tableAliases?: readonly string[]
  /** Only routes with this protocol are the daemon's (others are ignored as foreign). */
  readonly protocol?: string
  /**
   * The expected table of one running node, given the running nodes of routed kinds (`members`) and
   * the link states. Absent: the flat rule of `expectRoutes`.
   */
  expect?: (lab: ResolvedLab, state: LabState, node: NodeSpec, members: readonly NodeSpec[]) => NodeExpectation
  /** Addresses of `to` that `from` must reach. Absent: the first of `destinations(to)`. */
  pingTargets?: (from: NodeSpec, to: NodeSpec) => string[]
}

/** A route in `table` is in the model's table (by name or alias). */
export function inModelTable (model: Pick<RouteModel, 'table' | 'tableAliases'>, table: string | number | undefined): boolean {
  const t = tableName(table)
  return t === model.table || (model.tableAliases ?? []).includes(t)
}

/** Reads config.address (a string or list of "a.b.c.d/len"), the addresses a babeld node puts on lo. */
export function configAddresses (node: NodeSpec): string[] {
  const a = node.config.address
  const list = Array.isArray(a) ? a : typeof a === 'string' ? [a] : []
  return list.filter((x): x is string => typeof x === 'string').map(normalizePrefix)
}

export const babeldModel: RouteModel = {
  kind: 'babeld',
  destinations: configAddresses,
  table: 'main',
  protocol: 'babel'
}

/** Route models by kind name; a value, so tests and ntkd can add their own. */
export type RouteModels = ReadonlyMap<string, RouteModel>

export function defaultRouteModels (): Map<string, RouteModel> {
  return new Map<string, RouteModel>([[babeldModel.kind, babeldModel], [ntkdModel.kind, ntkdModel]])
}

export interface ExpectedRoute {
  dst: string
  /** The node announcing dst. */
  owner: string
  hops: number
  /** Acceptable first-hop interfaces (all cheapest paths). */
  ifnames: string[]
  neighbours: string[]
  /** The route's expected source address, when the model fixes one. */
  src?: string
  /** Cost of the cheapest path, for models with arc costs. */
  cost?: number
  /** Some arc cost is measured by the daemon, not configured: `ifnames` is the model's guess. */
  costsMeasured?: boolean
}

export interface NodeExpectation {
  node: string
  table: string
  tableAliases?: readonly string[]
  protocol?: string
  routes: ExpectedRoute[]
  /** Prefixes of nodes out of reach (other partition or stopped): must have no route. */
  unreachable: Array<{ dst: string, owner: string }>
  /** The daemon keeps an `unreachable` route for each of them (ntkd pre-creates every destination). */
  unreachableRoutes?: boolean
}

function routedNodes (lab: ResolvedLab, models: RouteModels): NodeSpec[] {
  return lab.nodes.filter(n => models.has(n.kind))
}

/** Expected routes of every running routed node, given the link states (one BFS per node). */
export function expectRoutes (lab: ResolvedLab, state: LabState, models: RouteModels): Map<string, NodeExpectation> {
  const nodes = routedNodes(lab, models)
  const members = new Set(nodes.map(n => n.name))
  const out = new Map<string, NodeExpectation>()
  const running = nodes.filter(n => !state.stopped.has(n.name))
  for (const n of nodes) {
    if (state.stopped.has(n.name)) continue
    const model = models.get(n.kind) as RouteModel
    if (model.expect !== undefined) { out.set(n.name, model.expect(lab, state, n, running)); continue }
    const paths = cheapestPaths(lab, state, n.name, members)
    const routes: ExpectedRoute[] = []
    const unreachable: Array<{ dst: string, owner: string }> = []
    for (const m of nodes) {
      if (m.name === n.name) continue
      const p = paths.get(m.name)
      for (const dst of (models.get(m.kind) as RouteModel).destinations(m)) {
        if (p === undefined) unreachable.push({ dst, owner: m.name })
        else routes.push({ dst, owner: m.name, hops: p.hops, ifnames: p.ifnames, neighbours: p.neighbours })
      }
    }
    out.set(n.name, { node: n.name, table: model.table, tableAliases: model.tableAliases, protocol: model.protocol, routes, unreachable })
  }
  return out
}

export interface WrongRoute { expected: ExpectedRoute, actual: ObservedRoute }

export interface NodeRouteDiff {
  node: string
  missing: ExpectedRoute[]
  /** Routes to prefixes the node must not reach (far side of a cut, stopped node). */
  extra: Array<{ dst: string, owner: string, actual: ObservedRoute }>
  /** Present, but through an interface that is not on a cheapest path (or with another source). */
  wrong: WrongRoute[]
  /** Out of reach, and the daemon holds no `unreachable` route for it (models with `unreachableRoutes`). */
  unmarked: Array<{ dst: string, owner: string }>
}

/** The daemon's routes of one type in the expectation's table, by normalized destination. */
function daemonRoutes (obs: NodeObservation, exp: NodeExpectation, type: 'unicast' | 'unreachable'): Map<string, ObservedRoute> {
  const out = new Map<string, ObservedRoute>()
  for (const r of obs.routes) {
    if (!inModelTable(exp, r.table)) continue
    if ((r.type ?? 'unicast') !== type) continue
    if (exp.protocol !== undefined && r.protocol !== exp.protocol) continue
    out.set(normalizePrefix(r.dst), r)
  }
  return out
}

/**
 * Per-node diff of expected against observed routes. `checkNextHops: false` only checks presence
 * and absence (a daemon with hysteresis may keep a longer path for a while).
 */
export function diffRoutes (expectations: Map<string, NodeExpectation>, observed: Map<string, NodeObservation>,
  o: { checkNextHops?: boolean } = {}): NodeRouteDiff[] {
  const out: NodeRouteDiff[] = []
  for (const [node, exp] of expectations) {
    const obs = observed.get(node)
    const have = obs === undefined ? new Map<string, ObservedRoute>() : daemonRoutes(obs, exp, 'unicast')
    const marked = obs === undefined || exp.unreachableRoutes !== true ? new Map<string, ObservedRoute>() : daemonRoutes(obs, exp, 'unreachable')
    const d: NodeRouteDiff = { node, missing: [], extra: [], wrong: [], unmarked: [] }
    for (const e of exp.routes) {
      const a = have.get(e.dst)
      if (a === undefined) d.missing.push(e)
      else if ((o.checkNextHops ?? true) && (a.dev === undefined || !e.ifnames.includes(a.dev) || (e.src !== undefined && a.src !== e.src))) d.wrong.push({ expected: e, actual: a })
    }
    for (const u of exp.unreachable) {
      const a = have.get(u.dst)
      if (a !== undefined) d.extra.push({ ...u, actual: a })
      else if (exp.unreachableRoutes === true && !marked.has(u.dst)) d.unmarked.push(u)
    }
    if (d.missing.length + d.extra.length + d.wrong.length + d.unmarked.length > 0) out.push(d)
  }
  return out
}

export function formatRouteDiff (diffs: readonly NodeRouteDiff[]): string[] {
  const lines: string[] = []
  for (const d of diffs) {
    lines.push(`${d.node}:`)
    const src = (s: string | undefined): string => s !== undefined ? ` src ${s}` : ''
    for (const m of d.missing) lines.push(`  missing ${m.dst} (of ${m.owner}, ${m.hops} hops via ${m.ifnames.join('|')}${src(m.src)})`)
    for (const w of d.wrong) lines.push(`  wrong   ${w.expected.dst} via ${w.actual.dev ?? '?'}${w.actual.gateway !== undefined ? ` (${w.actual.gateway})` : ''}${w.expected.src !== undefined ? src(w.actual.src ?? '-') : ''}, expected via ${w.expected.ifnames.join('|')}${src(w.expected.src)}${w.expected.costsMeasured === true ? ' (a guess: arc costs are measured; fix them in config.costs or wait with next-hops: false)' : ''}`)
    for (const x of d.extra) lines.push(`  extra   ${x.dst} (of ${x.owner}, unreachable) via ${x.actual.dev ?? '?'}`)
    for (const u of d.unmarked) lines.push(`  no unreachable route for ${u.dst} (of ${u.owner})`)
  }
  return lines
}

export { components }
