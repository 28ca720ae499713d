import type { Clock } from '../util/clock'
import type { WireMessage } from '../wire'
import { identityListReply, type IdentityListReply } from './messages'
import type { PhysicalArc } from './types'

/** How many times a neighbour's identity list is asked again before a claim it does not confirm is refused. */
const VERIFY_RETRIES = 3

/**
 * What a neighbour claims about one of its identities on the arc a request came over: that identity `id` answers
 * on `mac`/`linkLocal` there. Claims that would move or add identity-arcs (identity_add_arc, a duplication the
 * neighbour tells us about) are believed only once its own identity_list, asked over the same arc, says so too.
 */
export interface NicClaim {
  readonly id: string
  readonly mac: string
  readonly linkLocal: string
}

/** Whether the identity-arc or list entry `x` is on the NIC the claim names (MACs compared in any case). */
export function onClaimedNic (x: { mac?: string, peerMac?: string, linkLocal?: string, peerLinkLocal?: string }, c: NicClaim): boolean {
  const mac = x.mac ?? x.peerMac
  const linkLocal = x.linkLocal ?? x.peerLinkLocal
  return mac !== undefined && mac.toUpperCase() === c.mac.toUpperCase() && linkLocal === c.linkLocal
}

/** The claims the neighbour's identity list does not bear out (empty: all hold). */
export function unconfirmed (list: IdentityListReply, claims: readonly NicClaim[]): NicClaim[] {
  return claims.filter(c => !list.identities.some(p => p.id === c.id && onClaimedNic(p, c)))
}

/** Two claims that name one NIC for two identities, or two identities on one NIC, cannot both be true. */
export function clash (a: NicClaim, b: NicClaim): boolean {
  return a.id === b.id || a.mac.toUpperCase() === b.mac.toUpperCase() || a.linkLocal === b.linkLocal
}

/** What a claim check uses of the Identities module. */
export interface ClaimCheckPorts {
  readonly clock: Clock
  /** A request to the neighbour over the arc (its answer; throws when it fails). */
  readonly request: (arc: PhysicalArc, m: WireMessage) => Promise<WireMessage | undefined>
  /** Whether the arc is still the one Neighborhood has (not gone, not replaced). */
  readonly live: (arc: PhysicalArc) => boolean
  readonly stats: { requestsFailed: number, unverified: number }
  readonly log: (line: string) => void
}

/** Checks a neighbour's claims against its own identity list, asked over the arc the claims came over. */
export class ClaimCheck {
  readonly #p: ClaimCheckPorts
  /** Neighbours' claims being checked against their identity lists right now. */
  #verifying = 0

  constructor (p: ClaimCheckPorts) { this.#p = p }

  /** How many claims are being checked now. */
  get verifying (): number { return this.#verifying }

  /**
   * Asks the neighbour on `arc` for its identity list and checks the claims against it: null when all hold, else
   * what does not.
   */
  async verify (arc: PhysicalArc, claims: readonly NicClaim[]): Promise<string | null> {
    // the neighbour may be a step behind (still moving its identities, or not yet holding its side of the arc):
    // asked again after 100, 200 and 400 ms before the claim is refused
    let doubt = await this.#verifyOnce(arc, claims)
    for (let k = 0; doubt !== null && k < VERIFY_RETRIES && this.#p.live(arc); k++) {
      await new Promise<void>(resolve => this.#p.clock.setTimer(100 * 2 ** k, resolve))
      doubt = await this.#verifyOnce(arc, claims)
    }
    return doubt
  }

  async #verifyOnce (arc: PhysicalArc, claims: readonly NicClaim[]): Promise<string | null> {
    this.#verifying++
    try {
      const list = await this.#p.request(arc, { v: 1, kind: 'identity_list' })
      if (list === undefined || !identityListReply.is(list)) return `no identity list (${list?.kind ?? 'no answer'})`
      const wrong = unconfirmed(list as IdentityListReply, claims)
      return wrong.length === 0 ? null : `its identity list has no ${wrong.map(c => `${c.id} on ${c.mac} ${c.linkLocal}`).join(', nor ')}`
    } catch (e) {
      this.#p.stats.requestsFailed++
      return `identity_list failed: ${(e as Error).message}`
    } finally {
      this.#verifying--
    }
  }

  /** Counts and logs a claim refused after the check; the reason, for the answer. */
  unverified (arc: PhysicalArc, what: string, why: string): string {
    this.#p.stats.unverified++
    this.#p.log(`${what} over ${arc.id} refused: ${why}`)
    return `not confirmed by your identity list: ${why}`
  }
}
