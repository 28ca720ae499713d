import type { CancelTimer, Clock } from '../util/clock'
import type { Random } from '../util/random'
import type { CallerInfo, Transport } from '../transport'
import type { WireMessage } from '../wire'
import { arcId, type Arc, type NicInfo } from './arc'
import { CarrierWatch, readCarrier, type CarrierChanges, type NicCarrier } from './carrier'
import { DEFAULT_MAX_ARCS, TIMER_PROFILES, type FixedCosts, type NeighborhoodTimers } from './config'
import { smoothCost, type CostState } from './cost'
import { TypedEvents, type NeighborhoodEvents } from './events'
import { randomLinklocal } from './linklocal'
import {
  canYouExport, canYouExportReply, hereIAm, nop, removeArc, requestArc,
  type CanYouExportReply, type NicEndpoint
} from './messages'

export interface NeighborhoodComponents {
  readonly transport: Transport
  readonly clock: Clock
  readonly random: Random
  /**
   * Makes the kernel match `desiredKernelContribution()` now. Awaited before any step that needs the address or
   * a host route in place (e.g. the TCP can_you_export right after adding the route to the requester).
   */
  readonly syncKernel?: () => Promise<void>
  /** Carrier of a managed NIC (e.g. `sysfsCarrier`); absent: arcs are judged by their probes alone. */
  readonly nicCarrier?: NicCarrier
  /** When NICs may have changed (e.g. `ipMonitorCarrierChanges`): their carrier is read at once, the poll slows tenfold. */
  readonly carrierChanges?: CarrierChanges
}

export interface NeighborhoodInit {
  readonly nics: readonly NicInfo[]
  /** NodeID of the system; random (from the Random port) when omitted. */
  readonly nodeId?: string
  readonly timers?: NeighborhoodTimers
  readonly maxArcs?: number
  readonly fixedCosts?: FixedCosts
  /** Fixed link-local per NIC name (to replay documented values); a NIC not listed gets a random one. */
  readonly linkLocals?: Readonly<Record<string, string>>
}

/** Kernel effects as data (DESIGN §3): the lead merges this into the kernel port's desired state. */
export interface NeighborhoodKernelContribution {
  /** `ip address add <address> dev <dev>` (no prefix: /32). */
  readonly addresses: ReadonlyArray<{ readonly dev: string, readonly address: string }>
  /** `ip route add <dst> dev <dev> src <src>` in table main, with the daemon's protocol tag. */
  readonly hostRoutes: ReadonlyArray<{ readonly dst: string, readonly dev: string, readonly src: string }>
}

export class NicConflictError extends Error {
  constructor (readonly nic: NicInfo, readonly existing: NicInfo) {
    super(`start_monitor ${nic.name} (${nic.mac}): conflicts with monitored NIC ${existing.name} (${existing.mac})`)
    this.name = 'NicConflictError'
  }
}

/** A nop probe for an arc this system does not have (or not with that peer): the requester's probe fails. */
export class NopRefusedError extends Error {
  constructor (reason: string) {
    super(reason)
    this.name = 'NopRefusedError'
  }
}

/** Why a well-formed Neighborhood message was dropped. */
export type NeighborhoodIgnoreReason = 'unknown-nic' | 'stopping' | 'wrong-via' | 'not-for-us' | 'no-such-arc'

export interface NeighborhoodStats {
  /** Well-formed messages dropped, by reason (a nop refused counts as 'not-for-us' or 'no-such-arc'). */
  readonly ignored: Readonly<Record<NeighborhoodIgnoreReason, number>>
  /** Event listeners that threw (their errors are logged by the owner). */
  readonly listenerErrors: number
}

interface MonitoredNic { info: NicInfo, linklocal: string, cancelHereIAm: CancelTimer }
interface LiveArc {
  nic: string
  peer: NicEndpoint
  cost: CostState | undefined
  exposed: boolean
  removed: boolean
  /** Liveness probes failed in a row. */
  missed: number
  cancelMonitor: CancelTimer
}
interface PendingArc { nic: string, peer: NicEndpoint, cancelExpiry: CancelTimer }

/**
 * The Neighborhood of one system (spec §3): link-local per NIC, discovery with here_i_am / request_arc /
 * can_you_export, arcs with measured (or fixed) cost, liveness, removal. Owns its arcs; others read them through
 * `arcs()` and the typed events.
 */
export class Neighborhood {
  readonly nodeId: string
  readonly events = new TypedEvents<NeighborhoodEvents>()
  readonly #c: NeighborhoodComponents
  readonly #timers: NeighborhoodTimers
  readonly #maxArcs: number
  readonly #fixed: FixedCosts
  readonly #linkLocals: Readonly<Record<string, string>>
  readonly #initialNics: readonly NicInfo[]
  readonly #nics = new Map<string, MonitoredNic>()
  readonly #arcs = new Map<string, LiveArc>()
  readonly #pending = new Map<string, PendingArc>()
  #unsubscribe: (() => void) | undefined
  #carrierWatch: CarrierWatch | undefined
  #stopping = false
  readonly #ignored: Record<NeighborhoodIgnoreReason, number> = { 'unknown-nic': 0, stopping: 0, 'wrong-via': 0, 'not-for-us': 0, 'no-such-arc': 0 }

  constructor (components: NeighborhoodComponents, init: NeighborhoodInit) {
    this.#c = components
    this.#timers = init.timers ?? TIMER_PROFILES.default
    this.#maxArcs = init.maxArcs ?? DEFAULT_MAX_ARCS
    this.#fixed = init.fixedCosts ?? {}
    this.#linkLocals = init.linkLocals ?? {}
    this.#initialNics = init.nics
    this.nodeId = init.nodeId ?? Array.from({ length: 16 }, () => components.random.int(16).toString(16)).join('')
  }

  get stats (): NeighborhoodStats { return { ignored: { ...this.#ignored }, listenerErrors: this.events.listenerErrors } }

  on<K extends keyof NeighborhoodEvents> (event: K, fn: (p: NeighborhoodEvents[K]) => void): () => void {
    return this.events.on(event, fn)
  }

  /** Subscribes to the transport and starts monitoring the NICs given at construction. */
  async start (): Promise<void> {
    this.#unsubscribe ??= this.#c.transport.onMessage((m, caller) => this.#receive(m, caller))
    // every NIC gets its link-local first and one kernel apply puts them all in, then each announces itself at once
    // (one apply per NIC in turn delayed the last NIC's first here_i_am by the others' applies: 25 daemons starting
    // together on two cores take 0.1-0.5 s per apply)
    const attached: MonitoredNic[] = []
    for (const nic of this.#initialNics) { const m = await this.#attach(nic); if (m !== undefined) attached.push(m) }
    if (attached.length > 0) await this.#sync()
    for (const m of attached) this.#announce(m)
    const carrier = this.#c.nicCarrier
    if (carrier !== undefined && this.#timers.carrierPollMs > 0) {
      this.#carrierWatch?.stop()
      this.#carrierWatch = new CarrierWatch({
        carrier, clock: this.#c.clock, pollMs: this.#timers.carrierPollMs, ...(this.#c.carrierChanges === undefined ? {} : { changes: this.#c.carrierChanges }),
        nics: () => [...this.#nics.keys()].filter(nic => [...this.#arcs.values()].some(a => a.nic === nic)),
        watched: nic => this.#nics.has(nic) && !this.#stopping,
        lost: async nic => { for (const arc of [...this.#arcs.values()]) if (arc.nic === nic) await this.#removeArc(arc, false) }
      })
      this.#carrierWatch.start()
    }
  }

  async stop (): Promise<void> {
    // From now on no arc is made: a neighbour that got our remove_arc and then heard us (here_i_am, or its own
    // here_i_am answered) would make a new arc with a system about to vanish, and keep it until its probes failed.
    this.#stopping = true
    for (const m of this.#nics.values()) m.cancelHereIAm()
    for (const p of this.#pending.values()) p.cancelExpiry()
    this.#pending.clear()
    this.#carrierWatch?.stop()
    // a graceful stop tells each neighbour (remove_arc), so it drops the arc now instead of after its probes fail
    while (this.#arcs.size > 0) await this.#removeArc(this.#arcs.values().next().value as LiveArc, true)
    for (const name of [...this.#nics.keys()]) await this.stopMonitor(name)
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
  }

  async startMonitor (nic: NicInfo): Promise<void> {
    const monitored = await this.#attach(nic)
    if (monitored === undefined) return
    await this.#sync()
    this.#announce(monitored)
  }

  /** Takes a NIC under watch with a link-local of its own (not yet in the kernel); undefined if it is already. */
  async #attach (nic: NicInfo): Promise<MonitoredNic | undefined> {
    for (const m of this.#nics.values()) {
      const sameName = m.info.name === nic.name
      const sameMac = m.info.mac.toUpperCase() === nic.mac.toUpperCase()
      if (sameName && sameMac) return undefined
      if (sameName || sameMac) throw new NicConflictError(nic, m.info)
    }
    const linklocal = this.#linkLocals[nic.name] ?? this.#freshLinklocal()
    const monitored: MonitoredNic = { info: nic, linklocal, cancelHereIAm: () => {} }
    this.#nics.set(nic.name, monitored)
    await this.#c.transport.attachNic({ name: nic.name, linklocal })
    this.events.emit('nic_address_set', { dev: nic.name, address: linklocal })
    return monitored
  }

  /**
   * A random link-local that no other NIC of this node holds or is configured to hold. Two NICs with one address
   * break the transport (a unicast is told apart by the address it arrived on, so the replies of one NIC's neighbour
   * were taken as the other NIC's and its arc flapped every few seconds; seen in the lab, about 1 node in 10,000).
   */
  #freshLinklocal (): string {
    const taken = new Set([...[...this.#nics.values()].map(m => m.linklocal), ...Object.values(this.#linkLocals)])
    for (;;) {
      const ll = randomLinklocal(this.#c.random)
      if (!taken.has(ll)) return ll
    }
  }

  /** here_i_am on the NIC now, then every hereIAmMs while the NIC is watched. */
  #announce (monitored: MonitoredNic): void {
    const name = monitored.info.name
    const announce = (): void => {
      if (this.#nics.get(name) !== monitored || this.#stopping) return
      this.#c.transport.broadcast(name, { v: 1, kind: hereIAm.kind, from: this.#me(name) }).catch(() => {})
      monitored.cancelHereIAm = this.#c.clock.setTimer(this.#timers.hereIAmMs, announce)
    }
    announce()
  }

  async stopMonitor (name: string): Promise<void> {
    const m = this.#nics.get(name)
    if (m === undefined) return
    for (const arc of [...this.#arcs.values()]) if (arc.nic === name) await this.#removeArc(arc, false)
    for (const [id, p] of this.#pending) if (p.nic === name) { p.cancelExpiry(); this.#pending.delete(id) }
    m.cancelHereIAm()
    this.#nics.delete(name)
    await this.#c.transport.detachNic(name)
    this.events.emit('nic_address_unset', { dev: name, address: m.linklocal })
    await this.#sync()
  }

  /** Current arcs, exposed or not yet measured. */
  arcs (): Arc[] { return [...this.#arcs.values()].map(a => this.#snapshot(a)) }

  /** Removes an arc on the administrator's request; the peer is told to remove it too. */
  async removeArc (id: string): Promise<void> {
    const arc = this.#arcs.get(id)
    if (arc !== undefined) await this.#removeArc(arc, true)
  }

  desiredKernelContribution (): NeighborhoodKernelContribution {
    const addresses = [...this.#nics.values()].map(m => ({ dev: m.info.name, address: m.linklocal }))
    const routes = new Map<string, { dst: string, dev: string, src: string }>()
    for (const a of [...this.#arcs.values(), ...this.#pending.values()]) {
      const src = this.#nics.get(a.nic)?.linklocal
      if (src !== undefined) routes.set(`${a.peer.linklocal} ${a.nic}`, { dst: a.peer.linklocal, dev: a.nic, src })
    }
    return { addresses, hostRoutes: [...routes.values()] }
  }

  // ---- protocol

  #receive (m: WireMessage, caller: CallerInfo): WireMessage | undefined | Promise<WireMessage | undefined> {
    const broadcast = caller.via === 'broadcast'
    const ours = hereIAm.is(m) || requestArc.is(m) || canYouExport.is(m) || nop.is(m) || removeArc.is(m)
    if (!ours) return undefined
    if (!this.#nics.has(caller.nic)) return this.#ignore('unknown-nic')
    if (this.#stopping && canYouExport.is(m)) return { v: 1, kind: canYouExportReply.kind, accept: false }
    if (this.#stopping && (hereIAm.is(m) || requestArc.is(m))) return this.#ignore('stopping')
    if (hereIAm.is(m)) {
      if (!broadcast) return this.#ignore('wrong-via')
      void this.#onHereIAm(caller.nic, m.from)
    } else if (requestArc.is(m)) {
      if (!broadcast) return this.#ignore('wrong-via')
      if (!this.#isMe(caller.nic, m.to)) return this.#ignore('not-for-us')
      void this.#onRequestArc(caller.nic, m.from)
    } else if (canYouExport.is(m)) {
      if (broadcast) return this.#ignore('wrong-via')
      if (!this.#isMe(caller.nic, m.to)) return this.#ignore('not-for-us')
      return this.#onCanYouExport(caller.nic, m.from, m.iCanExport)
    } else if (nop.is(m)) {
      if (broadcast) return this.#ignore('wrong-via')
      return this.#onNop(caller.nic, m.from, m.to)
    } else if (removeArc.is(m)) {
      if (!broadcast) return this.#ignore('wrong-via')
      if (!this.#isMe(caller.nic, m.to)) return this.#ignore('not-for-us')
      const arc = this.#arcs.get(arcId(caller.nic, m.from.mac))
      if (arc === undefined || arc.peer.nodeId !== m.from.nodeId) return this.#ignore('no-such-arc')
      void this.#removeArc(arc, false)
    }
    return undefined
  }

  #ignore (reason: NeighborhoodIgnoreReason): undefined {
    this.#ignored[reason]++
    return undefined
  }

  /** Step 2: a neighbour we have no arc with says hello: route to it, then ask for an arc on that NIC. */
  async #onHereIAm (nic: string, peer: NicEndpoint): Promise<void> {
    const id = arcId(nic, peer.mac)
    if (peer.nodeId === this.nodeId || this.#arcs.has(id) || this.#pending.has(id) || !this.#acceptable(nic, peer)) return
    this.#addPending(nic, peer)
    await this.#sync()
    if (this.#stopping) return
    await this.#c.transport.broadcast(nic, { v: 1, kind: requestArc.kind, from: this.#me(nic), to: peer }).catch(() => {})
  }

  /** Step 3: the requester already routes back to us; route to it and agree over TCP. */
  async #onRequestArc (nic: string, peer: NicEndpoint): Promise<void> {
    const id = arcId(nic, peer.mac)
    if (peer.nodeId === this.nodeId) return
    const held = this.#arcs.get(id)
    if (held !== undefined) {
      // The peer asks for an arc we hold: it dropped its side without us hearing of it (its remove_arc was lost).
      // Agree again, so that both sides hold it: left alone, its pending negotiation would answer our probes for
      // ever and the arc would stay half-open.
      if (held.peer.nodeId !== peer.nodeId || held.peer.linklocal !== peer.linklocal) return
    } else {
      if (!this.#acceptable(nic, peer)) return
      if (!this.#pending.has(id)) this.#addPending(nic, peer)
    }
    await this.#sync()
    let reply: WireMessage | undefined
    try {
      reply = await this.#c.transport.unicast({ nic, linklocal: peer.linklocal },
        { v: 1, kind: canYouExport.kind, from: this.#me(nic), to: peer, iCanExport: true },
        { timeoutMs: this.#timers.unicastTimeoutMs })
    } catch { reply = undefined }
    if (reply !== undefined && canYouExportReply.is(reply) && (reply as CanYouExportReply).accept) {
      // other negotiations may have filled max_arcs meanwhile, or we began to stop: then tell the peer to drop its side
      if (!this.#stopping && (this.#arcs.has(id) || this.#acceptable(nic, peer))) {
        this.#createArc(nic, peer)
        return
      }
      this.#dropPending(id)
      await this.#sync()
      await this.#c.transport.broadcast(nic, { v: 1, kind: removeArc.kind, from: this.#me(nic), to: peer }).catch(() => {})
    } else if (!this.#arcs.has(id)) {
      this.#dropPending(id)
      await this.#sync()
    }
  }

  async #onCanYouExport (nic: string, peer: NicEndpoint, theyCan: boolean): Promise<WireMessage> {
    const id = arcId(nic, peer.mac)
    const answer = (accept: boolean): WireMessage => ({ v: 1, kind: canYouExportReply.kind, accept })
    const existing = this.#arcs.get(id)
    if (existing !== undefined) return answer(existing.peer.nodeId === peer.nodeId)
    if (!theyCan || !this.#acceptable(nic, peer)) return answer(false)
    if (!this.#pending.has(id)) { this.#addPending(nic, peer); await this.#sync() }
    if (this.#stopping) return answer(false)
    this.#createArc(nic, peer)
    return answer(true)
  }

  /** Liveness probe: succeeds only if the arc (or its negotiation) still exists on our side, with that peer. */
  #onNop (nic: string, from: NicEndpoint, to: NicEndpoint): undefined {
    if (!this.#isMe(nic, to)) {
      this.#ignore('not-for-us')
      throw new NopRefusedError(`nop for ${to.nodeId}/${to.mac}, not for us`)
    }
    const id = arcId(nic, from.mac)
    const known = this.#arcs.get(id)?.peer ?? this.#pending.get(id)?.peer
    if (known?.nodeId !== from.nodeId) {
      this.#ignore('no-such-arc')
      throw new NopRefusedError(`nop from ${from.nodeId} on ${nic}: no such arc`)
    }
    return undefined
  }

  #createArc (nic: string, peer: NicEndpoint): void {
    const id = arcId(nic, peer.mac)
    if (this.#arcs.has(id)) return
    this.#pending.get(id)?.cancelExpiry()
    this.#pending.delete(id)
    const arc: LiveArc = { nic, peer, cost: undefined, exposed: false, removed: false, missed: 0, cancelMonitor: () => {} }
    this.#arcs.set(id, arc)
    arc.cancelMonitor = this.#c.clock.setTimer(0, () => { void this.#monitor(arc) })
  }

  /**
   * Step 4-5: time a nop round trip on the Clock. `missedProbes` failures in a row remove the arc (a failed probe
   * is retried at once), and so does one failure on a NIC without carrier.
   */
  async #monitor (arc: LiveArc): Promise<void> {
    if (arc.removed) return
    const t0 = this.#c.clock.now()
    try {
      await this.#c.transport.unicast({ nic: arc.nic, linklocal: arc.peer.linklocal },
        { v: 1, kind: nop.kind, from: this.#me(arc.nic), to: arc.peer }, { timeoutMs: this.#timers.unicastTimeoutMs })
    } catch {
      if (arc.removed) return
      arc.missed++
      if (arc.missed >= this.#timers.missedProbes || await this.#carrier(arc.nic) === false) await this.#removeArc(arc, false)
      else arc.cancelMonitor = this.#c.clock.setTimer(0, () => { void this.#monitor(arc) })
      return
    }
    if (arc.removed) return
    arc.missed = 0
    const fixed = this.#fixedCost(arc)
    let changed: boolean
    if (fixed !== undefined) {
      changed = arc.cost?.official !== fixed
      arc.cost = { stored: fixed, official: fixed }
    } else {
      const sampleUs = Math.max(1, Math.round((this.#c.clock.now() - t0) * 1000))
      const r = smoothCost(arc.cost, sampleUs)
      arc.cost = r.state
      changed = r.officialChanged
    }
    if (!arc.exposed) {
      arc.exposed = true
      this.events.emit('arc_added', this.#snapshot(arc))
    } else if (changed) {
      this.events.emit('arc_changed', this.#snapshot(arc))
    }
    arc.cancelMonitor = this.#c.clock.setTimer(this.#timers.monitorMs, () => { void this.#monitor(arc) })
  }

  /** Also without a watch (no poll configured) the carrier is read after a failed probe. */
  async #carrier (nic: string): Promise<boolean | undefined> { return await readCarrier(this.#c.nicCarrier, nic) }

  /** Step 6. */
  async #removeArc (arc: LiveArc, stillUsable: boolean): Promise<void> {
    if (arc.removed) return
    arc.removed = true
    arc.cancelMonitor()
    const snap = this.#snapshot(arc)
    if (arc.exposed) this.events.emit('arc_removing', { arc: snap, stillUsable })
    this.#arcs.delete(snap.id)
    await this.#sync()
    if (stillUsable && this.#nics.has(arc.nic)) {
      await this.#c.transport.broadcast(arc.nic, { v: 1, kind: removeArc.kind, from: this.#me(arc.nic), to: arc.peer }).catch(() => {})
    }
    this.events.emit('arc_removed', snap)
  }

  /** max_arcs and the rule on multiple arcs: a second arc to the same system only over two other NICs. */
  #acceptable (nic: string, peer: NicEndpoint): boolean {
    if (this.#arcs.size >= this.#maxArcs) return false
    for (const a of this.#arcs.values()) {
      if (a.peer.nodeId !== peer.nodeId) continue
      if (a.nic === nic || a.peer.mac.toUpperCase() === peer.mac.toUpperCase()) return false
    }
    return true
  }

  #addPending (nic: string, peer: NicEndpoint): void {
    const id = arcId(nic, peer.mac)
    // a negotiation that never completes gives its host route back
    const cancelExpiry = this.#c.clock.setTimer(3 * this.#timers.unicastTimeoutMs, () => {
      if (this.#pending.get(id) === pending) { this.#pending.delete(id); void this.#sync() }
    })
    const pending: PendingArc = { nic, peer, cancelExpiry }
    this.#pending.get(id)?.cancelExpiry()
    this.#pending.set(id, pending)
  }

  #dropPending (id: string): void {
    this.#pending.get(id)?.cancelExpiry()
    this.#pending.delete(id)
  }

  #fixedCost (arc: LiveArc): number | undefined {
    const byMac = this.#fixed.byPeerMac ?? {}
    const mac = Object.keys(byMac).find(k => k.toUpperCase() === arc.peer.mac.toUpperCase())
    return mac !== undefined ? byMac[mac] : this.#fixed.byNic?.[arc.nic]
  }

  #me (nic: string): NicEndpoint {
    const m = this.#nics.get(nic)
    if (m === undefined) throw new Error(`neighborhood: NIC '${nic}' is not monitored`)
    return { nodeId: this.nodeId, mac: m.info.mac, linklocal: m.linklocal }
  }

  #isMe (nic: string, e: NicEndpoint): boolean {
    const m = this.#nics.get(nic)
    return m !== undefined && e.nodeId === this.nodeId && e.mac.toUpperCase() === m.info.mac.toUpperCase()
  }

  #snapshot (a: LiveArc): Arc {
    return {
      id: arcId(a.nic, a.peer.mac),
      nic: a.nic,
      myLinklocal: this.#nics.get(a.nic)?.linklocal ?? '',
      peerNodeId: a.peer.nodeId,
      peerMac: a.peer.mac,
      peerLinklocal: a.peer.linklocal,
      cost: a.cost?.official,
      exposed: a.exposed
    }
  }

  async #sync (): Promise<void> {
    try { await this.#c.syncKernel?.() } catch { /* the kernel port reports its own failures; the next sync retries */ }
  }
}
