// The topologies of bench/compare.ts, the links its events cut, and the lab file of each kind on them.
import { seededRandom } from '../../lab/src/scenario/random'

export interface Link { a: string, b: string, ifa: string, ifb: string }

export interface Graph {
  /** Short name on the command line and in the report (grid5, ring10...). */
  id: string
  /** What the report calls it. */
  label: string
  nodes: string[]
  links: Link[]
  /** Links cut together so that a part is separated (the split step). */
  split: Link[]
}

export type DaemonKind = 'ntkd' | 'babeld'
export type Timers = 'lab' | 'default'

/** Numbers each node's interfaces eth1, eth2... in the order its links are listed. */
function withNics (pairs: Array<[string, string]>): { nodes: string[], links: Link[] } {
  const nics = new Map<string, number>()
  const nic = (n: string): string => { const k = (nics.get(n) ?? 0) + 1; nics.set(n, k); return `eth${k}` }
  const links = pairs.map(([a, b]) => ({ a, b, ifa: nic(a), ifb: nic(b) }))
  return { nodes: [...nics.keys()], links }
}

const key = (a: string, b: string): string => a < b ? `${a}|${b}` : `${b}|${a}`
const linkKey = (l: Link): string => key(l.a, l.b)

export function grid (rows: number, cols: number): Graph {
  const pairs: Array<[string, string]> = []
  for (let r = 1; r <= rows; r++) {
    for (let c = 1; c <= cols; c++) {
      if (c < cols) pairs.push([`g${r}x${c}`, `g${r}x${c + 1}`])
      if (r < rows) pairs.push([`g${r}x${c}`, `g${r + 1}x${c}`])
    }
  }
  const g = withNics(pairs)
  const left = Math.floor(cols / 2)
  const split = g.links.filter(l => l.a.endsWith(`x${left}`) && l.b.endsWith(`x${left + 1}`))
  return { id: rows === cols ? `grid${rows}` : `grid${rows}x${cols}`, label: `${rows}x${cols} grid`, ...g, split }
}

export function ring (n: number): Graph {
  const g = withNics(Array.from({ length: n }, (_, i) => [`r${i + 1}`, `r${(i + 1) % n + 1}`]))
  // two links opposite each other: the ring falls in two halves
  return { id: `ring${n}`, label: `ring of ${n}`, ...g, split: [g.links[1], g.links[1 + Math.floor(n / 2)]] }
}

export function line (n: number): Graph {
  const g = withNics(Array.from({ length: n - 1 }, (_, i) => [`l${i + 1}`, `l${i + 2}`]))
  return { id: `line${n}`, label: `line of ${n}`, ...g, split: [g.links[Math.floor((n - 1) / 2)]] }
}

/** Adjacency over `links` minus `without` (link keys). */
function neighbours (nodes: readonly string[], links: readonly Link[], without = new Set<string>()): Map<string, string[]> {
  const adj = new Map(nodes.map(n => [n, [] as string[]]))
  for (const l of links) {
    if (without.has(linkKey(l))) continue
    adj.get(l.a)?.push(l.b)
    adj.get(l.b)?.push(l.a)
  }
  return adj
}

/** Breadth-first search from `from`: parent of every node reached (the start maps to itself). */
function bfs (adj: Map<string, string[]>, from: string): Map<string, string> {
  const parent = new Map([[from, from]])
  const queue = [from]
  for (let i = 0; i < queue.length; i++) {
    for (const m of adj.get(queue[i]) ?? []) if (!parent.has(m)) { parent.set(m, queue[i]); queue.push(m) }
  }
  return parent
}

const connected = (nodes: readonly string[], adj: Map<string, string[]>): boolean => nodes.length === 0 || bfs(adj, nodes[0]).size === nodes.length

/**
 * A connected graph of n nodes from a seed: a random spanning tree (each node joins one before it), then
 * `extra` links between random pairs not linked yet (about three links per node with the default).
 * The split cuts the boundary of the BFS ball (of about a third of the nodes) with the fewest links whose
 * both sides stay connected.
 */
export function randomGraph (n: number, seed: number, extra = Math.round(n / 2)): Graph {
  const rnd = seededRandom(seed)
  const names = Array.from({ length: n }, (_, i) => `v${i + 1}`)
  const pairs: Array<[string, string]> = []
  const have = new Set<string>()
  const add = (a: string, b: string): void => { pairs.push([a, b]); have.add(key(a, b)) }
  for (let i = 1; i < n; i++) add(names[rnd.int(i)], names[i])
  for (let tries = 0, added = 0; added < extra && tries < 100 * n; tries++) {
    const a = names[rnd.int(n)]
    const b = names[rnd.int(n)]
    if (a !== b && !have.has(key(a, b))) { add(a, b); added++ }
  }
  const g = withNics(pairs)
  const nodes = names // every node has a link (the spanning tree): keep the numeric order
  const adj = neighbours(nodes, g.links)
  let best: Link[] | undefined
  for (const start of nodes) {
    const order = [...bfs(adj, start).keys()].slice(0, Math.max(2, Math.round(n / 3)))
    const inside = new Set(order)
    const cut = g.links.filter(l => inside.has(l.a) !== inside.has(l.b))
    const rest = neighbours(nodes, g.links, new Set(cut.map(linkKey)))
    const sideConnected = connected(order, rest) && connected(nodes.filter(x => !inside.has(x)), rest)
    if (sideConnected && (best === undefined || cut.length < best.length)) best = cut
  }
  if (best === undefined) throw new Error(`random graph of ${n} (seed ${seed}): no cut into two connected parts found`)
  return { id: `random${n}`, label: `random graph of ${n} (seed ${seed})`, nodes, links: g.links, split: best }
}

/** The topologies `--topologies` names, built with the random graph's seed. */
export function topologies (seed: number): Map<string, () => Graph> {
  return new Map<string, () => Graph>([
    ['grid5', () => grid(5, 5)],
    ['ring10', () => ring(10)],
    ['line10', () => line(10)],
    ['grid10', () => grid(10, 10)],
    ['random50', () => randomGraph(50, seed)]
  ])
}

/** Links whose loss disconnects the graph. */
export function bridges (g: Graph): Set<string> {
  const out = new Set<string>()
  for (const l of g.links) if (!connected(g.nodes, neighbours(g.nodes, g.links, new Set([linkKey(l)])))) out.add(linkKey(l))
  return out
}

/**
 * The reroute cut: the first link, from the first node, on a fewest-hops (every arc costs the same: cheapest) path
 * from the first node to the node farthest from it, that is not a bridge (so the cut reroutes and splits nothing)
 * and leaves every g-node of ntkd's configured addresses connected inside (a cut inside a g-node splits the g-node:
 * ntkd then repairs a split, which is no reroute; seen on the ring of 10, whose g-node of 8 the first link cut in
 * two). undefined when no link of that path will do (a line).
 */
export function rerouteLink (g: Graph): Link | undefined {
  const src = g.nodes[0]
  const parent = bfs(neighbours(g.nodes, g.links), src)
  const far = [...parent.keys()].at(-1) as string
  const path: string[] = [far]
  while (path[0] !== src) path.unshift(parent.get(path[0]) as string)
  const cutting = bridges(g)
  let addresses: Map<string, string> | undefined
  try { addresses = configuredAddresses(g) } catch { addresses = undefined }
  for (let i = 0; i + 1 < path.length; i++) {
    const l = g.links.find(x => linkKey(x) === key(path[i], path[i + 1])) as Link
    if (!cutting.has(linkKey(l)) && (addresses === undefined || keepsGnodesWhole(g, l, addresses))) return l
  }
  return undefined
}

/** Whether every g-node (addresses top level first) holding both ends of `l` stays connected inside without it. */
export function keepsGnodesWhole (g: Graph, l: Link, addresses: ReadonlyMap<string, string>): boolean {
  const levels = (addresses.get(l.a) ?? '').split('.').length
  for (let k = 1; k < levels; k++) {
    const gnodeOf = (n: string): string => (addresses.get(n) ?? '').split('.').slice(0, levels - k).join('.')
    if (gnodeOf(l.a) !== gnodeOf(l.b)) continue
    const inside = g.nodes.filter(n => gnodeOf(n) === gnodeOf(l.a))
    const links = g.links.filter(x => inside.includes(x.a) && inside.includes(x.b))
    if (!connected(inside, neighbours(inside, links, new Set([linkKey(l)])))) return false
  }
  return true
}

/** Bits per level for ntkd without an address: room for the nodes to found and merge (Hooking) with space to spare. */
export function ntkdBits (nodes: number): number[] {
  return nodes <= 25 ? [2, 2, 2] : [2, 2, 2, 2]
}

/** How ntkd gets its address: it founds a network alone and merges by Hooking, or it is given one (`--ntkd-address`). */
export type NtkdAddressing = 'auto' | 'configured'

/** Bits per level for ntkd with configured addresses: 8 positions per level, g-nodes filled greedily. */
export const CONFIGURED_BITS = [3, 3, 3]

/**
 * Addresses for ntkd given by hand (top level first, as `address:` takes them), each g-node connected inside: level
 * by level, units (nodes, then the g-nodes just formed) are grouped greedily by a breadth-first walk over the
 * links, at most `2^bits` units per group, in the order of `g.nodes`. When the walk leaves more g-nodes than the
 * top level holds (sparse graphs of hundreds of nodes), the units are packed along a spanning tree instead
 * (`packTree`). Throws when neither fits.
 */
export function configuredAddresses (g: PlannedGraph, bitsTopFirst: readonly number[] = CONFIGURED_BITS): Map<string, string> {
  try { return groupedAddresses(g, bitsTopFirst, walkGroups) } catch { return groupedAddresses(g, bitsTopFirst, packTree) }
}

/** What address planning reads of a graph: its name (for errors), nodes and links (interfaces play no part). */
export interface PlannedGraph { readonly id: string, readonly nodes: readonly string[], readonly links: ReadonlyArray<{ readonly a: string, readonly b: string }> }

/**
 * A configured network's addresses inside top-level g-node `top` (top level first): the lower levels planned by
 * `configuredAddresses` over `bitsTopFirst` without its top level. Two networks planned this way hold the same
 * addresses, and the smaller enters the bigger as one g-node of level L-1 (the merge benches).
 */
export function configuredAddressesInTopGnode (g: PlannedGraph, bitsTopFirst: readonly number[], top = 0): Map<string, string> {
  const lower = configuredAddresses(g, bitsTopFirst.slice(1))
  return new Map(g.nodes.map(n => [n, `${top}.${lower.get(n) as string}`]))
}

type Grouping = (units: number, adj: ReadonlyArray<ReadonlySet<number>>, cap: number) => number[][]

/** Breadth-first groups in index order, then small groups merged into an adjacent one with room. */
function walkGroups (units: number, adj: ReadonlyArray<ReadonlySet<number>>, cap: number): number[][] {
  const taken = new Set<number>()
  let groups: number[][] = []
  for (let start = 0; start < units; start++) {
    if (taken.has(start)) continue
    const group: number[] = []
    const queue = [start]
    taken.add(start)
    while (queue.length > 0 && group.length < cap) {
      const u = queue.shift() as number
      group.push(u)
      for (const v of [...adj[u]].sort((x, y) => x - y)) if (!taken.has(v)) { taken.add(v); queue.push(v) }
    }
    for (const u of queue) taken.delete(u) // seen but left for a later group
    groups.push(group)
  }
  // the walk leaves small groups behind: merge each into an adjacent group with room (still connected inside)
  for (let merged = true; merged;) {
    merged = false
    groups.sort((a, b) => a.length - b.length)
    for (let i = 0; i < groups.length && !merged; i++) {
      const near = new Set(groups[i].flatMap(u => [...adj[u]]))
      const j = groups.findIndex((h, k) => k !== i && h.length + groups[i].length <= cap && h.some(u => near.has(u)))
      if (j >= 0) { groups[j] = [...groups[j], ...groups[i]]; groups = groups.filter((_, k) => k !== i); merged = true }
    }
  }
  return groups
}

/**
 * Groups of at most `cap` units, each a connected piece of a breadth-first spanning tree (of each connected part):
 * leaves first, a unit takes its children's open pieces, the smallest first, while they fit, and closes the others
 * as groups of their own.
 */
function packTree (units: number, adj: ReadonlyArray<ReadonlySet<number>>, cap: number): number[][] {
  const parent = new Array<number>(units).fill(-2)
  const order: number[] = []
  for (let root = 0; root < units; root++) {
    if (parent[root] !== -2) continue
    parent[root] = -1
    const queue = [root]
    while (queue.length > 0) {
      const u = queue.shift() as number
      order.push(u)
      for (const v of [...adj[u]].sort((x, y) => x - y)) if (parent[v] === -2) { parent[v] = u; queue.push(v) }
    }
  }
  const open = new Map<number, number[]>()
  const children = new Map<number, number[]>()
  for (const u of order) if (parent[u] >= 0) children.set(parent[u], [...(children.get(parent[u]) ?? []), u])
  const groups: number[][] = []
  for (const u of [...order].reverse()) {
    const piece = [u]
    for (const c of (children.get(u) ?? []).map(c => open.get(c) as number[]).sort((a, b) => a.length - b.length)) {
      if (piece.length + c.length <= cap) piece.push(...c)
      else groups.push(c)
    }
    if (parent[u] < 0) groups.push(piece)
    else open.set(u, piece)
  }
  return groups
}

function groupedAddresses (g: PlannedGraph, bitsTopFirst: readonly number[], grouping: Grouping): Map<string, string> {
  const sizes = [...bitsTopFirst].reverse().map(b => 2 ** b)
  const positions = new Map(g.nodes.map(n => [n, [] as number[]]))
  let units: string[][] = g.nodes.map(n => [n])
  for (let lvl = 0; lvl < sizes.length; lvl++) {
    const unitOf = new Map<string, number>()
    units.forEach((members, i) => { for (const m of members) unitOf.set(m, i) })
    const adj = units.map(() => new Set<number>())
    for (const l of g.links) {
      const a = unitOf.get(l.a) as number; const b = unitOf.get(l.b) as number
      if (a !== b) { adj[a].add(b); adj[b].add(a) }
    }
    const groups = grouping(units.length, adj, sizes[lvl])
    for (const group of groups) group.forEach((u, pos) => { for (const m of units[u]) (positions.get(m) as number[])[lvl] = pos })
    units = groups.map(group => group.flatMap(u => units[u]))
  }
  if (units.length > 1) throw new Error(`${g.id}: ${g.nodes.length} nodes do not fit ${bitsTopFirst.join('·')} in connected g-nodes`)
  return new Map([...positions].map(([n, p]) => [n, [...p].reverse().join('.')]))
}

/** The arc cost every ntkd interface gets (µs): with one cost everywhere the lab's route model is exact. */
export const FIXED_COST_US = 1000

/**
 * The lab file: ntkd without an address (it founds a network and merges by Hooking) or with one given by hand
 * (`configured`), with fixed costs on every interface, or babeld announcing 172.31.x.y/32 from lo. Default timers: ntkd `timers: default`, babeld hello 4 s
 * (its own default; the kind's is 0.5 s).
 */
export function labYaml (name: string, g: Graph, kind: DaemonKind, timers: Timers, addressing: NtkdAddressing = 'auto'): string {
  const nicsOf = (n: string): string[] => g.links.flatMap(l => l.a === n ? [l.ifa] : l.b === n ? [l.ifb] : [])
  const bits = (addressing === 'configured' ? CONFIGURED_BITS : ntkdBits(g.nodes.length)).join(', ')
  const addresses = kind === 'ntkd' && addressing === 'configured' ? configuredAddresses(g) : new Map<string, string>()
  const nodes = g.nodes.map((n, i) => kind === 'ntkd'
    ? `  ${n}: { config: { topology: [${bits}],${addresses.has(n) ? ` address: "${addresses.get(n) as string}",` : ''} timers: ${timers}, costs: { ${nicsOf(n).map(x => `${x}: ${FIXED_COST_US}`).join(', ')} } } }`
    : `  ${n}: { config: { address: 172.31.${Math.floor(i / 250)}.${i % 250 + 1}/32${timers === 'default' ? ', hello-interval: 4' : ''} } }`)
  return [
    `name: ${name}`,
    `defaults: { kind: ${kind} }`,
    'nodes:',
    ...nodes,
    'links:',
    ...g.links.map(l => `  - endpoints: [${l.a}:${l.ifa}, ${l.b}:${l.ifb}]`)
  ].join('\n') + '\n'
}

/** The lab's id of a link of the graph (the endpoints as the topology file names them). */
export function linkIdIn (spec: { links: ReadonlyArray<{ id: string, endpoints: ReadonlyArray<{ node: string, ifname: string }> }> }, l: Link): string {
  const found = spec.links.find(x => x.endpoints.some(e => e.node === l.a && e.ifname === l.ifa) && x.endpoints.some(e => e.node === l.b && e.ifname === l.ifb))
  if (found === undefined) throw new Error(`no link ${l.a}:${l.ifa} - ${l.b}:${l.ifb} in the lab`)
  return found.id
}
