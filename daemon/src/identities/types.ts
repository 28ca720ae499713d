import type { Clock } from '../util/clock'
import type { Random } from '../util/random'
import type { Transport } from '../transport'

/*
 * What the Identities module talks about (spec §6.1): identities, the NICs they handle, physical arcs and the
 * identity-arcs over them, its events and ports, and what a duplication returns.
 */

/** A NIC an identity handles: the real NIC for the main identity, a macvlan pseudo-interface for the others. */
export interface HandledNic {
  /** The device in the identity's namespace (`eth1`, or `ntkv0_eth1`). */
  readonly dev: string
  /** The real NIC it is built on. */
  readonly realDev: string
  readonly mac: string
  readonly linkLocal: string
}

/** An identity of this system as the Identities module knows it: no address, only where it lives. */
export interface LocalIdentity {
  /** NodeID on the wire: 16 lowercase hex digits. */
  readonly id: string
  /** Local number, 0 for the first identity (the proof's nodeid index), for operators and logs. */
  readonly index: number
  /** Network namespace: '' for the default one (the main identity), `ntkvN` otherwise. */
  readonly netns: string
}

/** An arc between two systems (Neighborhood), as Identities needs it. */
export interface PhysicalArc {
  readonly id: string
  /** My real NIC. */
  readonly nic: string
  readonly peerMac: string
  readonly peerLinkLocal: string
}

/**
 * An identity-arc (spec §6.1): my identity `identityId` and the neighbour's identity `peerId` over physical arc
 * `arcId`. The peer's MAC and link-local are those of the NIC its identity uses (real or pseudo) and change when it
 * duplicates; the previous ones are kept (ntkd's prev_peer_mac).
 */
export interface IdentityArc {
  /** `<arc id>#<peer id>`: unique among one identity's arcs, stable while the identity-arc lives. */
  readonly id: string
  readonly identityId: string
  readonly arcId: string
  readonly realDev: string
  readonly peerId: string
  readonly peerMac: string
  readonly peerLinkLocal: string
  readonly prevPeerMac?: string
  readonly prevPeerLinkLocal?: string
}

export interface IdentityEvents {
  /** `qspn`: the operator asked (here or on the neighbour) that it be a qspn-arc on both sides. */
  identity_arc_added: { arc: IdentityArc, qspn?: boolean }
  /** The neighbour's identity moved to another NIC (it duplicated): new MAC and link-local, old ones in prev*. */
  identity_arc_changed: { arc: IdentityArc }
  identity_arc_removing: { arc: IdentityArc }
  identity_arc_removed: { arc: IdentityArc }
  /** The identity is about to move to a new namespace (its duplication started): hold its traffic meanwhile. */
  identity_moving: { identity: LocalIdentity }
  identity_added: { identity: LocalIdentity }
  identity_removed: { identity: LocalIdentity }
  /**
   * How an identity-arc of a duplicated identity carried over, told when the pairing happens after `addIdentity`
   * returned (the neighbour duplicated later in the same migration).
   */
  late_arc_pair: { oldIdentityId: string, newIdentityId: string, pair: ArcPair }
}

export interface IdentityManagerPorts {
  readonly transport: Transport
  readonly clock: Clock
  readonly random: Random
  /** The managed real NICs with the link-locals Neighborhood gave them (undefined until it did). */
  readonly realNic: (dev: string) => HandledNic | undefined
  readonly realNics: () => string[]
  /** Makes the kernel hold the identities' namespaces, pseudo-interfaces and host routes now. */
  readonly syncKernel: () => Promise<void>
  readonly log?: (line: string) => void
  readonly timeoutMs?: number
}

export class IdentityError extends Error {
  constructor (message: string) { super(message); this.name = 'IdentityError' }
}

/** An identity-arc of the old identity and the one of the new identity it became (§6.4 prev/new/both arcs). */
export interface ArcPair {
  readonly oldArcId: string
  readonly newArcId: string
  /** The neighbour identity duplicated in the same migration (it moves with us): a both-arc, internal to QSPN. */
  readonly peerMoved: boolean
}

/** What `addIdentity` returns: the new identity and how the old identity's arcs carried over. */
export interface Duplicated {
  readonly identity: LocalIdentity
  readonly pairs: readonly ArcPair[]
}
