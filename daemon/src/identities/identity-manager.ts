import type { Clock } from '../util/clock'
import { compareStrings } from '../util/compare'
import type { CallerInfo, PeerAddress } from '../transport'
import type { WireMessage } from '../wire'
import { TypedEvents } from '../neighborhood/events'
import { randomLinklocal } from '../neighborhood/linklocal'
import { clash, type NicClaim, onClaimedNic, unconfirmed } from './claims'
import {
  identityAck, identityAddArc, identityDuplication, identityList, identityListReply, identityMain, identityMainReply,
  identityMatchDuplication, identityRemoveArc,
  type IdentityAck, type IdentityAddArc, type IdentityDuplication, type IdentityListReply, type IdentityMainReply, type IdentityMatchDuplication
} from './messages'
import { IdentityError, type ArcPair, type Duplicated, type HandledNic, type IdentityArc, type IdentityEvents, type IdentityManagerPorts, type LocalIdentity, type PhysicalArc } from './types'

interface IdentityRecord extends LocalIdentity {
  /** Pseudo-interfaces per real NIC (connectivity identities); the main identity uses the real NICs. */
  readonly pseudo: Map<string, HandledNic>
  readonly arcs: Map<string, IdentityArc>
}

/** A duplication in progress: `moved` resolves once the old identity lives on its new NICs (neighbours may ask). */
interface Duplication {
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

/** How many times a new arc's neighbour is asked for its main identity (and its list), a moment apart. */
/** How many times a neighbour's identity list is asked again before a claim it does not confirm is refused. */
const VERIFY_RETRIES = 3
const MAIN_ARC_ATTEMPTS = 7
/** First pause before asking again (doubled each time: 100 ms … 3.2 s): the neighbour usually makes its side at once. */
const MAIN_ARC_RETRY_MS = 100
/** How many times a duplication's match request is sent to a neighbour before it is given up. */
const MATCH_ATTEMPTS = 3
/** Tries to attach a pseudo-interface of a duplication, a kernel apply before each retry. */
const PSEUDO_ATTACH_ATTEMPTS = 4
/** Namespace names ntkv0..ntkv(N-1) taken in turn by identities that move out of the way. */
const NAMESPACES_IN_TURN = 10

/**
 * The Identities module of a system (spec §6.1, a node module): the identities living in it, the identity-arcs
 * each has with the neighbours' identities, and duplication (`prepareAddIdentity` / `addIdentity`): the new
 * identity takes over the old one's namespace and NICs, the old one moves to a fresh `ntkvN` namespace with macvlan
 * pseudo-interfaces (random MAC and link-local), and every neighbour is told, so that arcs a0–b0 persist over the
 * new pseudo-interface and a1–b0 (or a1–b1 when b0 duplicated in the same migration) are added.
 */
export class IdentityManager {
  readonly events = new TypedEvents<IdentityEvents>()
  /**
   * `rejected`: requests refused at once (no arc with the sender, an identity-arc claimed on another NIC than the one
   * we have); `unverified`: claims refused after the neighbour's own identity list did not bear them out.
   */
  readonly stats = { requestsFailed: 0, rejected: 0, unverified: 0, auditMainArcsMade: 0, auditArcsForgotten: 0, duplicationSteps: 0 }
  readonly #p: IdentityManagerPorts
  readonly #identities = new Map<string, IdentityRecord>()
  readonly #physical = new Map<string, PhysicalArc>()
  readonly #pending = new Map<string, Duplication>()
  /** (migration, arc, my old identity, peer old identity) pairs already processed, from either side. */
  readonly #matched = new Set<string>()
  #mainId: string
  #nextIndex = 0
  /** Duplications started so far (addIdentity). */
  #duplications = 0
  /** Next `ntkvN` to try: namespace names are not reused soon (see #freeNamespace). */
  #nextNamespace = 0
  /** Neighbours' claims being checked against their identity lists right now. */
  #verifying = 0
  /** Cancels the pending remake of the main identity-arcs (#remakeMainArcsLater). */
  #cancelRemake: (() => void) | null = null
  #unsubscribe: () => void

  constructor (p: IdentityManagerPorts) {
    this.#p = p
    const first = this.#record(this.#newId(), '')
    this.#mainId = first.id
    this.#unsubscribe = p.transport.onMessage(async (m, caller) => await this.#receive(m, caller))
  }

  on<K extends keyof IdentityEvents> (event: K, fn: (p: IdentityEvents[K]) => void): () => void {
    return this.events.on(event, fn)
  }

  stop (): void {
    this.#unsubscribe()
    this.#cancelRemake?.()
    this.#cancelRemake = null
  }

  #remakeMainArcsLater (): void {
    if (this.#cancelRemake !== null) return
    this.#cancelRemake = this.#p.clock.setTimer(this.#p.timeoutMs ?? 10_000, () => {
      this.#cancelRemake = null
      void this.ensureMainArcs().then(added => { for (const ia of added) this.#log(`main identity-arc ${ia.id} made again`) }, e => { this.#log(`main identity-arcs: ${(e as Error).message}`) })
    })
  }

  // ---------------------------------------------------------------- queries

  get mainId (): string { return this.#mainId }
  identities (): LocalIdentity[] { return [...this.#identities.values()].map(viewOf).sort((a, b) => a.index - b.index) }
  identity (id: string): LocalIdentity | undefined { const r = this.#identities.get(id); return r === undefined ? undefined : viewOf(r) }
  /** By NodeID, local index ("2") or namespace name. */
  find (ref: string): LocalIdentity | undefined {
    for (const r of this.#identities.values()) if (r.id === ref || String(r.index) === ref || (r.netns !== '' && r.netns === ref)) return viewOf(r)
    return undefined
  }

  /** The NICs the identity handles, per real NIC (real ones for the default namespace). */
  nicsOf (id: string): HandledNic[] {
    const r = this.#get(id)
    if (r.netns !== '') return [...r.pseudo.values()]
    return this.#p.realNics().map(d => this.#p.realNic(d)).filter((n): n is HandledNic => n !== undefined)
  }

  nicOf (id: string, realDev: string): HandledNic | undefined {
    const r = this.#get(id)
    return r.netns === '' ? this.#p.realNic(realDev) : r.pseudo.get(realDev)
  }

  /** How many neighbours' claims are being checked now (their requests are answered once the check ends). */
  verifying (): number { return this.#verifying }

  arcsOf (id: string): IdentityArc[] { return [...this.#get(id).arcs.values()].sort((a, b) => compareStrings(a.id, b.id)) }
  arcOf (id: string, arcId: string): IdentityArc | undefined { return this.#identities.get(id)?.arcs.get(arcId) }

  /** Where a unicast to the peer of identity-arc `ia` goes from my identity's NIC. */
  peerAddress (ia: IdentityArc): PeerAddress {
    const nic = this.nicOf(ia.identityId, ia.realDev)
    if (nic === undefined) throw new IdentityError(`identity ${ia.identityId} has no NIC on ${ia.realDev}`)
    return { nic: nic.dev, linklocal: ia.peerLinkLocal }
  }

  /**
   * The identity-arc of identity `id` a message from `peerId` arriving on my `dev` belongs to. Matched by the real
   * NIC (a pseudo-interface counts as the NIC it is built on): while an identity moves to a pseudo-interface, the
   * messages its neighbours sent to its old link-local still reach it.
   */
  arcFrom (id: string, dev: string, peerId: string): IdentityArc | undefined {
    const r = this.#identities.get(id)
    if (r === undefined) return undefined
    const real = this.realDevOf(dev)
    for (const a of r.arcs.values()) if (a.peerId === peerId && a.realDev === real) return a
    return undefined
  }

  /** The real NIC a device is (itself), or is a pseudo-interface of. */
  realDevOf (dev: string): string {
    for (const r of this.#identities.values()) for (const n of r.pseudo.values()) if (n.dev === dev) return n.realDev
    return dev
  }

  // ---------------------------------------------------------------- physical arcs

  /** A new arc (Neighborhood): the main identity-arc is made with the neighbour's main identity (§6.1). */
  async addArc (arc: PhysicalArc): Promise<void> {
    this.#physical.set(arc.id, arc)
    for (let attempt = 0; attempt < MAIN_ARC_ATTEMPTS; attempt++) {
      if (this.#physical.get(arc.id) !== arc) return
      try {
        if (attempt > 0) await new Promise<void>(resolve => this.#p.clock.setTimer(MAIN_ARC_RETRY_MS * 2 ** (attempt - 1), resolve))
        if (this.#physical.get(arc.id) !== arc) return
        const reply = await this.#request(arc, { v: 1, kind: 'identity_main' })
        if (reply === undefined || !identityMainReply.is(reply)) throw new IdentityError(`bad answer to identity_main: ${reply?.kind ?? 'none'}`)
        if (this.#physical.get(arc.id) !== arc) return
        const peerId = (reply as IdentityMainReply).id
        // the main identity answers on the NIC itself: its identity list must say so too (one answer naming another
        // identity would leave an identity-arc to nobody, which nothing removes while the link lives). The list is
        // refused until the neighbour has made the arc on its side too: asked again a moment later.
        const doubt = await this.#verify(arc, [{ id: peerId, mac: arc.peerMac, linkLocal: arc.peerLinkLocal }])
        if (doubt !== null) { this.#unverified(arc, `identity_main_reply naming ${peerId}`, doubt); continue }
        if (this.#physical.get(arc.id) !== arc) return
        this.#addIdentityArc(this.#mainId, arc, peerId, arc.peerMac, arc.peerLinkLocal)
        return
      } catch (e) {
        this.stats.requestsFailed++
        this.#log(`identity_main over ${arc.id}: ${(e as Error).message}`)
      }
    }
  }

  /**
   * Every physical arc carries an identity-arc between the two main identities (§6.1). Two neighbours that moved at
   * the same time in different operations (each entering or migrating on its own) may each have matched the other's
   * old identity only: this asks each neighbour for its main identity now and adds the identity-arc that is missing
   * (the neighbour adds its side). Returns the identity-arcs added.
   */
  async ensureMainArcs (): Promise<IdentityArc[]> {
    const added: IdentityArc[] = []
    await Promise.all([...this.#physical.values()].map(async arc => {
      try {
        const reply = await this.#request(arc, { v: 1, kind: 'identity_main' })
        if (reply === undefined || !identityMainReply.is(reply) || this.#physical.get(arc.id) !== arc) return
        const peerId = (reply as IdentityMainReply).id
        const main = this.#identities.get(this.#mainId)
        if (main === undefined || [...main.arcs.values()].some(a => a.arcId === arc.id && a.peerId === peerId)) return
        added.push(await this.addIdentityArc(main.id, arc.id, peerId))
      } catch (e) {
        this.stats.requestsFailed++
        this.#log(`main identity-arc over ${arc.id}: ${(e as Error).message}`)
      }
    }))
    return added
  }

  /**
   * Identity-arcs are changing on their own: a duplication announced within `withinMs` has not returned yet, or a
   * neighbour's claim is being checked (the audit waits rather than race them).
   */
  changing (withinMs: number): boolean {
    if (this.#verifying > 0) return true
    const now = this.#p.clock.now()
    for (const d of this.#pending.values()) if (d.returned !== true && now - d.preparedAt < withinMs) return true
    return false
  }

  /** The physical arcs (Neighborhood's) identity-arcs are made over. */
  physicalArcs (): PhysicalArc[] { return [...this.#physical.values()] }

  /** The identities the neighbour over physical arc `arcId` lists now (ids; its main one's); null when it did not answer. */
  async peerIdentities (arcId: string): Promise<{ ids: Set<string>, mainId: string | null } | null> {
    const arc = this.#physical.get(arcId)
    if (arc === undefined) return null
    try {
      const list = await this.#request(arc, { v: 1, kind: 'identity_list' })
      if (list === undefined || !identityListReply.is(list) || this.#physical.get(arcId) !== arc) return null
      const listed = (list as IdentityListReply).identities
      return { ids: new Set(listed.map(p => p.id)), mainId: listed.find(p => p.netns === '')?.id ?? null }
    } catch (e) {
      this.stats.requestsFailed++
      this.#log(`identity_list over ${arcId}: ${(e as Error).message}`)
      return null
    }
  }

  /** Drops an identity-arc whose peer identity no longer exists, without telling the neighbour (nobody to tell). */
  forgetIdentityArc (id: string, identityArcId: string): void {
    const r = this.#identities.get(id)
    const ia = r?.arcs.get(identityArcId)
    if (r === undefined || ia === undefined) return
    this.#log(`identity ${r.index}: identity-arc ${ia.id} forgotten (the neighbour has no identity ${ia.peerId} any more)`)
    this.#removeIdentityArc(r, ia)
  }

  /** The arc is gone: every identity-arc over it goes too. */
  removeArc (arcId: string): void {
    this.#physical.delete(arcId)
    for (const r of this.#identities.values()) {
      for (const ia of [...r.arcs.values()]) if (ia.arcId === arcId) this.#removeIdentityArc(r, ia)
    }
  }

  /**
   * Adds an identity-arc between my identity `id` and the neighbour's identity named `peerRef` (its NodeID or its
   * namespace name) over physical arc `arcId`; the neighbour adds its side.
   */
  async addIdentityArc (id: string, arcId: string, peerRef: string, o: { qspn?: boolean, unlessDuplicating?: boolean } = {}): Promise<IdentityArc> {
    const r = this.#get(id)
    const arc = this.#physical.get(arcId)
    if (arc === undefined) throw new IdentityError(`no arc ${arcId}`)
    // a duplication that starts while we ask moves identity-arcs itself: one made across it could clash with them
    const duplications = this.#duplications
    const meanwhile = (): void => { if (o.unlessDuplicating === true && this.#duplications !== duplications) throw new IdentityError('a duplication started meanwhile') }
    const list = await this.#request(arc, { v: 1, kind: 'identity_list' })
    meanwhile()
    if (list === undefined || !identityListReply.is(list)) throw new IdentityError(`neighbour on ${arcId} did not list its identities`)
    const peer = (list as IdentityListReply).identities.find(p => p.id === peerRef || (p.netns !== '' && p.netns === peerRef) || (peerRef === 'main' && p.netns === ''))
    if (peer === undefined) throw new IdentityError(`neighbour on ${arcId} has no identity ${peerRef}`)
    const mine = this.nicOf(r.id, arc.nic)
    if (mine === undefined) throw new IdentityError(`identity ${r.index} has no NIC on ${arc.nic}`)
    const ack = await this.#request(arc, { v: 1, kind: 'identity_add_arc', fromId: r.id, toId: peer.id, fromMac: mine.mac, fromLinkLocal: mine.linkLocal, ...(o.qspn === true ? { qspn: true } : {}) })
    if (ack === undefined || !identityAck.is(ack) || !(ack as IdentityAck).ok) throw new IdentityError(`neighbour refused the identity-arc: ${(ack as IdentityAck | undefined)?.reason ?? 'no answer'}`)
    meanwhile()
    return this.#addIdentityArc(r.id, arc, peer.id, peer.mac, peer.linkLocal, o.qspn)
  }

  /** Removes an identity-arc of mine and tells the neighbour (best effort). */
  async removeIdentityArc (id: string, identityArcId: string): Promise<void> {
    const r = this.#get(id)
    const ia = r.arcs.get(identityArcId)
    if (ia === undefined) return
    this.#removeIdentityArc(r, ia)
    await this.#tellRemoved(ia)
  }

  // ---------------------------------------------------------------- duplication (§6.1)

  /** Announces that `oldId` will duplicate in `migrationId` (called on every system of the g-node that moves). */
  prepareAddIdentity (migrationId: number, oldId: string): void {
    this.#get(oldId)
    let markMoved = (): void => {}
    const moved = new Promise<void>(resolve => { markMoved = resolve })
    this.#pending.set(dupKey(migrationId, oldId), { migrationId, oldId, pairs: [], moved, markMoved, preparedAt: this.#p.clock.now() })
  }

  /**
   * Duplicates `oldId` (after `prepareAddIdentity` on every system of the moving g-node): a new identity takes over
   * its namespace and NICs; the old one moves to a new `ntkvN` namespace with pseudo-interfaces and keeps its
   * identity-arcs (neighbours are told its new MAC and link-local); the new one gets an identity-arc towards each
   * neighbour identity (its copy, when that one duplicated in the same migration). Returns the new identity.
   */
  async addIdentity (migrationId: number, oldId: string): Promise<Duplicated> {
    const dup = this.#pending.get(dupKey(migrationId, oldId))
    if (dup === undefined) throw new IdentityError(`add_identity ${oldId} in migration ${migrationId} without prepare_add_identity`)
    if (dup.newId !== undefined) throw new IdentityError(`identity ${oldId} already duplicated in migration ${migrationId}`)
    const old = this.#get(oldId)
    this.#duplications++
    this.events.emit('identity_moving', { identity: viewOf(old) })
    // The new identity takes the old one's place: namespace and NICs.
    const fresh = this.#record(this.#newId(), old.netns)
    for (const [real, nic] of old.pseudo) fresh.pseudo.set(real, nic)
    dup.newId = fresh.id
    if (old.id === this.#mainId) this.#mainId = fresh.id
    const ns = this.#freeNamespace()
    const moved: IdentityRecord = { ...old, netns: ns, pseudo: new Map(), arcs: old.arcs }
    for (const real of this.#p.realNics()) {
      const dev = `${ns}_${real}`
      if (dev.length > 15) throw new IdentityError(`pseudo-interface name ${dev} is longer than 15 characters (rename ${real})`)
      moved.pseudo.set(real, { dev, realDev: real, mac: this.#randomMac(), linkLocal: randomLinklocal(this.#p.random) })
    }
    this.#identities.set(old.id, moved)
    this.events.emit('identity_added', { identity: viewOf(fresh) })
    this.#log(`identity ${old.index} duplicated in migration ${migrationId}: ${fresh.index} takes ${old.netns === '' ? 'the default namespace' : old.netns}, ${old.index} moves to ${ns}`)
    // From here on the duplication has happened (the new identity holds the old one's place): nothing below may
    // throw, or the caller would take it back half done (an old identity moved to its namespace with an all-real
    // address, which no kernel state can be made for). A step that fails is logged and counted; the arc audit
    // repairs an identity-arc left out of step.
    // The namespace, its pseudo-interfaces and the host routes of the old identity's arcs exist before anybody
    // is told to use them.
    await this.#p.syncKernel()
    // its sockets: requests to and from the pseudo-interfaces' link-locals, inside the new namespace
    for (const nic of moved.pseudo.values()) await this.#attachPseudo(nic, ns)
    dup.markMoved()
    await Promise.all([...moved.arcs.values()].map(async w0 => {
      try {
        await this.#matchWithNeighbour(dup, moved, fresh, w0)
      } catch (e) {
        this.stats.duplicationSteps++
        this.#log(`duplication in migration ${migrationId}: matching identity-arc ${w0.id}: ${(e as Error).message}`)
      }
    }))
    // the host routes of the arcs that changed or appeared exist before anybody talks over them
    await this.#p.syncKernel()
    dup.returned = true
    return { identity: viewOf(fresh), pairs: [...dup.pairs] }
  }

  /**
   * Attaches a pseudo-interface's sockets; the namespace may not be there yet when a kernel apply failed (it is
   * tried again soon), so a failure is retried after another apply, PSEUDO_ATTACH_ATTEMPTS times in all.
   */
  async #attachPseudo (nic: HandledNic, ns: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#p.transport.attachNic({ name: nic.dev, linklocal: nic.linkLocal, parent: nic.realDev, netns: ns })
        return
      } catch (e) {
        this.#log(`attach ${nic.dev} (attempt ${attempt} of ${PSEUDO_ATTACH_ATTEMPTS}): ${(e as Error).message}`)
        if (attempt >= PSEUDO_ATTACH_ATTEMPTS) { this.stats.duplicationSteps++; return }
        await new Promise<void>(resolve => this.#p.clock.setTimer(250 * attempt, resolve))
        await this.#p.syncKernel()
      }
    }
  }

  /**
   * Removes identity `id` (never the main one): its identity-arcs go (neighbours are told), then the identity;
   * its namespace and pseudo-interfaces leave the desired kernel state with it.
   */
  async removeIdentity (id: string): Promise<void> {
    const r = this.#get(id)
    if (r.id === this.#mainId) throw new IdentityError('the main identity cannot be removed')
    const arcs = [...r.arcs.values()]
    for (const ia of arcs) this.#removeIdentityArc(r, ia)
    await Promise.all(arcs.map(async ia => await this.#tellRemoved(ia)))
    // its sockets go before its namespace's name is free again
    for (const nic of r.pseudo.values()) await this.#p.transport.detachNic(nic.dev).catch(e => { this.#log(`detach ${nic.dev}: ${(e as Error).message}`) })
    this.#identities.delete(id)
    for (const [k, d] of this.#pending) if (d.oldId === id || d.newId === id) this.#pending.delete(k)
    this.events.emit('identity_removed', { identity: viewOf(r) })
    this.#log(`identity ${r.index} removed (${r.netns === '' ? 'default namespace' : r.netns})`)
  }

  async #matchWithNeighbour (dup: Duplication, old: IdentityRecord, fresh: IdentityRecord, w0: IdentityArc): Promise<void> {
    const arc = this.#physical.get(w0.arcId)
    const oldNic = old.pseudo.get(w0.realDev)
    if (arc === undefined || oldNic === undefined) return
    let reply: IdentityDuplication | undefined
    // the neighbour must learn where our old identity went and that a new one took its place, or its arcs to us
    // stay wrong for good: a lost request (a busy neighbour, a dropped connection) is tried again
    for (let attempt = 1; attempt <= MATCH_ATTEMPTS; attempt++) {
      try {
        const r = await this.#request(arc, {
          v: 1, kind: 'identity_match_duplication', migrationId: dup.migrationId, oldId: old.id, newId: fresh.id, peerId: w0.peerId, oldMac: oldNic.mac, oldLinkLocal: oldNic.linkLocal
        } satisfies IdentityMatchDuplication)
        if (r !== undefined && identityDuplication.is(r)) reply = r as IdentityDuplication
        break
      } catch (e) {
        this.stats.requestsFailed++
        this.#log(`identity_match_duplication over ${arc.id} (attempt ${attempt} of ${MATCH_ATTEMPTS}): ${(e as Error).message}`)
        if (!this.#physical.has(arc.id)) return
      }
    }
    // the neighbour moves in this migration too but has not duplicated yet: the pair is made when it asks us
    if (reply?.peerPending === true) return
    const peerNew = reply?.peerNewId !== undefined && reply.peerOldMac !== undefined && reply.peerOldLinkLocal !== undefined
      ? { id: reply.peerNewId, mac: reply.peerOldMac, linkLocal: reply.peerOldLinkLocal }
      : null
    this.#applyMatch(dup, arc, old, fresh, w0.peerId, peerNew)
  }

  /**
   * One identity-arc w0 = old–peer over `arc` after my duplication old → fresh, once per pair whichever side
   * learns first. `peerNew`: the peer duplicated too (its new identity, and where its old one answers now).
   */
  #applyMatch (dup: Duplication, arc: PhysicalArc, old: IdentityRecord, fresh: IdentityRecord, peerOldId: string, peerNew: { id: string, mac: string, linkLocal: string } | null): void {
    const key = `${dup.migrationId}|${arc.id}|${old.id}|${peerOldId}`
    if (this.#matched.has(key)) return
    this.#matched.add(key)
    const w0 = [...old.arcs.values()].find(a => a.arcId === arc.id && a.peerId === peerOldId)
    if (w0 === undefined) return
    if (peerNew === null) {
      // The peer stayed: it keeps its arc to my old identity (now on a pseudo-interface) and gets one to the new.
      const w1 = this.#arcOfFresh(fresh, arc, peerOldId, w0.peerMac, w0.peerLinkLocal)
      dup.pairs.push({ oldArcId: w0.id, newArcId: w1.id, peerMoved: false })
      return
    }
    // Both moved: old–peerOld persists on both pseudo-interfaces, new–peerNew takes the NICs we had.
    this.#changeIdentityArc(old, w0, peerNew.mac, peerNew.linkLocal)
    const w1 = this.#arcOfFresh(fresh, arc, peerNew.id, w0.peerMac, w0.peerLinkLocal)
    dup.pairs.push({ oldArcId: w0.id, newArcId: w1.id, peerMoved: true })
  }

  /**
   * The new identity's identity-arc to `peerId` after a match. It may exist already on another MAC: the peer moved
   * in an operation of its own meanwhile and told us (its identity_match_duplication came first), which is newer
   * than what our old identity's arc says; that one is kept (lab 2x25: adding it again threw and undid the
   * duplication half way).
   */
  #arcOfFresh (fresh: IdentityRecord, arc: PhysicalArc, peerId: string, peerMac: string, peerLinkLocal: string): IdentityArc {
    const had = fresh.arcs.get(`${arc.id}#${peerId}`)
    if (had !== undefined && (had.peerMac !== peerMac.toUpperCase() || had.peerLinkLocal !== peerLinkLocal)) {
      this.#log(`identity-arc ${had.id} of identity ${fresh.index} is kept at ${had.peerMac} ${had.peerLinkLocal} (the match said ${peerMac} ${peerLinkLocal})`)
      return had
    }
    return this.#addIdentityArc(fresh.id, arc, peerId, peerMac, peerLinkLocal)
  }

  // ---------------------------------------------------------------- incoming requests

  async #receive (m: WireMessage, caller: CallerInfo): Promise<WireMessage | undefined> {
    if (!m.kind.startsWith('identity_') || caller.via !== 'unicast') return undefined
    const arc = [...this.#physical.values()].find(a => a.nic === caller.nic && a.peerLinkLocal === caller.source)
    if (identityMain.is(m)) return { v: 1, kind: 'identity_main_reply', id: this.#mainId } satisfies IdentityMainReply
    if (arc === undefined) { this.stats.rejected++; return ack(false, 'no arc with you') }
    if (identityList.is(m)) {
      const identities = [...this.#identities.values()].map(r => {
        const nic = this.nicOf(r.id, arc.nic)
        return nic === undefined ? null : { id: r.id, netns: r.netns, mac: nic.mac, linkLocal: nic.linkLocal }
      }).filter((x): x is { id: string, netns: string, mac: string, linkLocal: string } => x !== null)
      return { v: 1, kind: 'identity_list_reply', identities } satisfies IdentityListReply
    }
    if (identityMatchDuplication.is(m)) return await this.#onMatchDuplication(arc, m as IdentityMatchDuplication)
    if (identityAddArc.is(m)) return await this.#onAddArc(arc, m as IdentityAddArc)
    if (identityRemoveArc.is(m)) {
      const r = this.#identities.get(m.toId as string)
      const ia = r === undefined ? undefined : [...r.arcs.values()].find(a => a.arcId === arc.id && a.peerId === m.fromId)
      if (r === undefined || ia === undefined) return ack(true)
      this.#removeIdentityArc(r, ia)
      // every physical arc carries the identity-arc of the main identities (§6.1): one removed while the link lives
      // (a neighbour whose QSPN dropped it remakes it; an old request replayed would leave the two apart for good)
      // is asked for again a moment later
      if (r.id === this.#mainId && ia.peerMac === arc.peerMac.toUpperCase() && ia.peerLinkLocal === arc.peerLinkLocal) this.#remakeMainArcsLater()
      return ack(true)
    }
    return undefined
  }

  async #onMatchDuplication (arc: PhysicalArc, m: IdentityMatchDuplication): Promise<IdentityDuplication> {
    const dup = this.#pending.get(dupKey(m.migrationId, m.peerId))
    if (dup !== undefined) {
      // My identity m.peerId duplicates in the same migration: answer once it moved (waiting less than the asker's
      // own timeout); if it has not, say so, and the pair is made when it duplicates and asks in its turn.
      await withTimeout(dup.moved, (this.#p.timeoutMs ?? 10_000) / 2, this.#p.clock)
      const old = this.#identities.get(m.peerId)
      const fresh = dup.newId === undefined ? undefined : this.#identities.get(dup.newId)
      const oldNic = old?.pseudo.get(arc.nic)
      if (old === undefined || fresh === undefined || oldNic === undefined) return { v: 1, kind: 'identity_duplication', peerPending: true }
      // Their old identity now answers on its pseudo-interface: my arc old–theirs follows it (once their identity
      // list says so; if it does not, the pair is made when my identity asks them in its turn).
      const w = [...old.arcs.values()].find(a => a.arcId === arc.id && a.peerId === m.oldId)
      const key = `${m.migrationId}|${arc.id}|${old.id}|${m.oldId}`
      if (w !== undefined && !this.#matched.has(key)) {
        const what = `identity_match_duplication of ${m.oldId} \u2192 ${m.newId} in migration ${m.migrationId}`
        const moved: NicClaim = { id: m.oldId, mac: m.oldMac, linkLocal: m.oldLinkLocal }
        const taken: NicClaim = { id: m.newId, mac: w.peerMac, linkLocal: w.peerLinkLocal }
        if (clash(moved, taken)) { this.#refuseMatch(arc, what, 'it names no other identity or NIC'); return { v: 1, kind: 'identity_duplication', peerPending: true } }
        const doubt = await this.#verify(arc, [moved, taken])
        if (doubt !== null) { this.#refuseMatch(arc, what, doubt, true); return { v: 1, kind: 'identity_duplication', peerPending: true } }
        if (this.#matched.has(key) || old.arcs.get(w.id) !== w || this.#physical.get(arc.id) !== arc) return { v: 1, kind: 'identity_duplication', peerNewId: fresh.id, peerOldMac: oldNic.mac, peerOldLinkLocal: oldNic.linkLocal }
        this.#matched.add(key)
        const w1 = this.#arcOfFresh(fresh, arc, m.newId, w.peerMac, w.peerLinkLocal)
        this.#changeIdentityArc(old, w, m.oldMac, m.oldLinkLocal)
        const pair = { oldArcId: w.id, newArcId: w1.id, peerMoved: true }
        dup.pairs.push(pair)
        if (dup.returned === true) this.events.emit('late_arc_pair', { oldIdentityId: old.id, newIdentityId: fresh.id, pair })
        await this.#p.syncKernel()
      }
      return { v: 1, kind: 'identity_duplication', peerNewId: fresh.id, peerOldMac: oldNic.mac, peerOldLinkLocal: oldNic.linkLocal }
    }
    return await this.#onPeerDuplicated(arc, m)
  }

  /**
   * identity_add_arc: the neighbour's `fromId` on `fromMac`/`fromLinkLocal` wants an identity-arc with my `toId`. An
   * identity keeps its MAC and link-local on a NIC for its life (a duplication moves it with
   * identity_match_duplication): a request naming another for an identity-arc we have is refused, and a new one is
   * made only once the neighbour's identity list shows `fromId` on that NIC (else the neighbour's traffic would be
   * routed by a MAC that is not its own).
   */
  async #onAddArc (arc: PhysicalArc, m: IdentityAddArc): Promise<IdentityAck> {
    const claim: NicClaim = { id: m.fromId, mac: m.fromMac, linkLocal: m.fromLinkLocal }
    const existing = (): IdentityAck | undefined => {
      const r = this.#identities.get(m.toId)
      if (r === undefined) return ack(false, `no identity ${m.toId}`)
      const had = r.arcs.get(`${arc.id}#${m.fromId}`)
      if (had === undefined) return undefined
      if (onClaimedNic(had, claim)) return ack(true)
      this.stats.rejected++
      return ack(false, `identity-arc with ${m.fromId} exists on another MAC or link-local`)
    }
    const known = existing()
    if (known !== undefined) return known
    const doubt = await this.#verify(arc, [claim])
    if (doubt !== null) return ack(false, this.#unverified(arc, `identity_add_arc from ${m.fromId}`, doubt))
    // the arc, the identity or the identity-arc may have changed while the neighbour answered
    if (this.#physical.get(arc.id) !== arc) return ack(false, 'the arc is gone')
    const now = existing()
    if (now !== undefined) return now
    this.#addIdentityArc(m.toId, arc, m.fromId, m.fromMac, m.fromLinkLocal, m.qspn === true)
    return ack(true)
  }

  /**
   * identity_match_duplication when my identity `peerId` stays: the neighbour says its `oldId` (with which I have
   * identity-arc w over this arc) duplicated, that `newId` took the NIC `oldId` had and `oldId` answers on
   * `oldMac`/`oldLinkLocal` now. Then w follows `oldId` and an identity-arc to `newId` is added on the NIC `oldId`
   * had. Believed only when it fits what I know (another identity, another NIC) and the neighbour's identity list says
   * so; a request asked again after a lost reply finds both done and changes nothing.
   */
  async #onPeerDuplicated (arc: PhysicalArc, m: IdentityMatchDuplication): Promise<IdentityDuplication> {
    const none: IdentityDuplication = { v: 1, kind: 'identity_duplication' }
    const what = `identity_match_duplication of ${m.oldId} \u2192 ${m.newId} in migration ${m.migrationId}`
    const w = this.#identities.get(m.peerId)?.arcs.get(`${arc.id}#${m.oldId}`)
    if (w === undefined) return none
    const moved: NicClaim = { id: m.oldId, mac: m.oldMac, linkLocal: m.oldLinkLocal }
    const already = onClaimedNic(w, moved)
    // the NIC the old identity had, which the new one took
    const took = already ? (w.prevPeerMac === undefined || w.prevPeerLinkLocal === undefined ? undefined : { mac: w.prevPeerMac, linkLocal: w.prevPeerLinkLocal }) : { mac: w.peerMac, linkLocal: w.peerLinkLocal }
    const taken: NicClaim | undefined = took === undefined ? undefined : { id: m.newId, ...took }
    if (taken === undefined || clash(moved, taken)) return this.#refuseMatch(arc, what, 'it names no other identity or NIC')
    const w1 = (): IdentityArc | undefined => this.#identities.get(m.peerId)?.arcs.get(`${arc.id}#${m.newId}`)
    if (already) {
      // asked again after a lost reply: both done already. Otherwise a replay (the identity-arc to the new identity
      // was removed since): nothing to do again
      const had = w1()
      return had !== undefined && onClaimedNic(had, taken) ? none : this.#refuseMatch(arc, what, 'it was done before')
    }
    const had = w1()
    if (had !== undefined && !onClaimedNic(had, taken)) return this.#refuseMatch(arc, what, `an identity-arc with ${m.newId} exists on another NIC`)
    const doubt = await this.#verify(arc, [moved, taken])
    if (doubt !== null) return this.#refuseMatch(arc, what, doubt, true)
    // the identity-arc may have changed or gone while the neighbour answered (a copy of this request did it)
    const mine = this.#identities.get(m.peerId)
    if (this.#physical.get(arc.id) !== arc || mine === undefined || mine.arcs.get(w.id) !== w) return none
    if (w1() === undefined) this.#addIdentityArc(mine.id, arc, m.newId, taken.mac, taken.linkLocal)
    this.#changeIdentityArc(mine, w, moved.mac, moved.linkLocal)
    // the host route to the old identity's new link-local exists before the asker goes on
    await this.#p.syncKernel()
    return none
  }

  #refuseMatch (arc: PhysicalArc, what: string, why: string, verified = false): IdentityDuplication {
    if (verified) this.#unverified(arc, what, why)
    else { this.stats.rejected++; this.#log(`${what} over ${arc.id} refused: ${why}`) }
    return { v: 1, kind: 'identity_duplication' }
  }

  /**
   * Asks the neighbour on `arc` for its identity list and checks the claims against it: null when all hold, else
   * what does not.
   */
  async #verify (arc: PhysicalArc, claims: readonly NicClaim[]): Promise<string | null> {
    // the neighbour may be a step behind (still moving its identities, or not yet holding its side of the arc):
    // asked again after 100, 200 and 400 ms before the claim is refused
    let doubt = await this.#verifyOnce(arc, claims)
    for (let k = 0; doubt !== null && k < VERIFY_RETRIES && this.#physical.get(arc.id) === arc; k++) {
      await new Promise<void>(resolve => this.#p.clock.setTimer(100 * 2 ** k, resolve))
      doubt = await this.#verifyOnce(arc, claims)
    }
    return doubt
  }

  async #verifyOnce (arc: PhysicalArc, claims: readonly NicClaim[]): Promise<string | null> {
    this.#verifying++
    try {
      const list = await this.#request(arc, { v: 1, kind: 'identity_list' })
      if (list === undefined || !identityListReply.is(list)) return `no identity list (${list?.kind ?? 'no answer'})`
      const wrong = unconfirmed(list as IdentityListReply, claims)
      return wrong.length === 0 ? null : `its identity list has no ${wrong.map(c => `${c.id} on ${c.mac} ${c.linkLocal}`).join(', nor ')}`
    } catch (e) {
      this.stats.requestsFailed++
      return `identity_list failed: ${(e as Error).message}`
    } finally {
      this.#verifying--
    }
  }

  /** Counts and logs a claim refused after the check; the reason, for the answer. */
  #unverified (arc: PhysicalArc, what: string, why: string): string {
    this.stats.unverified++
    this.#log(`${what} over ${arc.id} refused: ${why}`)
    return `not confirmed by your identity list: ${why}`
  }

  // ---------------------------------------------------------------- bookkeeping

  #addIdentityArc (id: string, arc: PhysicalArc, peerId: string, peerMac: string, peerLinkLocal: string, qspn?: boolean): IdentityArc {
    const r = this.#get(id)
    const ia: IdentityArc = { id: `${arc.id}#${peerId}`, identityId: id, arcId: arc.id, realDev: arc.nic, peerId, peerMac: peerMac.toUpperCase(), peerLinkLocal }
    const had = r.arcs.get(ia.id)
    if (had !== undefined) {
      // only a confirmed duplication moves an identity-arc (#changeIdentityArc): never a request to add it again
      if (had.peerMac !== ia.peerMac || had.peerLinkLocal !== ia.peerLinkLocal) throw new IdentityError(`identity-arc ${ia.id} of identity ${r.index} exists at ${had.peerMac} ${had.peerLinkLocal}, not ${ia.peerMac} ${peerLinkLocal}`)
      return had
    }
    r.arcs.set(ia.id, ia)
    this.events.emit('identity_arc_added', qspn === true ? { arc: ia, qspn } : { arc: ia })
    return ia
  }

  #changeIdentityArc (r: IdentityRecord, ia: IdentityArc, peerMac: string, peerLinkLocal: string): void {
    const next: IdentityArc = { ...ia, peerMac: peerMac.toUpperCase(), peerLinkLocal, prevPeerMac: ia.peerMac, prevPeerLinkLocal: ia.peerLinkLocal }
    r.arcs.set(ia.id, next)
    this.events.emit('identity_arc_changed', { arc: next })
  }

  #removeIdentityArc (r: IdentityRecord, ia: IdentityArc): void {
    if (r.arcs.get(ia.id) === undefined) return
    this.events.emit('identity_arc_removing', { arc: ia })
    r.arcs.delete(ia.id)
    this.events.emit('identity_arc_removed', { arc: ia })
  }

  async #tellRemoved (ia: IdentityArc): Promise<void> {
    const arc = this.#physical.get(ia.arcId)
    if (arc === undefined) return
    try {
      await this.#request(arc, { v: 1, kind: 'identity_remove_arc', fromId: ia.identityId, toId: ia.peerId })
    } catch (e) {
      this.stats.requestsFailed++
      this.#log(`identity_remove_arc over ${arc.id}: ${(e as Error).message}`)
    }
  }

  async #request (arc: PhysicalArc, m: WireMessage): Promise<WireMessage | undefined> {
    return await this.#p.transport.unicast({ nic: arc.nic, linklocal: arc.peerLinkLocal }, m, { timeoutMs: this.#p.timeoutMs ?? 10_000 })
  }

  #record (id: string, netns: string): IdentityRecord {
    const r: IdentityRecord = { id, index: this.#nextIndex++, netns, pseudo: new Map(), arcs: new Map() }
    this.#identities.set(id, r)
    return r
  }

  #get (id: string): IdentityRecord {
    const r = this.#identities.get(id)
    if (r === undefined) throw new IdentityError(`no identity ${id}`)
    return r
  }

  #newId (): string {
    for (;;) {
      const id = Array.from({ length: 16 }, () => this.#p.random.int(16).toString(16)).join('')
      if (!this.#identities.has(id)) return id
    }
  }

  /**
   * A namespace for an identity that moves out of the way: ntkv0 .. ntkv9 in turn, skipping names in use (then
   * ntkv10 and up, if ever ten are in use at once). Reusing at once the name of an identity just removed let its
   * pseudo-interfaces' late detaches and kernel cleanup hit the new identity's ones of the same name (`ntkv0_eth4 is
   * not attached to the transport`, after a node's third migration in the lab). One digit keeps room for the real
   * NIC's name in the 15 characters of a pseudo-interface's.
   */
  #freeNamespace (): string {
    const used = new Set([...this.#identities.values()].map(r => r.netns))
    for (let tries = 0; tries < NAMESPACES_IN_TURN; tries++) {
      const name = `ntkv${this.#nextNamespace}`
      this.#nextNamespace = (this.#nextNamespace + 1) % NAMESPACES_IN_TURN
      if (!used.has(name)) return name
    }
    for (let n = NAMESPACES_IN_TURN; ; n++) if (!used.has(`ntkv${n}`)) return `ntkv${n}`
  }

  #randomMac (): string {
    const octets = [PSEUDO_MAC_FIRST_OCTET, ...Array.from({ length: 5 }, () => this.#p.random.int(256).toString(16).padStart(2, '0').toUpperCase())]
    return octets.join(':')
  }

  #log (line: string): void { this.#p.log?.(`identities: ${line}`) }
}

function viewOf (r: IdentityRecord): LocalIdentity { return { id: r.id, index: r.index, netns: r.netns } }
function dupKey (migrationId: number, oldId: string): string { return `${migrationId}|${oldId}` }
function ack (ok: boolean, reason?: string): IdentityAck { return reason === undefined ? { v: 1, kind: 'identity_ack', ok } : { v: 1, kind: 'identity_ack', ok, reason: reason.slice(0, 200) } }

async function withTimeout (p: Promise<void>, ms: number, clock: Clock): Promise<void> {
  let cancel = (): void => {}
  await Promise.race([p, new Promise<void>(resolve => { cancel = clock.setTimer(ms, resolve) })])
  cancel()
}
