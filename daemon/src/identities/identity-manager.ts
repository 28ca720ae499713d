import { compareStrings } from '../util/compare'
import type { PeerAddress } from '../transport'
import type { WireMessage } from '../wire'
import { TypedEvents } from '../neighborhood/events'
import { randomLinklocal } from '../neighborhood/linklocal'
import { ClaimCheck } from './claims'
import { dupKey, IdentityTable, matchKey, viewOf, type Duplication, type IdentityRecord } from './identity-table'
import { identityAck, identityDuplication, identityListReply, identityMainReply, type IdentityAck, type IdentityDuplication, type IdentityListReply, type IdentityMainReply, type IdentityMatchDuplication } from './messages'
import { NeighbourRequests } from './neighbour-requests'
import { IdentityError, type Duplicated, type HandledNic, type IdentityArc, type IdentityEvents, type IdentityManagerPorts, type LocalIdentity, type PhysicalArc } from './types'

/** How many times a new arc's neighbour is asked for its main identity (and its list), a moment apart. */
const MAIN_ARC_ATTEMPTS = 7
/** First pause before asking again (doubled each time: 100 ms … 3.2 s): the neighbour usually makes its side at once. */
const MAIN_ARC_RETRY_MS = 100
/** How many times a duplication's match request is sent to a neighbour before it is given up. */
const MATCH_ATTEMPTS = 3
/** Tries to attach a pseudo-interface of a duplication, a kernel apply before each retry. */
const PSEUDO_ATTACH_ATTEMPTS = 4

/**
 * The Identities module of a system (spec §6.1, a node module): the identities living in it, the identity-arcs
 * each has with the neighbours' identities, and duplication (`prepareAddIdentity` / `addIdentity`): the new
 * identity takes over the old one's namespace and NICs, the old one moves to a fresh `ntkvN` namespace with macvlan
 * pseudo-interfaces (random MAC and link-local), and every neighbour is told, so that arcs a0–b0 persist over the
 * new pseudo-interface and a1–b0 (or a1–b1 when b0 duplicated in the same migration) are added.
 *
 * This class holds the local operations; what they change lives in an IdentityTable, shared with NeighbourRequests,
 * which answers the neighbours' `identity_*` requests (their claims checked by a ClaimCheck).
 */
export class IdentityManager {
  readonly events = new TypedEvents<IdentityEvents>()
  /**
   * `rejected`: requests refused at once (no arc with the sender, an identity-arc claimed on another NIC than the one
   * we have); `unverified`: claims refused after the neighbour's own identity list did not bear them out.
   */
  readonly stats = { requestsFailed: 0, rejected: 0, unverified: 0, auditMainArcsMade: 0, auditArcsForgotten: 0, duplicationSteps: 0 }
  readonly #p: IdentityManagerPorts
  readonly #t: IdentityTable
  readonly #claims: ClaimCheck
  /** Duplications started so far (addIdentity). */
  #duplications = 0
  /** Cancels the pending remake of the main identity-arcs (#remakeMainArcsLater). */
  #cancelRemake: (() => void) | null = null
  #unsubscribe: () => void

  constructor (p: IdentityManagerPorts) {
    this.#p = p
    const log = (line: string): void => { this.#log(line) }
    this.#t = new IdentityTable(p, this.events, log)
    const live = (arc: PhysicalArc): boolean => this.#t.physical.get(arc.id) === arc
    this.#claims = new ClaimCheck({ clock: p.clock, request: async (arc, m) => await this.#request(arc, m), live, stats: this.stats, log })
    const requests = new NeighbourRequests(this.#t, this.#claims, {
      clock: p.clock,
      timeoutMs: p.timeoutMs ?? 10_000,
      syncKernel: async () => { await p.syncKernel() },
      remakeMainArcsLater: () => { this.#remakeMainArcsLater() },
      events: this.events,
      stats: this.stats,
      log
    })
    this.#unsubscribe = p.transport.onMessage(async (m, caller) => await requests.receive(m, caller))
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

  get mainId (): string { return this.#t.mainId }
  identities (): LocalIdentity[] { return [...this.#t.identities.values()].map(viewOf).sort((a, b) => a.index - b.index) }
  identity (id: string): LocalIdentity | undefined { const r = this.#t.identities.get(id); return r === undefined ? undefined : viewOf(r) }
  /** By NodeID, local index ("2") or namespace name. */
  find (ref: string): LocalIdentity | undefined {
    for (const r of this.#t.identities.values()) if (r.id === ref || String(r.index) === ref || (r.netns !== '' && r.netns === ref)) return viewOf(r)
    return undefined
  }

  /** The NICs the identity handles, per real NIC (real ones for the default namespace). */
  nicsOf (id: string): HandledNic[] { return this.#t.nicsOf(id) }
  nicOf (id: string, realDev: string): HandledNic | undefined { return this.#t.nicOf(id, realDev) }

  /** How many neighbours' claims are being checked now (their requests are answered once the check ends). */
  verifying (): number { return this.#claims.verifying }

  arcsOf (id: string): IdentityArc[] { return [...this.#t.get(id).arcs.values()].sort((a, b) => compareStrings(a.id, b.id)) }
  arcOf (id: string, arcId: string): IdentityArc | undefined { return this.#t.identities.get(id)?.arcs.get(arcId) }

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
    const r = this.#t.identities.get(id)
    if (r === undefined) return undefined
    const real = this.realDevOf(dev)
    for (const a of r.arcs.values()) if (a.peerId === peerId && a.realDev === real) return a
    return undefined
  }

  /** The real NIC a device is (itself), or is a pseudo-interface of. */
  realDevOf (dev: string): string {
    for (const r of this.#t.identities.values()) for (const n of r.pseudo.values()) if (n.dev === dev) return n.realDev
    return dev
  }

  // ---------------------------------------------------------------- physical arcs

  /** A new arc (Neighborhood): the main identity-arc is made with the neighbour's main identity (§6.1). */
  async addArc (arc: PhysicalArc): Promise<void> {
    this.#t.physical.set(arc.id, arc)
    for (let attempt = 0; attempt < MAIN_ARC_ATTEMPTS; attempt++) {
      if (this.#t.physical.get(arc.id) !== arc) return
      try {
        if (attempt > 0) await new Promise<void>(resolve => this.#p.clock.setTimer(MAIN_ARC_RETRY_MS * 2 ** (attempt - 1), resolve))
        if (this.#t.physical.get(arc.id) !== arc) return
        const reply = await this.#request(arc, { v: 1, kind: 'identity_main' })
        if (reply === undefined || !identityMainReply.is(reply)) throw new IdentityError(`bad answer to identity_main: ${reply?.kind ?? 'none'}`)
        if (this.#t.physical.get(arc.id) !== arc) return
        const peerId = (reply as IdentityMainReply).id
        // the main identity answers on the NIC itself: its identity list must say so too (one answer naming another
        // identity would leave an identity-arc to nobody, which nothing removes while the link lives). The list is
        // refused until the neighbour has made the arc on its side too: asked again a moment later.
        const doubt = await this.#claims.verify(arc, [{ id: peerId, mac: arc.peerMac, linkLocal: arc.peerLinkLocal }])
        if (doubt !== null) { this.#claims.unverified(arc, `identity_main_reply naming ${peerId}`, doubt); continue }
        if (this.#t.physical.get(arc.id) !== arc) return
        this.#t.addIdentityArc(this.#t.mainId, arc, peerId, arc.peerMac, arc.peerLinkLocal)
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
    await Promise.all([...this.#t.physical.values()].map(async arc => {
      try {
        const reply = await this.#request(arc, { v: 1, kind: 'identity_main' })
        if (reply === undefined || !identityMainReply.is(reply) || this.#t.physical.get(arc.id) !== arc) return
        const peerId = (reply as IdentityMainReply).id
        const main = this.#t.identities.get(this.#t.mainId)
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
    if (this.#claims.verifying > 0) return true
    const now = this.#p.clock.now()
    for (const d of this.#t.pending.values()) if (d.returned !== true && now - d.preparedAt < withinMs) return true
    return false
  }

  /** The physical arcs (Neighborhood's) identity-arcs are made over. */
  physicalArcs (): PhysicalArc[] { return [...this.#t.physical.values()] }

  /** The identities the neighbour over physical arc `arcId` lists now (ids; its main one's); null when it did not answer. */
  async peerIdentities (arcId: string): Promise<{ ids: Set<string>, mainId: string | null } | null> {
    const arc = this.#t.physical.get(arcId)
    if (arc === undefined) return null
    try {
      const list = await this.#request(arc, { v: 1, kind: 'identity_list' })
      if (list === undefined || !identityListReply.is(list) || this.#t.physical.get(arcId) !== arc) return null
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
    const r = this.#t.identities.get(id)
    const ia = r?.arcs.get(identityArcId)
    if (r === undefined || ia === undefined) return
    this.#log(`identity ${r.index}: identity-arc ${ia.id} forgotten (the neighbour has no identity ${ia.peerId} any more)`)
    this.#t.removeIdentityArc(r, ia)
  }

  /** The arc is gone: every identity-arc over it goes too. */
  removeArc (arcId: string): void {
    this.#t.physical.delete(arcId)
    for (const r of this.#t.identities.values()) {
      for (const ia of [...r.arcs.values()]) if (ia.arcId === arcId) this.#t.removeIdentityArc(r, ia)
    }
  }

  /**
   * Adds an identity-arc between my identity `id` and the neighbour's identity named `peerRef` (its NodeID or its
   * namespace name) over physical arc `arcId`; the neighbour adds its side.
   */
  async addIdentityArc (id: string, arcId: string, peerRef: string, o: { qspn?: boolean, unlessDuplicating?: boolean } = {}): Promise<IdentityArc> {
    const r = this.#t.get(id)
    const arc = this.#t.physical.get(arcId)
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
    return this.#t.addIdentityArc(r.id, arc, peer.id, peer.mac, peer.linkLocal, o.qspn)
  }

  /** Removes an identity-arc of mine and tells the neighbour (best effort). */
  async removeIdentityArc (id: string, identityArcId: string): Promise<void> {
    const r = this.#t.get(id)
    const ia = r.arcs.get(identityArcId)
    if (ia === undefined) return
    this.#t.removeIdentityArc(r, ia)
    await this.#tellRemoved(ia)
  }

  // ---------------------------------------------------------------- duplication (§6.1)

  /** Announces that `oldId` will duplicate in `migrationId` (called on every system of the g-node that moves). */
  prepareAddIdentity (migrationId: number, oldId: string): void {
    this.#t.get(oldId)
    let markMoved = (): void => {}
    const moved = new Promise<void>(resolve => { markMoved = resolve })
    this.#t.pending.set(dupKey(migrationId, oldId), { migrationId, oldId, pairs: [], moved, markMoved, preparedAt: this.#p.clock.now() })
  }

  /**
   * Duplicates `oldId` (after `prepareAddIdentity` on every system of the moving g-node): a new identity takes over
   * its namespace and NICs; the old one moves to a new `ntkvN` namespace with pseudo-interfaces and keeps its
   * identity-arcs (neighbours are told its new MAC and link-local); the new one gets an identity-arc towards each
   * neighbour identity (its copy, when that one duplicated in the same migration). Returns the new identity.
   */
  async addIdentity (migrationId: number, oldId: string): Promise<Duplicated> {
    const dup = this.#t.duplication(migrationId, oldId)
    if (dup === undefined) throw new IdentityError(`add_identity ${oldId} in migration ${migrationId} without prepare_add_identity`)
    if (dup.newId !== undefined) throw new IdentityError(`identity ${oldId} already duplicated in migration ${migrationId}`)
    const old = this.#t.get(oldId)
    // the new identity's id, and where the old one goes, checked before anything changes (random draws in the order
    // they always had)
    const freshId = this.#t.newId()
    const ns = this.#t.freeNamespace()
    const moved: IdentityRecord = { ...old, netns: ns, pseudo: new Map(), arcs: old.arcs }
    for (const real of this.#p.realNics()) {
      const dev = `${ns}_${real}`
      if (dev.length > 15) throw new IdentityError(`pseudo-interface name ${dev} is longer than 15 characters (rename ${real})`)
      moved.pseudo.set(real, { dev, realDev: real, mac: this.#t.randomMac(), linkLocal: randomLinklocal(this.#p.random) })
    }
    this.#duplications++
    this.events.emit('identity_moving', { identity: viewOf(old) })
    // The new identity takes the old one's place: namespace and NICs.
    const fresh = this.#t.record(freshId, old.netns)
    for (const [real, nic] of old.pseudo) fresh.pseudo.set(real, nic)
    dup.newId = fresh.id
    if (old.id === this.#t.mainId) this.#t.mainId = fresh.id
    this.#t.identities.set(old.id, moved)
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
    const r = this.#t.get(id)
    if (r.id === this.#t.mainId) throw new IdentityError('the main identity cannot be removed')
    const arcs = [...r.arcs.values()]
    for (const ia of arcs) this.#t.removeIdentityArc(r, ia)
    await Promise.all(arcs.map(async ia => await this.#tellRemoved(ia)))
    // its sockets go before its namespace's name is free again
    for (const nic of r.pseudo.values()) await this.#p.transport.detachNic(nic.dev).catch(e => { this.#log(`detach ${nic.dev}: ${(e as Error).message}`) })
    this.#t.identities.delete(id)
    for (const [k, d] of this.#t.pending) if (d.oldId === id || d.newId === id) this.#t.pending.delete(k)
    this.events.emit('identity_removed', { identity: viewOf(r) })
    this.#log(`identity ${r.index} removed (${r.netns === '' ? 'default namespace' : r.netns})`)
  }

  async #matchWithNeighbour (dup: Duplication, old: IdentityRecord, fresh: IdentityRecord, w0: IdentityArc): Promise<void> {
    const arc = this.#t.physical.get(w0.arcId)
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
        if (!this.#t.physical.has(arc.id)) return
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
    const key = matchKey(dup.migrationId, arc.id, old.id, peerOldId)
    if (this.#t.matched.has(key)) return
    this.#t.matched.add(key)
    const w0 = [...old.arcs.values()].find(a => a.arcId === arc.id && a.peerId === peerOldId)
    if (w0 === undefined) return
    if (peerNew === null) {
      // The peer stayed: it keeps its arc to my old identity (now on a pseudo-interface) and gets one to the new.
      const w1 = this.#t.arcOfFresh(fresh, arc, peerOldId, w0.peerMac, w0.peerLinkLocal)
      dup.pairs.push({ oldArcId: w0.id, newArcId: w1.id, peerMoved: false })
      return
    }
    // Both moved: old–peerOld persists on both pseudo-interfaces, new–peerNew takes the NICs we had.
    this.#t.changeIdentityArc(old, w0, peerNew.mac, peerNew.linkLocal)
    const w1 = this.#t.arcOfFresh(fresh, arc, peerNew.id, w0.peerMac, w0.peerLinkLocal)
    dup.pairs.push({ oldArcId: w0.id, newArcId: w1.id, peerMoved: true })
  }

  // ---------------------------------------------------------------- requests to the neighbours

  async #tellRemoved (ia: IdentityArc): Promise<void> {
    const arc = this.#t.physical.get(ia.arcId)
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

  #log (line: string): void { this.#p.log?.(`identities: ${line}`) }
}
