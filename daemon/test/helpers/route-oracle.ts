import { type HCoord, type Naddr, hcKey, maxDistinctGnode } from '../../src/addressing'
import type { TopologySpec } from '../../src/sim/topologies'

/**
 * What every node's map and routes must be, computed without QSPN: the cheapest paths over directed arc costs. A
 * path's cost at node x is the sum of the costs each node on it gives its arc to the next one (as QSPN adds the
 * receiving arc's cost). Paths to a g-node stay inside the smallest g-node holding both ends and obey the acyclic
 * rule (no node on a path sees it leave one of its g-nodes and come back: ValidPath), as QSPN paths do; Dijkstra's
 * distances bound the search, and are the answer whenever some path meeting them is valid.
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
  /** The arcs into each node (from, cost): distances to a set of nodes run over them. */
  readonly #in = new Map<string, Array<[string, number]>>()
  readonly #levels: number
  readonly #dist = new Map<string, Map<string, number>>()
  readonly #avoiding = new Map<string, boolean>()

  constructor (nodes: readonly OracleNode[], arcs: readonly DirectedArc[]) {
    this.#nodes = new Map(nodes.map(n => [n.name, n]))
    this.#levels = nodes[0]?.naddr.length ?? 0
    for (const n of nodes) { this.#out.set(n.name, []); this.#in.set(n.name, []) }
    for (const a of arcs) {
      if (!this.#nodes.has(a.from) || !this.#nodes.has(a.to)) continue
      this.#out.get(a.from)?.push([a.to, a.cost])
      this.#in.get(a.to)?.push([a.from, a.cost])
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
      const lb = this.#toMembers(me, members, region)
      if (!Number.isFinite(lb.get(me) ?? Number.POSITIVE_INFINITY)) continue
      // The cheapest path QSPN can hold (acyclic rule, ValidPath) through each neighbour; Dijkstra's distances to
      // the members are a lower bound that usually is the answer.
      let cost = Number.POSITIVE_INFINITY
      const firstHops = new Set<string>()
      const outs = (this.#out.get(me) ?? []).filter(([v]) => this.#inRegion(me, v, region))
        .map(([v, c]) => ({ v, c, low: c + (lb.get(v) ?? Number.POSITIVE_INFINITY) })).sort((x, y) => x.low - y.low)
      for (const { v, c, low } of outs) {
        if (!Number.isFinite(low) || low > cost) continue
        const via = this.#cheapestValidVia(me, v, c, new Set(members), region, lb, cost)
        if (via < cost) { cost = via; firstHops.clear() }
        if (via === cost && Number.isFinite(via)) firstHops.add(v)
      }
      if (!Number.isFinite(cost)) continue
      out.set(k, { hc, cost, members, firstHops })
    }
    return out
  }

  /**
   * The cheapest cost of a path `me` → `first` → … → a member that QSPN can hold (ValidPath), not above `bound`
   * (+∞ when none). A branch-and-bound depth-first search: first guided by the plain distances `lb` (usually the
   * answer within a few steps); when that runs long (no valid path meets them: the cheap ones leave a g-node and
   * come back, and proving it visits every simple path), again with the distances over what the path walked so far
   * still allows (#distancesAfter), which cut such branches at once.
   */
  #cheapestValidVia (me: string, first: string, firstCost: number, members: ReadonlySet<string>, region: number, lb: ReadonlyMap<string, number>, bound: number): number {
    const quick = this.#validSearch(me, first, firstCost, members, region, bound, () => lb, 200)
    if (quick !== undefined) return quick
    const tight = this.#validSearch(me, first, firstCost, members, region, bound, path => this.#distancesAfter(me, path, members, region), 200_000)
    if (tight === undefined) throw new Error(`oracle: the valid-path search from ${me} via ${first} took too long`)
    return tight
  }

  /**
   * The search of #cheapestValidVia with lower bounds `lower(path)` (each node's distance to the members for a path
   * that walked `path`); undefined when it took more than `maxSteps` steps.
   */
  #validSearch (me: string, first: string, firstCost: number, members: ReadonlySet<string>, region: number, bound: number, lower: (path: readonly string[]) => ReadonlyMap<string, number>, maxSteps: number): number | undefined {
    const walk = new ValidPath(me, (y, z) => maxDistinctGnode(this.#node(y).naddr, this.#node(z).naddr) as HCoord)
    const path = [me, first]
    let best = bound
    let found = Number.POSITIVE_INFINITY
    let floor: number | undefined
    let steps = 0
    // true: stop (a path met the floor, or the steps ran out)
    const search = (u: string, cost: number): boolean => {
      if (++steps > maxSteps) return true
      if (members.has(u)) { if (cost <= best) { best = cost; found = cost } return cost === floor }
      const lb = lower(path)
      const low = cost + (lb.get(u) ?? Number.POSITIVE_INFINITY)
      floor ??= low
      if (!Number.isFinite(low) || low > best) return false
      const next = (this.#out.get(u) ?? []).filter(([v]) => this.#inRegion(me, v, region) && !walk.has(v))
        .map(([v, c]) => ({ v, c: cost + c, low: cost + c + (lb.get(v) ?? Number.POSITIVE_INFINITY) })).sort((x, y) => x.low - y.low)
      for (const { v, c, low } of next) {
        if (!Number.isFinite(low) || low > best) break
        if (!walk.extend(v)) continue
        path.push(v)
        const done = search(v, c)
        path.pop()
        walk.retract()
        if (done) return true
      }
      return false
    }
    if (!walk.extend(first)) return Number.POSITIVE_INFINITY
    search(first, firstCost)
    return steps > maxSteps ? undefined : found
  }

  /**
   * Distances to `members` from every node of `me`'s region that a valid path which walked `path` may still visit:
   * none of the path but its last node, none in a g-node the path entered and left (it never comes back).
   */
  #distancesAfter (me: string, path: readonly string[], members: ReadonlySet<string>, region: number): Map<string, number> {
    const last = this.#node(path[path.length - 1]).naddr
    const walked = new Set(path.slice(0, -1))
    const left = new Set<string>()
    for (const n of walked) {
      const a = this.#node(n).naddr
      for (let k = 1; k < region; k++) if (gnodeKey(a, k) !== gnodeKey(last, k)) left.add(gnodeKey(a, k))
    }
    const open = (w: string): boolean => {
      if (walked.has(w) || !this.#inRegion(me, w, region)) return false
      const a = this.#node(w).naddr
      for (let k = 1; k < region; k++) if (left.has(gnodeKey(a, k))) return false
      return true
    }
    return this.#distancesTo([...members].filter(open), open)
  }

  /**
   * Distances from every node of `origin`'s g-node of level `region` to the nearest of `members`, inside it: the
   * same for every origin in that g-node, so computed once per g-node and destination.
   */
  #toMembers (origin: string, members: readonly string[], region: number): Map<string, number> {
    const key = `${gnodeKey(this.#node(origin).naddr, region)}|${members.join(',')}`
    const cached = this.#dist.get(key)
    if (cached !== undefined) return cached
    const dist = this.#distancesTo(members, w => this.#inRegion(origin, w, region))
    this.#dist.set(key, dist)
    return dist
  }

  /** Dijkstra backwards from `targets`: each node's cost to the nearest of them, over nodes `through` accepts. */
  #distancesTo (targets: readonly string[], through: (n: string) => boolean): Map<string, number> {
    const dist = new Map<string, number>(targets.map(m => [m, 0]))
    const heap = new MinHeap()
    for (const m of targets) heap.push(0, m)
    for (let top = heap.pop(); top !== undefined; top = heap.pop()) {
      const [du, u] = top
      if (du > (dist.get(u) ?? Number.POSITIVE_INFINITY)) continue
      for (const [w, c] of this.#in.get(u) ?? []) {
        if (du + c >= (dist.get(w) ?? Number.POSITIVE_INFINITY) || !through(w)) continue
        dist.set(w, du + c)
        heap.push(du + c, w)
      }
    }
    return dist
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
    const dist = this.#distancesTo([...this.#nodes.keys()].filter(n => isMember(n) && !inAvoid(n)), w => w !== me && !inAvoid(w) && this.#inRegion(me, w, region))
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
    const same = (a: HCoord, b: HCoord): boolean => a.lvl === b.lvl && a.pos === b.pos
    const walk = new ValidPath(me, (y, z) => maxDistinctGnode(this.#node(y).naddr, this.#node(z).naddr) as HCoord)
    const search = (): boolean => {
      for (const [v] of this.#out.get(walk.last) ?? []) {
        if (walk.has(v)) continue
        const h = maxDistinctGnode(this.#node(me).naddr, this.#node(v).naddr) as HCoord
        if (same(h, avoid)) continue
        if (!walk.extend(v)) continue
        if (same(h, dest) || search()) { walk.retract(); return true }
        walk.retract()
      }
      return false
    }
    const found = search()
    this.#avoiding.set(key, found)
    return found
  }

  #inRegion (origin: string, n: string, region: number): boolean {
    const a = this.#node(origin).naddr
    const b = this.#node(n).naddr
    for (let k = region; k < this.#levels; k++) if (a[k] !== b[k]) return false
    return true
  }

  #node (name: string): OracleNode {
    const n = this.#nodes.get(name)
    if (n === undefined) throw new Error(`oracle: no node ${name}`)
    return n
  }
}

/** A binary heap of (cost, node), cheapest first (stale entries are skipped by the caller). */
class MinHeap {
  readonly #items: Array<[number, string]> = []

  push (cost: number, node: string): void {
    const a = this.#items
    a.push([cost, node])
    for (let i = a.length - 1; i > 0;) {
      const parent = (i - 1) >> 1
      if (a[parent][0] <= a[i][0]) break
      [a[parent], a[i]] = [a[i], a[parent]]
      i = parent
    }
  }

  pop (): [number, string] | undefined {
    const a = this.#items
    const top = a[0]
    const last = a.pop()
    if (a.length > 0 && last !== undefined) {
      a[0] = last
      for (let i = 0; ;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && a[l][0] < a[m][0]) m = l
        if (r < a.length && a[r][0] < a[m][0]) m = r
        if (m === i) break
        [a[m], a[i]] = [a[i], a[m]]
        i = m
      }
    }
    return top
  }
}

/** The g-node of level k holding address `a` (level 0 first), as a key. */
function gnodeKey (a: Naddr, k: number): string { return `${k}:${a.slice(k).join('.')}` }

/**
 * A path being walked, kept QSPN-valid (the acyclic rule, §4.4): from every node y on it, the g-nodes (relative to
 * y) of the nodes after it are of non-decreasing level and none comes back after another, i.e. no node sees the
 * path leave one of its g-nodes and enter it again.
 */
class ValidPath {
  readonly #path: string[]
  /** Per node on the path, the hops (relative to it) of the nodes after it, consecutive repeats merged. */
  readonly #hops: HCoord[][] = [[]]

  constructor (start: string, private readonly hopOf: (y: string, z: string) => HCoord) { this.#path = [start] }

  get last (): string { return this.#path[this.#path.length - 1] }
  has (n: string): boolean { return this.#path.includes(n) }

  /** Appends `z` when the path stays valid; false (and nothing changed) otherwise. */
  extend (z: string): boolean {
    const added: number[] = []
    let ok = true
    for (let i = 0; i < this.#path.length && ok; i++) {
      const h = this.hopOf(this.#path[i], z)
      const seq = this.#hops[i]
      const last = seq[seq.length - 1]
      if (last !== undefined && last.lvl === h.lvl && last.pos === h.pos) continue
      if ((last !== undefined && h.lvl < last.lvl) || seq.some(x => x.lvl === h.lvl && x.pos === h.pos)) ok = false
      else { seq.push(h); added.push(i) }
    }
    if (ok) { this.#path.push(z); this.#hops.push([]); return true }
    for (const i of added) this.#hops[i].pop()
    return false
  }

  /** Removes the last node. */
  retract (): void {
    const z = this.#path.pop() as string
    this.#hops.pop()
    const prev = this.#path[this.#path.length - 1]
    for (let i = 0; i < this.#path.length; i++) {
      // z's hop was pushed unless it merged with the previous node's
      const ph = this.#path.length - 1 > i ? this.hopOf(this.#path[i], prev) : undefined
      const zh = this.hopOf(this.#path[i], z)
      if (ph === undefined || ph.lvl !== zh.lvl || ph.pos !== zh.pos) this.#hops[i].pop()
    }
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
