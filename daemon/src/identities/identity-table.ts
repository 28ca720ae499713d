import type { TypedEvents } from '../neighborhood/events'
import { IdentityError, type HandledNic, type IdentityArc, type IdentityEvents, type IdentityManagerPorts, type LocalIdentity, type PhysicalArc, type ArcPair } from './types'

export interface IdentityRecord extends LocalIdentity {
  /** Pseudo-interfaces per real NIC (connectivity identities); the main identity uses the real NICs. */
  readonly pseudo: Map<string, HandledNic>
  readonly arcs: Map<string, IdentityArc>
}

/** A duplication in progress: `moved` resolves once the old identity lives on its new NICs (neighbours may ask). */
export interface Duplication {
  readonly migrationId: number
  readonly oldId: string
  newId?: string
  readonly pairs: ArcPair[]
  /** addIdentity has returned its pairs: later ones are told with late_arc_pair. */
  returned?: boolean
  /** When prepareAddIdentity announced it (a duplication never run stops counting as under way after a while). */
  readonly preparedAt: number
  moved: Promise<void>
  markMoved: () => void
}

const PSEUDO_MAC_FIRST_OCTET = '4E' // ntkd: locally administered, unicast
/** Namespace names ntkv0..ntkv(N-1) taken in turn by identities that move out of the way. */
const NAMESPACES_IN_TURN = 10

/**
 * What the Identities module holds (spec §6.1), shared by its local operations (IdentityManager) and its answers to
 * the neighbours (NeighbourRequests): the identities of this system with their NICs and identity-arcs, the physical
 * arcs those are made over, and the duplications under way. Identity-arcs change only here, each change told as an
 * event.
 */
export class IdentityTable {
  readonly identities = new Map<string, IdentityRecord>()
  /** The physical arcs (Neighborhood's) identity-arcs are made over, by id. */
  readonly physical = new Map<string, PhysicalArc>()
  /** Duplications announced by prepareAddIdentity, by dupKey. */
  readonly pending = new Map<string, Duplication>()
  /** (migration, arc, my old identity, peer old identity) pairs already processed, from either side (matchKey). */
  readonly matched = new Set<string>()
  mainId: string
  #nextIndex = 0
  /** Next `ntkvN` to try: namespace names are not reused soon (see freeNamespace). */
  #nextNamespace = 0
  readonly #p: Pick<IdentityManagerPorts, 'random' | 'realNic' | 'realNics'>
  readonly #events: TypedEvents<IdentityEvents>
  readonly #log: (line: string) => void

  constructor (p: Pick<IdentityManagerPorts, 'random' | 'realNic' | 'realNics'>, events: TypedEvents<IdentityEvents>, log: (line: string) => void) {
    this.#p = p
    this.#events = events
    this.#log = log
    this.mainId = this.record(this.newId(), '').id
  }

  record (id: string, netns: string): IdentityRecord {
    const r: IdentityRecord = { id, index: this.#nextIndex++, netns, pseudo: new Map(), arcs: new Map() }
    this.identities.set(id, r)
    return r
  }

  get (id: string): IdentityRecord {
    const r = this.identities.get(id)
    if (r === undefined) throw new IdentityError(`no identity ${id}`)
    return r
  }

  newId (): string {
    for (;;) {
      const id = Array.from({ length: 16 }, () => this.#p.random.int(16).toString(16)).join('')
      if (!this.identities.has(id)) return id
    }
  }

  /** The duplication of my identity `oldId` announced for `migrationId`, if any. */
  duplication (migrationId: number, oldId: string): Duplication | undefined { return this.pending.get(dupKey(migrationId, oldId)) }

  /** The NICs the identity handles, per real NIC (real ones for the default namespace). */
  nicsOf (id: string): HandledNic[] {
    const r = this.get(id)
    if (r.netns !== '') return [...r.pseudo.values()]
    return this.#p.realNics().map(d => this.#p.realNic(d)).filter((n): n is HandledNic => n !== undefined)
  }

  nicOf (id: string, realDev: string): HandledNic | undefined {
    const r = this.get(id)
    return r.netns === '' ? this.#p.realNic(realDev) : r.pseudo.get(realDev)
  }

  // ---------------------------------------------------------------- identity-arcs

  addIdentityArc (id: string, arc: PhysicalArc, peerId: string, peerMac: string, peerLinkLocal: string, qspn?: boolean): IdentityArc {
    const r = this.get(id)
    const ia: IdentityArc = { id: `${arc.id}#${peerId}`, identityId: id, arcId: arc.id, realDev: arc.nic, peerId, peerMac: peerMac.toUpperCase(), peerLinkLocal }
    const had = r.arcs.get(ia.id)
    if (had !== undefined) {
      // only a confirmed duplication moves an identity-arc (changeIdentityArc): never a request to add it again
      if (had.peerMac !== ia.peerMac || had.peerLinkLocal !== ia.peerLinkLocal) throw new IdentityError(`identity-arc ${ia.id} of identity ${r.index} exists at ${had.peerMac} ${had.peerLinkLocal}, not ${ia.peerMac} ${peerLinkLocal}`)
      return had
    }
    r.arcs.set(ia.id, ia)
    this.#events.emit('identity_arc_added', qspn === true ? { arc: ia, qspn } : { arc: ia })
    return ia
  }

  changeIdentityArc (r: IdentityRecord, ia: IdentityArc, peerMac: string, peerLinkLocal: string): void {
    const next: IdentityArc = { ...ia, peerMac: peerMac.toUpperCase(), peerLinkLocal, prevPeerMac: ia.peerMac, prevPeerLinkLocal: ia.peerLinkLocal }
    r.arcs.set(ia.id, next)
    this.#events.emit('identity_arc_changed', { arc: next })
  }

  removeIdentityArc (r: IdentityRecord, ia: IdentityArc): void {
    if (r.arcs.get(ia.id) === undefined) return
    this.#events.emit('identity_arc_removing', { arc: ia })
    r.arcs.delete(ia.id)
    this.#events.emit('identity_arc_removed', { arc: ia })
  }

  /**
   * The new identity's identity-arc to `peerId` after a match. It may exist already on another MAC: the peer moved
   * in an operation of its own meanwhile and told us (its identity_match_duplication came first), which is newer
   * than what our old identity's arc says; that one is kept (lab 2x25: adding it again threw and undid the
   * duplication half way).
   */
  arcOfFresh (fresh: IdentityRecord, arc: PhysicalArc, peerId: string, peerMac: string, peerLinkLocal: string): IdentityArc {
    const had = fresh.arcs.get(`${arc.id}#${peerId}`)
    if (had !== undefined && (had.peerMac !== peerMac.toUpperCase() || had.peerLinkLocal !== peerLinkLocal)) {
      this.#log(`identity-arc ${had.id} of identity ${fresh.index} is kept at ${had.peerMac} ${had.peerLinkLocal} (the match said ${peerMac} ${peerLinkLocal})`)
      return had
    }
    return this.addIdentityArc(fresh.id, arc, peerId, peerMac, peerLinkLocal)
  }

  // ---------------------------------------------------------------- where a moving identity goes

  /**
   * A namespace for an identity that moves out of the way: ntkv0 .. ntkv9 in turn, skipping names in use (then
   * ntkv10 and up, if ever ten are in use at once). Reusing at once the name of an identity just removed let its
   * pseudo-interfaces' late detaches and kernel cleanup hit the new identity's ones of the same name (`ntkv0_eth4 is
   * not attached to the transport`, after a node's third migration in the lab). One digit keeps room for the real
   * NIC's name in the 15 characters of a pseudo-interface's.
   */
  freeNamespace (): string {
    const used = new Set([...this.identities.values()].map(r => r.netns))
    for (let tries = 0; tries < NAMESPACES_IN_TURN; tries++) {
      const name = `ntkv${this.#nextNamespace}`
      this.#nextNamespace = (this.#nextNamespace + 1) % NAMESPACES_IN_TURN
      if (!used.has(name)) return name
    }
    for (let n = NAMESPACES_IN_TURN; ; n++) if (!used.has(`ntkv${n}`)) return `ntkv${n}`
  }

  randomMac (): string {
    const octets = [PSEUDO_MAC_FIRST_OCTET, ...Array.from({ length: 5 }, () => this.#p.random.int(256).toString(16).padStart(2, '0').toUpperCase())]
    return octets.join(':')
  }
}

export function viewOf (r: IdentityRecord): LocalIdentity { return { id: r.id, index: r.index, netns: r.netns } }
export function dupKey (migrationId: number, oldId: string): string { return `${migrationId}|${oldId}` }
/** The key of `matched`: identity-arc old–peerOld over `arcId` in migration `migrationId`. */
export function matchKey (migrationId: number, arcId: string, oldId: string, peerOldId: string): string { return `${migrationId}|${arcId}|${oldId}|${peerOldId}` }
