import type { DestChange, QspnCore } from './core'
import { identicalFingerprint, isElder, sameFingerprint } from './fingerprint'
import { FingerprintSettling } from './fingerprint-settle'
import type { ChangedDestination, Forwarder } from './forwarding'
import type { NodePath } from './node-path'
import type { OwnInfo } from './own-info'
import { byCost, selectPaths } from './path-selection'
import { hcKey, isDead, maxDistinctGnode, type HCoord } from './types'

/**
 * The map and path selection (§4.2, §4.5): changes to the candidate pools are collected in a transaction
 * (`changeOf`), then `commit` selects paths for every touched destination, updates the map, emits the events,
 * recomputes own g-node info and hands what changed to the forwarder.
 */
export class MapUpdater {
  readonly settling: FingerprintSettling

  constructor (private readonly q: QspnCore, private readonly own: OwnInfo, private readonly fwd: Forwarder) {
    this.settling = new FingerprintSettling(q, hc => {
      const changes = new Map<string, DestChange>()
      this.changeOf(changes, hc)
      this.commit(changes, [], null)
    })
  }

  /** The pending change of destination `hc` in this transaction (its pool, edited in place). */
  changeOf (changes: Map<string, DestChange>, hc: HCoord): DestChange {
    const k = hcKey(hc)
    let ch = changes.get(k)
    if (ch === undefined) {
      let candidates = this.q.pool.get(k)
      if (candidates === undefined) { candidates = new Map(); this.q.pool.set(k, candidates) }
      ch = { hc: { lvl: hc.lvl, pos: hc.pos }, candidates }
      changes.set(k, ch)
    }
    return ch
  }

  /**
   * Applies candidate changes: runs path selection on every touched destination (cascading when a destination
   * disappears and other paths went through it), updates the map, emits events, recomputes own g-node info and
   * forwards what changed (interesting-information rule) to every neighbour but the one it came from.
   */
  commit (changes: Map<string, DestChange>, etpHops: HCoord[], fromArcId: string | null): void {
    const q = this.q
    if (changes.size === 0) return
    const neighbourGnodes = this.#neighbourGnodes()
    const selected = new Map<string, NodePath[]>()
    const isKnown = (hc: HCoord): boolean => {
      const k = hcKey(hc)
      const s = selected.get(k)
      if (s !== undefined) return s.length > 0
      const ch = changes.get(k)
      if (ch !== undefined) { for (const p of ch.candidates.values()) if (!isDead(p.cost)) return true; return false }
      return q.map.has(k)
    }
    const nodesInside = (hc: HCoord): number => {
      const k = hcKey(hc)
      const s = selected.get(k) ?? q.map.get(k)?.paths
      if (s !== undefined && s.length > 0) return s[0].nodesInside
      let best: NodePath | undefined
      for (const p of changes.get(k)?.candidates.values() ?? []) if (best === undefined || byCost(p, best) < 0) best = p
      return best?.nodesInside ?? 0
    }
    let settled: (fpId: number) => boolean = () => true
    const ctx = { maxPaths: q.cfg.maxPaths, maxCommonHopsRatio: q.cfg.maxCommonHopsRatio, neighbourGnodes, isKnown, nodesInside, fingerprintCounts: (fpId: number) => settled(fpId) }
    let pending = [...changes.keys()]
    for (let round = 0; pending.length > 0 && round < 4 * q.levels + 4; round++) {
      const flipped = new Set<string>()
      for (const k of pending) {
        const ch = changes.get(k)!
        const had = (selected.get(k)?.length ?? q.map.get(k)?.paths.length ?? 0) > 0
        settled = this.settling.clockFor(k, ch)
        const s = selectPaths(ch.hc, ch.candidates.values(), ctx)
        selected.set(k, s)
        if ((s.length > 0) !== had) flipped.add(k)
      }
      // Paths through a hop that vanished (or appeared) are dropped (or usable) now: revisit the destinations
      // whose pool holds such paths.
      pending = []
      if (flipped.size === 0) break
      for (const [k, pool] of q.pool) {
        if (flipped.has(k)) continue
        for (const p of pool.values()) {
          if (p.hops.some((h, n) => n < p.hops.length - 1 && flipped.has(hcKey(h)))) { this.changeOf(changes, p.hops[p.hops.length - 1]); pending.push(k); break }
        }
      }
    }

    const changed: ChangedDestination[] = []
    // Own info (§4.6) derives from each destination's best path for it: recomputed only when one of those moved.
    let ownInfoInputs = false
    for (const [k, ch] of changes) {
      if (ch.candidates.size === 0) q.pool.delete(k)
      const before = q.map.get(k)?.paths ?? []
      const after = selected.get(k) ?? before
      if (samePaths(before, after)) continue
      const bestBefore = q.map.get(k)?.best
      const afterKeys = new Set(after.map(p => p.key))
      const beforeByKey = new Map(before.map(p => [p.key, p]))
      const removed = before.filter(p => !afterKeys.has(p.key))
      if (after.length === 0) q.map.delete(k)
      else if (before.length === 0) q.map.set(k, { hc: ch.hc, paths: after, best: bestForOwnInfo(after) })
      else { const d = q.map.get(k)!; d.paths = after; d.best = bestForOwnInfo(after); d.primary = undefined }
      const bestAfter = q.map.get(k)?.best
      if (bestBefore === undefined || bestAfter === undefined || bestBefore.nodesInside !== bestAfter.nodesInside ||
        !identicalFingerprint(bestBefore.fingerprint, bestAfter.fingerprint)) ownInfoInputs = true
      changed.push({ hc: ch.hc, routing: !sameRouting(before, after) })
      if (before.length === 0) q.events.emit('destination_added', { hc: ch.hc })
      for (const p of after) {
        const old = beforeByKey.get(p.key)
        if (old === undefined) q.events.emit('path_added', { path: p })
        else if (!samePath(old, p)) q.events.emit('path_changed', { path: p })
      }
      for (const p of removed) q.events.emit('path_removed', { path: p })
      if (after.length === 0) q.events.emit('destination_removed', { hc: ch.hc })
    }
    if (changed.some(c => c.routing)) q.routingVersion++
    if (changed.length === 0) return // own info derives from the map alone
    if (ownInfoInputs && this.own.recompute()) this.own.hold()
    this.fwd.queue(changed, etpHops, fromArcId)
  }

  #neighbourGnodes (): HCoord[] {
    const seen = new Map<string, HCoord>()
    for (const a of this.q.arcs.values()) {
      if (a.peerNaddr === null) continue
      const g = maxDistinctGnode(this.q.naddr, a.peerNaddr)
      if (g !== null) seen.set(hcKey(g), g)
    }
    return [...seen.values()]
  }
}

/** The path a destination adds to my g-node one level up (§4.6): eldest fingerprint, cheapest among those. */
export function bestForOwnInfo (paths: readonly NodePath[]): NodePath {
  let best = paths[0]
  for (const p of paths) {
    if (sameFingerprint(p.fingerprint, best.fingerprint)) { if (p.cost < best.cost) best = p } else if (isElder(p.fingerprint, best.fingerprint)) best = p
  }
  return best
}

function samePath (a: NodePath, b: NodePath): boolean {
  return a.key === b.key && a.cost === b.cost && a.nodesInside === b.nodesInside && sameFingerprint(a.fingerprint, b.fingerprint)
}

/**
 * Same paths in the same order at the same costs and fingerprints (what routing and path selection care about;
 * a fingerprint decides mandatory paths and which paths are exposed). Nodes-inside alone is an estimate.
 */
function sameRouting (a: readonly NodePath[], b: readonly NodePath[]): boolean {
  if (a.length !== b.length) return false
  for (let k = 0; k < a.length; k++) {
    if (a[k].key !== b[k].key || a[k].cost !== b[k].cost || !sameFingerprint(a[k].fingerprint, b[k].fingerprint)) return false
  }
  return true
}

function samePaths (a: readonly NodePath[], b: readonly NodePath[]): boolean {
  if (a.length !== b.length) return false
  for (let k = 0; k < a.length; k++) if (!samePath(a[k], b[k])) return false
  return true
}
