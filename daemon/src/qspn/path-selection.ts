import { hcKey, isDead, type HCoord } from './types'
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
}

export const byCost = (a: NodePath, b: NodePath): number =>
  a.cost - b.cost || a.hops.length - b.hops.length || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)

/**
 * Selects the paths kept for destination `dest` from its candidates (§4.5, `PercorsiDisgiunti.md`): up to
 * maxPaths cheapest mutually disjoint paths, plus the mandatory ones (one per fingerprint, one avoiding each
 * neighbour's max-distinct g-node, one through each g-node adjacent to my g-nodes of level <= dest.lvl).
 * Returns them by ascending cost. Pure.
 */
export function selectPaths (dest: HCoord, candidates: readonly NodePath[], ctx: SelectionContext): NodePath[] {
  const sorted = candidates
    .filter(p => !isDead(p.cost) && p.hops.slice(0, -1).every(h => ctx.isKnown(h)))
    .sort(byCost)
  const fps = new Set<number>()
  const vnd = new Map<string, HCoord>()
  for (const g of ctx.neighbourGnodes) vnd.set(hcKey(g), g)
  const z1 = adjacentGnodes(dest, sorted)
  const result: NodePath[] = []
  for (const p1 of sorted) {
    const inP1 = new Map<string, number>()
    p1.hops.forEach((h, k) => inP1.set(hcKey(h), k))
    let mandatory = false
    if (!fps.has(p1.fingerprint.id)) { fps.add(p1.fingerprint.id); mandatory = true }
    for (const [k] of vnd) if (!inP1.has(k)) { vnd.delete(k); mandatory = true }
    for (const k of z1) if (inP1.has(k)) { z1.delete(k); mandatory = true }
    if (mandatory) { result.push(p1); continue }
    if (result.length >= ctx.maxPaths) continue
    if (result.every(p2 => disjointEnough(dest, p1, inP1, p2, ctx))) result.push(p1)
  }
  return result
}

/** Z1: g-nodes adjacent to my level-i g-node (i <= dest.lvl) as seen on the candidate paths. */
function adjacentGnodes (dest: HCoord, paths: readonly NodePath[]): Set<string> {
  const z1 = new Set<string>()
  for (const p of paths) {
    for (let lvl = 0; lvl <= dest.lvl; lvl++) {
      // hops before the first one of level >= lvl are inside my level-lvl g-node; that one is entered from it.
      const h = p.hops.find(x => x.lvl >= lvl)
      if (h !== undefined && h.lvl === lvl) z1.add(hcKey(h))
    }
  }
  return z1
}

function disjointEnough (dest: HCoord, p1: NodePath, inP1: Map<string, number>, p2: NodePath, ctx: SelectionContext): boolean {
  let total = 0
  let common = 0
  for (let k = 0; k < p2.hops.length - 1; k++) {
    const g2 = p2.hops[k]
    const amount = Math.floor(1.5 * Math.sqrt(ctx.nodesInside(g2)))
    total += amount
    const j = inP1.get(hcKey(g2))
    if (j === undefined) continue
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
