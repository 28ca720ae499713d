import { AddressError } from './errors'
import type { Topology } from './topology'

/**
 * Positions of an identity, level 0 first (the reverse of the written "3·1·0·1" form).
 * A position >= gsizes[i] is virtual (spec §1.3).
 */
export type Naddr = readonly number[]

/** A g-node relative to a node: position `pos` at level `lvl` inside the node's own g-node of level lvl+1 (spec §1.2). */
export interface HCoord { readonly lvl: number; readonly pos: number }

/** A map key for an HCoord: "lvl:pos". */
export const hcKey = (h: HCoord): string => `${h.lvl}:${h.pos}`

/** A g-node of level `level`: its positions at levels level..l-1, indexed by level (lower entries unused). */
export interface Gnode { readonly level: number; readonly positions: Naddr }

export function isRealPosition (topo: Topology, level: number, pos: number): boolean {
  return Number.isInteger(pos) && pos >= 0 && pos < topo.gsizes[level]
}

export function isRealAddress (topo: Topology, n: Naddr): boolean {
  return n.every((p, level) => isRealPosition(topo, level, p))
}

/** The highest level holding a virtual position, or -1 if the address is all real (`up_to` of spec §1.3). */
export function highestVirtualLevel (topo: Topology, n: Naddr): number {
  for (let level = topo.levels - 1; level >= 0; level--) if (!isRealPosition(topo, level, n[level])) return level
  return -1
}

/** Checks length and non-negative integer positions; virtual positions are allowed. */
export function checkNaddr (topo: Topology, n: Naddr): Naddr {
  if (n.length !== topo.levels) throw new AddressError(`address ${formatNaddr(n)} has ${n.length} positions; topology ${topo.toString()} has ${topo.levels} levels`, 'positions-count')
  n.forEach((p, level) => {
    if (!Number.isInteger(p) || p < 0) throw new AddressError(`address ${formatNaddr(n)}: position ${p} at level ${level} is not a non-negative integer`, 'position-range')
  })
  return n
}

/** Parses the written top-first form, with middle dots ("3·1·0·1") or dots ("3.1.0.1"). */
export function parseNaddr (text: string, topo?: Topology): Naddr {
  const parts = text.trim().split(/[·.]/)
  if (parts.some(p => !/^\d+$/.test(p))) throw new AddressError(`cannot parse address "${text}": expected positions like 3·1·0·1 or 3.1.0.1`, 'syntax')
  const n = parts.map(Number).reverse()
  return topo === undefined ? n : checkNaddr(topo, n)
}

/** The written top-first form: "3·1·0·1" (or with `sep` = '.'). */
export function formatNaddr (n: Naddr, sep: '·' | '.' = '·'): string {
  return [...n].reverse().join(sep)
}

/** The g-node of level `level` that contains n. */
export function gnodeOf (n: Naddr, level: number): Gnode {
  return { level, positions: n }
}

/** The g-node that HCoord `hc` designates, relative to node n. */
export function gnodeOfHCoord (n: Naddr, hc: HCoord): Gnode {
  const positions = [...n]
  positions[hc.lvl] = hc.pos
  return { level: hc.lvl, positions }
}

/** The HCoord of m's maximum distinct g-node seen from n: (i, m[i]) with i the highest level where they differ; null if equal. */
export function maxDistinctGnode (n: Naddr, m: Naddr): HCoord | null {
  if (n.length !== m.length) throw new AddressError(`addresses ${formatNaddr(n)} and ${formatNaddr(m)} have different numbers of levels`, 'positions-count')
  for (let i = n.length - 1; i >= 0; i--) if (n[i] !== m[i]) return { lvl: i, pos: m[i] }
  return null
}

/** The lowest level k such that n and m are in the same g-node of level k (0 when equal). */
export function firstCommonLevel (n: Naddr, m: Naddr): number {
  const hc = maxDistinctGnode(n, m)
  return hc === null ? 0 : hc.lvl + 1
}

export function formatHCoord (hc: HCoord): string { return `(${hc.lvl},${hc.pos})` }
