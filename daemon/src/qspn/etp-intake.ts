import type { CancelTimer } from '../util/clock'
import type { Advertisement } from './advertisement'
import type { ArcState, DestChange, QspnCore } from './core'
import { decodeEtp, validateEtp, validateFullEtpRequest, EtpValidationError, type EtpMessage, type FullEtpRequest } from './etp'
import { QspnBootstrapInProgressError, QspnNotAcceptedError } from './errors'
import { identicalFingerprint, type Fingerprint } from './fingerprint'
import type { MapUpdater } from './map-update'
import { destinationOf, pathKey } from './node-path'
import { hcKey, isDead, isMyGnode, maxDistinctGnode, DEAD, type Cost, type HCoord } from './types'

/** How many times in a row a full ETP is asked for again because a spontaneous one crossed the answer. */
const MAX_CROSSED = 5

interface Waiter { resolve: (m: EtpMessage) => void, reject: (e: Error) => void, cancel: CancelTimer }

/** What the intake asks of the rest of the manager. */
export interface IntakeHooks {
  /** Communication over the arc failed: drop it (badLink: the link itself looks broken). */
  dropFailedArc (st: ArcState, badLink: boolean): void
  /** Whether a spontaneous ETP is processed at all (bootstrap rules, §4.8). */
  admitsSpontaneous (m: EtpMessage): boolean
  /** An ETP from `st` was processed (asked for or spontaneous): bootstrap bookkeeping. */
  processed (st: ArcState): void
}

/**
 * Incoming QSPN (§4.3, §4.4): validation of every ETP and request, full-ETP requests to neighbours and their
 * answers, and the processing rules (grouping, acyclic) that turn an ETP into candidate changes for the map.
 */
export class EtpIntake {
  readonly #waiters = new Map<string, Waiter[]>()
  /** Spontaneous ETPs processed per arc (to tell whether one crossed an answer to our full-ETP request). */
  readonly #spontaneous = new WeakMap<ArcState, number>()

  constructor (
    private readonly q: QspnCore,
    private readonly map: MapUpdater,
    private readonly adv: Advertisement,
    private readonly hooks: IntakeHooks
  ) {}

  /** A spontaneous ETP arrived over `arcId` as JSON text from the wire. */
  receiveText (arcId: string, text: string, isFull: boolean): void {
    let m: EtpMessage
    try {
      m = decodeEtp(text, this.q.gsizes)
    } catch (e) {
      this.reject(e)
      return
    }
    this.#receive(arcId, m, isFull)
  }

  /** A spontaneous ETP arrived over `arcId` as an untrusted object. */
  receive (arcId: string, obj: unknown, isFull: boolean): void {
    let m: EtpMessage
    try {
      m = validateEtp(obj, this.q.gsizes)
    } catch (e) {
      this.reject(e)
      return
    }
    this.#receive(arcId, m, isFull)
  }

  /**
   * Answers a neighbour's `get_full_etp` over `arcId`. Refused during bootstrap; for an arc not added yet it
   * waits up to arc_timeout for `arcAdd` (arc-detection race, §4.8), then refuses.
   */
  answerFullEtpRequest (arcId: string, request: unknown): Promise<EtpMessage> {
    const q = this.q
    let req: FullEtpRequest
    try {
      req = validateFullEtpRequest(request, q.gsizes)
    } catch (e) {
      this.reject(e)
      return Promise.reject(e)
    }
    if (q.stopped) return Promise.reject(new QspnNotAcceptedError(arcId))
    if (q.bootstrapLevel !== null) return Promise.reject(new QspnBootstrapInProgressError(`get_full_etp over ${arcId}`))
    const st = q.arcs.get(arcId)
    if (st !== undefined) {
      st.peerNaddr ??= req.requesterAddress
      return Promise.resolve(this.adv.buildFull(st))
    }
    return new Promise((resolve, reject) => {
      const list = this.#waiters.get(arcId) ?? []
      const w: Waiter = {
        resolve,
        reject,
        cancel: q.c.clock.setTimer(q.cfg.arcTimeoutMs, () => {
          const l = this.#waiters.get(arcId)
          if (l !== undefined) l.splice(l.indexOf(w), 1)
          reject(new QspnNotAcceptedError(arcId))
        })
      }
      list.push(w)
      this.#waiters.set(arcId, list)
    })
  }

  /** The arc was just added: requests that waited for it are answered now. */
  arcAdded (st: ArcState): void {
    for (const w of this.#waiters.get(st.id) ?? []) { w.cancel(); w.resolve(this.adv.buildFull(st)) }
    this.#waiters.delete(st.id)
  }

  /** Refuses every request still waiting (the manager stops). */
  refuseAll (): void {
    for (const ws of this.#waiters.values()) for (const w of ws) { w.cancel(); w.reject(new QspnNotAcceptedError('(stopped)')) }
    this.#waiters.clear()
  }

  /**
   * Asks the neighbour on `st` for its full ETP and processes it (unless `accept` says no); on success calls
   * `then` (e.g. send it ours). A neighbour still bootstrapping refuses: `onRefused` (default: nothing, it sends
   * its full ETP when done).
   *
   * The answer is what the neighbour knew when it served the request. A spontaneous ETP from it that arrived
   * meanwhile may be newer (sent after the answer was made, yet delivered first): the answer, being full, would
   * then drop what that one brought, while the neighbour believes we know it, and a partial ETP never repeats it.
   * Their order unknown, the full ETP is asked for again (at most MAX_CROSSED times in a row).
   */
  requestFull (st: ArcState, then: (() => void) | null, onRefused?: () => void, accept?: (m: EtpMessage) => boolean, attempt = 0, crossed = 0): void {
    const q = this.q
    q.stats.fullEtpRequests++
    const req: FullEtpRequest = { kind: 'get_full_etp', requesterAddress: [...q.naddr] }
    const spontaneousBefore = this.#spontaneous.get(st) ?? 0
    q.c.messenger.requestFullEtp(st.id, req).then(raw => {
      if (q.stopped || q.arcs.get(st.id) !== st) return
      let m: EtpMessage
      try {
        m = validateEtp(raw, q.gsizes)
      } catch (e) {
        this.reject(e)
        this.hooks.dropFailedArc(st, false)
        return
      }
      q.stats.etpReceived++
      let processed = false
      if (accept === undefined || accept(m)) {
        this.#process(st, m, true)
        this.hooks.processed(st)
        processed = true
      } else {
        q.stats.etpIgnored++
      }
      if (then !== null && q.arcs.get(st.id) === st) then()
      if (processed && (this.#spontaneous.get(st) ?? 0) !== spontaneousBefore && crossed < MAX_CROSSED && !q.stopped && q.arcs.get(st.id) === st) {
        this.requestFull(st, null, undefined, undefined, 0, crossed + 1)
      }
    }, (e: unknown) => {
      if (q.stopped || q.arcs.get(st.id) !== st) return
      // A bootstrapping neighbour sends its full ETP when it is done; anything else means the arc is unusable.
      if (e instanceof Error && e.name === 'QspnBootstrapInProgressError') { onRefused?.(); return }
      const badLink = !(e instanceof Error && (e.name === 'QspnNotAcceptedError' || e.name === 'EtpValidationError'))
      // a transport failure (a connection refused or not answered) is tried once more before the arc is given up:
      // right after an identity moved to new NICs, or on a loaded host, one attempt can fail and the next succeed
      if (badLink && attempt === 0 && q.cfg.requestRetryMs > 0) {
        q.c.clock.setTimer(q.cfg.requestRetryMs, () => {
          if (!q.stopped && q.arcs.get(st.id) === st) this.requestFull(st, then, onRefused, accept, 1)
        })
        return
      }
      this.hooks.dropFailedArc(st, badLink)
    })
  }

  /** Counts a rejected input; anything but a validation error is a bug and is rethrown. */
  reject (e: unknown): void {
    this.q.stats.etpRejected++
    this.q.stats.lastRejectReason = e instanceof Error ? e.message : String(e)
    if (!(e instanceof EtpValidationError)) throw e
  }

  #receive (arcId: string, m: EtpMessage, isFull: boolean): void {
    const q = this.q
    if (q.stopped) return
    q.stats.etpReceived++
    const st = q.arcs.get(arcId)
    // ETPs over arcs we do not (yet) know are ignored, and so are most during bootstrap.
    if (st === undefined || !this.hooks.admitsSpontaneous(m)) { q.stats.etpIgnored++; return }
    this.#spontaneous.set(st, (this.#spontaneous.get(st) ?? 0) + 1)
    this.#process(st, m, isFull)
    this.hooks.processed(st)
  }

  // ---------------------------------------------------------------- ETP processing (§4.4)

  #process (arc: ArcState, m: EtpMessage, isFull: boolean): void {
    const q = this.q
    const v = maxDistinctGnode(q.naddr, m.nodeAddress)
    if (v === null) { this.reject(new EtpValidationError('$.nodeAddress', `sender claims my own address ${m.nodeAddress.join('·')}`)); return }
    const i = v.lvl
    // The neighbour's position at that level changed (it took a new one, or became a connectivity identity): the
    // implicit path to its old g-node goes (the other paths over the arc follow with its next full ETP).
    const oldV = arc.peerNaddr === null ? null : maxDistinctGnode(q.naddr, arc.peerNaddr)
    const movedFrom = oldV !== null && (oldV.lvl !== v.lvl || oldV.pos !== v.pos) ? oldV : null
    arc.peerNaddr = m.nodeAddress
    // Grouping rule on the ETP's hop list, then the acyclic rule: an ETP that crossed one of my g-nodes is ignored.
    const etpHops: HCoord[] = [v, ...m.hops.filter(h => h.lvl >= i)]
    if (etpHops.some(h => isMyGnode(q.naddr, h))) { q.stats.etpIgnored++; return }

    const changes = new Map<string, DestChange>()
    const listed = new Set<string>()
    const offer = (hops: HCoord[], arcs: number[], cost: Cost, fingerprint: Fingerprint, nodesInside: number): void => {
      const key = pathKey(hops, arcs)
      listed.add(key)
      const dest = destinationOf({ hops })
      const known = q.pool.get(hcKey(dest))?.get(key)
      if (isDead(cost)) {
        if (known !== undefined) this.map.changeOf(changes, dest).candidates.delete(key)
        return
      }
      // What the pool holds already (a full ETP repeats it) changes nothing: no new objects, no re-selection.
      if (known !== undefined && known.arcId === arc.id && known.cost === cost && known.nodesInside === nodesInside && identicalFingerprint(known.fingerprint, fingerprint)) return
      this.map.changeOf(changes, dest).candidates.set(key, { arcId: arc.id, hops: hops.map(h => q.intern(h)), arcs, cost, fingerprint, nodesInside, key })
    }
    // The implicit path to the sender's max-distinct g-node.
    offer([v], [arc.qspnId], arc.cost, m.fingerprints[i], m.nodesInside[i])
    if (movedFrom !== null) offer([movedFrom], [arc.qspnId], DEAD, m.fingerprints[i], m.nodesInside[i])
    for (const p of m.paths) {
      if (i > 0 && p.ignoreOutside[i]) continue
      const hops: HCoord[] = [v]
      const arcs: number[] = [arc.qspnId]
      for (let k = 0; k < p.hops.length; k++) {
        if (p.hops[k].lvl >= i) { hops.push(p.hops[k]); arcs.push(p.arcs[k]) }
      }
      if (hops.length === 1) continue // destination inside the sender's g-node: not for me
      if (hops.some((h, k) => k > 0 && (isMyGnode(q.naddr, h) || (h.lvl === v.lvl && h.pos === v.pos)))) continue
      offer(hops, arcs, isDead(p.cost) ? DEAD : p.cost + arc.cost, p.fingerprint, p.nodesInside)
    }
    // A full ETP implicitly removes every path through this gateway it does not list.
    if (isFull) {
      for (const pool of [...q.pool.values()]) {
        for (const p of [...pool.values()]) {
          if (p.arcId === arc.id && !listed.has(p.key)) this.map.changeOf(changes, destinationOf(p)).candidates.delete(p.key)
        }
      }
    }
    this.map.commit(changes, etpHops, arc.id)
  }
}
