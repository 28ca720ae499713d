import type { CancelTimer } from '../util/clock'
import { Advertisement } from './advertisement'
import { DEFAULT_QSPN_CONFIG, type QspnConfig } from './config'
import { QspnCore, type ArcState, type DestChange, type QspnComponents, type QspnStats } from './core'
import type { EtpMessage } from './etp'
import { EtpIntake } from './etp-intake'
import { QspnBootstrapInProgressError, QspnUnknownArcError } from './errors'
import { QspnEventEmitter } from './events'
import { eldest, sameFingerprint, type Fingerprint } from './fingerprint'
import { Forwarder } from './forwarding'
import { MapUpdater } from './map-update'
import type { QspnArc } from './messenger'
import { destinationOf, type NodePath } from './node-path'
import { OwnInfo } from './own-info'
import { exitNetwork, SplitWatch } from './split-watch'
import { Bootstrap } from './bootstrap'
import { connectivityHolds, signalConnectivityGnode } from './connectivity'
import { hcKey, isMyGnode, maxDistinctGnode, type HCoord, type Positions } from './types'

export type { QspnComponents, QspnStats } from './core'

/**
 * A fingerprint of a destination inside my g-node of level `k`, with the elderships of levels >= k taken from my own
 * level-0 fingerprint (the whole g-node moved: its upper elderships are mine).
 */
function withUpperElderships (fp: Fingerprint, mine: Fingerprint, k: number): Fingerprint {
  const elderships = fp.elderships.map((e, n) => fp.level + n >= k ? (mine.elderships[fp.level + n] ?? e) : e)
  return elderships.every((e, n) => e === fp.elderships[n]) ? fp : { ...fp, elderships }
}

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
 * `makeConnectivity` turns the previous identity into a connectivity one, `makeReal` turns the virtual position of
 * phase 1 into the real one (phase 2), `removeOuterArcs`, `checkConnectivity`, `prepareDestroy`/`destroy` end a
 * connectivity identity, `stop()` ends all timers and
 * ignores further input. All inputs are processed synchronously to completion, so the state is consistent
 * between calls.
 */
export class QspnManager {
  readonly events = new QspnEventEmitter()
  readonly stats: QspnStats = { etpReceived: 0, etpRejected: 0, etpIgnored: 0, etpSent: 0, etpLost: 0, fullEtpRequests: 0, lastRejectReason: null }
  readonly #q: QspnCore
  readonly #own: OwnInfo
  readonly #adv: Advertisement
  readonly #fwd: Forwarder
  readonly #map: MapUpdater
  readonly #intake: EtpIntake
  #cancelPeriodic: CancelTimer | null = null
  readonly #splits: SplitWatch
  #cancelSplitWatch: CancelTimer | null = null
  /** While bootstrapping: arcs still to ask for a full ETP, in order, and the timer that ends the wait. */
  readonly #bootstrap: Bootstrap
  #destroyPending = false

  private constructor (c: QspnComponents, id: QspnIdentity, cfg: QspnConfig, bootstrapLevel: number | null) {
    if (id.naddr.length !== id.gsizes.length) throw new RangeError(`naddr has ${id.naddr.length} positions, topology has ${id.gsizes.length} levels`)
    if (id.fingerprint.level !== 0) throw new RangeError(`identity fingerprint must be level 0, got ${id.fingerprint.level}`)
    const q = new QspnCore(c, cfg, this.events, this.stats, id.gsizes, id.naddr, id.isConnectivity === true, bootstrapLevel)
    this.#q = q
    let fwd: Forwarder | undefined
    this.#own = new OwnInfo(q, id.fingerprint, () => fwd?.queue([], [], null))
    this.#adv = new Advertisement(q, this.#own)
    const dropFailedArc = (st: ArcState, badLink: boolean): void => {
      this.arcRemove(st.id)
      this.events.emit('arc_removed', { arcId: st.id, badLink })
    }
    fwd = this.#fwd = new Forwarder(q, this.#adv, st => dropFailedArc(st, true))
    this.#map = new MapUpdater(q, this.#own, this.#fwd)
    this.#bootstrap = new Bootstrap(q, () => this.#intake, { own: this.#own, fwd: this.#fwd, adv: this.#adv, events: this.events })
    this.#intake = new EtpIntake(q, this.#map, this.#adv, {
      dropFailedArc,
      admitsSpontaneous: m => this.#bootstrap.admits(m),
      processed: () => { if (q.bootstrapLevel !== null) this.#bootstrap.complete() }
    })
    this.#splits = new SplitWatch(q)
    this.#watchSplits()
  }

  /** Looks for split g-nodes (SplitWatch) every quarter of the tolerance, and signals them. */
  #watchSplits (): void {
    const q = this.#q
    const every = Math.max(250, Math.floor(q.cfg.splitToleranceMs / 4))
    this.#cancelSplitWatch = q.c.clock.setTimer(every, () => {
      if (q.stopped) return
      if (q.bootstrapLevel === null && !q.isConnectivity) for (const s of this.#splits.check(q.c.clock.now())) this.events.emit('gnode_splitted', s)
      this.#watchSplits()
    })
  }

  /**
   * This identity's g-node of level `level` split from the rest and is not the part with the eldest (§4.7, §6.3 item
   * 9 exit_network): every path to a destination of level >= `level` goes and every arc to a neighbour outside that
   * g-node is dropped (`arc_removed`, badLink false); the g-node becomes a network of its own. Returns the arcs
   * dropped.
   */
  exitNetwork (level: number): string[] {
    const gone = exitNetwork(this.#q, this.#map, level, id => { this.arcRemove(id); this.events.emit('arc_removed', { arcId: id, badLink: false }) })
    this.#splits.clear()
    return gone
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
    q.guestLevel = k
    q.hostLevel = a.hostLevel
    // A copy of a connectivity identity stays one (§4.8), supporting at most the levels below the guest g-node.
    q.connectivityFrom = prev.connectivityFrom
    q.connectivityTo = Math.min(prev.connectivityTo, k)
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
    // Paths to destinations inside the moving g-node (levels below k) never leave it: copied over internal arcs,
    // their fingerprints taking the elderships the g-node has now above k.
    const changes = new Map<string, DestChange>()
    for (const pool of prev.pool.values()) {
      for (const p of pool.values()) {
        const dest = destinationOf(p)
        const st = arcOf.get(p.arcId)
        if (dest.lvl >= k || st === undefined) continue
        const fingerprint = withUpperElderships(p.fingerprint, a.identity.fingerprint, k)
        m.#map.changeOf(changes, dest).candidates.set(p.key, { ...p, arcId: st.id, fingerprint, hops: p.hops.map(h => q.intern(h)) })
      }
    }
    m.#map.commit(changes, [], null)
    m.#bootstrap.start(a.externalArcs.map(arc => m.#newArc(arc)))
    m.#schedulePeriodic()
    return m
  }

  // ---------------------------------------------------------------- queries

  get naddr (): Positions { return this.#q.naddr }
  get levels (): number { return this.#q.levels }
  get isConnectivity (): boolean { return this.#q.isConnectivity }
  /** Levels whose g-nodes this identity keeps connected: [0, 0] for a main identity (§1.3). */
  get connectivityLevels (): readonly [number, number] { return [this.#q.connectivityFrom, this.#q.connectivityTo] }
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
      this.#bootstrap.queue(st)
      return
    }
    // a neighbour still bootstrapping refuses to answer, but takes our full ETP (it may be what ends its bootstrap)
    const sendOurs = (): void => { if (this.#q.arcs.get(st.id) === st) this.#fwd.send(st, this.#adv.buildFull(st), true) }
    this.#intake.requestFull(st, sendOurs, sendOurs)
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
    this.#bootstrap.forget(st)
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
    this.#cancelSplitWatch?.()
    this.#bootstrap.stop()
    this.#own.stop()
    this.#intake.refuseAll()
  }

  // ---------------------------------------------------------------- own position changes (§4.9, phase 2)

  /**
   * This identity becomes a connectivity identity (§4.9 make_connectivity) supporting the internal connectivity
   * of its g-nodes of levels `fromLevel`..`toLevel`: its position at level fromLevel − 1 becomes the virtual
   * `virtualPos` (fingerprint `fingerprint`), it counts no node in nodes-inside, and neighbours outside the g-node
   * that moves learn (a full ETP whose hop list holds the old position, so that the news cannot re-enter the g-node
   * that moves) that the old position is gone from here.
   */
  makeConnectivity (fromLevel: number, toLevel: number, virtualPos: number, fingerprint: Fingerprint): void {
    const q = this.#q
    if (!Number.isInteger(fromLevel) || fromLevel < 1 || toLevel < fromLevel || toLevel > q.levels) throw new RangeError(`connectivity levels ${fromLevel}..${toLevel} must satisfy 1 <= from <= to <= ${q.levels}`)
    const k = fromLevel - 1
    if (virtualPos < q.gsizes[k]) throw new RangeError(`connectivity position ${virtualPos} at level ${k} is not virtual (gsize ${q.gsizes[k]})`)
    q.isConnectivity = true
    q.connectivityFrom = fromLevel
    q.connectivityTo = toLevel
    const old = this.#changePosition(k, virtualPos, fingerprint, k)
    q.c.clock.setTimer(50, () => {
      this.#announcePosition(old, a => a.lvl > k || (a.lvl === k && a.pos !== old.pos))
      this.#refreshFromNeighbours()
    })
  }

  /**
   * Phase 2 of an entry or migration (the proof's make_real): the position at level `level` (hostLevel − 1), virtual
   * until now, becomes the real `pos` with level-0 fingerprint `fingerprint`. Neighbours that moved with us take the
   * same position; the others get a full ETP whose hop list holds the old one.
   */
  makeReal (level: number, pos: number, fingerprint: Fingerprint): void {
    const q = this.#q
    if (!Number.isInteger(level) || level < 0 || level >= q.levels) throw new RangeError(`level ${level} outside 0..${q.levels - 1}`)
    if (!Number.isInteger(pos) || pos < 0 || pos >= q.gsizes[level]) throw new RangeError(`position ${pos} at level ${level} is not real (gsize ${q.gsizes[level]})`)
    const inner = q.guestLevel ?? 0
    const old = this.#changePosition(level, pos, fingerprint, inner)
    if (q.bootstrapLevel !== null) return
    this.#announcePosition(old, a => a.lvl >= inner)
    this.#refreshFromNeighbours()
  }

  /**
   * After my own position changed, what neighbours sent before may be wrong for me now (a path through what is now
   * my own g-node), and what they send meanwhile may be dropped (an ETP whose hop list holds my new g-node, still
   * theirs to them): every neighbour is asked for its full ETP.
   */
  #refreshFromNeighbours (): void {
    const q = this.#q
    if (q.stopped || q.bootstrapLevel !== null) return
    for (const a of q.arcs.values()) this.#intake.requestFull(a, null)
  }

  /**
   * Moves my position at `level` to `pos`: neighbours inside my g-node of level `innerLevel` move with me, paths to
   * what is now one of my own g-nodes go, fingerprints of destinations inside that g-node take the new elderships.
   * Returns the old g-node.
   */
  #changePosition (level: number, pos: number, fingerprint: Fingerprint, innerLevel: number): HCoord {
    const q = this.#q
    const old: HCoord = { lvl: level, pos: q.naddr[level] }
    const inner = [...q.arcs.values()].filter(a => a.peerNaddr !== null && (maxDistinctGnode(q.naddr, a.peerNaddr)?.lvl ?? -1) < innerLevel)
    q.naddr = q.naddr.map((p, lvl) => lvl === level ? pos : p)
    for (const a of inner) a.peerNaddr = (a.peerNaddr as Positions).map((p, lvl) => lvl === level ? pos : p)
    const changes = new Map<string, DestChange>()
    for (const pool of [...q.pool.values()]) {
      for (const p of [...pool.values()]) {
        const dest = destinationOf(p)
        if (p.hops.some(h => isMyGnode(q.naddr, h))) this.#map.changeOf(changes, dest).candidates.delete(p.key)
        else if (dest.lvl < innerLevel) this.#map.changeOf(changes, dest).candidates.set(p.key, { ...p, fingerprint: withUpperElderships(p.fingerprint, fingerprint, innerLevel) })
      }
    }
    this.#own.setOwnFingerprint(fingerprint)
    q.routingVersion++
    this.#map.commit(changes, [], null)
    this.#own.recompute()
    return old
  }

  /** A full ETP whose hop list holds my old g-node, to each neighbour whose max-distinct g-node passes `to`. */
  #announcePosition (old: HCoord, to: (peer: HCoord) => boolean): void {
    const q = this.#q
    if (q.stopped) return
    for (const a of q.arcs.values()) {
      const h = a.peerNaddr === null ? null : maxDistinctGnode(q.naddr, a.peerNaddr)
      if (h === null || to(h)) this.#fwd.send(a, this.#adv.buildFull(a, [old]), true)
    }
  }

  /**
   * A connectivity identity drops its arcs to neighbours outside its g-node of level connectivityTo (§4.9
   * remove_outer_arcs), and those whose address it never learnt; each goes with `arc_removed` (badLink false).
   * Returns the ids of the arcs removed.
   */
  removeOuterArcs (): string[] {
    const q = this.#q
    if (!q.isConnectivity) throw new RangeError('remove_outer_arcs: this is a main identity')
    const gone: string[] = []
    for (const a of [...q.arcs.values()]) {
      const h = a.peerNaddr === null ? null : maxDistinctGnode(q.naddr, a.peerNaddr)
      if (h === null || h.lvl >= q.connectivityTo) {
        this.arcRemove(a.id)
        this.events.emit('arc_removed', { arcId: a.id, badLink: false })
        gone.push(a.id)
      }
    }
    return gone
  }

  /**
   * Can this connectivity identity go without splitting any of its g-nodes of levels connectivityFrom..To (§4.9
   * check_connectivity)? Starting at the level i of the g-node it stands for (one level up while that g-node has no
   * sibling in my map), every destination x of levels i..to−1 must be reachable through each sibling y of level i
   * that my paths leave by (guaranteed complete by the mandatory paths of rule b).
   */
  checkConnectivity (): boolean {
    if (!this.#q.isConnectivity) throw new RangeError('check_connectivity: this is a main identity')
    return connectivityHolds(this.#q, lvl => this.getKnownDestinations(lvl), hc => this.getAllPathsTo(hc))
  }

  /**
   * Starts the dismissal of the connectivity g-node I belong to (§4.9 prepare_destroy): every member inside it
   * learns it (got_prepare_destroy, propagated) and signals `remove_identity` after `destroyWaitMs`.
   */
  prepareDestroy (): void {
    if (!this.#q.isConnectivity) throw new RangeError('prepare_destroy: this is a main identity')
    signalConnectivityGnode(this.#q, 'prepare_destroy')
  }

  /** This identity is about to go (§4.9 destroy): neighbours outside its g-node drop their arcs to it at once. */
  destroy (): void {
    signalConnectivityGnode(this.#q, 'destroy')
  }

  /** A member of my connectivity g-node started its dismissal: propagate, then ask to be removed. */
  gotPrepareDestroy (arcId: string): void {
    const q = this.#q
    if (q.stopped || !q.isConnectivity || !q.arcs.has(arcId) || this.#destroyPending) return
    this.#destroyPending = true
    this.prepareDestroy()
    q.c.clock.setTimer(q.cfg.destroyWaitMs, () => { if (!q.stopped) this.events.emit('remove_identity', {}) })
  }

  /** The neighbour on `arcId` is going: drop the arc (arc_removed, badLink false). */
  gotDestroy (arcId: string): void {
    if (this.#q.stopped || !this.#q.arcs.has(arcId)) return
    this.arcRemove(arcId)
    this.events.emit('arc_removed', { arcId, badLink: false })
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
