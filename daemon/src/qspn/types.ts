/*
 * Minimal addressing shapes QSPN needs. daemon/src/addressing/ did not exist when this module was written;
 * these mirror §1 of the spec so the lead can swap them for the addressing module's types:
 *   gsizes: number of positions per level, level 0 first; positions: level 0 first (may be virtual, >= gsize).
 */

/** Hierarchical coordinate of a g-node relative to the local node (§1.2): g-node `pos` inside my level lvl+1 g-node. */
export interface HCoord {
  readonly lvl: number
  readonly pos: number
}

/** Positions of an address, level 0 first. A position >= gsizes[lvl] is virtual (§1.3). */
export type Positions = readonly number[]

/** Path cost in integer microseconds (RTT, §3). `DEAD` is the wire sentinel meaning "this path is removed". */
export type Cost = number
export const DEAD: Cost = -1
export const isDead = (c: Cost): boolean => c === DEAD

export const hcKey = (h: HCoord): string => `${h.lvl}:${h.pos}`
export const sameHc = (a: HCoord, b: HCoord): boolean => a.lvl === b.lvl && a.pos === b.pos

/**
 * Maximum distinct g-node of `other` w.r.t. `me` (§1.2): HCoord (i, other[i]) with i the highest level where the
 * two addresses differ; null when they are the same address.
 */
export function maxDistinctGnode (me: Positions, other: Positions): HCoord | null {
  for (let i = me.length - 1; i >= 0; i--) {
    if (me[i] !== other[i]) return { lvl: i, pos: other[i] }
  }
  return null
}

/** True when `h` (relative to me) is one of my own g-nodes, which no path of mine may contain (acyclic rule). */
export const isMyGnode = (me: Positions, h: HCoord): boolean => me[h.lvl] === h.pos
