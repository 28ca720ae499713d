import { ntkMaxDistinct } from './ntk-addressing'

/**
 * The cheapest paths QSPN can hold (spec §4.4, the acyclic rule), for the lab's ntkd route model; written from the
 * spec, sharing no code with the daemon or its test oracle.
 *
 * A node n drops a path that contains one of its own g-nodes (at levels >= the level of the neighbour it came from),
 * so seen from every node y on a path, the nodes after y lie in g-nodes (HCoords relative to y) whose levels never
 * decrease and none of which is entered again after the path left it: no node sees the path leave one of its g-nodes
 * and come back. That also forbids entering any g-node, leaving it and entering it again (its first member on the
 * path sees it), and keeps a path to a g-node of level i inside the source's g-node of level i+1. Plain Dijkstra
 * ignores the rule; its distances are a lower bound for a branch and bound search over valid paths, and are the
 * answer whenever a path meeting them is valid (the usual case, found at once).
 */

/** An arc leaving a node: to a neighbour over one of its interfaces, at the sender's cost. */
export interface NtkArc { readonly to: string, readonly ifname: string, readonly cost: number }

export interface NtkGraph {
  /** Positions of every node in the graph, level 0 first. */
  readonly naddr: ReadonlyMap<string, readonly number[]>
  /** Arcs leaving each node (links that are up, between running nodes). */
  readonly out: ReadonlyMap<string, readonly NtkArc[]>
}

export interface ValidRoute {
  readonly cost: number
  /** Hops of a cheapest valid path (the fewest among those the search met). */
  readonly hops: number
  /** First hops of every cheapest valid path: "neighbour\u0000ifname". */
  readonly firstHops: ReadonlySet<string>
}

/** Valid-path searches cost at most this many steps each; beyond it the model is not computable. */
const MAX_STEPS = 200_000

interface Hop { lvl: number, pos: number }

export class ValidPathSearch {
  readonly #graph: NtkGraph
  /** Cheapest arc cost to each neighbour: paths beyond the first hop care for nodes, not interfaces. */
  readonly #next = new Map<string, Map<string, number>>()
  /** Arcs into each node (from, cost), for distances to a destination's members. */
  readonly #in = new Map<string, Array<[string, number]>>()

  constructor (graph: NtkGraph) {
    this.#graph = graph
    for (const n of graph.naddr.keys()) { this.#next.set(n, new Map()); this.#in.set(n, []) }
    for (const [from, arcs] of graph.out) {
      const next = this.#next.get(from)
      if (next === undefined) continue
      for (const a of arcs) {
        if (!graph.naddr.has(a.to) || a.to === from) continue
        next.set(a.to, Math.min(a.cost, next.get(a.to) ?? Number.POSITIVE_INFINITY))
      }
      for (const [to, cost] of next) this.#in.get(to)?.push([from, cost])
    }
  }

  /**
   * The cheapest valid paths from `from` to any of `members` (the nodes of one destination g-node of level
   * `region` - 1 seen from `from`), inside `from`'s g-node of level `region`; undefined when there is none.
   */
  cheapest (from: string, members: readonly string[], region: number): ValidRoute | undefined {
    const me = this.#addr(from)
    const inRegion = (n: string): boolean => { const a = this.#addr(n); for (let k = region; k < me.length; k++) if (a[k] !== me[k]) return false; return true }
    const targets = new Set(members.filter(m => this.#graph.naddr.has(m) && m !== from && inRegion(m)))
    if (targets.size === 0) return undefined
    const lb = this.#distancesTo(targets, inRegion)
    const firsts = (this.#graph.out.get(from) ?? []).filter(a => a.to !== from && this.#graph.naddr.has(a.to) && inRegion(a.to))
      .map(a => ({ a, low: a.cost + (lb.get(a.to) ?? Number.POSITIVE_INFINITY) })).sort((x, y) => x.low - y.low)
    let cost = Number.POSITIVE_INFINITY
    let hops = 0
    const firstHops = new Set<string>()
    for (const { a, low } of firsts) {
      if (!Number.isFinite(low) || low > cost) continue
      const via = this.#cheapestVia(from, a, targets, inRegion, lb, cost)
      if (via === undefined) continue
      if (via.cost < cost) { cost = via.cost; hops = via.hops; firstHops.clear() } else hops = Math.min(hops, via.hops)
      firstHops.add(`${a.to}\u0000${a.ifname}`)
    }
    return Number.isFinite(cost) ? { cost, hops, firstHops } : undefined
  }

  /**
   * The cheapest valid path `from` → `first.to` → … → a target costing at most `bound`: a depth-first search in the
   * order of the lower bound `lb`, pruned by the best found so far, ended by a path that meets the lower bound.
   */
  #cheapestVia (from: string, first: NtkArc, targets: ReadonlySet<string>, inRegion: (n: string) => boolean, lb: ReadonlyMap<string, number>, bound: number): { cost: number, hops: number } | undefined {
    const walk = new AcyclicWalk(from, (y, z) => ntkMaxDistinct(this.#addr(y), this.#addr(z)))
    const floor = first.cost + (lb.get(first.to) ?? Number.POSITIVE_INFINITY)
    let best = bound
    let found: { cost: number, hops: number } | undefined
    let steps = 0
    const search = (u: string, cost: number, hops: number): boolean => {
      if (++steps > MAX_STEPS) throw new Error(`ntkd route model: the valid-path search from ${from} via ${first.to} took over ${MAX_STEPS} steps`)
      if (targets.has(u)) {
        if (found === undefined || cost < found.cost) found = { cost, hops }
        else if (cost === found.cost) found.hops = Math.min(found.hops, hops)
        best = Math.min(best, cost)
        return cost === floor
      }
      const next = [...(this.#next.get(u) ?? [])].filter(([v]) => inRegion(v) && !walk.has(v))
        .map(([v, c]) => ({ v, c: cost + c, low: cost + c + (lb.get(v) ?? Number.POSITIVE_INFINITY) })).sort((x, y) => x.low - y.low)
      for (const { v, c, low } of next) {
        if (!Number.isFinite(low) || low > best) break
        if (!walk.extend(v)) continue
        const done = search(v, c, hops + 1)
        walk.retract()
        if (done) return true
      }
      return false
    }
    if (walk.extend(first.to)) search(first.to, first.cost, 1)
    return found
  }

  /** Dijkstra backwards from `targets`: each node's cost to the nearest of them, through nodes `through` accepts. */
  #distancesTo (targets: ReadonlySet<string>, through: (n: string) => boolean): Map<string, number> {
    const dist = new Map<string, number>([...targets].map(m => [m, 0]))
    const done = new Set<string>()
    for (;;) {
      let u: string | undefined
      let du = Number.POSITIVE_INFINITY
      for (const [n, d] of dist) if (!done.has(n) && d < du) { u = n; du = d }
      if (u === undefined) return dist
      done.add(u)
      for (const [w, c] of this.#in.get(u) ?? []) {
        if (through(w) && du + c < (dist.get(w) ?? Number.POSITIVE_INFINITY)) dist.set(w, du + c)
      }
    }
  }

  #addr (n: string): readonly number[] {
    const a = this.#graph.naddr.get(n)
    if (a === undefined) throw new Error(`ntkd route model: no address for node ${n}`)
    return a
  }
}

/**
 * A path being walked, kept valid: for every node y on it, the g-nodes (relative to y) the path entered after y, in
 * order. A node with y's very address (no distinct g-node) is y's own place: never valid after y.
 */
export class AcyclicWalk {
  readonly #nodes: string[]
  readonly #entered: Hop[][] = [[]]
  /** Per extension, the walk positions whose `#entered` it grew (to undo it). */
  readonly #grew: number[][] = []

  constructor (start: string, private readonly hopOf: (y: string, z: string) => Hop | null) { this.#nodes = [start] }

  has (n: string): boolean { return this.#nodes.includes(n) }

  /** Appends `z` when the path stays valid; false (and nothing changed) otherwise. */
  extend (z: string): boolean {
    const grew: number[] = []
    for (let i = 0; i < this.#nodes.length; i++) {
      const h = this.hopOf(this.#nodes[i], z)
      const seq = this.#entered[i]
      const last = seq[seq.length - 1]
      if (h !== null && last !== undefined && last.lvl === h.lvl && last.pos === h.pos) continue
      if (h === null || (last !== undefined && h.lvl < last.lvl) || seq.some(x => x.lvl === h.lvl && x.pos === h.pos)) {
        for (const k of grew) this.#entered[k].pop()
        return false
      }
      seq.push(h)
      grew.push(i)
    }
    this.#nodes.push(z)
    this.#entered.push([])
    this.#grew.push(grew)
    return true
  }

  /** Removes the last node (never the start). */
  retract (): void {
    if (this.#nodes.length <= 1) throw new Error('AcyclicWalk: nothing to retract')
    this.#nodes.pop()
    this.#entered.pop()
    for (const k of this.#grew.pop() ?? []) this.#entered[k].pop()
  }
}
