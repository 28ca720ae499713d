/** Why a received message was dropped. Every reason is counted; none is fatal. */
export type RejectionReason =
  | 'truncated' | 'oversized' | 'bad-json' | 'unknown-kind' | 'bad-version' | 'invalid' | 'unauthenticated'

export const REJECTION_REASONS: readonly RejectionReason[] =
  ['truncated', 'oversized', 'bad-json', 'unknown-kind', 'bad-version', 'invalid', 'unauthenticated']

export interface WireCountersSnapshot {
  readonly accepted: number
  /** Accepted messages signed with a key other than the signing one (a rollover is done when this stops growing). */
  readonly acceptedWithOlderKey: number
  readonly rejected: Readonly<Record<RejectionReason, number>>
}

/** Per-node counters of accepted and rejected messages (for ntkctl). */
export class WireCounters {
  #accepted = 0
  #olderKey = 0
  readonly #rejected = new Map<RejectionReason, number>(REJECTION_REASONS.map(r => [r, 0]))

  accept (): void { this.#accepted++ }
  acceptOlderKey (): void { this.#olderKey++ }
  reject (reason: RejectionReason): void { this.#rejected.set(reason, (this.#rejected.get(reason) ?? 0) + 1) }

  snapshot (): WireCountersSnapshot {
    return {
      accepted: this.#accepted,
      acceptedWithOlderKey: this.#olderKey,
      rejected: Object.fromEntries(this.#rejected) as Record<RejectionReason, number>
    }
  }
}
