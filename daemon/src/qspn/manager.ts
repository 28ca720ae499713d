import type { Clock, CancelTimer } from '../util/clock'
import type { Random } from '../util/random'
import { DEAD, hcKey, hcNum, isDead, isMyGnode, maxDistinctGnode, type Cost, type HCoord, type Positions } from './types'
import { constructUp, eldest, identicalFingerprint, isElder, sameFingerprint, type Fingerprint } from './fingerprint'
import { decodeEtp, validateEtp, validateFullEtpRequest, EtpValidationError, type EtpMessage, type EtpPath, type FullEtpRequest } from './etp'
import { QspnBootstrapInProgressError, QspnNotAcceptedError, QspnUnknownArcError } from './errors'
import { QspnEventEmitter } from './events'
import type { QspnArc, QspnMessenger } from './messenger'
import { destinationOf, pathKey, type NodePath } from './node-path'
import { byCost, selectPaths } from './path-selection'
import { DEFAULT_QSPN_CONFIG, type QspnConfig } from './config'

/** Ports a QspnManager needs (STYLE §5: dependencies vs options). */
export interface QspnComponents {
  readonly clock: Clock
  readonly random: Random
  readonly messenger: QspnMessenger
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

/** Counters a test or `ntkctl` can read. */
export interface QspnStats {
  etpReceived: number
  etpRejected: number
  etpIgnored: number
  etpSent: number
  fullEtpRequests: number
  lastRejectReason: string | null
}

interface ArcState {
  readonly id: string
  /** QSPN arc id (random, local), written in paths as arcs[0]. */
  readonly qspnId: number
  cost: Cost
  peerNaddr: Positions | null
  /** What this neighbour was last told, per destination and path (interesting-information rule). */
  readonly advertised: Map<string, Map<string, Advertised>>
  /** Own fingerprints and nodes-inside as last sent to it. */
  headerSent: string
}

/** Destinations whose changes wait to be forwarded together. */
interface Batch { dests: Map<string, HCoord>, hops: HCoord[], from: string | null }

/** A path as advertised to one neighbour. */
interface Advertised {
  readonly path: NodePath
  readonly flags: boolean[]
}

interface Destination {
  readonly hc: HCoord
  /** Selected paths, ascending cost. */
  paths: NodePath[]
  /** What it adds to my g-node one level up (§4.6): the path with the eldest fingerprint, cheapest among those. */
  best: NodePath
  /** getPathsTo's answer, kept until the paths change (the kernel sync asks for every destination each time). */
  primary?: readonly NodePath[]
}

function bestForOwnInfo (paths: readonly NodePath[]): NodePath {
  let best = paths[0]
  for (const p of paths) {
    if (sameFingerprint(p.fingerprint, best.fingerprint)) { if (p.cost < best.cost) best = p } else if (isElder(p.fingerprint, best.fingerprint)) best = p
  }
  return best
}

/** Pending change of one destination inside a transaction. */
interface DestChange {
  readonly hc: HCoord
  readonly candidates: Map<string, NodePath>
}

interface Waiter { resolve: (m: EtpMessage) => void, reject: (e: Error) => void, cancel: CancelTimer }

/**
 * QSPN for one identity (§4): the map of paths to every g-node of the network, ETP building and processing,
 * path selection, and the identity's own g-node fingerprints and nodes-inside.
 *
 * Lifecycle: created by `createNet` (bootstrap completes at once) or, later, an `enterNet`-style bootstrap
 * (`#bootstrapLevel` holds the level still bootstrapping); `stop()` ends all timers and ignores further input.
 * All inputs (arc events, ETPs, requests) are processed synchronously to completion, so the manager's state is
 * always consistent between calls.
 */
export class QspnManager {
  readonly events = new QspnEventEmitter()
  readonly stats: QspnStats = { etpReceived: 0, etpRejected: 0, etpIgnored: 0, etpSent: 0, fullEtpRequests: 0, lastRejectReason: null }
  readonly #c: QspnComponents
  readonly #cfg: QspnConfig
  readonly #gsizes: readonly number[]
  readonly #levels: number
  readonly #naddr: Positions
  readonly #isConnectivity: boolean
  readonly #arcs = new Map<string, ArcState>()
  readonly #map = new Map<string, Destination>()
  /**
   * Every usable path each neighbour told us about, per destination (selected or not). Selection runs over this
   * pool, so when a kept path dies a previously unselected one can take its place without asking anybody: with
   * partial ETPs carrying only what changed, a path dropped here would otherwise be lost until the next full ETP.
   */
  readonly #pool = new Map<string, Map<string, NodePath>>()
  readonly #waiters = new Map<string, Waiter[]>()
  readonly #hcs = new Map<number, HCoord>()
  #routingVersion = 0
  /**
   * Per destination, since when each fingerprint its candidate paths carry has been reported (virtual or wall ms).
   * Rule (c) of path selection (a path per fingerprint, §4.5) counts a fingerprint only after `fingerprintSettleMs`:
   * while a network forms, each g-node shows many passing fingerprints, and a path kept for each of them would be
   * advertised and withdrawn again everywhere. A split g-node's fingerprints persist, so they are kept then.
   */
  readonly #fpSeen = new Map<string, Map<number, number>>()
  /** Destinations with a re-selection scheduled for when a fingerprint settles, and when. */
  readonly #fpRecheck = new Map<string, number>()
  /** Own g-node fingerprint and nodes-inside, index = level 0..levels. */
  #fp: Fingerprint[]
  #nn: number[]
  /**
   * Own fingerprints and nodes-inside as told to neighbours (ETP headers). They follow #fp/#nn once those have
   * held still for `ownInfoHoldMs`: while a g-node forms, a member's view of it changes at every step, and every
   * intermediate value would otherwise flood the whole network along every path to the g-node.
   */
  #advFp: Fingerprint[] = []
  #advNn: number[] = []
  #holdTimer: CancelTimer | null = null
  #holdSince = 0
  /** Level still bootstrapping, or null when bootstrap is complete. */
  #bootstrapLevel: number | null
  #stopped = false
  #cancelPeriodic: CancelTimer | null = null
  /** Changes waiting to be forwarded (see #queueForward). */
  #batch: Batch | null = null
  /** Changes of nodes-inside or fingerprints only, forwarded on the slower `infoFlushMs` timer. */
  #infoBatch: Batch | null = null
  #lastFlushAt = Number.NEGATIVE_INFINITY
  #lastInfoFlushAt = Number.NEGATIVE_INFINITY

  private constructor (c: QspnComponents, id: QspnIdentity, cfg: QspnConfig, bootstrapLevel: number | null) {
    if (id.naddr.length !== id.gsizes.length) throw new RangeError(`naddr has ${id.naddr.length} positions, topology has ${id.gsizes.length} levels`)
    if (id.fingerprint.level !== 0) throw new RangeError(`identity fingerprint must be level 0, got ${id.fingerprint.level}`)
    this.#c = c
    this.#cfg = cfg
    this.#gsizes = [...id.gsizes]
    this.#levels = id.gsizes.length
    this.#naddr = [...id.naddr]
    this.#isConnectivity = id.isConnectivity === true
    this.#fp = [id.fingerprint]
    this.#nn = [this.#isConnectivity ? 0 : 1]
    this.#bootstrapLevel = bootstrapLevel
    this.#recomputeOwnInfo()
    this.#advFp = this.#fp
    this.#advNn = this.#nn
  }

  /** First node of a new network (§4.8 create_net): empty map, bootstrap complete right away. */
  static createNet (c: QspnComponents, id: QspnIdentity, cfg: Partial<QspnConfig> = {}): QspnManager {
    const m = new QspnManager(c, id, { ...DEFAULT_QSPN_CONFIG, ...cfg }, null)
    c.clock.setTimer(1, () => { if (!m.#stopped) m.events.emit('bootstrap_complete', {}) })
    m.#schedulePeriodic()
    return m
  }

  // ---------------------------------------------------------------- queries

  get naddr (): Positions { return this.#naddr }
  get levels (): number { return this.#levels }
  isBootstrapComplete (): boolean { return this.#bootstrapLevel === null }

  /**
   * Grows whenever a destination appears, disappears, or its paths change in order, hops, cost or fingerprint; a
   * change of nodes-inside alone leaves it. Whoever derives routes from the map recomputes only when it grew.
   */
  get routingVersion (): number { return this.#routingVersion }

  /** Paths to `hc` carrying the eldest fingerprint, ascending cost (§4.5 exposed order). */
  getPathsTo (hc: HCoord): readonly NodePath[] {
    const d = this.#map.get(hcKey(hc))
    if (d === undefined) return []
    if (d.primary === undefined) {
      const fp = eldest(d.paths.map(p => p.fingerprint))
      d.primary = Object.freeze(d.paths.filter(p => sameFingerprint(p.fingerprint, fp)))
    }
    return d.primary
  }

  /** Every path kept for `hc`, whatever its fingerprint (what ETPs advertise). */
  getAllPathsTo (hc: HCoord): NodePath[] { return [...(this.#map.get(hcKey(hc))?.paths ?? [])] }

  getKnownDestinations (lvl: number): HCoord[] {
    const out: HCoord[] = []
    for (const d of this.#map.values()) if (d.hc.lvl === lvl) out.push(d.hc)
    return out.sort((a, b) => a.pos - b.pos)
  }

  /** Fingerprint of my g-node of level `lvl` (0..levels; `levels` = the network id). */
  getFingerprint (lvl: number): Fingerprint {
    this.#checkLevel(lvl, 'getFingerprint')
    return this.#fp[lvl]
  }

  /** Nodes-inside estimate of my g-node of level `lvl` (0..levels). */
  getNodesInside (lvl: number): number {
    this.#checkLevel(lvl, 'getNodesInside')
    return this.#nn[lvl]
  }

  /** Address of the neighbour on an arc; null until an ETP from it was processed. */
  getNaddrForArc (arcId: string): Positions | null {
    const a = this.#arcs.get(arcId)
    if (a === undefined) throw new QspnUnknownArcError(arcId)
    return a.peerNaddr
  }

  arcIds (): string[] { return [...this.#arcs.keys()] }

  #checkLevel (lvl: number, what: string): void {
    if (!Number.isInteger(lvl) || lvl < 0 || lvl > this.#levels) throw new RangeError(`${what}: level ${lvl} outside 0..${this.#levels}`)
    if (this.#bootstrapLevel !== null && lvl >= this.#bootstrapLevel) throw new QspnBootstrapInProgressError(`${what}(${lvl})`)
  }

  // ---------------------------------------------------------------- arcs

  /** A new qspn-arc (§4.4 "added arc"): ask its full ETP, merge, forward changes, then send it ours. */
  arcAdd (arc: QspnArc): void {
    if (this.#stopped) return
    if (this.#arcs.has(arc.id)) throw new RangeError(`arc ${arc.id} already added`)
    const st: ArcState = { id: arc.id, qspnId: this.#newArcId(), cost: arc.cost, peerNaddr: null, advertised: new Map(), headerSent: '' }
    this.#arcs.set(arc.id, st)
    for (const w of this.#waiters.get(arc.id) ?? []) { w.cancel(); w.resolve(this.#buildFullEtp(st)) }
    this.#waiters.delete(arc.id)
    if (this.#bootstrapLevel !== null) return // queued: bootstrap will ask it
    this.#requestFullEtp(st, true)
  }

  /** The cost of an arc changed: shift its paths, flood, then re-read full ETPs from all neighbours. */
  arcIsChanged (arc: QspnArc): void {
    if (this.#stopped) return
    const st = this.#arcs.get(arc.id)
    if (st === undefined) throw new QspnUnknownArcError(arc.id)
    const delta = arc.cost - st.cost
    st.cost = arc.cost
    if (delta === 0 || this.#bootstrapLevel !== null) return
    const changes = new Map<string, DestChange>()
    for (const pool of [...this.#pool.values()]) {
      for (const p of [...pool.values()]) {
        if (p.arcId === st.id) this.#changeOf(changes, destinationOf(p)).candidates.set(p.key, { ...p, cost: p.cost + delta })
      }
    }
    this.#commit(changes, [], null)
    for (const a of this.#arcs.values()) this.#requestFullEtp(a, false)
  }

  /** The arc is gone: its paths die, neighbours are asked again for what they know. */
  arcRemove (arcId: string): void {
    if (this.#stopped) return
    const st = this.#arcs.get(arcId)
    if (st === undefined) throw new QspnUnknownArcError(arcId)
    this.#arcs.delete(arcId)
    if (this.#bootstrapLevel !== null) return
    const changes = new Map<string, DestChange>()
    for (const pool of [...this.#pool.values()]) {
      for (const p of [...pool.values()]) if (p.arcId === arcId) this.#changeOf(changes, destinationOf(p)).candidates.delete(p.key)
    }
    this.#commit(changes, [], null)
    for (const a of this.#arcs.values()) this.#requestFullEtp(a, false)
  }

  /** Stops timers and makes the manager inert; pending requests to it are refused. */
  stop (): void {
    this.#stopped = true
    this.#cancelPeriodic?.()
    this.#holdTimer?.()
    for (const ws of this.#waiters.values()) for (const w of ws) { w.cancel(); w.reject(new QspnNotAcceptedError('(stopped)')) }
    this.#waiters.clear()
  }

  // ---------------------------------------------------------------- incoming

  /** A spontaneous ETP arrived over `arcId` as JSON text from the wire. */
  receiveEtpText (arcId: string, text: string, isFull: boolean): void {
    let m: EtpMessage
    try {
      m = decodeEtp(text, this.#gsizes)
    } catch (e) {
      this.#reject(e)
      return
    }
    this.#receive(arcId, m, isFull)
  }

  /** A spontaneous ETP arrived over `arcId` as an untrusted object. */
  receiveEtp (arcId: string, obj: unknown, isFull: boolean): void {
    let m: EtpMessage
    try {
      m = validateEtp(obj, this.#gsizes)
    } catch (e) {
      this.#reject(e)
      return
    }
    this.#receive(arcId, m, isFull)
  }

  /**
   * Answers a neighbour's `get_full_etp` over `arcId`. Refused during bootstrap; for an arc not added yet it
   * waits up to arc_timeout for `arcAdd` (arc-detection race, §4.8), then refuses.
   */
  getFullEtp (arcId: string, request: unknown): Promise<EtpMessage> {
    let req: FullEtpRequest
    try {
      req = validateFullEtpRequest(request, this.#gsizes)
    } catch (e) {
      this.#reject(e)
      return Promise.reject(e)
    }
    if (this.#stopped) return Promise.reject(new QspnNotAcceptedError(arcId))
    if (this.#bootstrapLevel !== null) return Promise.reject(new QspnBootstrapInProgressError(`get_full_etp over ${arcId}`))
    const st = this.#arcs.get(arcId)
    if (st !== undefined) {
      st.peerNaddr ??= req.requesterAddress
      return Promise.resolve(this.#buildFullEtp(st))
    }
    return new Promise((resolve, reject) => {
      const list = this.#waiters.get(arcId) ?? []
      const w: Waiter = {
        resolve,
        reject,
        cancel: this.#c.clock.setTimer(this.#cfg.arcTimeoutMs, () => {
          const l = this.#waiters.get(arcId)
          if (l !== undefined) l.splice(l.indexOf(w), 1)
          reject(new QspnNotAcceptedError(arcId))
        })
      }
      list.push(w)
      this.#waiters.set(arcId, list)
    })
  }

  #reject (e: unknown): void {
    this.stats.etpRejected++
    this.stats.lastRejectReason = e instanceof Error ? e.message : String(e)
    if (!(e instanceof EtpValidationError)) throw e
  }

  #receive (arcId: string, m: EtpMessage, isFull: boolean): void {
    if (this.#stopped) return
    this.stats.etpReceived++
    const st = this.#arcs.get(arcId)
    // Spontaneous ETPs are ignored during bootstrap and over arcs we do not (yet) know.
    if (st === undefined || this.#bootstrapLevel !== null) { this.stats.etpIgnored++; return }
    this.#processEtp(st, m, isFull)
  }

  #requestFullEtp (st: ArcState, thenSendOurs: boolean): void {
    this.stats.fullEtpRequests++
    const req: FullEtpRequest = { kind: 'get_full_etp', requesterAddress: [...this.#naddr] }
    this.#c.messenger.requestFullEtp(st.id, req).then(raw => {
      if (this.#stopped || this.#arcs.get(st.id) !== st) return
      let m: EtpMessage
      try {
        m = validateEtp(raw, this.#gsizes)
      } catch (e) {
        this.#reject(e)
        this.#dropFailedArc(st, false)
        return
      }
      this.stats.etpReceived++
      this.#processEtp(st, m, true)
      if (thenSendOurs && this.#arcs.get(st.id) === st) this.#send(st, this.#buildFullEtp(st), true)
    }, (e: unknown) => {
      if (this.#stopped || this.#arcs.get(st.id) !== st) return
      // A bootstrapping neighbour sends its full ETP when it is done; anything else means the arc is unusable.
      if (e instanceof Error && e.name === 'QspnBootstrapInProgressError') return
      const badLink = !(e instanceof Error && (e.name === 'QspnNotAcceptedError' || e.name === 'EtpValidationError'))
      this.#dropFailedArc(st, badLink)
    })
  }

  #dropFailedArc (st: ArcState, badLink: boolean): void {
    this.arcRemove(st.id)
    this.events.emit('arc_removed', { arcId: st.id, badLink })
  }

  // ---------------------------------------------------------------- ETP processing (§4.4)

  #processEtp (arc: ArcState, m: EtpMessage, isFull: boolean): void {
    const v = maxDistinctGnode(this.#naddr, m.nodeAddress)
    if (v === null) { this.#reject(new EtpValidationError('$.nodeAddress', `sender claims my own address ${m.nodeAddress.join('·')}`)); return }
    const i = v.lvl
    arc.peerNaddr = m.nodeAddress
    // Grouping rule on the ETP's hop list, then the acyclic rule: an ETP that crossed one of my g-nodes is ignored.
    const etpHops: HCoord[] = [v, ...m.hops.filter(h => h.lvl >= i)]
    if (etpHops.some(h => isMyGnode(this.#naddr, h))) { this.stats.etpIgnored++; return }

    const changes = new Map<string, DestChange>()
    const listed = new Set<string>()
    const offer = (hops: HCoord[], arcs: number[], cost: Cost, fingerprint: Fingerprint, nodesInside: number): void => {
      const key = pathKey(hops, arcs)
      listed.add(key)
      const dest = destinationOf({ hops })
      const known = this.#pool.get(hcKey(dest))?.get(key)
      if (isDead(cost)) {
        if (known !== undefined) this.#changeOf(changes, dest).candidates.delete(key)
        return
      }
      // What the pool holds already (a full ETP repeats it) changes nothing: no new objects, no re-selection.
      if (known !== undefined && known.arcId === arc.id && known.cost === cost && known.nodesInside === nodesInside && identicalFingerprint(known.fingerprint, fingerprint)) return
      this.#changeOf(changes, dest).candidates.set(key, { arcId: arc.id, hops: hops.map(h => this.#intern(h)), arcs, cost, fingerprint, nodesInside, key })
    }
    // The implicit path to the sender's max-distinct g-node.
    offer([v], [arc.qspnId], arc.cost, m.fingerprints[i], m.nodesInside[i])
    for (const p of m.paths) {
      if (i > 0 && p.ignoreOutside[i]) continue
      const hops: HCoord[] = [v]
      const arcs: number[] = [arc.qspnId]
      for (let k = 0; k < p.hops.length; k++) {
        if (p.hops[k].lvl >= i) { hops.push(p.hops[k]); arcs.push(p.arcs[k]) }
      }
      if (hops.length === 1) continue // destination inside the sender's g-node: not for me
      if (hops.some((h, k) => k > 0 && (isMyGnode(this.#naddr, h) || (h.lvl === v.lvl && h.pos === v.pos)))) continue
      offer(hops, arcs, isDead(p.cost) ? DEAD : p.cost + arc.cost, p.fingerprint, p.nodesInside)
    }
    // A full ETP implicitly removes every path through this gateway it does not list.
    if (isFull) {
      for (const pool of [...this.#pool.values()]) {
        for (const p of [...pool.values()]) {
          if (p.arcId === arc.id && !listed.has(p.key)) this.#changeOf(changes, destinationOf(p)).candidates.delete(p.key)
        }
      }
    }
    this.#commit(changes, etpHops, arc.id)
  }

  /** One HCoord object per g-node: the pool holds thousands of paths, most through the same few g-nodes. */
  #intern (h: HCoord): HCoord {
    const n = hcNum(h)
    let c = this.#hcs.get(n)
    if (c === undefined) { c = { lvl: h.lvl, pos: h.pos }; this.#hcs.set(n, c) }
    return c
  }

  #changeOf (changes: Map<string, DestChange>, hc: HCoord): DestChange {
    const k = hcKey(hc)
    let ch = changes.get(k)
    if (ch === undefined) {
      let candidates = this.#pool.get(k)
      if (candidates === undefined) { candidates = new Map(); this.#pool.set(k, candidates) }
      ch = { hc: { lvl: hc.lvl, pos: hc.pos }, candidates }
      changes.set(k, ch)
    }
    return ch
  }

  /**
   * Applies candidate changes: runs path selection on every touched destination (cascading when a destination
   * disappears and other paths went through it), updates the map, emits events, recomputes own g-node info and
   * forwards what changed (interesting-information rule) to every neighbour but the one it came from.
   */
  #commit (changes: Map<string, DestChange>, etpHops: HCoord[], fromArcId: string | null): void {
    if (changes.size === 0) return
    const neighbourGnodes = this.#neighbourGnodes()
    const selected = new Map<string, NodePath[]>()
    const isKnown = (hc: HCoord): boolean => {
      const k = hcKey(hc)
      const s = selected.get(k)
      if (s !== undefined) return s.length > 0
      const ch = changes.get(k)
      if (ch !== undefined) { for (const p of ch.candidates.values()) if (!isDead(p.cost)) return true; return false }
      return this.#map.has(k)
    }
    const nodesInside = (hc: HCoord): number => {
      const k = hcKey(hc)
      const s = selected.get(k) ?? this.#map.get(k)?.paths
      if (s !== undefined && s.length > 0) return s[0].nodesInside
      let best: NodePath | undefined
      for (const p of changes.get(k)?.candidates.values() ?? []) if (best === undefined || byCost(p, best) < 0) best = p
      return best?.nodesInside ?? 0
    }
    let settled: (fpId: number) => boolean = () => true
    const ctx = { maxPaths: this.#cfg.maxPaths, maxCommonHopsRatio: this.#cfg.maxCommonHopsRatio, neighbourGnodes, isKnown, nodesInside, fingerprintCounts: (fpId: number) => settled(fpId) }
    let pending = [...changes.keys()]
    for (let round = 0; pending.length > 0 && round < 4 * this.#levels + 4; round++) {
      const flipped = new Set<string>()
      for (const k of pending) {
        const ch = changes.get(k)!
        const had = (selected.get(k)?.length ?? this.#map.get(k)?.paths.length ?? 0) > 0
        settled = this.#fingerprintClock(k, ch)
        const s = selectPaths(ch.hc, ch.candidates.values(), ctx)
        selected.set(k, s)
        if ((s.length > 0) !== had) flipped.add(k)
      }
      // Paths through a hop that vanished (or appeared) are dropped (or usable) now: revisit the destinations
      // whose pool holds such paths.
      pending = []
      if (flipped.size === 0) break
      for (const [k, pool] of this.#pool) {
        if (flipped.has(k)) continue
        for (const p of pool.values()) {
          if (p.hops.some((h, n) => n < p.hops.length - 1 && flipped.has(hcKey(h)))) { this.#changeOf(changes, destinationOf(p)); pending.push(k); break }
        }
      }
    }

    const changed: Array<{ hc: HCoord, routing: boolean }> = []
    // Own info (§4.6) derives from each destination's best path for it: recomputed only when one of those moved.
    let ownInfoInputs = false
    for (const [k, ch] of changes) {
      if (ch.candidates.size === 0) this.#pool.delete(k)
      const before = this.#map.get(k)?.paths ?? []
      const after = selected.get(k) ?? before
      if (samePaths(before, after)) continue
      const bestBefore = this.#map.get(k)?.best
      const afterKeys = new Set(after.map(p => p.key))
      const beforeByKey = new Map(before.map(p => [p.key, p]))
      const removed = before.filter(p => !afterKeys.has(p.key))
      if (after.length === 0) this.#map.delete(k)
      else if (before.length === 0) this.#map.set(k, { hc: ch.hc, paths: after, best: bestForOwnInfo(after) })
      else { const d = this.#map.get(k)!; d.paths = after; d.best = bestForOwnInfo(after); d.primary = undefined }
      const bestAfter = this.#map.get(k)?.best
      if (bestBefore === undefined || bestAfter === undefined || bestBefore.nodesInside !== bestAfter.nodesInside ||
        !identicalFingerprint(bestBefore.fingerprint, bestAfter.fingerprint)) ownInfoInputs = true
      changed.push({ hc: ch.hc, routing: !sameRouting(before, after) })
      if (before.length === 0) this.events.emit('destination_added', { hc: ch.hc })
      for (const p of after) {
        const old = beforeByKey.get(p.key)
        if (old === undefined) this.events.emit('path_added', { path: p })
        else if (!samePath(old, p)) this.events.emit('path_changed', { path: p })
      }
      for (const p of removed) this.events.emit('path_removed', { path: p })
      if (after.length === 0) this.events.emit('destination_removed', { hc: ch.hc })
    }
    if (changed.some(c => c.routing)) this.#routingVersion++
    if (changed.length === 0) return // own info derives from the map alone
    if (ownInfoInputs && this.#recomputeOwnInfo()) this.#holdOwnInfo()
    this.#queueForward(changed, etpHops, fromArcId)
  }

  /**
   * Updates since when each fingerprint of destination `k` has been reported, schedules a re-selection for when the
   * youngest unsettled one settles, and returns the rule-(c) test for this selection.
   */
  #fingerprintClock (k: string, ch: DestChange): (fpId: number) => boolean {
    const settleMs = this.#cfg.fingerprintSettleMs
    if (settleMs <= 0) return () => true
    const now = this.#c.clock.now()
    const old = this.#fpSeen.get(k)
    // Usually every candidate carries the same fingerprint, already known: nothing to update.
    let only: number | null = null
    let several = false
    for (const p of ch.candidates.values()) {
      if (isDead(p.cost)) continue
      if (only === null) only = p.fingerprint.id
      else if (p.fingerprint.id !== only) { several = true; break }
    }
    if (only === null) { this.#fpSeen.delete(k); return () => true }
    if (!several && old?.size === 1 && old.has(only)) return fpId => old.get(fpId)! + settleMs <= now
    let seen = new Map<number, number>()
    for (const p of ch.candidates.values()) {
      if (isDead(p.cost) || seen.has(p.fingerprint.id)) continue
      seen.set(p.fingerprint.id, old?.get(p.fingerprint.id) ?? now)
    }
    if (old !== undefined && old.size === seen.size && [...seen.keys()].every(id => old.has(id))) seen = old
    else this.#fpSeen.set(k, seen)
    let next = Number.POSITIVE_INFINITY
    if (seen.size > 1) for (const since of seen.values()) if (since + settleMs > now) next = Math.min(next, since + settleMs)
    if (next !== Number.POSITIVE_INFINITY && (this.#fpRecheck.get(k) ?? Number.POSITIVE_INFINITY) > next) {
      this.#fpRecheck.set(k, next)
      this.#c.clock.setTimer(next - now, () => {
        if (this.#fpRecheck.get(k) !== next) return
        this.#fpRecheck.delete(k)
        if (this.#stopped || this.#bootstrapLevel !== null) return
        const changes = new Map<string, DestChange>()
        this.#changeOf(changes, ch.hc)
        this.#commit(changes, [], null)
      })
    }
    return fpId => (seen.get(fpId) ?? now) + settleMs <= now
  }

  /**
   * Interesting-information rule with coalescing. Routing changes (paths added, removed, re-costed) committed
   * within `etpFlushMs` (0: the same clock instant) go out as one partial ETP per neighbour; a batch that came
   * from one ETP keeps its hop list and skips its sender, a mixed batch carries an empty hop list (the per-path
   * acyclic rule still holds) and goes to all. Changes of nodes-inside or fingerprints only (own or of paths) wait
   * `infoFlushMs`: they are estimates, and forwarding every increment while a network forms costs far more
   * messages than the routing itself.
   */
  #queueForward (changed: ReadonlyArray<{ hc: HCoord, routing: boolean }>, etpHops: HCoord[], fromArcId: string | null): void {
    const routing = changed.filter(c => c.routing)
    if (routing.length > 0) {
      let b = this.#batch
      if (b === null) {
        b = { dests: new Map(), hops: etpHops, from: fromArcId }
        this.#batch = b
        const delay = Math.max(this.#cfg.etpFlushMs, this.#lastFlushAt + this.#cfg.etpPacingMs - this.#c.clock.now())
        this.#c.clock.setTimer(delay, () => { this.#batch = null; this.#lastFlushAt = this.#c.clock.now(); this.#flush(b!, false) })
      } else if (b.from !== fromArcId || b.hops !== etpHops) {
        b.hops = []
        b.from = null
      }
      for (const c of routing) b.dests.set(hcKey(c.hc), c.hc)
    }
    let ib = this.#infoBatch
    if (ib === null) {
      ib = { dests: new Map(), hops: [], from: null }
      this.#infoBatch = ib
      const delay = Math.max(this.#cfg.infoFlushMs, this.#lastInfoFlushAt + this.#cfg.etpPacingMs - this.#c.clock.now())
      this.#c.clock.setTimer(delay, () => { this.#infoBatch = null; this.#lastInfoFlushAt = this.#c.clock.now(); this.#flush(ib!, true) })
    }
    for (const c of changed) if (!c.routing) ib.dests.set(hcKey(c.hc), c.hc)
  }

  #flush (b: Batch, withInfo: boolean): void {
    if (this.#stopped) return
    const dests = [...b.dests.values()].sort((x, y) => x.lvl - y.lvl || x.pos - y.pos)
    for (const t of this.#arcs.values()) {
      // A neighbour inside a g-node the batch's ETP already crossed (its sender, at least) would drop the whole ETP
      // by the acyclic rule, yet it must learn the rest of what changed here (a destination that became known,
      // estimates of other paths): it gets the batch without the hop list; per-path acyclic checks still hold.
      const etp = this.#buildEtp(this.#crossed(b.hops, t) ? [] : b.hops, dests, t, withInfo)
      if (etp !== null) this.#send(t, etp, false)
    }
  }

  /** Would `target` ignore an ETP with this hop list (one of its own g-nodes in it, §4.4 acyclic rule)? */
  #crossed (hops: readonly HCoord[], target: ArcState): boolean {
    if (hops.length === 0) return false
    const peer = target.peerNaddr
    if (peer === null) return true
    const v = maxDistinctGnode(peer, this.#naddr)
    if (v === null) return true
    return hops.some(h => h.lvl >= v.lvl && peer[h.lvl] === h.pos)
  }

  // ---------------------------------------------------------------- own g-node info (§4.6)

  /** Returns true when any level's fingerprint or nodes-inside changed (and emits the events). */
  #recomputeOwnInfo (): boolean {
    const byLevel: Destination[][] = Array.from({ length: this.#levels }, () => [])
    for (const d of this.#map.values()) byLevel[d.hc.lvl].push(d)
    const fp: Fingerprint[] = [this.#fp[0]]
    const nn: number[] = [this.#isConnectivity ? 0 : 1]
    for (let i = 1; i <= this.#levels; i++) {
      const sibs: Fingerprint[] = []
      let sum = 0
      for (const d of byLevel[i - 1]) {
        sibs.push(d.best.fingerprint)
        sum += d.best.nodesInside
      }
      fp.push(constructUp(fp[i - 1], sibs))
      nn.push(nn[i - 1] + sum)
    }
    const old = { fp: this.#fp, nn: this.#nn }
    this.#fp = fp
    this.#nn = nn
    if (old.fp.length !== fp.length) return false // constructor
    let changed = false
    for (let i = 1; i <= this.#levels; i++) {
      if (!sameFingerprint(old.fp[i], fp[i])) { changed = true; this.events.emit('changed_fp', { lvl: i }) }
      if (old.nn[i] !== nn[i]) { changed = true; this.events.emit('changed_nodes_inside', { lvl: i }) }
    }
    return changed
  }

  /**
   * Own info changed: tell neighbours once it has not changed for `ownInfoHoldMs` (each change restarts the wait,
   * up to four times that since the first), then as a header-only ETP where nothing else carries it.
   */
  #holdOwnInfo (): void {
    const hold = this.#cfg.ownInfoHoldMs
    const now = this.#c.clock.now()
    if (this.#holdTimer === null) this.#holdSince = now
    else this.#holdTimer()
    const publish = (): void => {
      this.#holdTimer = null
      if (this.#stopped) return
      this.#advFp = this.#fp
      this.#advNn = this.#nn
      this.#queueForward([], [], null)
    }
    const wait = Math.min(hold, this.#holdSince + 4 * hold - now)
    if (wait <= 0) { publish(); return }
    this.#holdTimer = this.#c.clock.setTimer(wait, publish)
  }

  // ---------------------------------------------------------------- ETP building (§4.3)

  #neighbourGnodes (): HCoord[] {
    const seen = new Map<string, HCoord>()
    for (const a of this.#arcs.values()) {
      if (a.peerNaddr === null) continue
      const g = maxDistinctGnode(this.#naddr, a.peerNaddr)
      if (g !== null) seen.set(hcKey(g), g)
    }
    return [...seen.values()]
  }

  /** The neighbour's max-distinct g-node: paths containing it would be discarded there, so they are not sent. */
  #excludedFor (target: ArcState): HCoord | null {
    return target.peerNaddr === null ? null : maxDistinctGnode(this.#naddr, target.peerNaddr)
  }

  #header (hops: HCoord[], paths: EtpPath[]): EtpMessage {
    return {
      kind: 'etp',
      nodeAddress: [...this.#naddr],
      fingerprints: this.#advFp.slice(0, this.#levels),
      nodesInside: this.#advNn.slice(0, this.#levels),
      hops,
      paths
    }
  }

  #headerSignature (): string {
    let s = ''
    for (let i = 0; i < this.#levels; i++) s += `${this.#advFp[i].id}/${this.#advNn[i]};`
    return s
  }

  /** Full ETP for one neighbour: every path that does not contain it (§4.4). Resets what it was told. */
  #buildFullEtp (target: ArcState): EtpMessage {
    const paths: EtpPath[] = []
    target.advertised.clear()
    const dests = [...this.#map.values()].sort((a, b) => a.hc.lvl - b.hc.lvl || a.hc.pos - b.hc.pos)
    for (const d of dests) {
      const next = this.#advertisable(d.hc, target)
      for (const ad of next.values()) paths.push(toEtpPath(ad.path, ad.path.cost, ad.flags))
      if (next.size > 0) target.advertised.set(hcKey(d.hc), next)
    }
    target.headerSent = this.#headerSignature()
    return this.#header([], paths)
  }

  /**
   * Partial ETP for one neighbour: for the changed destinations, only the paths whose cost, fingerprint,
   * nodes-inside or ignore_outside flags differ from what this neighbour was last told, and the ones it was told
   * about that are gone (cost DEAD). Null when there is nothing new for it.
   */
  #buildEtp (hops: HCoord[], dests: readonly HCoord[], target: ArcState, headerAlone: boolean): EtpMessage | null {
    const paths: EtpPath[] = []
    for (const hc of dests) {
      const k = hcKey(hc)
      const prev = target.advertised.get(k)
      const next = this.#advertisable(hc, target)
      for (const ad of next.values()) {
        const pv = prev?.get(ad.path.key)
        if (pv === undefined || !sameAdvertised(pv, ad)) paths.push(toEtpPath(ad.path, ad.path.cost, ad.flags))
      }
      if (prev !== undefined) {
        // A dead path must not be processed where the live one with the same grouped shape still stands.
        let liveShapes: Array<Set<string>> | undefined
        for (const [key, old] of prev) {
          if (next.has(key)) continue
          if (liveShapes === undefined) { // built only when some path is gone
            const shapes: Array<Set<string>> = Array.from({ length: this.#levels }, () => new Set())
            for (const ad of next.values()) for (let i = 1; i < this.#levels; i++) if (!ad.flags[i]) shapes[i].add(groupedShape(ad.path, i))
            liveShapes = shapes
          }
          const live = liveShapes
          const flags = old.flags.map((f, i) => i > 0 && (f || live[i].has(groupedShape(old.path, i))))
          paths.push(toEtpPath(old.path, DEAD, flags))
        }
      }
      if (next.size > 0) target.advertised.set(k, next); else target.advertised.delete(k)
    }
    const header = this.#headerSignature()
    if (paths.length === 0 && (header === target.headerSent || !headerAlone)) return null
    target.headerSent = header
    return this.#header(hops, paths)
  }

  /**
   * The paths of `dest` this neighbour may be told about, with their ignore_outside flags: flag i is true when
   * the destination is inside my level-i g-node, or when a cheaper path leaves my level-i g-node through the same
   * arc (receivers outside it could not tell them apart after the grouping rule). Paths containing the neighbour's
   * max-distinct g-node, or flagged at its level, are left out: it would discard them.
   */
  #advertisable (dest: HCoord, target: ArcState): Map<string, Advertised> {
    const out = new Map<string, Advertised>()
    const paths = this.#map.get(hcKey(dest))?.paths
    if (paths === undefined) return out
    const ex = target.peerNaddr === null ? null : maxDistinctGnode(this.#naddr, target.peerNaddr)
    const live = ex === null ? paths : paths.filter(p => !p.hops.some(h => h.lvl === ex.lvl && h.pos === ex.pos))
    const flags = live.map(() => new Array<boolean>(this.#levels).fill(false))
    for (let i = 1; i < this.#levels; i++) {
      if (dest.lvl < i) { for (const f of flags) f[i] = true; continue }
      const exits = new Set<string>()
      live.forEach((p, n) => {
        const j = p.hops.findIndex(h => h.lvl >= i)
        const sig = `${hcKey(p.hops[j])}@${p.arcs[j]}`
        flags[n][i] = exits.has(sig)
        exits.add(sig)
      })
    }
    live.forEach((p, n) => {
      const f = flags[n]
      // The neighbour would drop a path flagged at its level: it is not told, and one it was told about before
      // becomes a removal (otherwise the neighbour would keep the old version of it for good).
      if (ex !== null && ex.lvl > 0 && f[ex.lvl]) return
      out.set(p.key, { path: p, flags: f })
    })
    return out
  }

  #send (target: ArcState, etp: EtpMessage, isFull: boolean): void {
    if (this.#stopped) return
    this.stats.etpSent++
    this.#c.messenger.sendEtp([target.id], etp, isFull)
  }

  #schedulePeriodic (): void {
    if (this.#cfg.periodicFullEtpMs <= 0) return
    this.#cancelPeriodic = this.#c.clock.setTimer(this.#cfg.periodicFullEtpMs, () => {
      if (this.#stopped) return
      if (this.#bootstrapLevel === null) for (const a of this.#arcs.values()) this.#send(a, this.#buildFullEtp(a), true)
      this.#schedulePeriodic()
    })
  }

  #newArcId (): number {
    const used = new Set([...this.#arcs.values()].map(a => a.qspnId))
    for (;;) {
      const id = this.#c.random.int(0x7fffffff)
      if (!used.has(id)) return id
    }
  }
}

/** Would the neighbour learn nothing new from `b` after `a` (same cost, fingerprint, nodes-inside and flags)? */
function sameAdvertised (a: Advertised, b: Advertised): boolean {
  if (a.path.cost !== b.path.cost || a.path.nodesInside !== b.path.nodesInside || a.path.fingerprint.id !== b.path.fingerprint.id) return false
  for (let i = 0; i < a.flags.length; i++) if (a.flags[i] !== b.flags[i]) return false
  return true
}

function toEtpPath (p: NodePath, cost: Cost, ignoreOutside: boolean[]): EtpPath {
  return { hops: p.hops, arcs: p.arcs, cost, fingerprint: p.fingerprint, nodesInside: p.nodesInside, ignoreOutside }
}

/** The path as a receiver at max-distinct level i sees it after the grouping rule (hops and arcs of level >= i). */
function groupedShape (p: NodePath, i: number): string {
  let s = ''
  for (let k = 0; k < p.hops.length; k++) if (p.hops[k].lvl >= i) s += `${p.arcs[k]}>${hcKey(p.hops[k])}/`
  return s
}

function samePath (a: NodePath, b: NodePath): boolean {
  return a.key === b.key && a.cost === b.cost && a.nodesInside === b.nodesInside && sameFingerprint(a.fingerprint, b.fingerprint)
}

/**
 * Same paths in the same order at the same costs and fingerprints (what routing and path selection care about;
 * a fingerprint decides mandatory paths and which paths are exposed). Nodes-inside alone is an estimate.
 */
function sameRouting (a: readonly NodePath[], b: readonly NodePath[]): boolean {
  if (a.length !== b.length) return false
  for (let k = 0; k < a.length; k++) {
    if (a[k].key !== b[k].key || a[k].cost !== b[k].cost || !sameFingerprint(a[k].fingerprint, b[k].fingerprint)) return false
  }
  return true
}

function samePaths (a: readonly NodePath[], b: readonly NodePath[]): boolean {
  if (a.length !== b.length) return false
  for (let k = 0; k < a.length; k++) if (!samePath(a[k], b[k])) return false
  return true
}
