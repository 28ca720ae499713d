import type { QspnManager } from '../qspn/manager'
import type { GatewayPath, PeersMap } from './ports'

/** The PeersMap of an identity whose QSPN is `qspn` (real destinations only; QSPN errors during bootstrap read as empty). */
export function qspnPeersMap (qspn: QspnManager, gsizes: readonly number[]): PeersMap {
  const levels = gsizes.length
  return {
    gsizes,
    get naddr () { return qspn.naddr },
    isBootstrapComplete: () => qspn.isBootstrapComplete(),
    knownDestinations: lvl => qspn.getKnownDestinations(lvl).filter(hc => hc.pos < gsizes[lvl]).map(hc => hc.pos),
    pathsTo: (lvl, pos): GatewayPath[] => qspn.getPathsTo({ lvl, pos }).map(p => ({ arcId: p.arcId, hops: p.hops.length, cost: p.cost })),
    nodesInside: lvl => { try { return qspn.getNodesInside(Math.min(lvl, levels)) } catch { return 1 } },
    fingerprintId: lvl => { try { return qspn.getFingerprint(Math.min(lvl, levels)).id } catch { return -1 } },
    neighbourNaddr: arcId => { try { return qspn.getNaddrForArc(arcId) } catch { return null } }
  }
}
