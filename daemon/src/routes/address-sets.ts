import {
  type Cidr, type HCoord, type Ipv4, type Naddr, type Topology,
  AddressError, checkNaddr, formatNaddr, cidrAnonymizingOf, cidrGlobalOf, cidrInternalOf, ipAnonymizing, ipGlobal,
  ipInternal, isRealAddress, isRealPosition
} from '../addressing'

/** What routes/ needs to know about an identity to derive its addresses and destinations. */
export interface IdentityAddressing {
  readonly topology: Topology
  readonly naddr: Naddr
  /** The main identity owns the default netns and is the only one with local IPs (spec §1.3). */
  readonly main: boolean
  /** Option "serve anonymous" (-k): also assign the anonymizing address. */
  readonly serveAnonymous?: boolean
  /** Autonomous subnet level S (-s), 0 when not a subnet gateway. */
  readonly subnetLevel?: number
}

/** Local addresses of an identity (spec §2.3): /32s on every managed NIC, and the localhost synonym on `lo`. */
export interface LocalAddressSet {
  /** null while the main identity holds a virtual position, and for connectivity identities. */
  readonly global: Ipv4 | null
  readonly anonymizing: Ipv4 | null
  /** internal[k] for k = 1..l-1 (only those whose lower positions are all real); index 0 unused. */
  readonly internal: ReadonlyMap<number, Ipv4>
  /** Internal address at level 0, on `lo`; null for connectivity identities. */
  readonly localhostSynonym: Ipv4 | null
  /** Addresses for each managed NIC, in the proof's order: global, anonymizing, internal[l-1] … internal[1]. */
  readonly onNic: readonly Ipv4[]
}

export function localAddressSet (id: IdentityAddressing): LocalAddressSet {
  const { topology: topo, naddr: n } = id
  checkNaddr(topo, n)
  // pure in its input and asked for on every kernel sync: one shared object per identity addressing
  let perTopology = localSets.get(topo)
  if (perTopology === undefined) { perTopology = new Map(); localSets.set(topo, perTopology) }
  const key = `${n.join('.')}/${String(id.main)}/${String(id.serveAnonymous === true)}`
  let set = perTopology.get(key)
  if (set === undefined) { set = Object.freeze(computeLocalAddressSet(id)); perTopology.set(key, set) }
  return set
}
const localSets = new WeakMap<Topology, Map<string, LocalAddressSet>>()

function computeLocalAddressSet (id: IdentityAddressing): LocalAddressSet {
  const { topology: topo, naddr: n } = id
  if (!id.main) return { global: null, anonymizing: null, internal: new Map(), localhostSynonym: null, onNic: [] }
  const real = isRealAddress(topo, n)
  const global = real ? ipGlobal(topo, n) : null
  const anonymizing = real && id.serveAnonymous === true ? ipAnonymizing(topo, n) : null
  const internal = new Map<number, Ipv4>()
  for (let k = topo.levels - 1; k >= 1; k--) {
    // internal[k] uses positions below k only: it survives while those are real (spec §1.3, transient virtual main)
    let ok = true
    for (let c = 0; c < k; c++) if (!isRealPosition(topo, c, n[c])) ok = false
    if (ok) internal.set(k, ipInternal(topo, n, k))
  }
  const onNic = [global, anonymizing, ...internal.values()].filter((a): a is Ipv4 => a !== null)
  return { global, anonymizing, internal, localhostSynonym: ipInternal(topo, n, 0), onNic }
}

/** One destination g-node and its CIDRs (spec §2.4); a CIDR that would hold a virtual position is absent. */
export interface Destination {
  readonly hc: HCoord
  readonly global: Cidr | null
  readonly anonymizing: Cidr | null
  /** internal[k] for k = l-1 down to hc.lvl+1, those that exist. */
  readonly internal: ReadonlyMap<number, Cidr>
}

/** Are the positions of `n` at levels from..to (inclusive; empty when from > to) all real? */
function realBetween (topo: Topology, n: Naddr, from: number, to: number): boolean {
  for (let c = from; c <= to; c++) if (!isRealPosition(topo, c, n[c])) return false
  return true
}

/**
 * Every destination g-node of an identity, whether it exists in the network or not (spec §2.4): for i = l-1 down
 * to subnetLevel, every real j != n[i] at level i. Order: levels from the top, positions ascending.
 *
 * An identity holding a virtual position (a connectivity identity, or a main identity between phase 1 and 2 of an
 * entry or migration) routes only the CIDRs that do not contain it (the proof's compute_destination_ip_set): the
 * global and anonymizing CIDRs of (i, j) need real positions at every level above i, its internal[k] CIDR only at
 * levels i+1..k-1. So the members of a g-node that moves keep their internal routes among themselves throughout.
 */
export function destinationSet (id: IdentityAddressing): readonly Destination[] {
  const { topology: topo, naddr: n } = id
  checkNaddr(topo, n)
  if (!id.main && isRealAddress(topo, n)) {
    throw new AddressError(`connectivity identity ${formatNaddr(n)} has only real positions; a connectivity identity holds at least one virtual position (spec §1.3), only a main identity is all real`, 'connectivity-real')
  }
  // Pure in (topology, address, subnet level), and asked for on every kernel sync: computed once per address.
  let perTopology = destinationSets.get(topo)
  if (perTopology === undefined) { perTopology = new Map(); destinationSets.set(topo, perTopology) }
  const subnetLevel = id.subnetLevel ?? 0
  const key = `${n.join('.')}/${subnetLevel}`
  const known = perTopology.get(key)
  if (known !== undefined) return known
  const out: Destination[] = []
  const l = topo.levels
  for (let i = l - 1; i >= subnetLevel; i--) {
    const upperReal = realBetween(topo, n, i + 1, l - 1)
    for (let j = 0; j < topo.gsizes[i]; j++) {
      if (j === n[i]) continue
      const hc = { lvl: i, pos: j }
      const internal = new Map<number, Cidr>()
      for (let k = l - 1; k > i; k--) if (realBetween(topo, n, i + 1, k - 1)) internal.set(k, cidrInternalOf(topo, n, hc, k))
      if (!upperReal && internal.size === 0) continue
      out.push({ hc, global: upperReal ? cidrGlobalOf(topo, n, hc) : null, anonymizing: upperReal ? cidrAnonymizingOf(topo, n, hc) : null, internal })
    }
  }
  Object.freeze(out)
  perTopology.set(key, out)
  return out
}
const destinationSets = new WeakMap<Topology, Map<string, readonly Destination[]>>()

/** The CIDRs of a destination with the local source address each gets in `ntk` (spec §2.5). */
export function destinationCidrs (d: Destination, local: LocalAddressSet): ReadonlyArray<{ readonly cidr: Cidr; readonly src: Ipv4 | null }> {
  // destinations and local sets are shared objects (see above): the pair's answer is kept while both live
  let perLocal = cidrsOf.get(d)
  if (perLocal === undefined) { perLocal = new WeakMap(); cidrsOf.set(d, perLocal) }
  let out = perLocal.get(local)
  if (out === undefined) { out = Object.freeze(computeDestinationCidrs(d, local)); perLocal.set(local, out) }
  return out
}
const cidrsOf = new WeakMap<Destination, WeakMap<LocalAddressSet, ReadonlyArray<{ readonly cidr: Cidr; readonly src: Ipv4 | null }>>>()

function computeDestinationCidrs (d: Destination, local: LocalAddressSet): Array<{ cidr: Cidr; src: Ipv4 | null }> {
  const out: Array<{ cidr: Cidr; src: Ipv4 | null }> = []
  if (d.global !== null) out.push({ cidr: d.global, src: local.global })
  if (d.anonymizing !== null) out.push({ cidr: d.anonymizing, src: local.global })
  for (const [k, cidr] of d.internal) out.push({ cidr, src: local.internal.get(k) ?? null })
  return out
}
