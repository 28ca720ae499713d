import type { IdentityListReply } from './messages'

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
