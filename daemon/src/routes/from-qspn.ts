import type { HCoord, Naddr } from '../addressing'
import { hcKey, type NeighbourArc, type Path } from './startup-state'

/** The part of a QSPN manager the routes need (QspnManager satisfies it). */
export interface QspnMapView {
  getKnownDestinations: (lvl: number) => readonly HCoord[]
  getPathsTo: (hc: HCoord) => ReadonlyArray<{ readonly arcId: string, readonly hops: readonly HCoord[] }>
  getNaddrForArc: (arcId: string) => Naddr | null
}

/** Where a QSPN arc leads: our NIC, the neighbour's MAC and link-local. */
export interface ArcEndpoint { readonly dev: string, readonly peerMac: string, readonly peerLinkLocal: string }

/**
 * Turns an identity's QSPN map into the routes input of `mainIdentityState` (§2.5, §4.10): one
 * qspn-arc per arc (with the neighbour's address once an ETP told it, so its `ntk_from` table can
 * avoid the neighbour's maximum distinct g-node) and, per known destination, the paths in QSPN's
 * order (cheapest first) with their first hop named by the gateway's MAC. Paths over an arc we
 * hold no endpoint for are left out: the kernel cannot route over them.
 */
export function routesInputFromQspn (qspn: QspnMapView, levels: number, arcs: ReadonlyMap<string, ArcEndpoint>): { arcs: NeighbourArc[], paths: Map<string, Path[]> } {
  const neighbourArcs: NeighbourArc[] = [...arcs].map(([arcId, e]) => {
    const peerNaddr = qspn.getNaddrForArc(arcId)
    return peerNaddr === null ? { ...e } : { ...e, peerNaddr }
  })
  const paths = new Map<string, Path[]>()
  for (let lvl = 0; lvl < levels; lvl++) {
    for (const hc of qspn.getKnownDestinations(lvl)) {
      const usable: Path[] = []
      for (const p of qspn.getPathsTo(hc)) {
        const e = arcs.get(p.arcId)
        if (e === undefined) continue
        usable.push({ viaMac: e.peerMac, hops: p.hops })
      }
      if (usable.length > 0) paths.set(hcKey(hc), usable)
    }
  }
  return { arcs: neighbourArcs, paths }
}
