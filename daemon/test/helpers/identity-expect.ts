import { hcKey, maxDistinctGnode, type HCoord } from '../../src/addressing'
import { TABLE_MAIN, type KernelState, type NamespaceState } from '../../src/kernel'
import type { IdentityView } from '../../src/node'
import type { DaemonNetwork } from './inprocess-network'
import { RouteOracle } from './route-oracle'
import { specLocal, specNetmap, specTable, type SpecRoute, type SpecTopology } from './spec-kernel'

/*
 * What every system's kernel must hold, per namespace, after a step of the documented use cases: computed from the
 * spec (spec-kernel) and a Dijkstra over the qspn-arcs the test says exist (route-oracle), never from the daemon's
 * own routes code. The daemon is asked only for facts it chose at random: link-locals and pseudo-interface MACs.
 */

/** One identity of the story: the system it lives on, how ntkctl names it, its address top level first. */
export interface StoryIdentity {
  readonly node: string
  readonly ref: string
  readonly addr: readonly number[]
  readonly main: boolean
  /** Gateway of an autonomous subnet of this level (λ): no destinations below it, NETMAP rules. */
  readonly subnetLevel?: number
}

export interface StoryWorld {
  readonly topology: SpecTopology
  readonly identities: Readonly<Record<string, StoryIdentity>>
  /** qspn-arcs between identities (both directions). */
  readonly qspn: ReadonlyArray<readonly [string, string]>
  /** identity-arcs that are not qspn-arcs (only their host routes show). */
  readonly plain?: ReadonlyArray<readonly [string, string]>
  /** Fixed cost of each system's NIC (µs). */
  readonly costs: Readonly<Record<string, number>>
  readonly serveAnonymous?: boolean
}

interface Fact { view: IdentityView }

/** Reads the identities of every system (their NICs' link-locals and MACs, namespaces) once per check. */
function facts (dn: DaemonNetwork, w: StoryWorld): Map<string, Fact> {
  const out = new Map<string, Fact>()
  for (const [name, s] of Object.entries(w.identities)) {
    const views = dn.get(s.node).node.identities()
    const view = views.find(v => String(v.index) === s.ref || v.id === s.ref || (v.netns !== '' && v.netns === s.ref))
    if (view === undefined) throw new Error(`${name}: ${s.node} has no identity ${s.ref} (it has ${views.map(v => v.index).join(', ')})`)
    out.set(name, { view })
  }
  return out
}

const levelFirst = (addrTop: readonly number[]): number[] => [...addrTop].reverse()

/** The expected namespaces of system `node`, by namespace name. */
export function expectedSystem (dn: DaemonNetwork, w: StoryWorld, node: string): Map<string, NamespaceState & { routeChoices: Map<string, Set<string>> }> {
  const f = facts(dn, w)
  const names = Object.keys(w.identities)
  const oracle = new RouteOracle(
    names.map(n => ({ name: n, naddr: levelFirst(w.identities[n].addr) })),
    w.qspn.flatMap(([a, b]) => [{ from: a, to: b, cost: w.costs[w.identities[a].node] }, { from: b, to: a, cost: w.costs[w.identities[b].node] }])
  )
  const neighbours = (x: string, list: ReadonlyArray<readonly [string, string]> | undefined): string[] =>
    (list ?? []).flatMap(([a, b]) => a === x ? [b] : b === x ? [a] : [])
  const nicOf = (x: string): IdentityView['nics'][number] => {
    const nic = f.get(x)?.view.nics[0]
    if (nic === undefined) throw new Error(`${x} has no NIC`)
    return nic
  }
  const out = new Map<string, NamespaceState & { routeChoices: Map<string, Set<string>> }>()
  for (const x of names.filter(n => w.identities[n].node === node)) {
    const me = w.identities[x]
    const view = (f.get(x) as Fact).view
    const mine = nicOf(x)
    const addresses = [{ dev: mine.dev, ip: mine.linkLocal }]
    const routes: SpecRoute[] = []
    const choices = new Map<string, Set<string>>()
    const qspnPeers = neighbours(x, w.qspn)
    for (const y of [...qspnPeers, ...neighbours(x, w.plain)]) routes.push({ table: TABLE_MAIN, dst: `${nicOf(y).linkLocal}/32`, type: 'unicast', dev: mine.dev, src: mine.linkLocal })
    const gateway = (hops: Set<string>): { ll: string, dev: string } | null => {
      const first = [...hops][0]
      return first === undefined ? null : { ll: nicOf(first).linkLocal, dev: mine.dev }
    }
    const table = (name: string, hopsOf: (hc: HCoord) => Set<string>, withSrc: boolean): void => {
      for (const r of specTable(w.topology, me.addr, name, (lvl, pos) => gateway(hopsOf({ lvl, pos })), withSrc, me.subnetLevel ?? 0)) {
        routes.push(r)
        if (r.type === 'unicast') choices.set(`${name} ${r.dst}`, new Set([...hopsOf(destOf(w, me, r.dst))].map(h => nicOf(h).linkLocal)))
      }
    }
    const dests = oracle.destinations(x)
    const hopsTo = (hc: HCoord): Set<string> => new Set(dests.get(hcKey(hc))?.firstHops ?? [])
    const local = specLocal(w.topology, me.addr)
    const rules: Array<{ table: string, fwmarkOf?: string }> = []
    const marks: Array<{ mac: string, markOf: string }> = []
    if (me.main) {
      for (const a of [local.global, w.serveAnonymous === true ? local.anonymizing : null, ...local.internal.values()]) if (a !== null) addresses.push({ dev: mine.dev, ip: a })
      addresses.push({ dev: 'lo', ip: local.lo })
      table('ntk', hopsTo, local.global !== null)
      rules.push({ table: 'ntk' })
    }
    for (const y of qspnPeers) {
      const name = `ntk_from_${nicOf(y).mac.toUpperCase()}`
      const avoid = maxDistinctGnode(levelFirst(me.addr), levelFirst(w.identities[y].addr)) as HCoord
      table(name, hc => oracle.firstHopsAvoiding(x, hc, avoid), false)
      rules.push({ table: name, fwmarkOf: name })
      marks.push({ mac: nicOf(y).mac.toUpperCase(), markOf: name })
    }
    const nat: Array<{ chain: 'PREROUTING' | 'POSTROUTING', dst: string, src?: string, target: 'SNAT' | 'NETMAP', to: string }> =
      me.main && local.global !== null ? [{ chain: 'POSTROUTING', dst: anonymizingRange(w.topology), target: 'SNAT', to: local.global }] : []
    if (me.main && local.global !== null && (me.subnetLevel ?? 0) > 0) nat.push(...specNetmap(w.topology, me.addr, me.subnetLevel as number, w.serveAnonymous === true))
    const pseudoInterfaces = me.main ? [] : view.nics.map(n => ({ name: n.dev, parent: n.realDev, mac: n.mac.toUpperCase() }))
    out.set(view.netns, { sysctls: new Map(), linksUp: [], pseudoInterfaces, addresses, routes, rules, marks, nat, routeChoices: choices })
  }
  // the default namespace always holds the Neighborhood's host routes to every physical neighbour
  const def = out.get('')
  if (def !== undefined) {
    for (const n of dn.get(node).node.system.neighborhood.arcs()) {
      const dst = `${n.peerLinklocal}/32`
      if (!def.routes.some(r => r.table === TABLE_MAIN && r.dst === dst)) (def.routes as SpecRoute[]).push({ table: TABLE_MAIN, dst, type: 'unicast', dev: n.nic, src: n.myLinklocal })
    }
  }
  return out
}

function destOf (w: StoryWorld, me: StoryIdentity, cidr: string): HCoord {
  // the destination a CIDR belongs to: found again through the spec tables (small topologies only)
  for (let lvl = w.topology.gsizesTop.length - 1; lvl >= 0; lvl--) {
    for (let pos = 0; pos < w.topology.gsizesTop[w.topology.gsizesTop.length - 1 - lvl]; pos++) {
      const rs = specTable(w.topology, me.addr, 't', (l, p) => l === lvl && p === pos ? { ll: 'x', dev: 'x' } : null, false)
      if (rs.some(r => r.dst === cidr && r.type === 'unicast')) return { lvl, pos }
    }
  }
  throw new Error(`no destination holds ${cidr}`)
}

function anonymizingRange (t: SpecTopology): string {
  const bits = t.gsizesTop.reduce((s, g) => s + Math.log2(g), 0)
  const v = 2 * 2 ** bits
  return `10.${(v >> 16) & 255}.${(v >> 8) & 255}.${v & 255}/${32 - bits}`
}

/**
 * Every difference between a system's kernel and what is expected: missing or unwanted namespaces, addresses,
 * routes, rules, marks, NAT rules and pseudo-interfaces; a route via a gateway that is not on a cheapest path.
 */
export function kernelProblems (actual: KernelState, expected: ReturnType<typeof expectedSystem>): string[] {
  const problems: string[] = []
  const names = new Set([...actual.namespaces.keys(), ...expected.keys()])
  for (const ns of names) {
    const where = ns === '' ? 'default netns' : `netns ${ns}`
    const a = actual.namespaces.get(ns)
    const e = expected.get(ns)
    if (a === undefined) { problems.push(`${where}: missing`); continue }
    if (e === undefined) { problems.push(`${where}: not wanted (${a.routes.length} routes, ${a.addresses.length} addresses)`); continue }
    const diff = <T>(what: string, have: readonly T[], want: readonly T[], key: (x: T) => string): void => {
      const h = new Set(have.map(key))
      const wv = new Set(want.map(key))
      for (const k of wv) if (!h.has(k)) problems.push(`${where}: missing ${what} ${k}`)
      for (const k of h) if (!wv.has(k)) problems.push(`${where}: unwanted ${what} ${k}`)
    }
    diff('address', a.addresses, e.addresses, x => `${x.ip} dev ${x.dev}`)
    diff('rule', a.rules, e.rules, x => `${x.fwmarkOf === undefined ? '' : `fwmark ${x.fwmarkOf} `}table ${x.table}`)
    diff('mark', a.marks, e.marks, x => `${x.mac.toUpperCase()} -> ${x.markOf}`)
    diff('nat', a.nat, e.nat, x => `${x.chain} ${x.src ?? '*'} ${x.dst} ${x.target} ${x.to}`)
    diff('pseudo-interface', a.pseudoInterfaces, e.pseudoInterfaces, x => `${x.name} on ${x.parent} ${x.mac.toUpperCase()}`)
    // routes: same (table, dst), type, dev and src; the gateway one of those on a cheapest path
    const have = new Map(a.routes.map(r => [`${r.table} ${r.dst}`, r]))
    for (const r of e.routes) {
      const k = `${r.table} ${r.dst}`
      const h = have.get(k)
      have.delete(k)
      if (h === undefined) { problems.push(`${where}: missing route ${k}`); continue }
      const allowed = e.routeChoices.get(k) ?? new Set(r.via === undefined ? [] : [r.via])
      const ok = h.type === r.type && h.dev === r.dev && h.src === r.src && (r.type !== 'unicast' || r.table === TABLE_MAIN || allowed.has(h.via ?? ''))
      if (!ok) problems.push(`${where}: route ${k} is ${h.type} via ${h.via ?? '-'} dev ${h.dev ?? '-'} src ${h.src ?? '-'}, expected ${r.type}${r.type === 'unicast' ? ` via ${r.table === TABLE_MAIN ? '-' : [...allowed].join('|')} dev ${r.dev ?? '-'} src ${r.src ?? '-'}` : ''}`)
    }
    for (const k of have.keys()) problems.push(`${where}: unwanted route ${k}`)
  }
  return problems
}
