import {
  type Cidr, type HCoord, type Ipv4, type Naddr, type Topology,
  AddressError, checkNaddr, formatNaddr, cidrAnonymizingOf, cidrGlobalOf, cidrInternalOf, highestVirtualLevel, ipAnonymizing, ipGlobal,
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

/** One destination g-node and its CIDRs (spec §2.4). */
export interface Destination {
  readonly hc: HCoord
  readonly global: Cidr
  readonly anonymizing: Cidr
  /** internal[k] for k = l-1 down to hc.lvl+1. */
  readonly internal: ReadonlyMap<number, Cidr>
}

/**
 * The lowest level an identity routes: max(up_to, subnetLevel), with up_to the highest level holding a virtual
 * position (-1 for an all-real main identity). A main identity in transit with a virtual position is treated the
 * same way: CIDRs of g-nodes below its virtual level would contain the virtual position and do not exist.
 */
export function lowestRoutedLevel (id: IdentityAddressing): number {
  return Math.max(highestVirtualLevel(id.topology, id.naddr), id.subnetLevel ?? 0, 0)
}

/**
 * Every destination g-node of an identity, whether it exists in the network or not (spec §2.4): for i = l-1 down to
 * max(subnetLevel, up_to), every real j != n[i] at level i. Order: levels from the top, positions ascending.
 */
export function destinationSet (id: IdentityAddressing): readonly Destination[] {
  const { topology: topo, naddr: n } = id
  checkNaddr(topo, n)
  if (!id.main && isRealAddress(topo, n)) {
    throw new AddressError(`connectivity identity ${formatNaddr(n)} has only real positions; a connectivity identity holds at least one virtual position (spec §1.3), only a main identity is all real`, 'connectivity-real')
  }
  // Pure in (topology, address, routed levels), and asked for on every kernel sync: computed once per address.
  let perTopology = destinationSets.get(topo)
  if (perTopology === undefined) { perTopology = new Map(); destinationSets.set(topo, perTopology) }
  const key = `${n.join('.')}/${lowestRoutedLevel(id)}`
  const known = perTopology.get(key)
  if (known !== undefined) return known
  const out: Destination[] = []
  for (let i = topo.levels - 1; i >= lowestRoutedLevel(id); i--) {
    for (let j = 0; j < topo.gsizes[i]; j++) {
      if (j === n[i]) continue
      const hc = { lvl: i, pos: j }
      const internal = new Map<number, Cidr>()
      for (let k = topo.levels - 1; k > i; k--) internal.set(k, cidrInternalOf(topo, n, hc, k))
      out.push({ hc, global: cidrGlobalOf(topo, n, hc), anonymizing: cidrAnonymizingOf(topo, n, hc), internal })
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
  return [
    { cidr: d.global, src: local.global },
    { cidr: d.anonymizing, src: local.global },
    ...[...d.internal].map(([k, cidr]) => ({ cidr, src: local.internal.get(k) ?? null }))
  ]
}
