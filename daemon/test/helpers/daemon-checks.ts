import { isDeepStrictEqual } from 'node:util'
import { type HCoord, formatHCoord, hcKey, maxDistinctGnode } from '../../src/addressing'
import { canonicalState } from '../../src/kernel'
import { destinationCidrs, destinationSet, localAddressSet } from '../../src/routes'
import { type Daemon, type DaemonNetwork, linkLocalOf, ntkRoutes } from './inprocess-network'
import { RouteOracle } from './route-oracle'

/*
 * Compares running daemons with a RouteOracle. Each check returns one line per difference (empty: as expected), so
 * a test can wait for "no problems" and report the last ones when the budget runs out.
 */

/**
 * Map of every daemon: destinations per level, best cost, paths sorted, best first hop on a cheapest path, and for
 * each neighbour's g-node a path avoiding it wherever the topology offers one (the disjoint alternative QSPN keeps
 * so that losing that neighbour leaves a route, §4.5; `alternatives: false` skips that search, exponential on big
 * graphs).
 */
export function mapProblems (dn: DaemonNetwork, oracle: RouteOracle, o: { limit?: number, alternatives?: boolean } = {}): string[] {
  const limit = o.limit ?? 20
  const problems: string[] = []
  for (const d of dn.list()) {
    if (problems.length >= limit) break
    const want = oracle.destinations(d.name)
    const map = d.node.map()
    const have = new Map(map.map(x => [hcKey(x.hc), x]))
    for (let lvl = 0; lvl < d.naddr.length; lvl++) {
      const h = map.filter(x => x.hc.lvl === lvl).map(x => hcKey(x.hc)).sort().join(' ')
      const w = [...want.values()].filter(x => x.hc.lvl === lvl).map(x => hcKey(x.hc)).sort().join(' ')
      if (h !== w) problems.push(`${d.name}: level ${lvl} destinations: expected [${w}], got [${h}]`)
    }
    const arcs = new Map(d.node.arcs().map(a => [a.id, a]))
    const neighbourGnodes = new Map<string, HCoord>()
    for (const a of arcs.values()) {
      const peer = dn.daemons.get(dn.peerOf(d.name, a.dev).node)
      const hc = peer === undefined ? null : maxDistinctGnode(d.naddr, peer.naddr)
      if (hc !== null) neighbourGnodes.set(hcKey(hc), hc)
    }
    for (const [k, w] of want) {
      const paths = have.get(k)?.paths ?? []
      if (paths.length === 0) continue // reported above
      const where = `${d.name} -> ${k}`
      if (paths[0].cost !== w.cost) problems.push(`${where}: best cost expected ${w.cost}, got ${paths[0].cost} over ${paths[0].hops.join(',')}`)
      for (let i = 1; i < paths.length; i++) if (paths[i].cost < paths[i - 1].cost) problems.push(`${where}: paths not sorted by cost`)
      const dev = arcs.get(paths[0].arc)?.dev
      const via = dev === undefined ? undefined : dn.peerOf(d.name, dev).node
      if (via === undefined || ![...w.firstHops].some(v => systemOf(v) === via)) problems.push(`${where}: best path leaves via ${via ?? `unknown arc ${paths[0].arc}`}, cheapest first hops are ${[...w.firstHops].join(',')}`)
      if (o.alternatives === false) continue
      for (const [vk, v] of neighbourGnodes) {
        if (vk === k || !oracle.reachesAvoiding(d.name, w.hc, v)) continue
        if (!paths.some(p => !p.hops.includes(formatHCoord(v)))) problems.push(`${where}: no path avoiding neighbour g-node ${vk}, though one exists`)
      }
    }
  }
  return problems.slice(0, limit)
}

/**
 * The ntk table of every daemon: one route per destination CIDR (spec §2.4), unicast via the link-local of a
 * neighbour that is the first hop of a cheapest path (out of the NIC facing it), with the src of spec §2.5;
 * unreachable for g-nodes the oracle cannot reach.
 */
export async function kernelProblems (dn: DaemonNetwork, oracle: RouteOracle, limit = 20): Promise<string[]> {
  const problems: string[] = []
  const topology = dn.topology
  for (const d of dn.list()) {
    if (problems.length >= limit) break
    const got = await ntkRoutes(d.kernel)
    const want = oracle.destinations(d.name)
    const local = localAddressSet({ topology, naddr: d.naddr, main: true })
    // gateway (link-local, my NIC) -> neighbour name
    const gateways = new Map<string, string>()
    for (const nic of d.config.interfaces) {
      const peer = dn.peerOf(d.name, nic)
      const p = dn.daemons.get(peer.node)
      if (p !== undefined) gateways.set(`${linkLocalOf(p, peer.nic)} ${nic}`, peer.node)
    }
    // a neighbour's connectivity identity is reached at the link-local of its pseudo-interface
    const vertex = vertexOfIdentity(dn)
    for (const arcId of d.node.system.main.qspnArcs) {
      const ia = d.node.system.identities.arcOf(d.node.system.main.identity.id, arcId)
      const v = ia === undefined ? undefined : vertex.get(ia.peerId)
      if (ia !== undefined && v !== undefined) gateways.set(`${ia.peerLinkLocal} ${ia.realDev}`, v)
    }
    let expectedCount = 0
    for (const dest of destinationSet({ topology, naddr: d.naddr, main: true })) {
      const w = want.get(hcKey(dest.hc))
      for (const { cidr, src } of destinationCidrs(dest, local)) {
        expectedCount++
        const r = got.get(cidr)
        const where = `${d.name} ntk ${cidr} (${hcKey(dest.hc)})`
        if (r === undefined) { problems.push(`${where}: missing`); continue }
        if (w === undefined) {
          if (r.type !== 'unreachable') problems.push(`${where}: expected unreachable, got ${r.type} via ${r.via ?? '-'}`)
          continue
        }
        const via = gateways.get(`${r.via ?? ''} ${r.dev ?? ''}`)
        if (r.type !== 'unicast' || via === undefined || !w.firstHops.has(via)) {
          problems.push(`${where}: expected via one of ${[...w.firstHops].join(',')}, got ${r.type} via ${via ?? r.via ?? '-'} dev ${r.dev ?? '-'}`)
        } else if (r.src !== (src ?? undefined)) problems.push(`${where}: src expected ${src ?? '-'}, got ${r.src ?? '-'}`)
      }
    }
    if (got.size !== expectedCount) problems.push(`${d.name}: ${got.size} ntk routes, expected ${expectedCount}`)
  }
  return problems.slice(0, limit)
}

/** Kernels that differ from their node's desired state of now (an apply is still due). */
export async function unsyncedKernels (dn: DaemonNetwork): Promise<string[]> {
  const out: string[] = []
  for (const d of dn.list()) {
    const desired = d.node.desiredState()
    if (!isDeepStrictEqual(canonicalState(desired), canonicalState(await d.kernel.read(desired)))) out.push(d.name)
  }
  return out
}

/** Everything routing-relevant a daemon holds, as text: its map (paths with costs) and its kernel state. */
export async function daemonSnapshot (d: Daemon): Promise<string> {
  const kernel = await d.kernel.read(d.node.desiredState())
  return JSON.stringify({ map: d.node.map(), kernel: canonicalState(kernel) })
}

/** First hop (neighbour name) of the best path of `d` to a destination key, or undefined. */
export function bestFirstHop (dn: DaemonNetwork, d: Daemon, key: string): string | undefined {
  const dest = d.node.map().find(x => hcKey(x.hc) === key)
  const arc = d.node.arcs().find(a => a.id === dest?.paths[0]?.arc)
  return arc === undefined ? undefined : dn.peerOf(d.name, arc.dev).node
}

/** An oracle over the costs the daemons' arcs carry now (measured or fixed, each side its own). */
export function oracleOfArcs (dn: DaemonNetwork): RouteOracle {
  const connectivity = dn.list().some(d => d.node.system.runtimes.size > 1)
  if (!connectivity) {
    const arcs = dn.list().flatMap(d => d.node.arcs().map(a => ({ from: d.name, to: dn.peerOf(d.name, a.dev).node, cost: a.cost })))
    return new RouteOracle(dn.list().map(d => ({ name: d.name, naddr: d.naddr })), arcs)
  }
  // connectivity identities left by migrations carry traffic too (§4.9): each is a vertex of its own
  // (`<system>#<index>`), linked by the qspn-arcs its identity-arcs are, with the cost of the link under them
  const vertex = vertexOfIdentity(dn)
  const nodes: Array<{ name: string, naddr: readonly number[] }> = []
  const arcs: Array<{ from: string, to: string, cost: number }> = []
  for (const d of dn.list()) {
    // one link per NIC here: the cost of the link under an identity-arc is the main identity's arc on that NIC
    const cost = new Map(d.node.arcs().map(a => [a.dev, a.cost]))
    for (const r of d.node.system.runtimes.values()) {
      const from = vertex.get(r.identity.id) as string
      nodes.push({ name: from, naddr: r.naddr })
      for (const arcId of r.qspnArcs) {
        const ia = d.node.system.identities.arcOf(r.identity.id, arcId)
        const to = ia === undefined ? undefined : vertex.get(ia.peerId)
        const c = ia === undefined ? undefined : cost.get(ia.realDev)
        if (to !== undefined && c !== undefined) arcs.push({ from, to, cost: c })
      }
    }
  }
  return new RouteOracle(nodes, arcs)
}

/** Oracle vertex of every identity: the system's name for its main identity, `<system>#<index>` for the others. */
export function vertexOfIdentity (dn: DaemonNetwork): Map<string, string> {
  const out = new Map<string, string>()
  for (const d of dn.list()) for (const r of d.node.system.runtimes.values()) out.set(r.identity.id, r.isMain ? d.name : `${d.name}#${r.identity.index}`)
  return out
}

/** The system an oracle vertex belongs to. */
export const systemOf = (v: string): string => v.split('#')[0]
