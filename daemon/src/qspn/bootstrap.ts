import type { CancelTimer } from '../util/clock'
import type { Advertisement } from './advertisement'
import type { ArcState, QspnCore } from './core'
import type { EtpMessage } from './etp'
import type { EtpIntake } from './etp-intake'
import type { QspnEventEmitter } from './events'
import type { Forwarder } from './forwarding'
import type { OwnInfo } from './own-info'
import { maxDistinctGnode } from './types'

/**
 * The bootstrap of an identity that entered or migrated (§4.8): its external arcs are asked for a full ETP one by
 * one until one from the host answers; refusals (a neighbour bootstrapping too) move on; the wait ends anyway after
 * `bootstrapTimeoutMs`. Then every neighbour is asked for its full ETP and gets ours.
 */
export class Bootstrap {
  #queue: ArcState[] = []
  #asking = false
  #cancelTimeout: CancelTimer | null = null

  constructor (private readonly q: QspnCore, private readonly intake: () => EtpIntake, private readonly parts: { own: OwnInfo, fwd: Forwarder, adv: Advertisement, events: QspnEventEmitter }) {}

  /** Starts the wait for the first full ETP from outside, asking `arcs` in turn. */
  start (arcs: readonly ArcState[]): void {
    this.#queue.push(...arcs)
    this.next()
    this.#cancelTimeout = this.q.c.clock.setTimer(this.q.cfg.bootstrapTimeoutMs, () => { if (this.q.bootstrapLevel !== null) this.complete() })
  }

  /** An arc added while bootstrapping: asked in its turn. */
  queue (st: ArcState): void { this.#queue.push(st); this.next() }

  /** An arc removed: no longer asked. */
  forget (st: ArcState): void { this.#queue = this.#queue.filter(a => a !== st) }

  stop (): void { this.#cancelTimeout?.() }

  /**
   * During bootstrap a spontaneous ETP counts only when it comes from inside the moving g-node and brings a path to
   * a g-node of the host (a member that already had its full ETP from outside); everything else waits.
   */
  admits (m: EtpMessage): boolean {
    const q = this.q
    if (q.bootstrapLevel === null) return true
    const from = maxDistinctGnode(q.naddr, m.nodeAddress)
    if (from === null || from.lvl >= (q.guestLevel ?? 0)) return false
    const hostInside = (q.hostLevel ?? q.levels) - 1
    return m.paths.some(p => p.hops.length > 0 && p.hops[p.hops.length - 1].lvl === hostInside)
  }

  /** Asks the next queued arc for its full ETP; a refusal, or an answer from outside the host, moves on. */
  next (): void {
    const q = this.q
    if (this.#asking || q.stopped || q.bootstrapLevel === null) return
    const st = this.#queue.shift()
    if (st === undefined) return
    this.#asking = true
    const next = (): void => { this.#asking = false; this.next() }
    const fromHost = (m: EtpMessage): boolean => {
      const lvl = maxDistinctGnode(q.naddr, m.nodeAddress)?.lvl ?? -1
      return lvl >= (q.guestLevel ?? 0) && lvl < (q.hostLevel ?? q.levels)
    }
    this.intake().requestFull(st, next, next, fromHost)
  }

  /**
   * The first ETP from outside arrived (or the wait ran out): the map is valid at every level now. Every other
   * neighbour is asked for its full ETP, every neighbour gets ours, and a second later `presence_notified`.
   */
  complete (): void {
    const q = this.q
    if (q.bootstrapLevel === null || q.stopped) return
    q.bootstrapLevel = null
    this.#cancelTimeout?.()
    this.#queue = []
    this.parts.own.recompute()
    q.c.clock.setTimer(1, () => { if (!q.stopped) this.parts.events.emit('bootstrap_complete', {}) })
    for (const a of q.arcs.values()) this.intake().requestFull(a, null)
    for (const a of q.arcs.values()) this.parts.fwd.send(a, this.parts.adv.buildFull(a), true)
    q.c.clock.setTimer(1000, () => { if (!q.stopped) this.parts.events.emit('presence_notified', {}) })
  }
}
