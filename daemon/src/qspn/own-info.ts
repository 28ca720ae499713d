import type { CancelTimer } from '../util/clock'
import type { Destination, QspnCore } from './core'
import { constructUp, sameFingerprint, type Fingerprint } from './fingerprint'

/**
 * The identity's own g-node info (§4.6): fingerprint and nodes-inside of each of its g-nodes, levels 0..levels,
 * derived from each destination's best path for it; and the values told to neighbours, which follow once they held
 * still for `ownInfoHoldMs` (while a g-node forms, a member's view of it changes at every step, and every
 * intermediate value would otherwise flood the whole network along every path to the g-node).
 */
export class OwnInfo {
  #fp: Fingerprint[]
  #nn: number[]
  /** As told to neighbours (ETP headers). */
  #advFp: Fingerprint[]
  #advNn: number[]
  #holdTimer: CancelTimer | null = null
  #holdSince = 0

  constructor (private readonly q: QspnCore, fingerprint: Fingerprint, private readonly publish: () => void) {
    this.#fp = [fingerprint]
    this.#nn = [q.isConnectivity ? 0 : 1]
    this.recompute()
    this.#advFp = this.#fp
    this.#advNn = this.#nn
  }

  fingerprint (lvl: number): Fingerprint { return this.#fp[lvl] }
  nodesInside (lvl: number): number { return this.#nn[lvl] }
  advertisedFingerprints (): Fingerprint[] { return this.#advFp.slice(0, this.q.levels) }
  advertisedNodesInside (): number[] { return this.#advNn.slice(0, this.q.levels) }

  /** The identity's level-0 fingerprint changed (it became connectivity, or took a new position): recompute all. */
  setOwnFingerprint (fp: Fingerprint): void {
    this.#fp = [fp]
    this.#nn = [this.q.isConnectivity ? 0 : 1]
    this.recompute()
    this.#advFp = this.#fp
    this.#advNn = this.#nn
  }

  /** Returns true when any level's fingerprint or nodes-inside changed (and emits the events). */
  recompute (): boolean {
    const q = this.q
    const byLevel: Destination[][] = Array.from({ length: q.levels }, () => [])
    for (const d of q.map.values()) byLevel[d.hc.lvl].push(d)
    const fp: Fingerprint[] = [this.#fp[0]]
    const nn: number[] = [q.isConnectivity ? 0 : 1]
    for (let i = 1; i <= q.levels; i++) {
      const sibs: Fingerprint[] = []
      let sum = 0
      for (const d of byLevel[i - 1]) {
        sibs.push(d.best.fingerprint)
        sum += d.best.nodesInside
      }
      fp.push(constructUp(fp[i - 1], sibs))
      nn.push(nn[i - 1] + sum)
    }
    const old = { fp: this.#fp, nn: this.#nn }
    this.#fp = fp
    this.#nn = nn
    if (old.fp.length !== fp.length) return false // first computation
    let changed = false
    for (let i = 1; i <= q.levels; i++) {
      if (!sameFingerprint(old.fp[i], fp[i])) { changed = true; q.events.emit('changed_fp', { lvl: i }) }
      if (old.nn[i] !== nn[i]) { changed = true; q.events.emit('changed_nodes_inside', { lvl: i }) }
    }
    return changed
  }

  /**
   * Own info changed: tell neighbours once it has not changed for `ownInfoHoldMs` (each change restarts the wait,
   * up to four times that since the first), then as a header-only ETP where nothing else carries it.
   */
  hold (): void {
    const q = this.q
    const hold = q.cfg.ownInfoHoldMs
    const now = q.c.clock.now()
    if (this.#holdTimer === null) this.#holdSince = now
    else this.#holdTimer()
    const publish = (): void => {
      this.#holdTimer = null
      if (q.stopped) return
      this.#advFp = this.#fp
      this.#advNn = this.#nn
      this.publish()
    }
    const wait = Math.min(hold, this.#holdSince + 4 * hold - now)
    if (wait <= 0) { publish(); return }
    this.#holdTimer = q.c.clock.setTimer(wait, publish)
  }

  /** A string equal for two headers with the same advertised fingerprints and nodes-inside. */
  headerSignature (): string {
    let s = ''
    for (let i = 0; i < this.q.levels; i++) s += `${this.#advFp[i].id}/${this.#advNn[i]};`
    return s
  }

  stop (): void { this.#holdTimer?.() }
}
