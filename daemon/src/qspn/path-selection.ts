import { hcNum, isDead, type HCoord } from './types'
import type { NodePath } from './node-path'

/** What path selection needs from the rest of the map (§4.5). */
export interface SelectionContext {
  readonly maxPaths: number
  readonly maxCommonHopsRatio: number
  /** V_nd: max-distinct g-nodes of my neighbours, relative to me. */
  readonly neighbourGnodes: readonly HCoord[]
  /** Is this g-node a destination in my map (a path through an unknown hop is dropped)? */
  isKnown (hc: HCoord): boolean
  /** Nodes-inside estimate of a known destination (0 when unknown). */
  nodesInside (hc: HCoord): number
  /**
   * Does a path carrying this fingerprint of the destination earn a place of its own (rule c)? Absent: always.
   * The manager counts only fingerprints reported for a while, not the passing ones of a g-node still forming.
   */
  fingerprintCounts? (fpId: number): boolean
}

export const byCost = (a: NodePath, b: NodePath): number =>
  a.cost - b.cost || a.hops.length - b.hops.length || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)

/** Index of g-node `n` (hcNum) among the hops of `p`, or -1. Paths are short: a scan beats building a map. */
function hopIndex (p: NodePath, n: number): number {
  const hops = p.hops
  for (let k = 0; k < hops.length; k++) if (hcNum(hops[k]) === n) return k
  return -1
}

/**
 * Selects the paths kept for destination `dest` from its candidates (§4.5, `PercorsiDisgiunti.md`): up to
 * maxPaths cheapest mutually disjoint paths, plus the mandatory ones (one per fingerprint, one avoiding each
 * neighbour's max-distinct g-node, one through each g-node adjacent to my g-nodes of level <= dest.lvl).
 * Returns them by ascending cost. Pure.
 */
export function selectPaths (dest: HCoord, candidates: Iterable<NodePath>, ctx: SelectionContext): NodePath[] {
  const sorted: NodePath[] = []
  for (const p of candidates) {
    if (isDead(p.cost)) continue
    let usable = true
    for (let k = 0; k < p.hops.length - 1 && usable; k++) usable = ctx.isKnown(p.hops[k])
    if (usable) sorted.push(p)
  }
  sorted.sort(byCost)
  const fps = new Set<number>()
  const vnd = new Set<number>()
  for (const g of ctx.neighbourGnodes) vnd.add(hcNum(g))
  const z1 = adjacentGnodes(dest, sorted)
  const result: NodePath[] = []
  for (const p1 of sorted) {
    let mandatory = false
    if (!fps.has(p1.fingerprint.id)) { fps.add(p1.fingerprint.id); mandatory = ctx.fingerprintCounts?.(p1.fingerprint.id) ?? true }
    for (const g of vnd) if (hopIndex(p1, g) < 0) { vnd.delete(g); mandatory = true }
    for (const g of z1) if (hopIndex(p1, g) >= 0) { z1.delete(g); mandatory = true }
    if (mandatory) { result.push(p1); continue }
    if (result.length >= ctx.maxPaths) continue
    if (result.every(p2 => disjointEnough(dest, p1, p2, ctx))) result.push(p1)
  }
  return result
}

/** Z1: g-nodes adjacent to my level-i g-node (i <= dest.lvl) as seen on the candidate paths. */
function adjacentGnodes (dest: HCoord, paths: readonly NodePath[]): Set<number> {
  const z1 = new Set<number>()
  for (const p of paths) {
    for (let lvl = 0; lvl <= dest.lvl; lvl++) {
      // hops before the first one of level >= lvl are inside my level-lvl g-node; that one is entered from it.
      const h = p.hops.find(x => x.lvl >= lvl)
      if (h !== undefined && h.lvl === lvl) z1.add(hcNum(h))
    }
  }
  return z1
}

function disjointEnough (dest: HCoord, p1: NodePath, p2: NodePath, ctx: SelectionContext): boolean {
  let total = 0
  let common = 0
  for (let k = 0; k < p2.hops.length - 1; k++) {
    const g2 = p2.hops[k]
    const amount = Math.floor(1.5 * Math.sqrt(ctx.nodesInside(g2)))
    total += amount
    const j = hopIndex(p1, hcNum(g2))
    if (j < 0) continue
    const sameIn = p1.arcs[j] === p2.arcs[k]
    const sameOut = p1.arcs[j + 1] === p2.arcs[k + 1]
    if (sameIn && sameOut) common += amount
    else if (sameIn || sameOut) common += Math.ceil(amount / 2)
  }
  if (dest.lvl > 0 && ctx.isKnown(dest)) {
    const amount = Math.floor(0.75 * Math.sqrt(ctx.nodesInside(dest))) - 1
    if (amount > 0) {
      total += amount
      if (p1.arcs[p1.arcs.length - 1] === p2.arcs[p2.arcs.length - 1]) common += amount
    }
  }
  return !(total > 0 && common / total > ctx.maxCommonHopsRatio)
}
