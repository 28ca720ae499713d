import type { LinkSpec, ResolvedLab } from '../topology/model'

/**
 * What the timeline has done to the lab so far: the state of every link and which nodes are stopped.
 * Expectations (routes, reachability, partitions) and the graph drawing are computed from it.
 */
export interface LabState {
  links: Map<string, 'up' | 'down'>
  /** Links with an impairment applied (drawn differently; still count as up). */
  impaired: Set<string>
  stopped: Set<string>
}

export function initialState (lab: ResolvedLab): LabState {
  return {
    links: new Map(lab.links.map(l => [l.id, l.state])),
    impaired: new Set(lab.links.filter(l => l.impairment !== undefined).map(l => l.id)),
    stopped: new Set()
  }
}

export function copyState (s: LabState): LabState {
  return { links: new Map(s.links), impaired: new Set(s.impaired), stopped: new Set(s.stopped) }
}

export interface Adjacent { neighbour: string, ifname: string, link: LinkSpec }

/** Neighbours over links that are up, between nodes that run, restricted to `members` when given. */
export function adjacency (lab: ResolvedLab, state: LabState, members?: Set<string>): Map<string, Adjacent[]> {
  const inGraph = (n: string): boolean => !state.stopped.has(n) && (members === undefined || members.has(n))
  const adj = new Map<string, Adjacent[]>()
  for (const n of lab.nodes) if (inGraph(n.name)) adj.set(n.name, [])
  for (const l of lab.links) {
    if ((state.links.get(l.id) ?? l.state) !== 'up') continue
    const [a, b] = l.endpoints
    if (!inGraph(a.node) || !inGraph(b.node) || a.node === b.node) continue
    adj.get(a.node)?.push({ neighbour: b.node, ifname: a.ifname, link: l })
    adj.get(b.node)?.push({ neighbour: a.node, ifname: b.ifname, link: l })
  }
  return adj
}

/** Connected components (partitions), each sorted, ordered by their first node. */
export function components (lab: ResolvedLab, state: LabState, members?: Set<string>): string[][] {
  const adj = adjacency(lab, state, members)
  const seen = new Set<string>()
  const out: string[][] = []
  for (const start of adj.keys()) {
    if (seen.has(start)) continue
    const comp: string[] = []
    const queue = [start]
    seen.add(start)
    while (queue.length > 0) {
      const n = queue.shift() as string
      comp.push(n)
      for (const { neighbour } of adj.get(n) ?? []) {
        if (!seen.has(neighbour)) { seen.add(neighbour); queue.push(neighbour) }
      }
    }
    out.push(comp.sort())
  }
  return out.sort((x, y) => x[0] < y[0] ? -1 : 1)
}

export interface Path {
  /** Hop count on the cheapest path. */
  hops: number
  /** The first-hop interfaces of `from` on all cheapest paths (ECMP set). */
  ifnames: string[]
  /** The neighbours reached through them. */
  neighbours: string[]
}

/** Cheapest paths by hop count from one node to every node it can reach (BFS keeping all first hops). */
export function cheapestPaths (lab: ResolvedLab, state: LabState, from: string, members?: Set<string>): Map<string, Path> {
  const adj = adjacency(lab, state, members)
  const dist = new Map<string, number>([[from, 0]])
  const first = new Map<string, Set<string>>() // destination -> "neighbour\u0000ifname"
  const queue = [from]
  while (queue.length > 0) {
    const n = queue.shift() as string
    const d = dist.get(n) as number
    for (const { neighbour, ifname } of adj.get(n) ?? []) {
      const via = n === from ? new Set([`${neighbour}\u0000${ifname}`]) : (first.get(n) ?? new Set<string>())
      const known = dist.get(neighbour)
      if (known === undefined) {
        dist.set(neighbour, d + 1)
        first.set(neighbour, new Set(via))
        queue.push(neighbour)
      } else if (known === d + 1) {
        for (const v of via) first.get(neighbour)?.add(v)
      }
    }
  }
  const out = new Map<string, Path>()
  for (const [dst, hops] of dist) {
    if (dst === from) continue
    const pairs = [...(first.get(dst) ?? [])].map(v => v.split('\u0000'))
    out.set(dst, {
      hops,
      neighbours: [...new Set(pairs.map(p => p[0]))].sort(),
      ifnames: [...new Set(pairs.map(p => p[1]))].sort()
    })
  }
  return out
}

/** Finds a link by its endpoints in either order, or by its id. */
export function findLink (lab: ResolvedLab, ref: string | [string, string]): LinkSpec | undefined {
  if (typeof ref === 'string') return lab.links.find(l => l.id === ref)
  const key = (e: { node: string, ifname: string }): string => `${e.node}:${e.ifname}`
  return lab.links.find(l => {
    const [a, b] = l.endpoints.map(key)
    return (a === ref[0] && b === ref[1]) || (a === ref[1] && b === ref[0])
  })
}

/**
 * The hearing pair of a radio segment between two nodes (names, or node:ifname), in either order;
 * `segment` picks among segments both nodes are on. An error in words when there is none or several.
 */
export function findPair (lab: ResolvedLab, a: string, b: string, segment?: string): { link: LinkSpec } | { error: string } {
  const matches = (ref: string, e: { node: string, ifname: string }): boolean => ref.includes(':') ? ref === `${e.node}:${e.ifname}` : ref === e.node
  const pairs = lab.links.filter(l => l.segment !== undefined && (segment === undefined || l.segment === segment) &&
    ((matches(a, l.endpoints[0]) && matches(b, l.endpoints[1])) || (matches(a, l.endpoints[1]) && matches(b, l.endpoints[0]))))
  if (pairs.length === 1) return { link: pairs[0] }
  if (pairs.length > 1) return { error: `${a} and ${b} hear each other on several segments (${pairs.map(p => p.segment ?? '').join(', ')}): name one with segment:` }
  const segments = lab.segments ?? []
  if (segment !== undefined && !segments.some(s => s.name === segment)) {
    return { error: `no radio segment ${JSON.stringify(segment)} in the topology (segments: ${segments.map(s => s.name).join(', ') || 'none'})` }
  }
  const nodeOf = (ref: string): string => ref.split(':')[0]
  const shared = segments.filter(s => (segment === undefined || s.name === segment) && [a, b].every(r => s.endpoints.some(e => matches(r, e))))
  if (shared.length > 0) {
    return { error: `${nodeOf(a)} and ${nodeOf(b)} are both on segment ${shared[0].name} but the pair is not declared: list it in its hears (as { pair: [${nodeOf(a)}, ${nodeOf(b)}], state: down } to start deaf)` }
  }
  return { error: `${nodeOf(a)} and ${nodeOf(b)} are not on one radio segment${segment !== undefined ? ` ${segment}` : ''} (segments: ${segments.map(s => `${s.name}: ${s.endpoints.map(e => e.node).join(', ')}`).join('; ') || 'none'})` }
}
