import { coherenceDeltaMs } from './config'
import { PeersDatabaseError, PeersGaveUpError, PeersInvalidRequestError, PeersNoParticipantsError, PeersRedoFromStartError, PeersRefuseExecutionError } from './errors'
import { dbRequestOf, recordAnswer, Replicator, waitAtMost, type DbResponse, type FixedKeysDescriptor } from './db-common'
import type { PeerServices } from './peer-services'
import type { ExecInfo } from './core'

/**
 * A fixed-keys database (§5.5, `DatabaseFixedKeys.md`): every key of a small domain always has a record. The first
 * identity of a new network starts with every key at its default record. After an entry or a migration of a guest
 * g-node of level i into a new g-node of level j: keys visible up to i keep the previous identity's record, keys
 * visible up to j start from the default, the others are retrieved from their current servant ("wait δ then give
 * me k"); meanwhile this identity is not exhaustive for them and refuses, so the previous holder keeps serving.
 */
export class FixedKeysDatabase<K, R> {
  readonly replicator: Replicator<K, R>
  readonly #notCompleted = new Set<string>()
  readonly #retrieving = new Map<string, Promise<void>>()
  /**
   * Keys whose record started afresh because the retrieval found nobody to ask, and that nobody has written since.
   * The key's g-node had members before this identity (it is retrieved only then), so a young map may simply not
   * show them yet; the first sign of another member (a request from one, or the map showing one) retrieves again.
   */
  readonly #startedAlone = new Set<string>()
  #started = false

  constructor (private readonly peers: PeerServices, readonly d: FixedKeysDescriptor<K, R>, o: { replicaTimeoutExecMs?: number } = {}) {
    this.replicator = new Replicator(peers, d, o.replicaTimeoutExecMs ?? 1000)
  }

  isCompleted (k: K): boolean { return this.#started && !this.#notCompleted.has(this.d.keyId(k)) }

  /**
   * fixed_keys_db_on_startup: `previous` is the same database of the identity this one replaces (entry or
   * migration; PeerServices.origin tells the levels). Returns when the keys that need no network are in place;
   * retrievals go on in the background.
   */
  start (previous?: FixedKeysDatabase<K, R>): void {
    const { guestGnodeLevel: guest, newGnodeLevel: fresh } = this.peers.origin
    const keys = this.d.fullKeyDomain()
    this.#started = true
    if (guest < 0) {
      // first identity of a new network: nothing to ask anybody (the original waits 2 s here, refusing meanwhile)
      for (const k of keys) this.d.setRecord(k, this.d.defaultRecord(k))
      return
    }
    for (const k of keys) this.#notCompleted.add(this.d.keyId(k))
    void (async () => {
      await this.peers.core.sleep(this.peers.core.cfg.dbStartupDelayMs)
      let first = true
      for (const k of keys) {
        const l = this.d.evaluateHashNode(k).length
        if (guest >= l && previous !== undefined) {
          // a copy: the two identities must not share one record object
          const copy = this.d.recordFromWire(k, previous.d.recordToWire(k, previous.d.getRecord(k)))
          this.d.setRecord(k, copy ?? this.d.defaultRecord(k))
          this.replicator.setVersion(k, previous.replicator.version(k))
          this.#notCompleted.delete(this.d.keyId(k))
        } else if (fresh >= l) {
          this.d.setRecord(k, this.d.defaultRecord(k))
          this.#notCompleted.delete(this.d.keyId(k))
        } else {
          if (!first) await this.peers.core.sleep(this.peers.core.cfg.retrieveSpacingMs)
          first = false
          this.#retrieve(k)
        }
      }
    })()
  }

  /**
   * The record of k from its current servant; the default when nobody has one. `othersSeen`: another member of the
   * key's g-node has shown itself, so "nobody to ask" means a map that has not learnt it yet and is tried again
   * (up to the retrieval timeout) instead of ending the retrieval.
   */
  #retrieve (k: K, othersSeen = false): void {
    const id = this.d.keyId(k)
    const core = this.peers.core
    const askUntil = core.ports.clock.now() + core.cfg.retrieveTimeoutMs
    const run = (async () => {
      let got: { record: unknown, version: number } | null = null
      let outcome = 'no attempt'
      let alone = false
      for (let tries = 0; tries < core.cfg.maxAttempts && !core.stopped; tries++) {
        try {
          const r = await this.peers.contactPeer(this.d.pId, this.d.evaluateHashNode(k), { peersDb: 'wait_then_send_record', key: this.d.keyToWire(k) },
            { timeoutExecMs: core.cfg.retrieveTimeoutMs, excludeMyself: true })
          const a = recordAnswer(r.response)
          if (a !== null && a !== 'not_found') got = a
          outcome = a === null ? 'an answer that is no record' : a === 'not_found' ? 'not found' : `version ${a.version}`
          break
        } catch (e) {
          outcome = `${(e as Error).name}: ${(e as Error).message}`
          // nobody else to ask: the record starts afresh at once (waiting here for a young map to learn the g-node
          // delayed records enough to make Hooking see network splits that were not there), and is retrieved again
          // at the first sign of another member (#recheck)
          if (e instanceof PeersNoParticipantsError && !(othersSeen && core.ports.clock.now() < askUntil)) { alone = true; break }
          // any other failure (no servant reached, our own identity not ready to ask yet) is tried again; after the
          // last attempt the default record stands, so the database never stays non-exhaustive for good
          if (!(e instanceof PeersDatabaseError || e instanceof PeersGaveUpError)) core.log(`retrieval of ${id}, attempt ${tries + 1}: ${(e as Error).message}`)
          await core.sleep(core.cfg.retrieveSpacingMs)
        }
      }
      core.log(`retrieval of ${id}${othersSeen ? ' (again, another member seen)' : ''}: ${outcome}`)
      const rec = got === null ? null : this.d.recordFromWire(k, got.record)
      if (got !== null && rec !== null && got.version >= this.replicator.version(k)) {
        this.d.setRecord(k, rec)
        this.replicator.setVersion(k, got.version)
      } else if (!this.d.myRecordsContains(k)) {
        this.d.setRecord(k, this.d.defaultRecord(k))
      }
      if (alone && !othersSeen) this.#startedAlone.add(id)
      this.#notCompleted.delete(id)
    })()
    const tracked = run.catch(e => { core.log(`retrieval of ${id} failed: ${(e as Error).message}`) }).finally(() => this.#retrieving.delete(id))
    this.#retrieving.set(id, tracked)
  }

  /**
   * A record that started afresh for want of anybody to ask (#startedAlone) is retrieved again at the first sign of
   * another member of the key's g-node: a request from another node, or this identity's map showing one. Without
   * that, a Coordinator servant that had just entered its g-node gave away positions booked before it came (one
   * address held twice). A write by this identity while it still sees nobody makes the fresh record the g-node's.
   */
  #recheck (k: K, clientTuple: readonly number[], write = false): void {
    const id = this.d.keyId(k)
    if (!this.#startedAlone.has(id) || this.#retrieving.has(id)) return
    if (clientTuple.length === 0 && !this.peers.othersKnown(this.d.pId, this.d.evaluateHashNode(k).length)) {
      if (write) this.#startedAlone.delete(id)
      return
    }
    this.#startedAlone.delete(id)
    this.#notCompleted.add(id)
    this.#retrieve(k, true)
  }

  /** fixed_keys_db_on_request: what the service's exec calls with every request that reaches this servant. */
  async onRequest (r: unknown, clientTuple: readonly number[], info: ExecInfo = { degraded: false }): Promise<unknown> {
    const level = Math.max(0, this.peers.origin.guestGnodeLevel)
    const notExhaustive = (): never => { throw new PeersRefuseExecutionError('not-exhaustive', `still retrieving (level ${level})`, level) }
    const db = dbRequestOf(this.d.pId, r)
    if (db !== undefined) {
      if (db.peersDb === 'replica') return this.replicator.receive(db)
      if (db.peersDb === 'send_keys') return { peersDb: 'keys', keys: this.d.fullKeyDomain().map(k => this.d.keyToWire(k)).slice(0, db.maxCount) } satisfies DbResponse
      const k = this.d.keyFromWire(db.key)
      if (k === null) throw new PeersInvalidRequestError(this.d.pId, 'wait_then_send_record of an invalid key')
      this.#recheck(k, clientTuple)
      if (!this.isCompleted(k)) notExhaustive()
      // critical coherence time: writes that reached the old servant meanwhile land before we hand the record over
      const cfg = this.peers.core.cfg
      await this.peers.core.sleep(Math.min(coherenceDeltaMs(cfg, this.peers.core.nodesInside(clientTuple.length)), cfg.retrieveTimeoutMs - 1000))
      return { peersDb: 'record', record: this.d.recordToWire(k, this.d.getRecord(k)), version: this.replicator.version(k) } satisfies DbResponse
    }
    const k = this.d.keyOfRequest(r)
    const kind = this.d.classify(r)
    if (kind !== 'other') this.#recheck(k, clientTuple, kind !== 'read')
    switch (kind) {
      case 'read':
        if (!this.isCompleted(k)) notExhaustive()
        return this.d.execute(r, clientTuple)
      case 'insert':
      case 'update': {
        if (info.degraded) throw degradedWrite()
        if (!this.isCompleted(k)) {
          const pending = this.#retrieving.get(this.d.keyId(k))
          if (pending === undefined) notExhaustive()
          await waitAtMost(this.peers, pending!, this.d.timeoutExecMs(r) - 1000)
          throw new PeersRedoFromStartError('record retrieved meanwhile')
        }
        return this.replicator.execWrite(k, r, clientTuple)
      }
      default:
        return this.d.execute(r, clientTuple)
    }
  }
}

/** A write on a degraded search: a nearer servant may be alive; the client asks again from scratch. */
export function degradedWrite (): PeersRedoFromStartError {
  return new PeersRedoFromStartError('a nearer servant did not answer in time: writes wait for it or for the maps to drop it')
}
