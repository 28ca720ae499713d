import type { TypedEvents } from '../neighborhood/events'
import type { CallerInfo } from '../transport'
import type { Clock } from '../util/clock'
import type { WireMessage } from '../wire'
import { clash, type ClaimCheck, type NicClaim, onClaimedNic } from './claims'
import { type IdentityTable, matchKey } from './identity-table'
import {
  identityAddArc, identityList, identityMain, identityMatchDuplication, identityRemoveArc,
  type IdentityAck, type IdentityAddArc, type IdentityDuplication, type IdentityListReply, type IdentityMainReply, type IdentityMatchDuplication
} from './messages'
import type { IdentityArc, IdentityEvents, PhysicalArc } from './types'

/** What the answers to the neighbours use of the Identities module beyond its table and claim check. */
export interface NeighbourRequestsPorts {
  readonly clock: Clock
  /** The requests' timeout (ms): a neighbour asking waits this long for an answer. */
  readonly timeoutMs: number
  /** Makes the kernel hold the identities' namespaces, pseudo-interfaces and host routes now. */
  readonly syncKernel: () => Promise<void>
  /** Asks the neighbours for the main identity-arcs again a moment later (IdentityManager.ensureMainArcs). */
  readonly remakeMainArcsLater: () => void
  readonly events: TypedEvents<IdentityEvents>
  readonly stats: { rejected: number }
  readonly log: (line: string) => void
}

/**
 * The neighbour-facing side of the Identities module: the `identity_*` requests neighbours send over a physical arc
 * (their main identity, their identity list, identity-arcs added or removed, a duplication to match). What would
 * move or add identity-arcs is believed only once the neighbour's own identity list bears it out (ClaimCheck).
 */
export class NeighbourRequests {
  readonly #t: IdentityTable
  readonly #claims: ClaimCheck
  readonly #ports: NeighbourRequestsPorts

  constructor (table: IdentityTable, claims: ClaimCheck, ports: NeighbourRequestsPorts) {
    this.#t = table
    this.#claims = claims
    this.#ports = ports
  }

  /** The answer to an `identity_*` unicast from a neighbour; undefined for any other message (another module's). */
  async receive (m: WireMessage, caller: CallerInfo): Promise<WireMessage | undefined> {
    if (!m.kind.startsWith('identity_') || caller.via !== 'unicast') return undefined
    const arc = [...this.#t.physical.values()].find(a => a.nic === caller.nic && a.peerLinkLocal === caller.source)
    if (identityMain.is(m)) return { v: 1, kind: 'identity_main_reply', id: this.#t.mainId } satisfies IdentityMainReply
    if (arc === undefined) { this.#ports.stats.rejected++; return ack(false, 'no arc with you') }
    if (identityList.is(m)) {
      const identities = [...this.#t.identities.values()].map(r => {
        const nic = this.#t.nicOf(r.id, arc.nic)
        return nic === undefined ? null : { id: r.id, netns: r.netns, mac: nic.mac, linkLocal: nic.linkLocal }
      }).filter((x): x is { id: string, netns: string, mac: string, linkLocal: string } => x !== null)
      return { v: 1, kind: 'identity_list_reply', identities } satisfies IdentityListReply
    }
    if (identityMatchDuplication.is(m)) return await this.#onMatchDuplication(arc, m as IdentityMatchDuplication)
    if (identityAddArc.is(m)) return await this.#onAddArc(arc, m as IdentityAddArc)
    if (identityRemoveArc.is(m)) {
      const r = this.#t.identities.get(m.toId as string)
      const ia = r === undefined ? undefined : [...r.arcs.values()].find(a => a.arcId === arc.id && a.peerId === m.fromId)
      if (r === undefined || ia === undefined) return ack(true)
      this.#t.removeIdentityArc(r, ia)
      // every physical arc carries the identity-arc of the main identities (§6.1): one removed while the link lives
      // (a neighbour whose QSPN dropped it remakes it; an old request replayed would leave the two apart for good)
      // is asked for again a moment later
      if (r.id === this.#t.mainId && ia.peerMac === arc.peerMac.toUpperCase() && ia.peerLinkLocal === arc.peerLinkLocal) this.#ports.remakeMainArcsLater()
      return ack(true)
    }
    return undefined
  }

  /**
   * identity_match_duplication: the neighbour's identity `oldId` duplicated. When my identity `peerId` duplicates
   * in the same migration, the pair is made here (whichever side asks first); else see #onPeerDuplicated.
   */
  async #onMatchDuplication (arc: PhysicalArc, m: IdentityMatchDuplication): Promise<IdentityDuplication> {
    const dup = this.#t.duplication(m.migrationId, m.peerId)
    if (dup !== undefined) {
      // My identity m.peerId duplicates in the same migration: answer once it moved (waiting less than the asker's
      // own timeout); if it has not, say so, and the pair is made when it duplicates and asks in its turn.
      await withTimeout(dup.moved, this.#ports.timeoutMs / 2, this.#ports.clock)
      const old = this.#t.identities.get(m.peerId)
      const fresh = dup.newId === undefined ? undefined : this.#t.identities.get(dup.newId)
      const oldNic = old?.pseudo.get(arc.nic)
      if (old === undefined || fresh === undefined || oldNic === undefined) return { v: 1, kind: 'identity_duplication', peerPending: true }
      // Their old identity now answers on its pseudo-interface: my arc old–theirs follows it (once their identity
      // list says so; if it does not, the pair is made when my identity asks them in its turn).
      const w = [...old.arcs.values()].find(a => a.arcId === arc.id && a.peerId === m.oldId)
      const key = matchKey(m.migrationId, arc.id, old.id, m.oldId)
      if (w !== undefined && !this.#t.matched.has(key)) {
        const what = `identity_match_duplication of ${m.oldId} \u2192 ${m.newId} in migration ${m.migrationId}`
        const moved: NicClaim = { id: m.oldId, mac: m.oldMac, linkLocal: m.oldLinkLocal }
        const taken: NicClaim = { id: m.newId, mac: w.peerMac, linkLocal: w.peerLinkLocal }
        if (clash(moved, taken)) { this.#refuseMatch(arc, what, 'it names no other identity or NIC'); return { v: 1, kind: 'identity_duplication', peerPending: true } }
        const doubt = await this.#claims.verify(arc, [moved, taken])
        if (doubt !== null) { this.#refuseMatch(arc, what, doubt, true); return { v: 1, kind: 'identity_duplication', peerPending: true } }
        if (this.#t.matched.has(key) || old.arcs.get(w.id) !== w || this.#t.physical.get(arc.id) !== arc) return { v: 1, kind: 'identity_duplication', peerNewId: fresh.id, peerOldMac: oldNic.mac, peerOldLinkLocal: oldNic.linkLocal }
        this.#t.matched.add(key)
        const w1 = this.#t.arcOfFresh(fresh, arc, m.newId, w.peerMac, w.peerLinkLocal)
        this.#t.changeIdentityArc(old, w, m.oldMac, m.oldLinkLocal)
        const pair = { oldArcId: w.id, newArcId: w1.id, peerMoved: true }
        dup.pairs.push(pair)
        if (dup.returned === true) this.#ports.events.emit('late_arc_pair', { oldIdentityId: old.id, newIdentityId: fresh.id, pair })
        await this.#ports.syncKernel()
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
      const r = this.#t.identities.get(m.toId)
      if (r === undefined) return ack(false, `no identity ${m.toId}`)
      const had = r.arcs.get(`${arc.id}#${m.fromId}`)
      if (had === undefined) return undefined
      if (onClaimedNic(had, claim)) return ack(true)
      this.#ports.stats.rejected++
      return ack(false, `identity-arc with ${m.fromId} exists on another MAC or link-local`)
    }
    const known = existing()
    if (known !== undefined) return known
    const doubt = await this.#claims.verify(arc, [claim])
    if (doubt !== null) return ack(false, this.#claims.unverified(arc, `identity_add_arc from ${m.fromId}`, doubt))
    // the arc, the identity or the identity-arc may have changed while the neighbour answered
    if (this.#t.physical.get(arc.id) !== arc) return ack(false, 'the arc is gone')
    const now = existing()
    if (now !== undefined) return now
    this.#t.addIdentityArc(m.toId, arc, m.fromId, m.fromMac, m.fromLinkLocal, m.qspn === true)
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
    const w = this.#t.identities.get(m.peerId)?.arcs.get(`${arc.id}#${m.oldId}`)
    if (w === undefined) return none
    const moved: NicClaim = { id: m.oldId, mac: m.oldMac, linkLocal: m.oldLinkLocal }
    const already = onClaimedNic(w, moved)
    // the NIC the old identity had, which the new one took
    const took = already ? (w.prevPeerMac === undefined || w.prevPeerLinkLocal === undefined ? undefined : { mac: w.prevPeerMac, linkLocal: w.prevPeerLinkLocal }) : { mac: w.peerMac, linkLocal: w.peerLinkLocal }
    const taken: NicClaim | undefined = took === undefined ? undefined : { id: m.newId, ...took }
    if (taken === undefined || clash(moved, taken)) return this.#refuseMatch(arc, what, 'it names no other identity or NIC')
    const w1 = (): IdentityArc | undefined => this.#t.identities.get(m.peerId)?.arcs.get(`${arc.id}#${m.newId}`)
    if (already) {
      // asked again after a lost reply: both done already. Otherwise a replay (the identity-arc to the new identity
      // was removed since): nothing to do again
      const had = w1()
      return had !== undefined && onClaimedNic(had, taken) ? none : this.#refuseMatch(arc, what, 'it was done before')
    }
    const had = w1()
    if (had !== undefined && !onClaimedNic(had, taken)) return this.#refuseMatch(arc, what, `an identity-arc with ${m.newId} exists on another NIC`)
    const doubt = await this.#claims.verify(arc, [moved, taken])
    if (doubt !== null) return this.#refuseMatch(arc, what, doubt, true)
    // the identity-arc may have changed or gone while the neighbour answered (a copy of this request did it)
    const mine = this.#t.identities.get(m.peerId)
    if (this.#t.physical.get(arc.id) !== arc || mine === undefined || mine.arcs.get(w.id) !== w) return none
    if (w1() === undefined) this.#t.addIdentityArc(mine.id, arc, m.newId, taken.mac, taken.linkLocal)
    this.#t.changeIdentityArc(mine, w, moved.mac, moved.linkLocal)
    // the host route to the old identity's new link-local exists before the asker goes on
    await this.#ports.syncKernel()
    return none
  }

  /** Counts and logs a match refused (after the check, or at once); the empty answer. */
  #refuseMatch (arc: PhysicalArc, what: string, why: string, verified = false): IdentityDuplication {
    if (verified) this.#claims.unverified(arc, what, why)
    else { this.#ports.stats.rejected++; this.#ports.log(`${what} over ${arc.id} refused: ${why}`) }
    return { v: 1, kind: 'identity_duplication' }
  }
}

function ack (ok: boolean, reason?: string): IdentityAck { return reason === undefined ? { v: 1, kind: 'identity_ack', ok } : { v: 1, kind: 'identity_ack', ok, reason: reason.slice(0, 200) } }

async function withTimeout (p: Promise<void>, ms: number, clock: Clock): Promise<void> {
  let cancel = (): void => {}
  await Promise.race([p, new Promise<void>(resolve => { cancel = clock.setTimer(ms, resolve) })])
  cancel()
}
