import type { WireMessage } from '../wire'
import type { PeersConfig } from './config'
import { hashOfKeyText, perfectTuple, type GnodeTuple } from './distance'
import { PeersDatabaseError, PeersGaveUpError, PeersNoParticipantsError } from './errors'
import { peersAskParticipants, peersForward, peersParticipant, CONTACT_KINDS } from './messages'
import { PeersCore, type PeerService, type PeersStats } from './core'
import { RequestClient, type ContactOptions, type ContactResult } from './client'
import { RequestForwarder } from './forwarder'
import { ParticipantMaps } from './participants'
import type { PeersPorts } from './ports'

/** How this identity came to be (§5.5): the first of a new network, or an entry/migration of a g-node. */
export interface PeersOrigin {
  /** The identity this one replaces (its PeerServices); absent for the first identity of a new network. */
  readonly previous?: PeerServices
  /** Level of the g-node that moved as a block (records of keys visible below it are copied from `previous`). */
  readonly guestGnodeLevel: number
  /** Level of the g-node formed anew around it (keys visible up to it start from their default record). */
  readonly newGnodeLevel: number
}

/** What `ntkctl peers` shows of one identity. */
export interface PeersView {
  readonly address: string
  readonly main: boolean
  readonly bootstrapComplete: boolean
  readonly services: ReadonlyArray<{ pId: number, optional: boolean, participating: boolean, requests: number, answered: number, failed: number, served: number, refused: number, latencyMsAvg: number | null, latencyMsMax: number | null }>
  readonly participants: ReadonlyArray<{ pId: number, gnodes: string[] }>
  readonly counters: Omit<PeersStats, 'byService'> & { pendingRequests: number, participantFloods: number, handlerFailures: number }
}

/**
 * PeerServices of one identity (§5): services by p_id, requests routed hop by hop to the servant H_t prescribes,
 * participant maps of optional services, the contact back to the client. Every identity forwards; only a main
 * identity with a complete bootstrap is client or servant. Databases and replicas sit on top (databases.ts).
 */
export class PeerServices {
  readonly core: PeersCore
  readonly origin: PeersOrigin
  readonly #client: RequestClient
  readonly #forwarder: RequestForwarder
  readonly participants: ParticipantMaps
  readonly #detach: Array<() => void> = []
  handlerFailures = 0

  constructor (readonly ports: PeersPorts, o: { config?: Partial<PeersConfig>, origin?: PeersOrigin } = {}) {
    this.core = new PeersCore(ports, o.config)
    this.origin = o.origin ?? { guestGnodeLevel: -1, newGnodeLevel: this.core.levels }
    this.#client = new RequestClient(this.core)
    this.#forwarder = new RequestForwarder(this.core)
    this.participants = new ParticipantMaps(this.core)
    this.core.participation = this.participants
    const prev = this.origin.previous
    if (prev !== undefined && this.origin.guestGnodeLevel >= 0) this.participants.copyFrom(prev.participants, this.origin.guestGnodeLevel)
    this.#detach.push(ports.neighbours.onMessage((arcId, m) => this.#onNeighbour(arcId, m)))
    this.#detach.push(ports.contactBack.onMessage(m => this.#onContact(m)))
  }

  get gsizes (): readonly number[] { return this.core.gsizes }
  get levels (): number { return this.core.levels }
  get naddr (): readonly number[] { return this.core.naddr }
  get stats (): PeersStats { return this.core.stats }

  /** Asks the current neighbours for their participant maps (call once the identity's arcs stand). */
  async start (): Promise<void> {
    await this.participants.askNeighbours(this.ports.neighbours.arcIds())
  }

  register (service: PeerService): void {
    if (this.core.services.has(service.pId)) throw new RangeError(`service ${service.pId} is already registered`)
    this.core.services.set(service.pId, service)
  }

  isRegistered (pId: number): boolean { return this.core.services.has(pId) }

  /** This identity serves pId no more (it became a connectivity identity); it still forwards. */
  unregister (pId: number): void {
    this.core.services.delete(pId)
    this.participants.stopParticipating(pId)
  }

  /** This identity takes part in optional service pId (the service must be registered). */
  participate (pId: number): void {
    const s = this.core.services.get(pId)
    if (s === undefined) throw new RangeError(`service ${pId} is not registered`)
    if (!s.optional) return
    this.participants.participate(pId)
  }

  /** The default h_p (§5.2): perfect_tuple of the key's text hash, level 0 first, all levels. */
  perfectTuple (keyText: string): number[] { return perfectTuple(this.gsizes, hashOfKeyText(this.gsizes, keyText)) }

  /** Sends a request to the servant of x̄ (see RequestClient.contactPeer). */
  async contactPeer (pId: number, xbar: readonly number[], request: unknown, o: ContactOptions): Promise<ContactResult> {
    return await this.#client.contactPeer(pId, xbar, request, o)
  }

  /**
   * Writes `request` on the next q servants of x̄ after this one (§5.5 begin_replica/next_replica): each contact
   * excludes this identity and the replicas already written. Returns the replicas reached (fewer when the g-node
   * has fewer participants).
   */
  async replicate (pId: number, xbar: readonly number[], request: unknown, o: { q?: number, timeoutExecMs: number }): Promise<GnodeTuple[]> {
    const q = o.q ?? this.core.cfg.replicas
    const done: GnodeTuple[] = []
    while (done.length < q && !this.core.stopped) {
      try {
        const r = await this.contactPeer(pId, xbar, request, { timeoutExecMs: o.timeoutExecMs, excludeMyself: true, exclude: done })
        done.push(r.respondant)
      } catch (e) {
        if (e instanceof PeersNoParticipantsError || e instanceof PeersDatabaseError || e instanceof PeersGaveUpError) break
        throw e
      }
    }
    return done
  }

  /** Whether this identity's map shows another participant of pId inside its own g-node of level `w`. */
  othersKnown (pId: number, w: number): boolean {
    const view = this.core.searchView(pId, this.core.services.get(pId)?.optional ?? false)
    for (let l = view.lowestLevel; l < w; l++) {
      for (const p of view.candidates(l)) if (p !== view.naddr[l]) return true
    }
    return false
  }

  view (): PeersView {
    const c = this.core
    const { byService, ...counters } = c.stats
    const ids = new Set([...c.services.keys(), ...byService.keys()])
    return {
      address: [...c.naddr].reverse().join('.'),
      main: c.isMain(),
      bootstrapComplete: c.ports.map.isBootstrapComplete(),
      services: [...ids].sort((a, b) => a - b).map(pId => {
        const s = c.serviceStats(pId)
        return {
          pId,
          optional: c.services.get(pId)?.optional ?? false,
          participating: c.isParticipating(pId),
          requests: s.requests,
          answered: s.answered,
          failed: s.failed,
          served: s.served,
          refused: s.refused,
          latencyMsAvg: s.answered === 0 ? null : Math.round(s.latencyMsTotal / s.answered * 10) / 10,
          latencyMsMax: s.answered === 0 ? null : s.latencyMsMax
        }
      }),
      participants: this.participants.list().map(p => ({ pId: p.pId, gnodes: p.gnodes.map(g => `(${g.lvl},${g.pos})`) })),
      counters: { ...counters, pendingRequests: this.#client.pending, participantFloods: this.participants.floods, handlerFailures: this.handlerFailures }
    }
  }

  stop (): void {
    this.core.stopped = true
    this.participants.stop()
    for (const d of this.#detach) d()
  }

  #onNeighbour (arcId: string, m: WireMessage): WireMessage | undefined {
    if (this.core.stopped) return undefined
    if (peersForward.is(m)) {
      if (!this.#forwarder.valid(m)) return undefined
      // acknowledged at once; routing goes on in the background (the sender does not wait for the servant)
      this.#forwarder.handle(arcId, m).catch(e => { this.handlerFailures++; this.core.log(`forward failed: ${(e as Error).message}`) })
      return undefined
    }
    if (peersParticipant.is(m) || peersAskParticipants.is(m)) return this.participants.handle(arcId, m)
    return undefined
  }

  #onContact (m: WireMessage): WireMessage | undefined {
    if (this.core.stopped || !CONTACT_KINDS.has(m.kind)) return undefined
    return this.#client.handleContact(m)
  }
}
