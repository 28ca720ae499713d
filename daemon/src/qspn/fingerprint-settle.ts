import type { DestChange, QspnCore } from './core'
import { isDead, type HCoord } from './types'

/**
 * Per destination, since when each fingerprint its candidate paths carry has been reported (virtual or wall ms).
 * Rule (c) of path selection (a path per fingerprint, §4.5) counts a fingerprint only after `fingerprintSettleMs`:
 * while a network forms, each g-node shows many passing fingerprints, and a path kept for each of them would be
 * advertised and withdrawn again everywhere. A split g-node's fingerprints persist, so they are kept then.
 */
export class FingerprintSettling {
  readonly #seen = new Map<string, Map<number, number>>()
  /** Destinations with a re-selection scheduled for when a fingerprint settles, and when. */
  readonly #recheck = new Map<string, number>()

  /** `reselect(hc)` runs path selection again for a destination whose youngest fingerprint just settled. */
  constructor (private readonly q: QspnCore, private readonly reselect: (hc: HCoord) => void) {}

  /**
   * Updates since when each fingerprint of destination `k` has been reported, schedules a re-selection for when the
   * youngest unsettled one settles, and returns the rule-(c) test for this selection.
   */
  clockFor (k: string, ch: DestChange): (fpId: number) => boolean {
    const q = this.q
    const settleMs = q.cfg.fingerprintSettleMs
    if (settleMs <= 0) return () => true
    const now = q.c.clock.now()
    const old = this.#seen.get(k)
    // Usually every candidate carries the same fingerprint, already known: nothing to update.
    let only: number | null = null
    let several = false
    for (const p of ch.candidates.values()) {
      if (isDead(p.cost)) continue
      if (only === null) only = p.fingerprint.id
      else if (p.fingerprint.id !== only) { several = true; break }
    }
    if (only === null) { this.#seen.delete(k); return () => true }
    if (!several && old?.size === 1 && old.has(only)) return fpId => old.get(fpId)! + settleMs <= now
    let seen = new Map<number, number>()
    for (const p of ch.candidates.values()) {
      if (isDead(p.cost) || seen.has(p.fingerprint.id)) continue
      seen.set(p.fingerprint.id, old?.get(p.fingerprint.id) ?? now)
    }
    if (old !== undefined && old.size === seen.size && [...seen.keys()].every(id => old.has(id))) seen = old
    else this.#seen.set(k, seen)
    let next = Number.POSITIVE_INFINITY
    if (seen.size > 1) for (const since of seen.values()) if (since + settleMs > now) next = Math.min(next, since + settleMs)
    if (next !== Number.POSITIVE_INFINITY && (this.#recheck.get(k) ?? Number.POSITIVE_INFINITY) > next) {
      this.#recheck.set(k, next)
      q.c.clock.setTimer(next - now, () => {
        if (this.#recheck.get(k) !== next) return
        this.#recheck.delete(k)
        if (q.stopped || q.bootstrapLevel !== null) return
        this.reselect(ch.hc)
      })
    }
    return fpId => (seen.get(fpId) ?? now) + settleMs <= now
  }

  /** Forgets everything (the map was emptied or rebuilt). */
  clear (): void { this.#seen.clear(); this.#recheck.clear() }
}
