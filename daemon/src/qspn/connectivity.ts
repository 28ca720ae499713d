import type { QspnCore } from './core'
import type { NodePath } from './node-path'
import { hcKey, maxDistinctGnode, type HCoord } from './types'

/*
 * What a connectivity identity (§4.9) asks of its map and says to its neighbours, apart from the QspnManager facade.
 */

/**
 * Can this connectivity identity go without splitting any of its g-nodes of levels connectivityFrom..To (§4.9
 * check_connectivity)? Starting at the level i of the g-node it stands for (one level up while that g-node has no
 * sibling in my map), every destination x of levels i..to−1 must be reachable through each sibling y of level i
 * that my paths leave by (guaranteed complete by the mandatory paths of rule b).
 */
export function connectivityHolds (q: QspnCore, known: (lvl: number) => HCoord[], allPaths: (hc: HCoord) => readonly NodePath[]): boolean {
  let i = q.connectivityFrom - 1
  const j = q.connectivityTo
  for (;;) {
    if (j <= i) return true
    if (known(i).length > 0) break
    i++
  }
  const xs: Array<{ hc: HCoord, paths: readonly NodePath[] }> = []
  for (let l = i; l < j; l++) for (const hc of known(l)) xs.push({ hc, paths: allPaths(hc) })
  const ys = new Map<string, HCoord>()
  for (const x of xs) {
    for (const p of x.paths) {
      // the first hop of level i on the path: where it leaves my level-i g-node
      const k = p.hops.findIndex((h, n) => h.lvl === i && (n === 0 || p.hops[n - 1].lvl < i))
      if (k >= 0) ys.set(hcKey(p.hops[k]), p.hops[k])
    }
  }
  for (const x of xs) {
    for (const y of ys.values()) {
      if (x.hc.lvl === y.lvl && x.hc.pos === y.pos) continue
      if (!x.paths.some(p => p.hops.some(h => h.lvl === y.lvl && h.pos === y.pos))) return false
    }
  }
  return true
}

/**
 * prepare_destroy goes to the members of my connectivity g-node (arcs inside it), destroy to the neighbours outside
 * it (they drop their arcs to me at once).
 */
export function signalConnectivityGnode (q: QspnCore, signal: 'prepare_destroy' | 'destroy'): void {
  const i = q.connectivityFrom - 1
  const inside = signal === 'prepare_destroy'
  const arcs = [...q.arcs.values()].filter(a => a.peerNaddr !== null && ((maxDistinctGnode(q.naddr, a.peerNaddr)?.lvl ?? q.levels) < i) === inside)
  if (arcs.length > 0) q.c.messenger.sendSignal(arcs.map(a => a.id), signal)
}
