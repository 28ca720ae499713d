import { SeededRandom } from '../../src/util/random'
import { type DaemonNetwork, type DaemonPlan, runUntil, startDaemons } from './inprocess-network'
import { kernelProblems, mapProblems, oracleOfArcs } from './daemon-checks'

// Daemons that merge by Hooking (unconfigured: each founds its own network; or configured networks, each with its
// addresses and network id) on seeded graphs, and the
// invariants a merge must leave: one network id per connected component, unique real addresses, one identity per
// system (no connectivity identity left), no reservation left, maps and kernels equal to the oracle's over the
// addresses the daemons took. The oracle (Dijkstra over the arcs, daemon-checks) shares no code with Hooking.

export interface Edge { readonly a: string, readonly b: string }

/** A connected random graph on `names`: a random tree plus `extra` random edges (no loops, no duplicates). */
export function randomConnected (names: readonly string[], extra: number, rnd: SeededRandom): Edge[] {
  const edges: Edge[] = []
  const has = new Set<string>()
  const add = (a: string, b: string): boolean => {
    const k = a < b ? `${a}|${b}` : `${b}|${a}`
    if (a === b || has.has(k)) return false
    has.add(k)
    edges.push({ a, b })
    return true
  }
  for (let i = 1; i < names.length; i++) add(names[i], names[rnd.int(i)])
  for (let tries = 0, made = 0; made < extra && tries < extra * 20; tries++) if (add(names[rnd.int(names.length)], names[rnd.int(names.length)])) made++
  return edges
}

/**
 * Starts every node of `names` (without an address unless `o.configured` gives one and a network id), with one NIC
 * per edge end, and links the `edges`; the links of `later` are made down (`join` takes them up). Returns the
 * network and the join function.
 */
export interface StartOptions {
  readonly seed: number
  readonly bits: readonly number[]
  readonly log?: (node: string, line: string) => void
  /** A node's configured address (top level first) and network id; omitted: the node starts unconfigured. */
  readonly configured?: (name: string) => { readonly address: string, readonly networkId: number } | undefined
}

export async function startHookingNetworks (names: readonly string[], edges: readonly Edge[], later: readonly Edge[], o: StartOptions): Promise<{ dn: DaemonNetwork, join: () => void, setEdge: (e: Edge, up: boolean) => void }> {
  const nics = new Map(names.map(n => [n, [] as string[]]))
  const ends = [...edges, ...later].map(e => {
    const na = nics.get(e.a) as string[]
    const nb = nics.get(e.b) as string[]
    const ea = `e${na.length}`; na.push(ea)
    const eb = `e${nb.length}`; nb.push(eb)
    return { a: { node: e.a, nic: ea }, b: { node: e.b, nic: eb } }
  })
  const plan = (n: string): DaemonPlan => {
    const given = nics.get(n) as string[]
    const c = o.configured?.(n)
    return { nics: given.length === 0 ? ['e0'] : given, ...(c === undefined ? {} : { address: c.address, config: { networkId: c.networkId } }) }
  }
  const dn = await startDaemons(Object.fromEntries(names.map(n => [n, plan(n)])), { topologyBits: o.bits, seed: o.seed, ...(o.log === undefined ? {} : { log: o.log }) })
  const laterEnds = ends.slice(edges.length)
  for (const e of ends) dn.link(e.a, e.b)
  for (const e of laterEnds) dn.setLinkUp(e.a, e.b, false)
  const setEdge = (e: Edge, up: boolean): void => {
    const end = ends.find(x => (x.a.node === e.a && x.b.node === e.b) || (x.a.node === e.b && x.b.node === e.a))
    if (end === undefined) throw new Error(`no edge ${e.a}-${e.b}`)
    dn.setLinkUp(end.a, end.b, up)
  }
  return { dn, join: () => { for (const e of laterEnds) dn.setLinkUp(e.a, e.b, true) }, setEdge }
}

/**
 * Seed `seed`'s random connected graph of 4-9 unconfigured daemons (names n0..), started; the seeded random source
 * goes on from there for the caller's own draws (cuts).
 */
export async function randomUnconfigured (seed: number, bits: readonly number[]): Promise<{ rnd: SeededRandom, names: string[], edges: Edge[], dn: DaemonNetwork, setEdge: (e: Edge, up: boolean) => void }> {
  const rnd = new SeededRandom(seed)
  const n = 4 + rnd.int(6)
  const names = Array.from({ length: n }, (_, i) => `n${i}`)
  const edges = randomConnected(names, rnd.int(n), rnd)
  const { dn, setEdge } = await startHookingNetworks(names, edges, [], { seed, bits })
  return { rnd, names, edges, dn, setEdge }
}

/** The connected components of the daemons' current links (by the arcs the medium has up), as name lists. */
export function components (names: readonly string[], edges: readonly Edge[]): string[][] {
  const parent = new Map(names.map(n => [n, n]))
  const find = (n: string): string => { let r = n; while (parent.get(r) !== r) r = parent.get(r) as string; return r }
  for (const e of edges) parent.set(find(e.a), find(e.b))
  const out = new Map<string, string[]>()
  for (const n of names) { const r = find(n); out.set(r, [...(out.get(r) ?? []), n]) }
  return [...out.values()]
}

/** One network id per component, ids differing across components, unique real addresses, one identity per system. */
export function networkProblems (dn: DaemonNetwork, comps: readonly string[][]): string[] {
  const out: string[] = []
  const idOf = new Map<number | null, number>()
  for (const [k, comp] of comps.entries()) {
    const ids = new Set(comp.map(n => dn.get(n).node.status().networkId))
    if (ids.size !== 1) out.push(`component ${k} (${comp.length} nodes) has network ids ${[...ids].join(', ')}`)
    for (const id of ids) {
      if (idOf.has(id) && idOf.get(id) !== k) out.push(`components ${String(idOf.get(id))} and ${k} share network id ${String(id)}`)
      idOf.set(id, k)
    }
    const seen = new Map<string, string>()
    for (const n of comp) {
      const d = dn.get(n)
      const a = d.naddr.join('.')
      if (seen.has(a)) out.push(`${n} and ${seen.get(a) ?? ''} share ${[...d.naddr].reverse().join('.')}`)
      seen.set(a, n)
      if (d.naddr.some((p, l) => p >= dn.topology.gsizes[l])) out.push(`${n} has a virtual position: ${[...d.naddr].reverse().join('.')}`)
      // a connectivity identity stays only while its check says a g-node needs it (after a migration, §4.9)
      const extra = [...d.node.system.runtimes.values()].filter(r => !r.isMain)
      const unneeded = extra.filter(r => !r.qspn.isConnectivity || r.qspn.checkConnectivity())
      if (unneeded.length > 0) out.push(`${n} keeps ${unneeded.length} identity(ies) no g-node needs (${d.node.identities().map(i => `${i.index}:${i.kind}:${i.address}`).join(', ')})`)
    }
  }
  return out
}

/**
 * Every g-node connected inside (§6.3: a g-node's members reach each other without leaving it): for each level
 * 1..levels-1 and each g-node of a component, its members are one connected piece over the links among themselves.
 */
export function gnodeProblems (dn: DaemonNetwork, edges: readonly Edge[]): string[] {
  const out: string[] = []
  const L = dn.topology.levels
  // every identity is a member of its g-nodes (a connectivity identity keeps a g-node connected at a virtual
  // position); identities of two linked systems are adjacent, those of one system are not
  const vertices: Array<{ v: string, system: string, naddr: readonly number[] }> = []
  for (const d of dn.list()) for (const r of d.node.system.runtimes.values()) vertices.push({ v: `${d.name}#${r.identity.index}`, system: d.name, naddr: r.naddr })
  const idEdges: Edge[] = edges.flatMap(e => vertices.filter(x => x.system === e.a).flatMap(x => vertices.filter(y => y.system === e.b).map(y => ({ a: x.v, b: y.v }))))
  for (let lvl = 1; lvl < L; lvl++) {
    const byGnode = new Map<string, string[]>()
    for (const x of vertices) {
      const key = x.naddr.slice(lvl).join('.')
      byGnode.set(key, [...(byGnode.get(key) ?? []), x.v])
    }
    for (const [key, members] of byGnode) {
      if (members.length < 2) continue
      const inside = new Set(members)
      const pieces = components(members, idEdges.filter(e => inside.has(e.a) && inside.has(e.b)))
      // members in different connected components of the whole graph belong to different networks
      const nets = new Set(members.map(m => dn.get(m.split('#')[0]).node.status().networkId))
      if (pieces.length > 1 && nets.size === 1) out.push(`g-node ${key.split('.').reverse().join('.')} of level ${lvl} is ${pieces.length} pieces: ${pieces.map(p => p.join(',')).join(' | ')}`)
    }
  }
  return out
}

/** Reservations still held in any Coordinator's memory this node serves. */
export function reservationProblems (dn: DaemonNetwork): string[] {
  const out: string[] = []
  for (const d of dn.list()) {
    const main = d.node.system.main
    for (let lvl = 1; lvl <= dn.topology.levels; lvl++) {
      const mem = main.peers.coordinator.localMemory(lvl)
      const held = (mem?.reserveList ?? []).filter(b => b.expiresAt > dn.clock.now()).length
      if (held > 0) out.push(`${d.name} holds ${held} reservation(s) at level ${lvl}`)
    }
  }
  return out
}

/**
 * Waits until the network holds every invariant (single network per component, with `edges` every g-node connected
 * inside, maps and kernels equal to the oracle's); returns the virtual ms it took (null: budget spent) and the last problems seen.
 * `watch` hears the network problems of every check (every 250 ms of virtual time), for a long run's progress.
 */
export async function settled (dn: DaemonNetwork, comps: readonly string[][], budgetMs: number, edges?: readonly Edge[], watch?: (problems: readonly string[]) => void): Promise<{ ms: number | null, problems: string[] }> {
  let problems: string[] = []
  const ms = await runUntil(dn.clock, async () => {
    problems = networkProblems(dn, comps)
    watch?.(problems)
    if (problems.length > 0) return false
    // given the links that are up: every g-node connected inside too (a split g-node repaired)
    if (edges !== undefined) problems = gnodeProblems(dn, edges)
    if (problems.length > 0) return false
    const oracle = oracleOfArcs(dn)
    problems = mapProblems(dn, oracle, { limit: 5, alternatives: false })
    if (problems.length > 0) return false
    await dn.syncKernels()
    problems = await kernelProblems(dn, oracle, 5)
    return problems.length === 0
  }, { budgetMs, stepMs: 250 })
  return { ms, problems }
}

/** One line per daemon: address, network id, identities, Hooking's events (for a failing test's log). */
export function describeHooking (dn: DaemonNetwork): string {
  return dn.list().map(d => {
    const ev = d.node.system.hooking.events.list().map(e => e.type).join(',')
    return `${d.name} ${[...d.naddr].reverse().join('.')} net ${String(d.node.status().networkId)} ids ${d.node.identities().map(i => `${i.index}:${i.kind}:${i.address}`).join(' ')} events ${ev}`
  }).join('\n')
}
