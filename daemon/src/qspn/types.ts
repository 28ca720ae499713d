/*
 * Addressing shapes QSPN uses, from daemon/src/addressing (§1): positions are level 0 first and may
 * be virtual (>= gsize, §1.3).
 */
import type { HCoord, Naddr } from '../addressing/naddr'

export { type HCoord, hcKey, maxDistinctGnode } from '../addressing/naddr'

/** Positions of an address, level 0 first. A position >= gsizes[lvl] is virtual (§1.3). */
export type Positions = Naddr

/** Path cost in integer microseconds (RTT, §3). `DEAD` is the wire sentinel meaning "this path is removed". */
export type Cost = number
export const DEAD: Cost = -1
export const isDead = (c: Cost): boolean => c === DEAD

export const sameHc = (a: HCoord, b: HCoord): boolean => a.lvl === b.lvl && a.pos === b.pos

/** A number naming an HCoord (positions are below 2^31), cheaper than hcKey in hot loops and as a map key. */
export const hcNum = (h: HCoord): number => h.lvl * 0x100000000 + h.pos

/** True when `h` (relative to me) is one of my own g-nodes, which no path of mine may contain (acyclic rule). */
export const isMyGnode = (me: Positions, h: HCoord): boolean => me[h.lvl] === h.pos
