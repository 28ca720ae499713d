import { coherenceDeltaMs } from './config'
import { dist } from './distance'
import { PeersDatabaseError, PeersGaveUpError, PeersInvalidRequestError, PeersNoParticipantsError, PeersRedoFromStartError, PeersRefuseExecutionError } from './errors'
import { dbRequestOf, recordAnswer, Replicator, waitAtMost, type DbResponse, type TtlDescriptor } from './db-common'
import type { GnodeTuple } from './distance'
import type { PeerServices } from './peer-services'
import type { ExecInfo } from './core'
import { degradedWrite } from './db-fixed-keys'

/**
 * A TTL database (§5.5, `DatabaseTTL.md`): records expire (the descriptor keeps their TTL); a servant may not have a
 * key (NOT_FOUND) or have no room (OUT_OF_MEMORY). A servant knows when it is *exhaustive* for a key: it would have
 * the record if one existed. A new identity is not exhaustive for ttlMs, except for keys it knows are absent, and
 * asks the nodes around for the keys it should now serve.
 */
export class TtlDatabase<K, R> {
  readonly replicator: Replicator<K, R>
  /** Keys known to be absent here, oldest first (bounded). */
  readonly #notFound: string[] = []
  /** Keys this servant cannot answer for, until when. */
  readonly #notExhaustive = new Map<string, number>()
  /** Not exhaustive for any key until then (new identity); null: exhaustive by default. */
  #defaultNotExhaustiveUntil: number | null = null
  readonly #retrieving = new Map<string, Promise<void>>()
  #started = false

  constructor (private readonly peers: PeerServices, readonly d: TtlDescriptor<K, R>, o: { replicaTimeoutExecMs?: number } = {}) {
    this.replicator = new Replicator(peers, d, o.replicaTimeoutExecMs ?? 1000)
  }

  get #now (): number { return this.peers.core.ports.clock.now() }

  isExhaustive (k: K): boolean {
    const id = this.d.keyId(k)
    const until = this.#notExhaustive.get(id)
    if (until !== undefined) {
      if (until > this.#now) return false
      this.#notExhaustive.delete(id)
    }
    if (this.#notFound.includes(id)) return true
    if (this.#defaultNotExhaustiveUntil === null) return true
    if (this.#defaultNotExhaustiveUntil <= this.#now) { this.#defaultNotExhaustiveUntil = null; return true }
    return false
  }

  #outOfMemory (): boolean { return this.d.myRecordsSize() + this.#retrieving.size >= this.d.maxRecords }

  #addNotFound (id: string): void {
    this.#notExhaustive.delete(id)
    const at = this.#notFound.indexOf(id)
    if (at >= 0) this.#notFound.splice(at, 1)
    if (this.#notFound.length >= Math.max(1, Math.floor(this.d.maxKeys / 2))) this.#notFound.shift()
    this.#notFound.push(id)
  }

  #addNotExhaustive (id: string): void {
    const at = this.#notFound.indexOf(id)
    if (at >= 0) this.#notFound.splice(at, 1)
    if (this.#notExhaustive.has(id) || this.#notExhaustive.size < Math.floor(this.d.maxKeys / 2)) {
      this.#notExhaustive.set(id, this.#now + this.d.ttlMs)
      return
    }
    this.#defaultNotExhaustiveUntil = this.#now + this.d.ttlMs
    this.#notExhaustive.clear()
  }

  /** ttl_db_on_startup: `previous` is this database of the identity this one replaces (entry or migration). */
  start (previous?: TtlDatabase<K, R>): void {
    const { guestGnodeLevel: guest, newGnodeLevel: fresh } = this.peers.origin
    this.#started = true
    if (guest < 0) return // a new network: exhaustive at once
    this.#defaultNotExhaustiveUntil = this.#now + this.d.ttlMs
    for (const k of previous?.d.allKeys() ?? []) {
      const l = this.d.evaluateHashNode(k).length
      if (guest >= l) {
        if (previous!.d.myRecordsContains(k)) {
          const copy = this.d.recordFromWire(k, previous!.d.recordToWire(k, previous!.d.getRecord(k)))
          if (copy !== null) { this.d.setRecord(k, copy); this.replicator.setVersion(k, previous!.replicator.version(k)) }
        }
      } else if (fresh >= l) this.#addNotFound(this.d.keyId(k))
    }
    void this.#askKeys().catch(e => { this.peers.core.log(`ttl startup failed: ${(e as Error).message}`) })
  }

  /** Asks the nodes nearest to me for their keys and retrieves those I am now nearer to; then I am exhaustive. */
  async #askKeys (): Promise<void> {
    const core = this.peers.core
    await core.sleep(core.cfg.dbStartupDelayMs)
    const deadline = this.#now + this.d.ttlMs / 10
    const me = [...core.naddr]
    const exclude: GnodeTuple[] = []
    if (this.peers.origin.guestGnodeLevel > 0) exclude.push({ level: this.peers.origin.guestGnodeLevel, positions: me.slice(this.peers.origin.guestGnodeLevel) })
    for (;;) {
      if (this.#outOfMemory() || this.#now > deadline) return
      let r
      try {
        r = await this.peers.contactPeer(this.d.pId, me, { peersDb: 'send_keys', maxCount: this.d.maxRecords }, { timeoutExecMs: this.d.timeoutExecSendKeysMs, excludeMyself: true, exclude })
      } catch (e) {
        if (e instanceof PeersNoParticipantsError || e instanceof PeersDatabaseError || e instanceof PeersGaveUpError) { this.#defaultNotExhaustiveUntil = null; return }
        throw e
      }
      exclude.push(r.respondant)
      const keys = (r.response as { keys?: unknown }).keys
      for (const raw of Array.isArray(keys) ? keys : []) {
        const k = this.d.keyFromWire(raw)
        if (k === null || this.d.myRecordsContains(k) || this.isExhaustive(k) || this.#retrieving.has(this.d.keyId(k))) continue
        const h = this.d.evaluateHashNode(k)
        const l = h.length
        const resp = r.respondant.positions.slice(0, l)
        if (resp.length < l) continue
        if (dist(core.gsizes, h, me.slice(0, l)) < dist(core.gsizes, h, resp)) {
          this.#retrieve(k)
          if (this.#outOfMemory()) return
          await core.sleep(core.cfg.retrieveSpacingMs)
        }
      }
    }
  }

  #retrieve (k: K): void {
    const id = this.d.keyId(k)
    const run = (async () => {
      let got: { record: unknown, version: number } | null = null
      try {
        const r = await this.peers.contactPeer(this.d.pId, this.d.evaluateHashNode(k), { peersDb: 'wait_then_send_record', key: this.d.keyToWire(k) },
          { timeoutExecMs: this.peers.core.cfg.retrieveTimeoutMs, excludeMyself: true })
        const a = recordAnswer(r.response)
        if (a !== null && a !== 'not_found') got = a
      } catch (e) {
        if (!(e instanceof PeersNoParticipantsError || e instanceof PeersDatabaseError || e instanceof PeersGaveUpError)) throw e
      }
      const rec = got === null ? null : this.d.recordFromWire(k, got.record)
      if (got !== null && rec !== null) {
        this.#notExhaustive.delete(id)
        this.d.setRecord(k, rec)
        this.replicator.setVersion(k, got.version)
      } else this.#addNotFound(id)
    })()
    this.#retrieving.set(id, run.catch(e => { this.peers.core.log(`retrieval of ${id} failed: ${(e as Error).message}`) }).finally(() => this.#retrieving.delete(id)))
  }

  /** The answer to a write this servant is not exhaustive for: wait for a retrieval, or refuse. */
  async #notExhaustiveWrite (k: K, r: unknown): Promise<never> {
    const id = this.d.keyId(k)
    const pending = this.#retrieving.get(id)
    if (pending !== undefined) {
      await waitAtMost(this.peers, pending, this.d.timeoutExecMs(r) - 1000)
      throw new PeersRedoFromStartError('record retrieved meanwhile')
    }
    if (!this.#outOfMemory()) {
      this.#retrieve(k)
      await this.peers.core.sleep(100)
      throw new PeersRedoFromStartError('retrieving the record')
    }
    this.#addNotExhaustive(id)
    throw new PeersRefuseExecutionError('not-exhaustive', 'not exhaustive for the key', 0)
  }

  /** ttl_db_on_request. */
  async onRequest (r: unknown, clientTuple: readonly number[], info: ExecInfo = { degraded: false }): Promise<unknown> {
    if (!this.#started) throw new PeersRefuseExecutionError('not-exhaustive', 'database not started', 0)
    const refuseLevel = (): number => (this.peers.origin.guestGnodeLevel < 0 || this.#defaultNotExhaustiveUntil === null) ? 0 : this.peers.origin.guestGnodeLevel
    const db = dbRequestOf(this.d.pId, r)
    if (db !== undefined) {
      if (db.peersDb === 'send_keys') return { peersDb: 'keys', keys: this.d.allKeys().slice(0, db.maxCount).map(k => this.d.keyToWire(k)) } satisfies DbResponse
      if (db.peersDb === 'replica') {
        const k = this.d.keyFromWire(db.key)
        if (k === null) throw new PeersInvalidRequestError(this.d.pId, 'replica of an invalid key')
        if (db.record !== null && !this.d.myRecordsContains(k) && this.#outOfMemory()) {
          this.#addNotExhaustive(this.d.keyId(k))
          throw new PeersRefuseExecutionError('out-of-memory', 'no room for the replica', 0)
        }
        const res = this.replicator.receive(db)
        if (db.record === null) this.#addNotFound(this.d.keyId(k)); else this.#notExhaustive.delete(this.d.keyId(k))
        return res
      }
      const k = this.d.keyFromWire(db.key)
      if (k === null) throw new PeersInvalidRequestError(this.d.pId, 'wait_then_send_record of an invalid key')
      if (!this.d.myRecordsContains(k) && !this.isExhaustive(k)) throw new PeersRefuseExecutionError('not-exhaustive', 'not exhaustive for the key', refuseLevel())
      const cfg = this.peers.core.cfg
      await this.peers.core.sleep(Math.min(coherenceDeltaMs(cfg, this.peers.core.nodesInside(clientTuple.length)), cfg.retrieveTimeoutMs - 1000))
      if (this.d.myRecordsContains(k)) return { peersDb: 'record', record: this.d.recordToWire(k, this.d.getRecord(k)), version: this.replicator.version(k) } satisfies DbResponse
      if (this.isExhaustive(k)) { this.#addNotFound(this.d.keyId(k)); return { peersDb: 'not_found' } satisfies DbResponse }
      throw new PeersRedoFromStartError('not exhaustive any more')
    }
    const k = this.d.keyOfRequest(r)
    const id = this.d.keyId(k)
    const cls = this.d.classify(r)
    if (cls === 'other') return this.d.execute(r, clientTuple)
    if (cls !== 'read' && info.degraded) throw degradedWrite()
    if (this.d.myRecordsContains(k)) {
      if (cls === 'insert') return this.d.responseNotFree(r, this.d.getRecord(k))
      return cls === 'read' ? this.d.execute(r, clientTuple) : this.replicator.execWrite(k, r, clientTuple)
    }
    if (!this.isExhaustive(k)) {
      if (cls === 'read') throw new PeersRefuseExecutionError('not-exhaustive', 'not exhaustive for the key', refuseLevel())
      return await this.#notExhaustiveWrite(k, r)
    }
    if (cls !== 'insert') { this.#addNotFound(id); return this.d.responseNotFound(r) }
    if (this.#outOfMemory()) {
      this.#addNotExhaustive(id)
      throw new PeersRefuseExecutionError('out-of-memory', 'my node is out of memory', 0)
    }
    this.#notExhaustive.delete(id)
    const at = this.#notFound.indexOf(id)
    if (at >= 0) this.#notFound.splice(at, 1)
    const res = this.replicator.execWrite(k, r, clientTuple)
    if (!this.d.myRecordsContains(k)) this.#addNotFound(id)
    return res
  }
}
