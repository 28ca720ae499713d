import { AddressError } from './errors'
import { type Gnode, type HCoord, type Naddr, checkNaddr, formatNaddr, gnodeOf, gnodeOfHCoord, isRealPosition } from './naddr'
import type { Topology } from './topology'

/** The two type bits above the address bits (spec §1.5). */
export const AddressType = { Global: 0, Internal: 1, Anonymizing: 2 } as const
export type AddressType = typeof AddressType[keyof typeof AddressType]

/** A dotted IPv4 address. */
export type Ipv4 = string
/** "a.b.c.d/len", always with the host bits zero. */
export type Cidr = string

export function formatIpv4 (v: number): Ipv4 {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`
}

export function parseIpv4 (ip: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip)
  if (m === null || m.slice(1).some(o => Number(o) > 255)) throw new AddressError(`"${ip}" is not a dotted IPv4 address`, 'syntax')
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0
}

/** Does `cidr` contain `ip`? */
export function cidrContains (cidr: Cidr, ip: Ipv4): boolean {
  const [base, len] = cidr.split('/')
  const bits = Number(len)
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0
  return ((parseIpv4(ip) & mask) >>> 0) === parseIpv4(base)
}

/** `v = type; for c = l-1..0: v = (v << gExp[c]) + field[c]`, placed in 10.0.0.0/8 (spec §1.5). */
function encode (topo: Topology, type: AddressType, fields: readonly number[]): number {
  let v: number = type
  for (let c = topo.levels - 1; c >= 0; c--) {
    const f = fields[c]
    if (f < 0 || f >= topo.gsizes[c]) throw new AddressError(`field ${f} at level ${c} does not fit gsize ${topo.gsizes[c]}`, 'virtual-position')
    v = v * topo.gsizes[c] + f
  }
  return ((10 << 24) | v) >>> 0
}

/** Prefix length of the CIDR of a g-node of level i: 32 - sum(gExp[0..i-1]). */
function prefixOfLevel (topo: Topology, level: number): number {
  let bits = 0
  for (let c = 0; c < level; c++) bits += topo.gExp[c]
  return 32 - bits
}

function requireReal (topo: Topology, positions: Naddr, from: number, to: number, what: string): void {
  for (let c = from; c < to; c++) {
    const p = positions[c]
    if (!Number.isInteger(p) || p < 0) throw new AddressError(`${what}: position ${p} at level ${c} of ${formatNaddr(positions)} is not a non-negative integer`, 'position-range')
    if (!isRealPosition(topo, c, p)) {
      throw new AddressError(`${what}: position ${positions[c]} at level ${c} of ${formatNaddr(positions)} is virtual; virtual positions have no IPv4 address`, 'virtual-position')
    }
  }
}

function checkInternalLevel (topo: Topology, k: number, lowest: number): void {
  if (!Number.isInteger(k) || k < lowest || k > topo.levels - 1) {
    throw new AddressError(`internal level ${k} is out of range ${lowest}..${topo.levels - 1} for topology ${topo.toString()}`, 'level-range')
  }
}

/** A g-node of level 0..highest (l: the whole network) with one position per level of the topology. */
function checkGnode (topo: Topology, g: Gnode, highest: number, what: string): void {
  if (!Number.isInteger(g.level) || g.level < 0 || g.level > highest) {
    throw new AddressError(`${what}: g-node level ${g.level} is out of range 0..${highest} for topology ${topo.toString()}`, 'level-range')
  }
  if (g.positions.length !== topo.levels) {
    throw new AddressError(`${what}: g-node ${formatNaddr(g.positions)} has ${g.positions.length} positions; topology ${topo.toString()} has ${topo.levels} levels`, 'positions-count')
  }
}

/** An HCoord names a g-node of level 0..l-1 inside the node's own g-node of the level above. */
function checkHCoord (topo: Topology, hc: HCoord): void {
  if (!Number.isInteger(hc.lvl) || hc.lvl < 0 || hc.lvl > topo.levels - 1) {
    throw new AddressError(`HCoord level ${hc.lvl} is out of range 0..${topo.levels - 1} for topology ${topo.toString()}`, 'level-range')
  }
}

function globalFields (topo: Topology, g: Gnode): number[] {
  return Array.from({ length: topo.levels }, (_, c) => (c < g.level ? 0 : g.positions[c]))
}

/** Fields of an internal address/CIDR of g-node g inside its ancestor of level k: top = k, [g.level, k-1] = g, rest 0. */
function internalFields (topo: Topology, g: Gnode, k: number): number[] {
  const l = topo.levels
  return Array.from({ length: l }, (_, c) => {
    if (c === l - 1) return k
    return c >= g.level && c < k ? g.positions[c] : 0
  })
}

/** Global address of node n (type 0). */
export function ipGlobal (topo: Topology, n: Naddr): Ipv4 {
  checkNaddr(topo, n)
  requireReal(topo, n, 0, topo.levels, 'global address')
  return formatIpv4(encode(topo, AddressType.Global, n))
}

/** Anonymizing address of node n (type 2). */
export function ipAnonymizing (topo: Topology, n: Naddr): Ipv4 {
  checkNaddr(topo, n)
  requireReal(topo, n, 0, topo.levels, 'anonymizing address')
  return formatIpv4(encode(topo, AddressType.Anonymizing, n))
}

/** Internal address of n inside its own g-node of level k, 0 <= k < l; k = 0 is the localhost synonym. */
export function ipInternal (topo: Topology, n: Naddr, k: number): Ipv4 {
  checkNaddr(topo, n)
  checkInternalLevel(topo, k, 0)
  requireReal(topo, n, 0, k, `internal address at level ${k}`)
  return formatIpv4(encode(topo, AddressType.Internal, internalFields(topo, gnodeOf(n, 0), k)))
}

/** The localhost synonym (internal address at level 0), assigned to `lo`. */
export function ipLocalhostSynonym (topo: Topology): Ipv4 {
  return formatIpv4(encode(topo, AddressType.Internal, new Array<number>(topo.levels).fill(0)))
}

function cidr (v: number, prefix: number): Cidr { return `${formatIpv4(v)}/${prefix}` }

/** Global CIDR of g-node g (level l: the whole network's global range). */
export function cidrGlobal (topo: Topology, g: Gnode): Cidr {
  checkGnode(topo, g, topo.levels, 'global CIDR')
  requireReal(topo, g.positions, g.level, topo.levels, `global CIDR of a level-${g.level} g-node`)
  return cidr(encode(topo, AddressType.Global, globalFields(topo, g)), prefixOfLevel(topo, g.level))
}

/** Anonymizing CIDR of g-node g (level l: the whole network's anonymizing range). */
export function cidrAnonymizing (topo: Topology, g: Gnode): Cidr {
  checkGnode(topo, g, topo.levels, 'anonymizing CIDR')
  requireReal(topo, g.positions, g.level, topo.levels, `anonymizing CIDR of a level-${g.level} g-node`)
  return cidr(encode(topo, AddressType.Anonymizing, globalFields(topo, g)), prefixOfLevel(topo, g.level))
}

/**
 * Internal CIDR of g-node g inside its ancestor of level k (g.level < k <= l-1; k = g.level is allowed too and
 * gives the CIDR of "the whole level-k g-node" seen from inside, used by the NETMAP ranges).
 */
export function cidrInternal (topo: Topology, g: Gnode, k: number): Cidr {
  checkGnode(topo, g, topo.levels - 1, `internal CIDR at level ${k}`)
  checkInternalLevel(topo, k, g.level)
  requireReal(topo, g.positions, g.level, k, `internal CIDR at level ${k} of a level-${g.level} g-node`)
  return cidr(encode(topo, AddressType.Internal, internalFields(topo, g, k)), prefixOfLevel(topo, g.level))
}

/** The g-node hc seen from n, both checked: n has one position per level, hc.lvl is 0..l-1. */
function gnodeSeenFrom (topo: Topology, n: Naddr, hc: HCoord): Gnode {
  checkNaddr(topo, n)
  checkHCoord(topo, hc)
  return gnodeOfHCoord(n, hc)
}

export function cidrGlobalOf (topo: Topology, n: Naddr, hc: HCoord): Cidr { return cidrGlobal(topo, gnodeSeenFrom(topo, n, hc)) }
export function cidrAnonymizingOf (topo: Topology, n: Naddr, hc: HCoord): Cidr { return cidrAnonymizing(topo, gnodeSeenFrom(topo, n, hc)) }
/** Internal CIDR of the g-node hc (seen from n) inside n's g-node of level k, hc.lvl < k <= l-1. */
export function cidrInternalOf (topo: Topology, n: Naddr, hc: HCoord, k: number): Cidr {
  const g = gnodeSeenFrom(topo, n, hc)
  if (k <= hc.lvl) throw new AddressError(`internal level ${k} must be above the g-node level ${hc.lvl}`, 'level-range')
  return cidrInternal(topo, g, k)
}

/** The whole network's anonymizing range, the destination of the anonymizer SNAT: type 2 << B, prefix 32-B. */
export function anonymizingRange (topo: Topology): Cidr {
  return cidr(encode(topo, AddressType.Anonymizing, new Array<number>(topo.levels).fill(0)), 32 - topo.addressBits)
}

/** The whole network's global range (range3_upper of the NETMAP rules). */
export function globalRange (topo: Topology): Cidr {
  return cidr(encode(topo, AddressType.Global, new Array<number>(topo.levels).fill(0)), 32 - topo.addressBits)
}

export interface NetmapLevelRanges {
  /** i in subnetLevel .. l-2 */
  readonly level: number
  /** Internal-in-level-(i+1) CIDR of my level-S g-node. */
  readonly range2: Cidr
  /** Internal-in-level-(i+1) CIDR of the whole level-(i+1) g-node. */
  readonly range3: Cidr
}

/** The NETMAP ranges of a gateway of an autonomous subnet of level S (ntkd `ip_netmap_range1..4`, spec §2.6). */
export interface NetmapRanges {
  /** Internal CIDR at level S of the whole level-S g-node, independent of n. */
  readonly range1: Cidr
  readonly perLevel: readonly NetmapLevelRanges[]
  /** Global CIDR of my level-S g-node. */
  readonly range2Upper: Cidr
  /** Global CIDR of the whole network. */
  readonly range3Upper: Cidr
  /** Anonymizing CIDR of my level-S g-node. */
  readonly range4: Cidr
  readonly anonymizingRange: Cidr
}

export function netmapRanges (topo: Topology, n: Naddr, subnetLevel: number): NetmapRanges {
  checkNaddr(topo, n)
  const l = topo.levels
  if (!Number.isInteger(subnetLevel) || subnetLevel < 1 || subnetLevel > l - 1) {
    throw new AddressError(`subnet level ${subnetLevel} is out of range 1..${l - 1} for topology ${topo.toString()}`, 'level-range')
  }
  const s = subnetLevel
  const mine = gnodeOf(n, s)
  const zero: Naddr = new Array<number>(l).fill(0)
  const perLevel: NetmapLevelRanges[] = []
  for (let i = s; i <= l - 2; i++) {
    perLevel.push({ level: i, range2: cidrInternal(topo, mine, i + 1), range3: cidrInternal(topo, { level: i + 1, positions: zero }, i + 1) })
  }
  return {
    range1: cidrInternal(topo, { level: s, positions: zero }, s),
    perLevel,
    range2Upper: cidrGlobal(topo, mine),
    range3Upper: globalRange(topo),
    range4: cidrAnonymizing(topo, mine),
    anonymizingRange: anonymizingRange(topo)
  }
}
