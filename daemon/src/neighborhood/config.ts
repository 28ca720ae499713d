import type { Ms } from '../util/clock'

export interface NeighborhoodTimers {
  /** Period of here_i_am on each NIC (original: 60 s). */
  readonly hereIAmMs: Ms
  /** Period of the cost measurement and liveness check of each arc (original: 30 s). */
  readonly monitorMs: Ms
  /** Timeout of one unicast (can_you_export, nop). */
  readonly unicastTimeoutMs: Ms
  /**
   * Consecutive failed liveness probes that remove an arc (original: 1, any failure). After a failure the next
   * probe goes at once, so a dead neighbour is dropped within monitorMs + missedProbes × unicastTimeoutMs, while
   * one late reply (a busy host) is forgiven.
   */
  readonly missedProbes: number
  /**
   * Period of the carrier check of the managed NICs (needs the `nicCarrier` port); 0: no check. A NIC that loses
   * its carrier (cable cut, set down) drops its arcs at once instead of waiting for the probes to fail. With the
   * `carrierChanges` port the carrier is read when a NIC changes, and this poll runs ten times less often.
   */
  readonly carrierPollMs: Ms
}

export const TIMER_PROFILES: Readonly<Record<'default' | 'lab', NeighborhoodTimers>> = {
  default: { hereIAmMs: 60_000, monitorMs: 30_000, unicastTimeoutMs: 10_000, missedProbes: 1, carrierPollMs: 1_000 },
  lab: { hereIAmMs: 1_000, monitorMs: 1_000, unicastTimeoutMs: 1_000, missedProbes: 3, carrierPollMs: 100 }
}

/** Fixed arc costs from configuration; they override measurement. By peer MAC first, then by my NIC. */
export interface FixedCosts {
  readonly byPeerMac?: Readonly<Record<string, number>>
  readonly byNic?: Readonly<Record<string, number>>
}

/** ntkd passes 1000 (spec §11). */
export const DEFAULT_MAX_ARCS = 1000
