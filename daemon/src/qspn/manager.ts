import type { CancelTimer } from '../util/clock'
import { Advertisement } from './advertisement'
import { DEFAULT_QSPN_CONFIG, type QspnConfig } from './config'
import { QspnCore, type ArcState, type DestChange, type QspnComponents, type QspnStats } from './core'
import type { EtpMessage } from './etp'
import { EtpIntake } from './etp-intake'
import { QspnBootstrapInProgressError, QspnUnknownArcError } from './errors'
import { QspnEventEmitter } from './events'
import { eldest, identicalFingerprint, sameFingerprint, type Fingerprint } from './fingerprint'
import { Forwarder } from './forwarding'
import { MapUpdater } from './map-update'
import type { QspnArc } from './messenger'
import { destinationOf, type NodePath } from './node-path'
import { OwnInfo } from './own-info'
import { hcKey, isMyGnode, type HCoord, type Positions } from './types'

export type { QspnComponents, QspnStats } from './core'

/** Who this identity is: topology, address (virtual positions allowed) and its level-0 fingerprint. */
export interface QspnIdentity {
  /** Positions per level, level 0 first. */
  readonly gsizes: readonly number[]
  readonly naddr: Positions
  readonly fingerprint: Fingerprint
  /** Connectivity identities are not counted in nodes-inside (§4.6). */
  readonly isConnectivity?: boolean
}

/** An arc of the new identity that leads inside the moving g-node, and the previous identity's arc it replaces. */
export interface InternalArc {
  readonly arc: QspnArc
  /** The previous identity's qspn-arc with the same neighbour system (whose identity moved with us). */
  readonly previousArcId: string
}

/** What `enterNet` and `migration` take (§4.8). */
export interface EntryArgs {
  /** The new identity: its (possibly virtual) address and level-0 fingerprint. */
  readonly identity: QspnIdentity
  /** The identity this one duplicates: paths inside the moving g-node are copied from it. */
  readonly previous: QspnManager
  /** Level k of the g-node that moves (0: a single node). */
  readonly guestLevel: number
  /** Level of the g-node it enters (the new position is at hostLevel − 1). */
  readonly hostLevel: number
  /** Arcs to neighbours that move with us (both_arcs). */
  readonly internalArcs: readonly InternalArc[]
  /** Arcs to neighbours already in the target network or g-node (new_arcs): asked for full ETPs in turn. */
  readonly externalArcs: readonly QspnArc[]
}

/**
 * QSPN for one identity (§4): the map of paths to every g-node of the network, ETP building and processing,
 * path selection, and the identity's own g-node fingerprints and nodes-inside. The parts live in their own
 * modules (etp-intake, map-update, fingerprint-settle, own-info, advertisement, forwarding); this is the facade
 * with the lifecycle.
 *
 * Lifecycle: `createNet` (bootstrap completes at once), or `enterNet` / `migration` (paths inside the moving
 * g-node copied from the previous identity, bootstrap at the guest level until the first full ETP from outside);
 * `makeConnectivity` turns the previous identity into a connectivity one, `takePosition` changes a position (virtual
 * to real in phase 2), `prepareDestroy`/`destroy` end a connectivity identity, `stop()` ends all timers and
 * ignores further input. All inputs are processed synchronously to completion, so the state is consistent
 * between calls.
 */
export class QspnManager {
  readonly events = new QspnEventEmitter()
  readonly stats: QspnStats = { etpReceived: 0, etpRejected: 0, etpIgnored: 0, etpSent: 0, fullEtpRequests: 0, lastRejectReason: null }
  readonly #q: QspnCore
  readonly #own: OwnInfo
  readonly #adv: Advertisement
  readonly #fwd: Forwarder
  readonly #map: MapUpdater
  readonly #intake: EtpIntake
  #cancelPeriodic: CancelTimer | null = null
  /** While bootstrapping: arcs still to ask for a full ETP, in order, and the timer that ends the wait. */
  #bootstrapQueue: ArcState[] = []
  #bootstrapAsking = false
  #cancelBootstrapTimeout: CancelTimer | null = null

  private constructor (c: QspnComponents, id: QspnIdentity, cfg: QspnConfig, bootstrapLevel: number | null) {
    if (id.naddr.length !== id.gsizes.length) throw new RangeError(`naddr has ${id.naddr.length} positions, topology has ${id.gsizes.length} levels`)
    if (id.fingerprint.level !== 0) throw new RangeError(`identity fingerprint must be level 0, got ${id.fingerprint.level}`)
    const q = new QspnCore(c, cfg, this.events, this.stats, id.gsizes, id.naddr, id.isConnectivity === true, bootstrapLevel)
    this.#q = q
    let fwd: Forwarder | undefined
    this.#own = new OwnInfo(q, id.fingerprint, () => fwd?.queue([], [], null))
    this.#adv = new Advertisement(q, this.#own)
    fwd = this.#fwd = new Forwarder(q, this.#adv)
    this.#map = new MapUpdater(q, this.#own, this.#fwd)
    this.#intake = new EtpIntake(q, this.#map, this.#adv, {
      dropFailedArc: (st, badLink) => {
        this.arcRemove(st.id)
        this.events.emit('arc_removed', { arcId: st.id, badLink })
      },
      admits: (_st, isFull) => q.bootstrapLevel === null || isFull,
      fullEtpProcessed: () => { if (q.bootstrapLevel !== null) this.#completeBootstrap() }
    })
  }

  /** First node of a new network (§4.8 create_net): empty map, bootstrap complete right away. */
  static createNet (c: QspnComponents, id: QspnIdentity, cfg: Partial<QspnConfig> = {}): QspnManager {
    const m = new QspnManager(c, id, { ...DEFAULT_QSPN_CONFIG, ...cfg }, null)
    c.clock.setTimer(1, () => { if (!m.#q.stopped) m.events.emit('bootstrap_complete', {}) })
    m.#schedulePeriodic()
    return m
  }

  /** An identity enters another network (§4.8 enter_net). */
  static enterNet (c: QspnComponents, a: EntryArgs, cfg: Partial<QspnConfig> = {}): QspnManager {
    return QspnManager.#entry(c, a, { ...DEFAULT_QSPN_CONFIG, ...cfg })
  }

  /** An identity migrates to another g-node of its own network (§4.8 migration): the same steps as an entry. */
  static migration (c: QspnComponents, a: EntryArgs, cfg: Partial<QspnConfig> = {}): QspnManager {
    return QspnManager.#entry(c, a, { ...DEFAULT_QSPN_CONFIG, ...cfg })
  }

  static #entry (c: QspnComponents, a: EntryArgs, cfg: QspnConfig): QspnManager {
    const k = a.guestLevel
    const levels = a.identity.gsizes.length
    if (!Number.isInteger(k) || k < 0 || k >= levels) throw new RangeError(`guest level ${k} outside 0..${levels - 1}`)
    if (!Number.isInteger(a.hostLevel) || a.hostLevel <= k || a.hostLevel > levels) throw new RangeError(`host level ${a.hostLevel} must be in ${k + 1}..${levels}`)
    const m = new QspnManager(c, a.identity, cfg, k)
    const q = m.#q
    const prev = a.previous.#q
    // Internal arcs keep the previous identity's QSPN arc ids, so copied paths stay valid word for word.
    const arcOf = new Map<string, ArcState>()
    for (const ia of a.internalArcs) {
      const old = prev.arcs.get(ia.previousArcId)
      if (old === undefined) throw new QspnUnknownArcError(ia.previousArcId)
      // The neighbour moved with us: same positions as ours from the guest level up, its own below.
      const peer = old.peerNaddr === null ? null : q.naddr.map((p, lvl) => lvl < k ? (old.peerNaddr as Positions)[lvl] : p)
      const st: ArcState = { id: ia.arc.id, qspnId: old.qspnId, cost: ia.arc.cost, peerNaddr: peer, advertised: new Map(), headerSent: '' }
      q.arcs.set(st.id, st)
      arcOf.set(old.id, st)
    }
    // Paths to destinations inside the moving g-node (levels below k) never leave it: copied over internal arcs.
    const changes = new Map<string, DestChange>()
    for (const pool of prev.pool.values()) {
      for (const p of pool.values()) {
        const dest = destinationOf(p)
        const st = arcOf.get(p.arcId)
        if (dest.lvl >= k || st === undefined) continue
        m.#map.changeOf(changes, dest).candidates.set(p.key, { ...p, arcId: st.id, hops: p.hops.map(h => q.intern(h)) })
      }
    }
    m.#map.commit(changes, [], null)
    for (const arc of a.externalArcs) {
      const st = m.#newArc(arc)
      m.#bootstrapQueue.push(st)
    }
    m.#bootstrapNext()
    m.#cancelBootstrapTimeout = c.clock.setTimer(cfg.bootstrapTimeoutMs, () => { if (q.bootstrapLevel !== null) m.#completeBootstrap() })
    m.#schedulePeriodic()
    return m
  }

  // ---------------------------------------------------------------- queries

  get naddr (): Positions { return this.#q.naddr }
  get levels (): number { return this.#q.levels }
  get isConnectivity (): boolean { return this.#q.isConnectivity }
  isBootstrapComplete (): boolean { return this.#q.bootstrapLevel === null }
  /** Level still bootstrapping, or null. */
  get bootstrapLevel (): number | null { return this.#q.bootstrapLevel }

  /**
   * Grows whenever a destination appears, disappears, or its paths change in order, hops, cost or fingerprint; a
   * change of nodes-inside alone leaves it. Whoever derives routes from the map recomputes only when it grew.
   */
  get routingVersion (): number { return this.#q.routingVersion }

  /** Paths to `hc` carrying the eldest fingerprint, ascending cost (§4.5 exposed order). */
  getPathsTo (hc: HCoord): readonly NodePath[] {
    const d = this.#q.map.get(hcKey(hc))
    if (d === undefined) return []
    if (d.primary === undefined) {
      const fp = eldest(d.paths.map(p => p.fingerprint))
      d.primary = Object.freeze(d.paths.filter(p => sameFingerprint(p.fingerprint, fp)))
    }
    return d.primary
  }

  /** Every path kept for `hc`, whatever its fingerprint (what ETPs advertise). */
  getAllPathsTo (hc: HCoord): NodePath[] { return [...(this.#q.map.get(hcKey(hc))?.paths ?? [])] }

  getKnownDestinations (lvl: number): HCoord[] {
    const out: HCoord[] = []
    for (const d of this.#q.map.values()) if (d.hc.lvl === lvl) out.push(d.hc)
    return out.sort((a, b) => a.pos - b.pos)
  }

  /** Fingerprint of my g-node of level `lvl` (0..levels; `levels` = the network id). */
  getFingerprint (lvl: number): Fingerprint {
    this.#checkLevel(lvl, 'getFingerprint')
    return this.#own.fingerprint(lvl)
  }

  /** Nodes-inside estimate of my g-node of level `lvl` (0..levels). */
  getNodesInside (lvl: number): number {
    this.#checkLevel(lvl, 'getNodesInside')
    return this.#own.nodesInside(lvl)
  }

  /** Address of the neighbour on an arc; null until an ETP from it was processed. */
  getNaddrForArc (arcId: string): Positions | null {
    const a = this.#q.arcs.get(arcId)
    if (a === undefined) throw new QspnUnknownArcError(arcId)
    return a.peerNaddr
  }

  arcIds (): string[] { return [...this.#q.arcs.keys()] }

  #checkLevel (lvl: number, what: string): void {
    if (!Number.isInteger(lvl) || lvl < 0 || lvl > this.#q.levels) throw new RangeError(`${what}: level ${lvl} outside 0..${this.#q.levels}`)
    if (this.#q.bootstrapLevel !== null && lvl > this.#q.bootstrapLevel) throw new QspnBootstrapInProgressError(`${what}(${lvl})`)
  }

  // ---------------------------------------------------------------- arcs

  /** A new qspn-arc (§4.4 "added arc"): ask its full ETP, merge, forward changes, then send it ours. */
  arcAdd (arc: QspnArc): void {
    if (this.#q.stopped) return
    if (this.#q.arcs.has(arc.id)) throw new RangeError(`arc ${arc.id} already added`)
    const st = this.#newArc(arc)
    this.#intake.arcAdded(st)
    if (this.#q.bootstrapLevel !== null) { // queued: bootstrap will ask it
      this.#bootstrapQueue.push(st)
      this.#bootstrapNext()
      return
    }
    this.#intake.requestFull(st, () => { this.#fwd.send(st, this.#adv.buildFull(st), true) })
  }

  /** The cost of an arc changed: shift its paths, flood, then re-read full ETPs from all neighbours. */
  arcIsChanged (arc: QspnArc): void {
    const q = this.#q
    if (q.stopped) return
    const st = q.arcs.get(arc.id)
    if (st === undefined) throw new QspnUnknownArcError(arc.id)
    const delta = arc.cost - st.cost
    st.cost = arc.cost
    if (delta === 0 || q.bootstrapLevel !== null) return
    const changes = new Map<string, DestChange>()
    for (const pool of [...q.pool.values()]) {
      for (const p of [...pool.values()]) {
        if (p.arcId === st.id) this.#map.changeOf(changes, destinationOf(p)).candidates.set(p.key, { ...p, cost: p.cost + delta })
      }
    }
    this.#map.commit(changes, [], null)
    for (const a of q.arcs.values()) this.#intake.requestFull(a, null)
  }

  /** The arc is gone: its paths die, neighbours are asked again for what they know. */
  arcRemove (arcId: string): void {
    const q = this.#q
    if (q.stopped) return
    const st = q.arcs.get(arcId)
    if (st === undefined) throw new QspnUnknownArcError(arcId)
    q.arcs.delete(arcId)
    this.#bootstrapQueue = this.#bootstrapQueue.filter(a => a !== st)
    const changes = new Map<string, DestChange>()
    for (const pool of [...q.pool.values()]) {
      for (const p of [...pool.values()]) if (p.arcId === arcId) this.#map.changeOf(changes, destinationOf(p)).candidates.delete(p.key)
    }
    this.#map.commit(changes, [], null)
    if (q.bootstrapLevel !== null) return
    for (const a of q.arcs.values()) this.#intake.requestFull(a, null)
  }

  /** Stops timers and makes the manager inert; pending requests to it are refused. */
  stop (): void {
    this.#q.stopped = true
    this.#cancelPeriodic?.()
    this.#cancelBootstrapTimeout?.()
    this.#own.stop()
    this.#intake.refuseAll()
  }

  // ---------------------------------------------------------------- own position changes (§4.9, phase 2)

  /**
   * This identity becomes a connectivity identity (§4.9 make_connectivity): its position at `level` becomes the
   * virtual `virtualPos` (and its fingerprint `fingerprint`), it no longer counts in nodes-inside, and every
   * neighbour gets a full ETP whose hop list already holds the old position, so that it withdraws the paths to
   * the old g-node and cannot carry the news back into the g-node that moves.
   */
  makeConnectivity (level: number, virtualPos: number, fingerprint: Fingerprint): void {
    this.#q.isConnectivity = true
    this.takePosition(level, virtualPos, fingerprint)
  }

  /**
   * The identity's position at `level` becomes `pos` (phase 2 of an entry or migration: virtual to real; or the
   * virtual position of make_connectivity), with level-0 fingerprint `fingerprint`. Paths that now lead to one of
   * my own g-nodes are dropped, and every neighbour gets a full ETP (hop list: the old position).
   */
  takePosition (level: number, pos: number, fingerprint: Fingerprint): void {
    const q = this.#q
    if (q.stopped) return
    if (!Number.isInteger(level) || level < 0 || level >= q.levels) throw new RangeError(`level ${level} outside 0..${q.levels - 1}`)
    if (!Number.isInteger(pos) || pos < 0) throw new RangeError(`position ${pos} is not a position`)
    const old: HCoord = { lvl: level, pos: q.naddr[level] }
    if (old.pos === pos && identicalFingerprint(fingerprint, this.#own.fingerprint(0))) return
    q.naddr = q.naddr.map((p, lvl) => lvl === level ? pos : p)
    // Paths to (or through) what is now my own g-node are impossible: drop them.
    const changes = new Map<string, DestChange>()
    for (const pool of [...q.pool.values()]) {
      for (const p of [...pool.values()]) {
        if (p.hops.some(h => isMyGnode(q.naddr, h))) this.#map.changeOf(changes, destinationOf(p)).candidates.delete(p.key)
      }
    }
    this.#own.setOwnFingerprint(fingerprint)
    q.routingVersion++
    this.#map.commit(changes, [], null)
    this.#own.recompute()
    if (q.bootstrapLevel !== null) return
    for (const a of q.arcs.values()) this.#fwd.send(a, this.#adv.buildFull(a, [old]), true)
  }

  // ---------------------------------------------------------------- incoming

  /** A spontaneous ETP arrived over `arcId` as JSON text from the wire. */
  receiveEtpText (arcId: string, text: string, isFull: boolean): void { this.#intake.receiveText(arcId, text, isFull) }

  /** A spontaneous ETP arrived over `arcId` as an untrusted object. */
  receiveEtp (arcId: string, obj: unknown, isFull: boolean): void { this.#intake.receive(arcId, obj, isFull) }

  /**
   * Answers a neighbour's `get_full_etp` over `arcId`. Refused during bootstrap; for an arc not added yet it
   * waits up to arc_timeout for `arcAdd` (arc-detection race, §4.8), then refuses.
   */
  getFullEtp (arcId: string, request: unknown): Promise<EtpMessage> { return this.#intake.answerFullEtpRequest(arcId, request) }

  // ---------------------------------------------------------------- bootstrap (§4.8)

  /** Asks the next queued arc for its full ETP; a refusal moves on to the next one. */
  #bootstrapNext (): void {
    const q = this.#q
    if (this.#bootstrapAsking || q.stopped || q.bootstrapLevel === null) return
    const st = this.#bootstrapQueue.shift()
    if (st === undefined) return
    this.#bootstrapAsking = true
    const next = (): void => { this.#bootstrapAsking = false; this.#bootstrapNext() }
    this.#intake.requestFull(st, next, next)
  }

  /**
   * The first full ETP from outside arrived (or the wait ran out): the map is valid at every level now. The arcs
   * still queued are asked, then every neighbour gets our full ETP.
   */
  #completeBootstrap (): void {
    const q = this.#q
    if (q.bootstrapLevel === null || q.stopped) return
    q.bootstrapLevel = null
    this.#cancelBootstrapTimeout?.()
    this.#own.recompute()
    const rest = this.#bootstrapQueue
    this.#bootstrapQueue = []
    for (const st of rest) if (q.arcs.get(st.id) === st) this.#intake.requestFull(st, null)
    for (const a of q.arcs.values()) this.#fwd.send(a, this.#adv.buildFull(a), true)
    q.c.clock.setTimer(1, () => { if (!q.stopped) this.events.emit('bootstrap_complete', {}) })
  }

  #newArc (arc: QspnArc): ArcState {
    const st: ArcState = { id: arc.id, qspnId: this.#q.newArcId(), cost: arc.cost, peerNaddr: null, advertised: new Map(), headerSent: '' }
    this.#q.arcs.set(arc.id, st)
    return st
  }

  #schedulePeriodic (): void {
    const q = this.#q
    if (q.cfg.periodicFullEtpMs <= 0) return
    this.#cancelPeriodic = q.c.clock.setTimer(q.cfg.periodicFullEtpMs, () => {
      if (q.stopped) return
      if (q.bootstrapLevel === null) for (const a of q.arcs.values()) this.#fwd.send(a, this.#adv.buildFull(a), true)
      this.#schedulePeriodic()
    })
  }
}
