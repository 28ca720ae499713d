import { SeededRandom } from '../util/random'
import type { Cost, Positions } from '../qspn/types'
import { SimNetwork, type SimNetworkOptions } from './network'

/** A network described as data: nodes with addresses, links with costs (µs). */
export interface TopologySpec {
  readonly gsizes: readonly number[]
  readonly nodes: ReadonlyArray<{ readonly name: string, readonly naddr: Positions }>
  readonly links: ReadonlyArray<{ readonly a: string, readonly b: string, readonly cost: Cost }>
}

/** Address written most-significant level first, as the docs do: 3·0·1·0. */
export const addressName = (naddr: Positions): string => [...naddr].reverse().join('·')

/** Capacity of a g-node of level `lvl` (number of level-0 positions inside it). */
export const capacity = (gsizes: readonly number[], lvl: number): number => gsizes.slice(0, lvl).reduce((a, b) => a * b, 1)

/** The index-th address in mixed radix, level 0 fastest: consecutive indices fill g-nodes one after another. */
export function addressOf (index: number, gsizes: readonly number[]): number[] {
  if (index < 0 || index >= capacity(gsizes, gsizes.length)) throw new RangeError(`index ${index} does not fit topology ${gsizes.join(',')}`)
  const out: number[] = []
  for (const g of gsizes) { out.push(index % g); index = Math.floor(index / g) }
  return out
}

function fromAddresses (gsizes: readonly number[], addrs: Positions[], pairs: Array<[number, number, Cost]>): TopologySpec {
  const nodes = addrs.map(naddr => ({ name: addressName(naddr), naddr }))
  return { gsizes, nodes, links: pairs.map(([a, b, cost]) => ({ a: nodes[a].name, b: nodes[b].name, cost })) }
}

/** n nodes in a line, addresses in order (so every g-node is a segment). */
export function lineTopology (n: number, gsizes: readonly number[], cost: Cost = 1000): TopologySpec {
  const addrs = Array.from({ length: n }, (_, k) => addressOf(k, gsizes))
  return fromAddresses(gsizes, addrs, Array.from({ length: n - 1 }, (_, k) => [k, k + 1, cost]))
}

/** n nodes in a ring, addresses in order. */
export function ringTopology (n: number, gsizes: readonly number[], cost: Cost = 1000): TopologySpec {
  const addrs = Array.from({ length: n }, (_, k) => addressOf(k, gsizes))
  return fromAddresses(gsizes, addrs, Array.from({ length: n }, (_, k) => [k, (k + 1) % n, cost]))
}

/**
 * A w×h grid whose g-nodes at every level are rectangles (recursive tiling), so each g-node is connected and
 * shortest grid paths never leave and re-enter a g-node. `cost` may vary per link.
 */
export function gridTopology (w: number, h: number, gsizes: readonly number[], cost: Cost | ((a: Positions, b: Positions) => Cost) = 1000): TopologySpec {
  const at = new Map<string, number[]>()
  const tile = (x0: number, y0: number, tw: number, th: number, lvl: number, above: number[]): void => {
    if (lvl < 0) { at.set(`${x0},${y0}`, above); return }
    const cap = capacity(gsizes, lvl)
    let best: [number, number] | null = null
    for (let a = 1; a <= tw; a++) {
      const b = Math.min(th, Math.floor(cap / a))
      if (b < 1) break
      const count = Math.ceil(tw / a) * Math.ceil(th / b)
      if (count <= gsizes[lvl] && (best === null || a * b > best[0] * best[1])) best = [a, b]
    }
    if (best === null) throw new RangeError(`grid ${w}x${h} does not fit topology ${gsizes.join(',')} at level ${lvl}`)
    const [a, b] = best
    let pos = 0
    for (let y = y0; y < y0 + th; y += b) {
      for (let x = x0; x < x0 + tw; x += a) {
        const naddr = [...above]
        naddr[lvl] = pos++
        tile(x, y, Math.min(a, x0 + tw - x), Math.min(b, y0 + th - y), lvl - 1, naddr)
      }
    }
  }
  tile(0, 0, w, h, gsizes.length - 1, new Array<number>(gsizes.length).fill(0))
  const addrs: Positions[] = []
  const index = new Map<string, number>()
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) { index.set(`${x},${y}`, addrs.length); addrs.push(at.get(`${x},${y}`)!) }
  const costOf = (a: number, b: number): Cost => typeof cost === 'number' ? cost : cost(addrs[a], addrs[b])
  const pairs: Array<[number, number, Cost]> = []
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const k = index.get(`${x},${y}`)!
      if (x + 1 < w) { const r = index.get(`${x + 1},${y}`)!; pairs.push([k, r, costOf(k, r)]) }
      if (y + 1 < h) { const d = index.get(`${x},${y + 1}`)!; pairs.push([k, d, costOf(k, d)]) }
    }
  }
  return fromAddresses(gsizes, addrs, pairs)
}

/**
 * Lower bound of the cost of a link between two sibling g-nodes of level `lvl`. Each level dominates the one
 * below (B_L > 2·capacity(L)·B_{L-1}), so a shortest path never leaves a g-node and comes back: the costs QSPN
 * can express (acyclic in g-nodes) equal the plain shortest paths.
 */
export function dominantCostBase (gsizes: readonly number[], lvl: number): Cost {
  let b = 1000
  for (let k = 1; k <= lvl; k++) b = b * 2 * capacity(gsizes, k) + 1
  return b
}

/**
 * A random network that spans g-nodes at every level: a random subset of addresses, each g-node internally
 * connected (random spanning tree of its children plus `extraLinks` per g-node), link costs random within the
 * dominant band of the level they cross.
 */
export function hierarchicalTopology (gsizes: readonly number[], o: { seed: number, fill?: number, extraLinks?: number }): TopologySpec {
  const rnd = new SeededRandom(o.seed)
  const fill = o.fill ?? 0.6
  const extra = o.extraLinks ?? 1
  const addrs: Positions[] = []
  const pairs: Array<[number, number, Cost]> = []
  const linkCost = (lvl: number): Cost => { const b = dominantCostBase(gsizes, lvl); return b + rnd.int(b) }
  // Builds the g-node of level `lvl` + 1 whose upper positions are `above`; returns the indices of its members.
  const build = (lvl: number, above: number[]): number[] => {
    if (lvl < 0) { addrs.push(above); return [addrs.length - 1] }
    const positions = Array.from({ length: gsizes[lvl] }, (_, k) => k).filter(() => rnd.next() < fill)
    while (positions.length < Math.min(2, gsizes[lvl])) {
      const p = rnd.int(gsizes[lvl])
      if (!positions.includes(p)) positions.push(p)
    }
    positions.sort((a, b) => a - b)
    const children = positions.map(p => { const n = [...above]; n[lvl] = p; return build(lvl - 1, n) })
    const pick = (c: number[]): number => c[rnd.int(c.length)]
    for (let k = 1; k < children.length; k++) pairs.push([pick(children[rnd.int(k)]), pick(children[k]), linkCost(lvl)])
    for (let e = 0; e < extra && children.length > 2; e++) {
      const x = rnd.int(children.length); const y = rnd.int(children.length)
      if (x !== y) pairs.push([pick(children[x]), pick(children[y]), linkCost(lvl)])
    }
    return children.flat()
  }
  build(gsizes.length - 1, new Array<number>(gsizes.length).fill(0))
  // Parallel links between the same two nodes are allowed by the model but make test expectations murky.
  const seen = new Set<string>()
  const unique = pairs.filter(([a, b]) => { const k = a < b ? `${a}-${b}` : `${b}-${a}`; if (seen.has(k)) return false; seen.add(k); return true })
  return fromAddresses(gsizes, addrs, unique)
}

/** Creates a SimNetwork with every node and link of `spec` (arcs added at time 0; call runUntilQuiescent next). */
export function buildNetwork (spec: TopologySpec, o: Omit<SimNetworkOptions, 'gsizes'>): SimNetwork {
  const net = new SimNetwork({ ...o, gsizes: spec.gsizes })
  for (const n of spec.nodes) net.addNode(n.name, n.naddr)
  for (const l of spec.links) net.link(l.a, l.b, l.cost)
  return net
}
