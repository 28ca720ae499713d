import type { Advertisement } from './advertisement'
import type { ArcState, QspnCore } from './core'
import type { EtpMessage } from './etp'
import { hcKey, maxDistinctGnode, type HCoord } from './types'

/** Destinations whose changes wait to be forwarded together. */
interface Batch { dests: Map<string, HCoord>, hops: HCoord[], from: string | null }

/** A destination that changed in one commit; `routing` when its paths changed, not only estimates. */
export interface ChangedDestination { readonly hc: HCoord, readonly routing: boolean }

/**
 * Forwarding of changes to neighbours (§4.4 interesting-information rule) with coalescing and pacing. Routing
 * changes (paths added, removed, re-costed) committed within `etpFlushMs` (0: the same clock instant) go out as one
 * partial ETP per neighbour; a batch that came from one ETP keeps its hop list and skips its sender, a mixed batch
 * carries an empty hop list (the per-path acyclic rule still holds) and goes to all. Changes of nodes-inside or
 * fingerprints only (own or of paths) wait `infoFlushMs`: they are estimates, and forwarding every increment while
 * a network forms costs far more messages than the routing itself. Partial ETPs leave at most every `etpPacingMs`.
 *
 * An ETP the transport could not deliver leaves the neighbour's view unknown: a partial ETP only carries what changed
 * since what it was told, so a lost one would keep it on an outdated (or longer) path until the periodic full ETP
 * (30 s in the lab, 10 min by default). It gets a full ETP instead, after `requestRetryMs`; when that one is lost
 * too the arc is given up as a bad link (§4.9 arc_removed), as after a failed full-ETP request.
 */
export class Forwarder {
  #batch: Batch | null = null
  #infoBatch: Batch | null = null
  #lastFlushAt = Number.NEGATIVE_INFINITY
  #lastInfoFlushAt = Number.NEGATIVE_INFINITY
  /** Arcs waiting for the full ETP that repairs a lost one. */
  readonly #resyncing = new Set<ArcState>()

  /** `giveUp(st)`: communication over the arc keeps failing; drop it (bad link). */
  constructor (private readonly q: QspnCore, private readonly adv: Advertisement, private readonly giveUp: (st: ArcState) => void) {}

  queue (changed: readonly ChangedDestination[], etpHops: HCoord[], fromArcId: string | null): void {
    const q = this.q
    const routing = changed.filter(c => c.routing)
    if (routing.length > 0) {
      let b = this.#batch
      if (b === null) {
        b = { dests: new Map(), hops: etpHops, from: fromArcId }
        this.#batch = b
        const delay = Math.max(q.cfg.etpFlushMs, this.#lastFlushAt + q.cfg.etpPacingMs - q.c.clock.now())
        q.c.clock.setTimer(delay, () => { this.#batch = null; this.#lastFlushAt = q.c.clock.now(); this.#flush(b!, false) })
      } else if (b.from !== fromArcId || b.hops !== etpHops) {
        b.hops = []
        b.from = null
      }
      for (const c of routing) b.dests.set(hcKey(c.hc), c.hc)
    }
    let ib = this.#infoBatch
    if (ib === null) {
      ib = { dests: new Map(), hops: [], from: null }
      this.#infoBatch = ib
      const delay = Math.max(q.cfg.infoFlushMs, this.#lastInfoFlushAt + q.cfg.etpPacingMs - q.c.clock.now())
      q.c.clock.setTimer(delay, () => { this.#infoBatch = null; this.#lastInfoFlushAt = q.c.clock.now(); this.#flush(ib!, true) })
    }
    for (const c of changed) if (!c.routing) ib.dests.set(hcKey(c.hc), c.hc)
  }

  /** Sends one ETP over one arc (counted); if the transport loses it, the neighbour gets a full ETP later. */
  send (target: ArcState, etp: EtpMessage, isFull: boolean, lost: () => void = () => this.#lost(target)): void {
    if (this.q.stopped) return
    this.q.stats.etpSent++
    this.q.c.messenger.sendEtp([target.id], etp, isFull, lost)
  }

  /** An ETP to `st` was lost: a full ETP (which also resets what it was told) follows, once for any number lost. */
  #lost (st: ArcState): void {
    const q = this.q
    if (q.stopped || q.arcs.get(st.id) !== st || this.#resyncing.has(st)) return
    q.stats.etpLost++
    if (q.cfg.requestRetryMs <= 0) { this.giveUp(st); return }
    this.#resyncing.add(st)
    q.c.clock.setTimer(q.cfg.requestRetryMs, () => {
      this.#resyncing.delete(st)
      // gone or replaced meanwhile; while bootstrapping, its end sends every neighbour a full ETP anyway
      if (q.stopped || q.arcs.get(st.id) !== st || q.bootstrapLevel !== null) return
      this.send(st, this.adv.buildFull(st), true, () => { if (!q.stopped && q.arcs.get(st.id) === st) this.giveUp(st) })
    })
  }

  #flush (b: Batch, withInfo: boolean): void {
    if (this.q.stopped || this.q.bootstrapLevel !== null) return
    const dests = [...b.dests.values()].sort((x, y) => x.lvl - y.lvl || x.pos - y.pos)
    for (const t of this.q.arcs.values()) {
      // A neighbour inside a g-node the batch's ETP already crossed (its sender, at least) would drop the whole ETP
      // by the acyclic rule, yet it must learn the rest of what changed here (a destination that became known,
      // estimates of other paths): it gets the batch without the hop list; per-path acyclic checks still hold.
      const etp = this.adv.buildPartial(this.#crossed(b.hops, t) ? [] : b.hops, dests, t, withInfo)
      if (etp !== null) this.send(t, etp, false)
    }
  }

  /** Would `target` ignore an ETP with this hop list (one of its own g-nodes in it, §4.4 acyclic rule)? */
  #crossed (hops: readonly HCoord[], target: ArcState): boolean {
    if (hops.length === 0) return false
    const peer = target.peerNaddr
    if (peer === null) return true
    const v = maxDistinctGnode(peer, this.q.naddr)
    if (v === null) return true
    return hops.some(h => h.lvl >= v.lvl && peer[h.lvl] === h.pos)
  }
}
