import { type HCoord, type Naddr, hcKey, maxDistinctGnode } from '../../src/addressing'
import type { TopologySpec } from '../../src/sim/topologies'

/**
 * What every node's map and routes must be, computed without QSPN: Dijkstra over directed arc costs. A path's cost
 * at node x is the sum of the costs each node on it gives its arc to the next one (as QSPN adds the receiving
 * arc's cost). Paths to a g-node stay inside the smallest g-node holding both ends, as QSPN paths do.
 */
export interface OracleNode { readonly name: string, readonly naddr: Naddr }
export interface DirectedArc { readonly from: string, readonly to: string, readonly cost: number }

export interface OracleDestination {
  readonly hc: HCoord
  /** Cheapest cost to any member of the g-node. */
  readonly cost: number
  readonly members: readonly string[]
  /** Neighbours that are the first hop of some cheapest path. */
  readonly firstHops: ReadonlySet<string>
}

export class RouteOracle {
  readonly #nodes: Map<string, OracleNode>
  readonly #out = new Map<string, Array<[string, number]>>()
  readonly #levels: number
  readonly #dist = new Map<string, Map<string, number>>()
  readonly #avoiding = new Map<string, boolean>()

  constructor (nodes: readonly OracleNode[], arcs: readonly DirectedArc[]) {
    this.#nodes = new Map(nodes.map(n => [n.name, n]))
    this.#levels = nodes[0]?.naddr.length ?? 0
    for (const n of nodes) this.#out.set(n.name, [])
    for (const a of arcs) {
      if (!this.#nodes.has(a.from) || !this.#nodes.has(a.to)) continue
      this.#out.get(a.from)?.push([a.to, a.cost])
    }
  }

  /** The fixed symmetric costs of a spec's links that `keep` accepts (e.g. all but a link taken down). */
  static ofSpec (spec: TopologySpec, keep: (l: TopologySpec['links'][number]) => boolean = () => true): RouteOracle {
    const links = spec.links.filter(keep)
    return new RouteOracle(spec.nodes, links.flatMap(l => [{ from: l.a, to: l.b, cost: l.cost }, { from: l.b, to: l.a, cost: l.cost }]))
  }

  /** The destinations `me` can reach, by hcKey. */
  destinations (me: string): Map<string, OracleDestination> {
    const self = this.#node(me)
    const byHc = new Map<string, { hc: HCoord, members: string[] }>()
    for (const n of this.#nodes.values()) {
      const hc = maxDistinctGnode(self.naddr, n.naddr)
      if (hc === null) continue
      const e = byHc.get(hcKey(hc)) ?? { hc, members: [] }
      e.members.push(n.name)
      byHc.set(hcKey(hc), e)
    }
    const out = new Map<string, OracleDestination>()
    for (const [k, { hc, members }] of byHc) {
      const region = hc.lvl + 1
      const cost = this.#costTo(me, members, region)
      if (!Number.isFinite(cost)) continue
      const firstHops = new Set<string>()
      for (const [v, c] of this.#out.get(me) ?? []) {
        if (!this.#inRegion(me, v, region)) continue
        if (members.includes(v) ? c === cost : c + this.#costTo(v, members, region, me) === cost) firstHops.add(v)
      }
      out.set(k, { hc, cost, members, firstHops })
    }
    return out
  }

  /**
   * The neighbours that are first hops of a cheapest path from `me` to g-node `dest` passing through no node of
   * the g-node `avoid` (both relative to me): what an `ntk_from` table of the neighbour in `avoid` routes (§2.5).
   * Empty when every path crosses `avoid`.
   */
  firstHopsAvoiding (me: string, dest: HCoord, avoid: HCoord): Set<string> {
    const self = this.#node(me)
    const inAvoid = (n: string): boolean => { const h = maxDistinctGnode(self.naddr, this.#node(n).naddr); return h !== null && h.lvl === avoid.lvl && h.pos === avoid.pos }
    const isMember = (n: string): boolean => { const h = maxDistinctGnode(self.naddr, this.#node(n).naddr); return h !== null && h.lvl === dest.lvl && h.pos === dest.pos }
    const region = dest.lvl + 1
    // distances to the nearest member from every node, over nodes outside `avoid`, inside the region
    const dist = new Map<string, number>()
    for (const n of this.#nodes.keys()) if (isMember(n) && !inAvoid(n)) dist.set(n, 0)
    const done = new Set<string>()
    const incoming = new Map<string, Array<[string, number]>>()
    for (const [u, outs] of this.#out) for (const [v, c] of outs) incoming.set(v, [...(incoming.get(v) ?? []), [u, c]])
    for (;;) {
      let u: string | undefined
      let du = Number.POSITIVE_INFINITY
      for (const [n, d] of dist) if (!done.has(n) && d < du) { u = n; du = d }
      if (u === undefined) break
      done.add(u)
      for (const [w, c] of incoming.get(u) ?? []) {
        if (w === me || inAvoid(w) || !this.#inRegion(me, w, region)) continue
        if (du + c < (dist.get(w) ?? Number.POSITIVE_INFINITY)) dist.set(w, du + c)
      }
    }
    let best = Number.POSITIVE_INFINITY
    const out = new Set<string>()
    for (const [v, c] of this.#out.get(me) ?? []) {
      if (inAvoid(v) || !this.#inRegion(me, v, region)) continue
      const total = c + (dist.get(v) ?? Number.POSITIVE_INFINITY)
      if (total < best) { best = total; out.clear() }
      if (total === best && Number.isFinite(total)) out.add(v)
    }
    return out
  }

  /**
   * Whether `me` reaches a member of `dest` over a path QSPN can hold that passes through no node of the g-node
   * `avoid` (both relative to me): then QSPN must keep a path avoiding `avoid` when it is a neighbour's (§4.5).
   * A QSPN path never re-enters a g-node it left, as seen from each node on it: from every node y on the path, the
   * g-nodes (relative to y) of the nodes after it are of non-decreasing level and none comes back after another.
   */
  reachesAvoiding (me: string, dest: HCoord, avoid: HCoord): boolean {
    const key = `${me}|${hcKey(dest)}|${hcKey(avoid)}`
    const cached = this.#avoiding.get(key)
    if (cached !== undefined) return cached
    const hopOf = (y: string, z: string): HCoord => maxDistinctGnode(this.#node(y).naddr, this.#node(z).naddr) as HCoord
    const same = (a: HCoord, b: HCoord): boolean => a.lvl === b.lvl && a.pos === b.pos
    const path = [me]
    // per node on the path, the hops (relative to it) of the nodes after it, consecutive repeats merged
    const hops: HCoord[][] = [[]]
    const extend = (z: string): boolean => {
      const added: number[] = []
      let ok = true
      for (let i = 0; i < path.length && ok; i++) {
        const h = hopOf(path[i], z)
        const seq = hops[i]
        const last = seq[seq.length - 1]
        if (last !== undefined && same(last, h)) continue
        if ((last !== undefined && h.lvl < last.lvl) || seq.some(x => same(x, h))) ok = false
        else { seq.push(h); added.push(i) }
      }
      if (ok) { path.push(z); hops.push([]); return true }
      for (const i of added) hops[i].pop()
      return false
    }
    const retract = (): void => {
      const z = path.pop() as string
      hops.pop()
      for (let i = 0; i < path.length; i++) {
        const seq = hops[i]
        // z's hop was pushed unless it merged with the previous node's
        const prev = path.length - 1 > i ? hopOf(path[i], path[path.length - 1]) : undefined
        if (prev === undefined || !same(prev, hopOf(path[i], z))) seq.pop()
      }
    }
    const search = (): boolean => {
      const u = path[path.length - 1]
      for (const [v] of this.#out.get(u) ?? []) {
        if (path.includes(v)) continue
        const h = hopOf(me, v)
        if (same(h, avoid)) continue
        if (!extend(v)) continue
        if (same(h, dest) || search()) { retract(); return true }
        retract()
      }
      return false
    }
    const found = search()
    this.#avoiding.set(key, found)
    return found
  }

  /** Cheapest cost from `from` to any of `members` inside `origin`'s g-node of level `region`. */
  #costTo (from: string, members: readonly string[], region: number, origin = from): number {
    const d = this.#dijkstra(from, origin, region)
    let best = Number.POSITIVE_INFINITY
    for (const m of members) best = Math.min(best, d.get(m) ?? Number.POSITIVE_INFINITY)
    return best
  }

  #inRegion (origin: string, n: string, region: number): boolean {
    const a = this.#node(origin).naddr
    const b = this.#node(n).naddr
    for (let k = region; k < this.#levels; k++) if (a[k] !== b[k]) return false
    return true
  }

  #dijkstra (src: string, origin: string, region: number): Map<string, number> {
    const key = `${src}|${origin}|${region}`
    const cached = this.#dist.get(key)
    if (cached !== undefined) return cached
    const dist = new Map<string, number>([[src, 0]])
    const done = new Set<string>()
    for (;;) {
      let u: string | undefined
      let du = Number.POSITIVE_INFINITY
      for (const [n, d] of dist) if (!done.has(n) && d < du) { u = n; du = d }
      if (u === undefined) break
      done.add(u)
      for (const [v, c] of this.#out.get(u) ?? []) {
        if (!this.#inRegion(origin, v, region)) continue
        if (du + c < (dist.get(v) ?? Number.POSITIVE_INFINITY)) dist.set(v, du + c)
      }
    }
    this.#dist.set(key, dist)
    return dist
  }

  #node (name: string): OracleNode {
    const n = this.#nodes.get(name)
    if (n === undefined) throw new Error(`oracle: no node ${name}`)
    return n
  }
}

/**
 * G-nodes of a spec whose members are not connected by links among themselves. A split g-node is resolved by
 * migration (spec §5), not by routing: the oracle's maps only hold for specs where this is empty.
 */
export function splitGnodes (spec: TopologySpec): string[] {
  const levels = spec.gsizes.length
  const out: string[] = []
  for (let lvl = 1; lvl < levels; lvl++) {
    const groups = new Map<string, string[]>()
    for (const n of spec.nodes) {
      const k = n.naddr.slice(lvl).join('.')
      groups.set(k, [...(groups.get(k) ?? []), n.name])
    }
    for (const [k, members] of groups) {
      const inG = new Set(members)
      const seen = new Set([members[0]])
      const todo = [members[0]]
      while (todo.length > 0) {
        const u = todo.pop() as string
        for (const l of spec.links) {
          const v = l.a === u ? l.b : l.b === u ? l.a : undefined
          if (v !== undefined && inG.has(v) && !seen.has(v)) { seen.add(v); todo.push(v) }
        }
      }
      if (seen.size !== members.length) out.push(`level ${lvl} g-node ${k} (level 0 first)`)
    }
  }
  return out
}
