import { type NtkAddress, ntkAddress, ntkDestinations, ntkGlobal, ntkGnodeName, ntkInternal, ntkMaxDistinct } from './ntk-addressing'
import type { NodeSpec, ResolvedLab } from '../topology/model'
import { adjacency, type LabState } from './lab-state'
import { normalizePrefix } from './observation'
import { type NtkArc, ValidPathSearch } from './ntk-valid-paths'
import type { ExpectedRoute, NodeExpectation, RouteModel } from './route-model'

/**
 * The expected `ntk` table of a node running ntkd (spec §2.4–2.5), computed from the topology alone.
 *
 * For every destination g-node HCoord (i, j) of the node (every real position at every level, whether
 * it exists or not) and each of its CIDRs (global, anonymizing, internal[k] for k > i):
 * - if some running member of that g-node is reachable over links that are up by a path QSPN can hold
 *   (the acyclic rule, ./ntk-valid-paths: no node on it sees it leave one of its g-nodes and come back,
 *   so it stays inside the node's own g-node of level i+1, and a g-node split from us that way is
 *   unknown), a route via a neighbour on a cheapest such path, with `src` the node's global address
 *   (global and anonymizing CIDRs) or its internal[k] (internal[k] CIDRs);
 * - otherwise an `unreachable` route.
 * Costs are those QSPN sums: the arc cost configured on the sending side (config.costs of the node
 * closer to the source, by its interface); an interface without a fixed cost counts `UNKNOWN_COST`
 * (its real cost is a measured RTT, so next hops over it are only a guess).
 * Addresses, destinations and CIDRs come from the lab's own reading of the spec (./ntk-addressing), never from
 * the daemon's functions, so that a bug there shows.
 */
export const NTKD_TABLE = 'ntk'
export const NTKD_TABLE_ID = '251'
/** Cost assumed for an interface without config.costs (µs, the order of a veth RTT). */
export const UNKNOWN_COST = 1000

interface NtkdNode { spec: NodeSpec, address: NtkAddress, naddr: readonly number[] }

function parseNode (spec: NodeSpec): NtkdNode {
  const bits = spec.config.topology
  if (!Array.isArray(bits)) throw new Error(`node ${spec.name}: config.topology is not a list of bits`)
  let address: NtkAddress
  try {
    address = ntkAddress(bits.map(Number), String(spec.config.address))
  } catch (err) {
    throw new Error(`node ${spec.name}: ${(err as Error).message}`)
  }
  return { spec, address, naddr: address.naddr }
}

/** The cost of leaving `node` over `ifname` (QSPN adds the sender's arc cost). */
export function arcCost (node: NodeSpec, ifname: string): number {
  return fixedArcCost(node, ifname) ?? UNKNOWN_COST
}

/** The configured cost of leaving `node` over `ifname`; undefined when the daemon measures it (an RTT). */
function fixedArcCost (node: NodeSpec, ifname: string): number | undefined {
  const costs = node.config.costs
  const c = typeof costs === 'object' && costs !== null ? (costs as Record<string, unknown>)[ifname] : undefined
  return typeof c === 'number' ? c : undefined
}

/** Whether some link end of these nodes has a measured cost: next hops where paths compete are then a guess. */
function anyMeasuredCost (lab: ResolvedLab, nodes: readonly NodeSpec[]): boolean {
  const byName = new Map(nodes.map(n => [n.name, n]))
  return lab.links.some(l => l.endpoints.some(e => { const n = byName.get(e.node); return n !== undefined && fixedArcCost(n, e.ifname) === undefined }))
}

interface Reach { cost: number, hops: number, firstHops: Set<string> /* "neighbour\u0000ifname" */ }

/**
 * Dijkstra from `from` over links that are up, through nodes `allowed` accepts only, keeping every
 * first hop (neighbour and own interface) of every cheapest path.
 */
export function cheapestFirstHops (lab: ResolvedLab, state: LabState, from: string, allowed: (node: string) => boolean, members?: Set<string>): Map<string, Reach> {
  const adj = adjacency(lab, state, members)
  const spec = new Map(lab.nodes.map(n => [n.name, n]))
  const best = new Map<string, Reach>([[from, { cost: 0, hops: 0, firstHops: new Set() }]])
  const done = new Set<string>()
  for (;;) {
    let u: string | undefined
    for (const [n, r] of best) if (!done.has(n) && (u === undefined || r.cost < (best.get(u) as Reach).cost)) u = n
    if (u === undefined) return best
    done.add(u)
    const ru = best.get(u) as Reach
    for (const { neighbour, ifname } of adj.get(u) ?? []) {
      if (!allowed(neighbour) || done.has(neighbour)) continue
      const cost = ru.cost + arcCost(spec.get(u) as NodeSpec, ifname)
      const via = u === from ? new Set([`${neighbour}\u0000${ifname}`]) : ru.firstHops
      const known = best.get(neighbour)
      if (known === undefined || cost < known.cost) best.set(neighbour, { cost, hops: ru.hops + 1, firstHops: new Set(via) })
      else if (cost === known.cost) {
        for (const v of via) known.firstHops.add(v)
        known.hops = Math.min(known.hops, ru.hops + 1)
      }
    }
  }
}

/** The arcs of the running members over links that are up, at the sender's cost, with their positions. */
function ntkGraph (lab: ResolvedLab, state: LabState, members: Set<string>, naddr: ReadonlyMap<string, readonly number[]>): { naddr: ReadonlyMap<string, readonly number[]>, out: Map<string, NtkArc[]> } {
  const spec = new Map(lab.nodes.map(n => [n.name, n]))
  const out = new Map<string, NtkArc[]>()
  for (const [n, adj] of adjacency(lab, state, members)) out.set(n, adj.map(({ neighbour, ifname }) => ({ to: neighbour, ifname, cost: arcCost(spec.get(n) as NodeSpec, ifname) })))
  return { naddr, out }
}

function expectNtkd (lab: ResolvedLab, state: LabState, node: NodeSpec, members: readonly NodeSpec[]): NodeExpectation {
  const me = parseNode(node)
  const others = members.filter(m => m.name !== node.name).map(parseNode)
  const addrOf = new Map([me, ...others].map(x => [x.spec.name, x.naddr]))
  const search = new ValidPathSearch(ntkGraph(lab, state, new Set([node.name, ...others.map(o => o.spec.name)]), addrOf))
  const subnetLevel = typeof node.config.subnetLevel === 'number' ? node.config.subnetLevel : 0
  const guessed = anyMeasuredCost(lab, [node, ...members])
  const routes: ExpectedRoute[] = []
  const unreachable: NodeExpectation['unreachable'] = []
  for (const d of ntkDestinations(me.address, { subnetLevel })) {
    const inside = others.filter(o => { const hc = ntkMaxDistinct(me.naddr, o.naddr); return hc !== null && hc.lvl === d.lvl && hc.pos === d.pos })
    const best = search.cheapest(node.name, inside.map(o => o.spec.name), d.lvl + 1)
    const cost = best?.cost ?? Number.POSITIVE_INFINITY
    const hopCount = best?.hops ?? 0
    const hops = best?.firstHops ?? new Set<string>()
    const owner = `${ntkGnodeName(me.naddr, d.lvl, d.pos)} (${inside.map(o => o.spec.name).join(', ') || 'empty'})`
    const pairs = [...hops].map(h => h.split('\u0000'))
    for (const { cidr, src } of d.cidrs) {
      const dst = normalizePrefix(cidr)
      if (!Number.isFinite(cost)) { unreachable.push({ dst, owner }); continue }
      routes.push({
        dst,
        owner,
        hops: hopCount,
        cost,
        ifnames: [...new Set(pairs.map(p => p[1]))].sort(),
        neighbours: [...new Set(pairs.map(p => p[0]))].sort(),
        src,
        ...(guessed && hops.size > 0 ? { costsMeasured: true } : {})
      })
    }
  }
  return { node: node.name, table: NTKD_TABLE, tableAliases: [NTKD_TABLE_ID], routes, unreachable, unreachableRoutes: true }
}

/** The node's own global address, then its internal addresses of levels l-1 … 1 (all /32). */
function ownAddresses (node: NodeSpec): string[] {
  const { address } = parseNode(node)
  const out = [ntkGlobal(address)]
  for (let k = address.gsizes.length - 1; k >= 1; k--) out.push(ntkInternal(address, k))
  return out.map(normalizePrefix)
}

/** What `from` must reach on `to`: its global address and its internal address of every g-node they share. */
function ntkdPingTargets (from: NodeSpec, to: NodeSpec): string[] {
  const a = parseNode(from)
  const b = parseNode(to)
  const out = [ntkGlobal(b.address)]
  // the first common level of a and b: one above their maximum distinct g-node (0 when equal)
  const firstCommon = (ntkMaxDistinct(a.naddr, b.naddr)?.lvl ?? -1) + 1
  for (let k = b.address.gsizes.length - 1; k >= Math.max(1, firstCommon); k--) out.push(ntkInternal(b.address, k))
  return out
}

export const ntkdModel: RouteModel = {
  kind: 'ntkd',
  destinations: ownAddresses,
  table: NTKD_TABLE,
  tableAliases: [NTKD_TABLE_ID],
  expect: expectNtkd,
  pingTargets: ntkdPingTargets
}
