import { hcKey, maxDistinctGnode, type Cost, type HCoord, type Positions } from '../qspn/types'
import type { TopologySpec } from './topologies'

/** What a node's QSPN map must hold for one destination, computed independently of QSPN. */
export interface ExpectedDestination {
  readonly hc: HCoord
  /** Cheapest cost to any member, over paths inside the common g-node of level hc.lvl + 1. */
  readonly cost: Cost
  /** Names of the member nodes. */
  readonly members: string[]
  /** The eldest member (smallest positions, highest level first): its fingerprint id names the g-node. */
  readonly eldest: string
}

/**
 * Expected map of `name` in `spec`: every g-node (relative HCoord) that has at least one node, with the
 * Dijkstra cost to its nearest member. Paths are restricted to the smallest g-node containing both ends,
 * as QSPN paths never leave and re-enter a g-node.
 */
export function expectedMap (spec: TopologySpec, name: string, links = spec.links): Map<string, ExpectedDestination> {
  const me = spec.nodes.find(n => n.name === name)
  if (me === undefined) throw new RangeError(`no node ${name} in topology`)
  const levels = spec.gsizes.length
  const adj = new Map<string, Array<[string, Cost]>>()
  for (const n of spec.nodes) adj.set(n.name, [])
  for (const l of links) { adj.get(l.a)!.push([l.b, l.cost]); adj.get(l.b)!.push([l.a, l.cost]) }
  const addr = new Map(spec.nodes.map(n => [n.name, n.naddr]))
  // dist[L]: Dijkstra inside my g-node of level L+1.
  const dist: Array<Map<string, Cost>> = []
  for (let L = 0; L < levels; L++) {
    const inside = (p: Positions): boolean => { for (let k = L + 1; k < levels; k++) if (p[k] !== me.naddr[k]) return false; return true }
    dist.push(dijkstra(name, adj, n => inside(addr.get(n)!)))
  }
  const out = new Map<string, ExpectedDestination>()
  const eldestOf = new Map<string, Positions>()
  for (const n of spec.nodes) {
    const hc = maxDistinctGnode(me.naddr, n.naddr)
    if (hc === null) continue
    const k = hcKey(hc)
    const d = dist[hc.lvl].get(n.name) ?? Number.POSITIVE_INFINITY
    const prev = out.get(k)
    if (prev === undefined) {
      out.set(k, { hc, cost: d, members: [n.name], eldest: n.name })
      eldestOf.set(k, n.naddr)
    } else {
      const older = isOlder(n.naddr, eldestOf.get(k)!, hc.lvl)
      if (older) eldestOf.set(k, n.naddr)
      out.set(k, { hc, cost: Math.min(prev.cost, d), members: [...prev.members, n.name], eldest: older ? n.name : prev.eldest })
    }
  }
  return out
}

/** Eldest member of my g-node of `lvl` (lvl = levels: the whole network) and its member count. */
export function expectedOwnGnode (spec: TopologySpec, name: string, lvl: number): { eldest: string, members: number } {
  const me = spec.nodes.find(n => n.name === name)!
  const levels = spec.gsizes.length
  const members = spec.nodes.filter(n => { for (let k = lvl; k < levels; k++) if (n.naddr[k] !== me.naddr[k]) return false; return true })
  let e = members[0]
  for (const m of members) if (isOlder(m.naddr, e.naddr, lvl)) e = m
  return { eldest: e.name, members: members.length }
}

/** a is elder than b inside a g-node of level lvl+1 (elderships are positions in the simulator). */
function isOlder (a: Positions, b: Positions, lvl: number): boolean {
  for (let k = Math.min(lvl, a.length - 1); k >= 0; k--) if (a[k] !== b[k]) return a[k] < b[k]
  return false
}

function dijkstra (src: string, adj: Map<string, Array<[string, Cost]>>, allowed: (n: string) => boolean): Map<string, Cost> {
  const dist = new Map<string, Cost>([[src, 0]])
  const done = new Set<string>()
  // Binary heap of [cost, node]; stale entries are skipped when popped.
  const heap: Array<[Cost, string]> = [[0, src]]
  const less = (a: [Cost, string], b: [Cost, string]): boolean => a[0] < b[0]
  while (heap.length > 0) {
    const top = heap[0]
    const last = heap.pop()!
    if (heap.length > 0) {
      heap[0] = last
      for (let k = 0; ;) {
        const l = 2 * k + 1; const r = l + 1
        let m = k
        if (l < heap.length && less(heap[l], heap[m])) m = l
        if (r < heap.length && less(heap[r], heap[m])) m = r
        if (m === k) break
        ;[heap[k], heap[m]] = [heap[m], heap[k]]
        k = m
      }
    }
    const [du, u] = top
    if (done.has(u)) continue
    done.add(u)
    for (const [v, c] of adj.get(u)!) {
      if (!allowed(v)) continue
      const nd = du + c
      if (nd < (dist.get(v) ?? Number.POSITIVE_INFINITY)) {
        dist.set(v, nd)
        heap.push([nd, v])
        for (let k = heap.length - 1; k > 0;) {
          const pk = (k - 1) >> 1
          if (!less(heap[k], heap[pk])) break
          ;[heap[k], heap[pk]] = [heap[pk], heap[k]]
          k = pk
        }
      }
    }
  }
  return dist
}
