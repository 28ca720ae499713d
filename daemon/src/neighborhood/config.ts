import type { Ms } from '../util/clock'

export interface NeighborhoodTimers {
  /** Period of here_i_am on each NIC (original: 60 s). */
  readonly hereIAmMs: Ms
  /** Period of the cost measurement and liveness check of each arc (original: 30 s). */
  readonly monitorMs: Ms
  /** Timeout of one unicast (can_you_export, nop). */
  readonly unicastTimeoutMs: Ms
}

export const TIMER_PROFILES: Readonly<Record<'default' | 'lab', NeighborhoodTimers>> = {
  default: { hereIAmMs: 60_000, monitorMs: 30_000, unicastTimeoutMs: 10_000 },
  lab: { hereIAmMs: 1_000, monitorMs: 1_000, unicastTimeoutMs: 500 }
}

/** Fixed arc costs from configuration; they override measurement. By peer MAC first, then by my NIC. */
export interface FixedCosts {
  readonly byPeerMac?: Readonly<Record<string, number>>
  readonly byNic?: Readonly<Record<string, number>>
}

/** ntkd passes 1000 (spec §11). */
export const DEFAULT_MAX_ARCS = 1000
