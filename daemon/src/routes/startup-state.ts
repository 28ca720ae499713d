import {
  type HCoord, type Naddr, type Topology, anonymizingRange, checkNaddr, formatHCoord, hcKey, maxDistinctGnode, netmapRanges
} from '../addressing'
import {
  type AddressItem, type MarkItem, type NamespaceState, type NatItem, type RouteItem, type RuleItem,
  TABLE_MAIN, TABLE_NTK, normalizeMac, ntkFromTable, sameRoute
} from '../kernel/state'
import { routeIndex } from '../kernel/plan'
import { type IdentityAddressing, destinationCidrs, destinationSet, localAddressSet } from './address-sets'

/** A managed NIC as Neighborhood reports it (spec §1.6). */
export interface Nic { readonly name: string; readonly mac: string; readonly linkLocal: string }

/** A qspn-arc to a neighbour identity: its MAC and link-local, our NIC, and its address once an ETP told it. */
export interface NeighbourArc {
  readonly dev: string
  readonly peerMac: string
  readonly peerLinkLocal: string
  readonly peerNaddr?: Naddr
}

/** A path to a destination as QSPN gives it: first hop by the neighbour's MAC, and the g-nodes it traverses. */
export interface Path { readonly viaMac: string; readonly hops: readonly HCoord[] }

export interface MainIdentityInput {
  readonly topology: Topology
  readonly naddr: Naddr
  /** The NICs the identity handles: real NICs, or for a connectivity identity its pseudo-interfaces. */
  readonly nics: readonly Nic[]
  /**
   * A connectivity identity (spec §2.7): it lives in a nested namespace on macvlan pseudo-interfaces (`parents`:
   * pseudo-interface -> real NIC), has no `ntk` table or rule, no 10/8 address and no NAT; only its link-locals,
   * host routes and `ntk_from` tables.
   */
  readonly connectivity?: { readonly parents: ReadonlyMap<string, string> }
  /** Identity-arcs that are not qspn-arcs still need their host route (peer link-local via our NIC). */
  readonly otherArcs?: ReadonlyArray<{ readonly dev: string, readonly peerLinkLocal: string }>
  /** Bring the real NICs up (default; ntkd --no-link-up leaves them as they are). */
  readonly linkUp?: boolean
  /** SNAT anonymizer (default on; ntkd -j turns it off). */
  readonly anonymize?: boolean
  /** Serve anonymous requests: assign the anonymizing address (ntkd -k). */
  readonly serveAnonymous?: boolean
  /** Autonomous subnet level S (ntkd -s), 0 by default. */
  readonly subnetLevel?: number
  readonly arcs?: readonly NeighbourArc[]
  /** Paths per destination, cheapest first; key `hcKey(hc)`. Destinations without paths are `unreachable`. */
  readonly paths?: ReadonlyMap<string, readonly Path[]>
}

export class RoutesInputError extends Error {
  constructor (message: string) { super(message); this.name = 'RoutesInputError' }
}

export { hcKey } from '../addressing'

/** Per-NIC sysctls of spec §2.1 (rp_filter off, arp_ignore 1, arp_announce 2), plus the global ones. */
export function systemSysctls (devs: readonly string[]): Map<string, string> {
  const s = new Map<string, string>([['net.ipv4.ip_forward', '1'], ['net.ipv4.conf.all.rp_filter', '0']])
  for (const d of devs) {
    s.set(`net.ipv4.conf.${d}.rp_filter`, '0')
    s.set(`net.ipv4.conf.${d}.arp_ignore`, '1')
    s.set(`net.ipv4.conf.${d}.arp_announce`, '2')
  }
  return s
}

/**
 * Which neighbour each table sends a destination to: all the routes of `mainIdentityState` depend on. `ntk` maps a
 * destination (`hcKey`) to the arc of its best path; `from` maps each arc's MAC (normalized) to its `ntk_from`
 * table's choices (best path avoiding the neighbour's maximum distinct g-node; all unreachable until the
 * neighbour's address is known, spec §2.8-6). `undefined` is unreachable.
 */
export interface RouteChoices {
  readonly ntk: ReadonlyMap<string, NeighbourArc | undefined>
  readonly from: ReadonlyMap<string, ReadonlyMap<string, NeighbourArc | undefined>>
}

/**
 * What `routeChoices` remembers between calls of one identity: per destination, the paths array it was given and
 * what it chose from it. A caller that passes the same paths array while a destination's paths stand (as
 * `routesInputFromQspn` does with its own memo) has only the destinations that changed chosen again.
 */
export interface RouteChoicesMemo {
  arcsKey?: string
  readonly perDest: Map<string, { readonly paths: readonly Path[], readonly ntk: NeighbourArc | undefined, readonly from: ReadonlyArray<NeighbourArc | undefined> }>
}

export function routeChoices (input: MainIdentityInput, memo?: RouteChoicesMemo): RouteChoices {
  const { topology: topo, naddr: n } = input
  checkNaddr(topo, n)
  const id = identityOf(input)
  const nicNames = new Set(input.nics.map(nic => nic.name))
  const arcs = input.arcs ?? []
  const arcByMac = new Map<string, NeighbourArc>()
  for (const a of arcs) {
    if (!nicNames.has(a.dev)) throw new RoutesInputError(`arc to ${a.peerMac} is on ${a.dev}, which is not a managed NIC (${[...nicNames].join(', ')})`)
    arcByMac.set(normalizeMac(a.peerMac), a)
  }
  if (memo !== undefined) {
    const arcsKey = `${n.join('.')} ${arcs.map(a => `${a.dev}/${a.peerMac}/${a.peerLinkLocal}/${a.peerNaddr?.join('.') ?? ''}`).join(' ')}`
    if (memo.arcsKey !== arcsKey) { memo.perDest.clear(); memo.arcsKey = arcsKey }
  }
  const excluded = arcs.map(a => a.peerNaddr === undefined ? undefined : maxDistinctGnode(n, a.peerNaddr))
  const arcOf = (p: Path | undefined): NeighbourArc | undefined => p === undefined ? undefined : arcByMac.get(normalizeMac(p.viaMac))
  const ntk = new Map<string, NeighbourArc | undefined>()
  const from = arcs.map(() => new Map<string, NeighbourArc | undefined>())
  for (const d of destinationSet(id)) {
    const key = hcKey(d.hc)
    const ps = input.paths?.get(key) ?? NO_PATHS
    let chosen = memo?.perDest.get(key)
    if (chosen === undefined || chosen.paths !== ps) {
      for (const p of ps) {
        if (!arcByMac.has(normalizeMac(p.viaMac))) throw new RoutesInputError(`path to ${formatHCoord(d.hc)} goes via ${p.viaMac}, which is not a neighbour arc`)
      }
      chosen = {
        paths: ps,
        ntk: arcOf(ps[0]),
        // until the neighbour's address is known its table stays all unreachable (spec §2.8-6)
        from: excluded.map(ex => ex === undefined
          ? undefined
          : arcOf(ps.find(p => ex === null || !p.hops.some(h => h.lvl === ex.lvl && h.pos === ex.pos))))
      }
      memo?.perDest.set(key, chosen)
    }
    ntk.set(key, chosen.ntk)
    for (let k = 0; k < arcs.length; k++) from[k].set(key, chosen.from[k])
  }
  return { ntk, from: new Map(arcs.map((a, k) => [normalizeMac(a.peerMac), from[k]])) }
}
const NO_PATHS: readonly Path[] = Object.freeze([])

/**
 * A string that is equal for two inputs exactly when `mainIdentityState` gives the same state for them (with the
 * same topology and options): callers recompute the state only when it changes.
 */
export function routeStateKey (input: MainIdentityInput, choices: RouteChoices): string {
  const arcKey = (a: NeighbourArc | undefined): string => a === undefined ? '-' : `${a.dev}>${a.peerLinkLocal}`
  const parts: string[] = [input.naddr.join('.'), String(input.anonymize ?? true), String(input.serveAnonymous ?? false), String(input.subnetLevel ?? 0)]
  for (const nic of input.nics) parts.push(`${nic.name}/${nic.mac}/${nic.linkLocal}`)
  for (const a of input.arcs ?? []) parts.push(`${a.dev}/${normalizeMac(a.peerMac)}/${a.peerLinkLocal}/${a.peerNaddr?.join('.') ?? ''}`)
  for (const a of input.otherArcs ?? []) parts.push(`+${a.dev}/${a.peerLinkLocal}`)
  if (input.connectivity !== undefined) for (const [dev, parent] of input.connectivity.parents) parts.push(`${dev}<${parent}`)
  for (const [k, a] of choices.ntk) parts.push(`${k}=${arcKey(a)}`)
  for (const [mac, table] of choices.from) {
    parts.push(mac)
    for (const a of table.values()) parts.push(arcKey(a))
  }
  return parts.join(' ')
}

function identityOf (input: MainIdentityInput): IdentityAddressing {
  return { topology: input.topology, naddr: input.naddr, main: input.connectivity === undefined, serveAnonymous: input.serveAnonymous ?? false, subnetLevel: input.subnetLevel ?? 0 }
}

/**
 * The desired state of the default namespace for a main identity (spec §2.1–2.6, §2.8-1, §2.10): link-locals and
 * local addresses, the localhost synonym on lo, every destination pre-created in `ntk` (unreachable, or via the
 * first hop of the best path with the matching `src`), and per qspn-arc the host route in main, the table
 * `ntk_from_<MAC>` (best path avoiding the neighbour's maximum distinct g-node, never a `src`), its MARK and fwmark
 * rule (added at once, as ntkd does; the proof's `blackhole` entries are not used). SNAT anonymizer; NETMAP rules
 * for a subnet gateway.
 */
export function mainIdentityState (input: MainIdentityInput, choices: RouteChoices = routeChoices(input), previous?: NamespaceState): NamespaceState {
  const { topology: topo, naddr: n } = input
  const subnetLevel = input.subnetLevel ?? 0
  const id = identityOf(input)
  const local = localAddressSet(id)
  const nicByName = new Map(input.nics.map(nic => [nic.name, nic]))
  const arcs = input.arcs ?? []

  const addresses: AddressItem[] = []
  for (const nic of input.nics) {
    addresses.push({ dev: nic.name, ip: nic.linkLocal })
    for (const ip of local.onNic) addresses.push({ dev: nic.name, ip })
  }
  if (local.localhostSynonym !== null) addresses.push({ dev: 'lo', ip: local.localhostSynonym })

  // A route equal to one of `previous` (the state applied last) is that very object: the kernel's plan then sees at
  // a glance that it stands, and a state differing in a few routes costs a few new objects.
  const before = previous === undefined ? undefined : routeIndex(previous.routes)
  const routeVia = (table: string, dst: string, arc: NeighbourArc | undefined, src: string | null): RouteItem => {
    const old = before?.get(table)?.get(dst)
    if (old !== undefined && (arc === undefined
      ? old.type === 'unreachable' && old.via === undefined && old.dev === undefined && old.src === undefined
      : old.type === 'unicast' && old.via === arc.peerLinkLocal && old.dev === arc.dev && (old.src ?? null) === src)) return old
    return newRouteVia(table, dst, arc, src)
  }
  const routes: RouteItem[] = []
  const hostRouted = new Set<string>()
  for (const a of [...arcs, ...(input.otherArcs ?? [])]) {
    const nic = nicByName.get(a.dev)
    if (nic === undefined) throw new RoutesInputError(`arc to ${a.peerLinkLocal} is on ${a.dev}, which the identity does not handle`)
    const r: RouteItem = { table: TABLE_MAIN, dst: `${a.peerLinkLocal}/32`, type: 'unicast', dev: a.dev, src: nic.linkLocal }
    if (hostRouted.has(r.dst)) continue
    hostRouted.add(r.dst)
    const old = before?.get(r.table)?.get(r.dst)
    routes.push(old !== undefined && sameRoute(old, r) ? old : r)
  }
  const connectivity = input.connectivity !== undefined
  const dests = destinationSet(id)
  // while the main identity is virtual (between phase 1 and 2 of a migration) its ntk routes carry no src (spec §2.5)
  const withSrc = local.global !== null
  const keys = dests.map(d => hcKey(d.hc))
  if (!connectivity) {
    for (let k = 0; k < dests.length; k++) {
      const d = dests[k]
      const via = choices.ntk.get(keys[k])
      for (const { cidr, src } of destinationCidrs(d, local)) routes.push(routeVia(TABLE_NTK, cidr, via, withSrc ? src : null))
    }
  }
  const rules: RuleItem[] = connectivity ? [] : [{ table: TABLE_NTK }]
  const marks: MarkItem[] = []
  for (const a of arcs) {
    const table = ntkFromTable(a.peerMac)
    const chosen = choices.from.get(normalizeMac(a.peerMac))
    for (let k = 0; k < dests.length; k++) {
      const d = dests[k]
      const via = chosen?.get(keys[k])
      for (const { cidr } of destinationCidrs(d, local)) routes.push(routeVia(table, cidr, via, null))
    }
    rules.push({ table, fwmarkOf: table })
    marks.push({ mac: normalizeMac(a.peerMac), markOf: table })
  }

  const nat: NatItem[] = []
  if ((input.anonymize ?? true) && local.global !== null) {
    nat.push({ chain: 'POSTROUTING', dst: anonymizingRange(topo), target: 'SNAT', to: local.global })
  }
  if (subnetLevel > 0 && local.global !== null) {
    const r = netmapRanges(topo, n, subnetLevel)
    for (const l of r.perLevel) {
      nat.push({ chain: 'PREROUTING', dst: l.range2, target: 'NETMAP', to: r.range1 })
      nat.push({ chain: 'POSTROUTING', dst: l.range3, src: r.range1, target: 'NETMAP', to: l.range2 })
    }
    nat.push({ chain: 'PREROUTING', dst: r.range2Upper, target: 'NETMAP', to: r.range1 })
    nat.push({ chain: 'POSTROUTING', dst: r.range3Upper, src: r.range1, target: 'NETMAP', to: r.range2Upper })
    if (input.serveAnonymous === true) nat.push({ chain: 'PREROUTING', dst: r.range4, target: 'NETMAP', to: r.range1 })
    nat.push({ chain: 'POSTROUTING', dst: r.anonymizingRange, src: r.range1, target: 'NETMAP', to: r.range2Upper })
  }

  const devs = input.nics.map(nic => nic.name)
  const parents = input.connectivity?.parents
  const pseudoInterfaces = parents === undefined
    ? []
    : input.nics.map(nic => {
      const parent = parents.get(nic.name)
      if (parent === undefined) throw new RoutesInputError(`pseudo-interface ${nic.name} has no parent NIC`)
      return { name: nic.name, parent, mac: normalizeMac(nic.mac) }
    })
  // a connectivity identity's pseudo-interfaces are the daemon's own: always up
  const linksUp = parents === undefined && input.linkUp === false ? ['lo'] : ['lo', ...devs]
  return { sysctls: systemSysctls(devs), linksUp, pseudoInterfaces, addresses, routes, rules, marks, nat }
}

function newRouteVia (table: string, dst: string, arc: NeighbourArc | undefined, src: string | null): RouteItem {
  if (arc === undefined) return { table, dst, type: 'unreachable' }
  const r: RouteItem = { table, dst, type: 'unicast', via: arc.peerLinkLocal, dev: arc.dev }
  return src === null ? r : { ...r, src }
}
