import type { ArcState, QspnCore } from './core'
import type { EtpMessage, EtpPath } from './etp'
import type { NodePath } from './node-path'
import type { OwnInfo } from './own-info'
import { DEAD, hcKey, maxDistinctGnode, type Cost, type HCoord } from './types'

/** A path as advertised to one neighbour. */
export interface AdvertisedPath {
  readonly path: NodePath
  readonly flags: boolean[]
}

/**
 * What each neighbour is told (§4.3, §4.4): full ETPs, partial ETPs with only what changed for that neighbour, and
 * the ignore_outside flags. Keeps, per arc, what the neighbour was told last.
 */
export class Advertisement {
  constructor (private readonly q: QspnCore, private readonly own: OwnInfo) {}

  header (hops: HCoord[], paths: EtpPath[]): EtpMessage {
    return {
      kind: 'etp',
      nodeAddress: [...this.q.naddr],
      fingerprints: this.own.advertisedFingerprints(),
      nodesInside: this.own.advertisedNodesInside(),
      hops,
      paths
    }
  }

  /**
   * Full ETP for one neighbour: every path that does not contain it (§4.4). Resets what it was told. `hops` is
   * empty except right after the identity changed its own position (see QspnManager.makeConnectivity).
   */
  buildFull (target: ArcState, hops: HCoord[] = []): EtpMessage {
    const paths: EtpPath[] = []
    target.advertised.clear()
    const dests = [...this.q.map.values()].sort((a, b) => a.hc.lvl - b.hc.lvl || a.hc.pos - b.hc.pos)
    for (const d of dests) {
      const next = this.advertisable(d.hc, target)
      for (const ad of next.values()) paths.push(toEtpPath(ad.path, ad.path.cost, ad.flags))
      if (next.size > 0) target.advertised.set(hcKey(d.hc), next)
    }
    target.headerSent = this.own.headerSignature()
    return this.header(hops, paths)
  }

  /**
   * Partial ETP for one neighbour: for the changed destinations, only the paths whose cost, fingerprint,
   * nodes-inside or ignore_outside flags differ from what this neighbour was last told, and the ones it was told
   * about that are gone (cost DEAD). Null when there is nothing new for it.
   */
  buildPartial (hops: HCoord[], dests: readonly HCoord[], target: ArcState, headerAlone: boolean): EtpMessage | null {
    const paths: EtpPath[] = []
    for (const hc of dests) {
      const k = hcKey(hc)
      const prev = target.advertised.get(k)
      const next = this.advertisable(hc, target)
      for (const ad of next.values()) {
        const pv = prev?.get(ad.path.key)
        if (pv === undefined || !sameAdvertised(pv, ad)) paths.push(toEtpPath(ad.path, ad.path.cost, ad.flags))
      }
      if (prev !== undefined) {
        // A dead path must not be processed where the live one with the same grouped shape still stands.
        let liveShapes: Array<Set<string>> | undefined
        for (const [key, old] of prev) {
          if (next.has(key)) continue
          if (liveShapes === undefined) { // built only when some path is gone
            const shapes: Array<Set<string>> = Array.from({ length: this.q.levels }, () => new Set())
            for (const ad of next.values()) for (let i = 1; i < this.q.levels; i++) if (!ad.flags[i]) shapes[i].add(groupedShape(ad.path, i))
            liveShapes = shapes
          }
          const live = liveShapes
          const flags = old.flags.map((f, i) => i > 0 && (f || live[i].has(groupedShape(old.path, i))))
          paths.push(toEtpPath(old.path, DEAD, flags))
        }
      }
      if (next.size > 0) target.advertised.set(k, next); else target.advertised.delete(k)
    }
    const header = this.own.headerSignature()
    if (paths.length === 0 && (header === target.headerSent || !headerAlone)) return null
    target.headerSent = header
    return this.header(hops, paths)
  }

  /**
   * The paths of `dest` this neighbour may be told about, with their ignore_outside flags: flag i is true when
   * the destination is inside my level-i g-node, or when a cheaper path leaves my level-i g-node through the same
   * arc (receivers outside it could not tell them apart after the grouping rule). Paths containing the neighbour's
   * max-distinct g-node, or flagged at its level, are left out: it would discard them.
   */
  advertisable (dest: HCoord, target: ArcState): Map<string, AdvertisedPath> {
    const q = this.q
    const out = new Map<string, AdvertisedPath>()
    const paths = q.map.get(hcKey(dest))?.paths
    if (paths === undefined) return out
    const ex = target.peerNaddr === null ? null : maxDistinctGnode(q.naddr, target.peerNaddr)
    const live = ex === null ? paths : paths.filter(p => !p.hops.some(h => h.lvl === ex.lvl && h.pos === ex.pos))
    const flags = live.map(() => new Array<boolean>(q.levels).fill(false))
    for (let i = 1; i < q.levels; i++) {
      if (dest.lvl < i) { for (const f of flags) f[i] = true; continue }
      const exits = new Set<string>()
      live.forEach((p, n) => {
        const j = p.hops.findIndex(h => h.lvl >= i)
        const sig = `${hcKey(p.hops[j])}@${p.arcs[j]}`
        flags[n][i] = exits.has(sig)
        exits.add(sig)
      })
    }
    live.forEach((p, n) => {
      const f = flags[n]
      // The neighbour would drop a path flagged at its level: it is not told, and one it was told about before
      // becomes a removal (otherwise the neighbour would keep the old version of it for good).
      if (ex !== null && ex.lvl > 0 && f[ex.lvl]) return
      out.set(p.key, { path: p, flags: f })
    })
    return out
  }
}

/** Would the neighbour learn nothing new from `b` after `a` (same cost, fingerprint, nodes-inside and flags)? */
function sameAdvertised (a: AdvertisedPath, b: AdvertisedPath): boolean {
  if (a.path.cost !== b.path.cost || a.path.nodesInside !== b.path.nodesInside || a.path.fingerprint.id !== b.path.fingerprint.id) return false
  for (let i = 0; i < a.flags.length; i++) if (a.flags[i] !== b.flags[i]) return false
  return true
}

function toEtpPath (p: NodePath, cost: Cost, ignoreOutside: boolean[]): EtpPath {
  return { hops: p.hops, arcs: p.arcs, cost, fingerprint: p.fingerprint, nodesInside: p.nodesInside, ignoreOutside }
}

/** The path as a receiver at max-distinct level i sees it after the grouping rule (hops and arcs of level >= i). */
function groupedShape (p: NodePath, i: number): string {
  let s = ''
  for (let k = 0; k < p.hops.length; k++) if (p.hops[k].lvl >= i) s += `${p.arcs[k]}>${hcKey(p.hops[k])}/`
  return s
}
