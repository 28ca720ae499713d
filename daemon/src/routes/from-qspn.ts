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
export function routesInputFromQspn (
  qspn: QspnMapView, levels: number, arcs: ReadonlyMap<string, ArcEndpoint>, memo?: RoutesInputMemo
): { arcs: NeighbourArc[], paths: Map<string, Path[]> } {
  const neighbourArcs: NeighbourArc[] = [...arcs].map(([arcId, e]) => {
    const peerNaddr = qspn.getNaddrForArc(arcId)
    return peerNaddr === null ? { ...e } : { ...e, peerNaddr }
  })
  if (memo !== undefined) {
    const arcsKey = [...arcs].map(([id, e]) => `${id}/${e.peerMac}`).join(' ')
    if (memo.arcsKey !== arcsKey) { memo.perDest.clear(); memo.arcsKey = arcsKey }
  }
  const paths = new Map<string, Path[]>()
  for (let lvl = 0; lvl < levels; lvl++) {
    for (const hc of qspn.getKnownDestinations(lvl)) {
      const key = hcKey(hc)
      const from = qspn.getPathsTo(hc)
      const known = memo?.perDest.get(key)
      if (known !== undefined && known.from === from) { if (known.usable.length > 0) paths.set(key, known.usable); continue }
      const usable: Path[] = []
      for (const p of from) {
        const e = arcs.get(p.arcId)
        if (e !== undefined) usable.push({ viaMac: e.peerMac, hops: p.hops })
      }
      memo?.perDest.set(key, { from, usable })
      if (usable.length > 0) paths.set(key, usable)
    }
  }
  return { arcs: neighbourArcs, paths }
}

/**
 * What `routesInputFromQspn` remembers between calls: per destination, QSPN's paths array and its routes form.
 * QSPN hands out the same array while a destination's paths stand, so an unchanged destination gives the same
 * `Path[]` again (and `routeChoices` with its own memo does not choose for it again).
 */
export interface RoutesInputMemo {
  arcsKey?: string
  readonly perDest: Map<string, { readonly from: readonly unknown[], readonly usable: Path[] }>
}
