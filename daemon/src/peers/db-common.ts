import type { Ms } from '../util/clock'
import type { PeerServices } from './peer-services'
import { PeersInvalidRequestError } from './errors'

/*
 * Distributed databases on PeerServices (§5.5, `DatabaseTTL.md`, `DatabaseFixedKeys.md`): what a service describes
 * of its records (the descriptor interfaces), and what the database layer adds on its own: versions, replicas on
 * the next q servants, retrieval of records from their previous holder.
 */

/** How a service request touches its key's record. */
export type RequestClass = 'insert' | 'read' | 'update' | 'other'

/** IDatabaseDescriptor: keys, records and requests of one database service (its servant side). */
export interface DatabaseDescriptor<K, R> {
  readonly pId: number
  /** A key from the wire (a request or a peer), checked; null when it is not a key of this database. */
  keyFromWire (raw: unknown): K | null
  keyToWire (k: K): unknown
  /** Identity of a key (equality and hashing). */
  keyId (k: K): string
  /** h_p(k): x̄ of the key's servant; its length is the key's visibility level (§5.1). */
  evaluateHashNode (k: K): number[]
  /** A record from the wire, checked and converted (relative times made local); null when invalid. */
  recordFromWire (k: K, raw: unknown): R | null
  recordToWire (k: K, rec: R): unknown
  myRecordsContains (k: K): boolean
  getRecord (k: K): R
  setRecord (k: K, rec: R): void
  /** Drops a record (TTL databases). */
  deleteRecord? (k: K): void
  /** The key a service request is about; throws PeersInvalidRequestError for a request it does not know. */
  keyOfRequest (r: unknown): K
  /** How long the servant may take on this request. */
  timeoutExecMs (r: unknown): Ms
  classify (r: unknown): RequestClass
  responseNotFound (r: unknown): unknown
  responseNotFree (r: unknown, rec: R): unknown
  /** Executes a request whose key's record is here (or may be created here). */
  execute (r: unknown, clientTuple: readonly number[]): unknown
}

/** IFixedKeysDatabaseDescriptor: a small key domain where every key always has a record. */
export interface FixedKeysDescriptor<K, R> extends DatabaseDescriptor<K, R> {
  fullKeyDomain (): K[]
  defaultRecord (k: K): R
}

/** ITemporalDatabaseDescriptor: records that expire; a servant may be out of memory or not know a key. */
export interface TtlDescriptor<K, R> extends DatabaseDescriptor<K, R> {
  readonly maxRecords: number
  myRecordsSize (): number
  /** Bound of the keys remembered as not found / not exhaustive (half each). */
  readonly maxKeys: number
  readonly ttlMs: Ms
  allKeys (): K[]
  readonly timeoutExecSendKeysMs: Ms
}

/** The database layer's own requests, next to the service's (a `peersDb` field tells them apart). */
export type DbRequest =
  | { peersDb: 'replica', key: unknown, record: unknown, version: number }
  | { peersDb: 'wait_then_send_record', key: unknown }
  | { peersDb: 'send_keys', maxCount: number }

export type DbResponse =
  | { peersDb: 'ok' }
  | { peersDb: 'record', record: unknown, version: number }
  | { peersDb: 'not_found' }
  | { peersDb: 'keys', keys: unknown[] }

/** The database layer's request in `r`, checked; undefined when `r` is a service request. */
export function dbRequestOf (pId: number, r: unknown): DbRequest | undefined {
  if (typeof r !== 'object' || r === null || !('peersDb' in r)) return undefined
  const o = r as Record<string, unknown>
  switch (o.peersDb) {
    case 'replica':
      if (!Number.isInteger(o.version) || (o.version as number) < 0) throw new PeersInvalidRequestError(pId, 'replica without a version')
      return { peersDb: 'replica', key: o.key, record: o.record, version: o.version as number }
    case 'wait_then_send_record': return { peersDb: 'wait_then_send_record', key: o.key }
    case 'send_keys':
      if (!Number.isInteger(o.maxCount) || (o.maxCount as number) < 0) throw new PeersInvalidRequestError(pId, 'send_keys without maxCount')
      return { peersDb: 'send_keys', maxCount: o.maxCount as number }
    default: throw new PeersInvalidRequestError(pId, `unknown database request ${JSON.stringify(o.peersDb)}`)
  }
}

/** A record as a retrieval answer carries it; null when the answer is not one. */
export function recordAnswer (r: unknown): { record: unknown, version: number } | null | 'not_found' {
  if (typeof r !== 'object' || r === null) return null
  const o = r as Record<string, unknown>
  if (o.peersDb === 'not_found') return 'not_found'
  if (o.peersDb !== 'record' || !Number.isInteger(o.version)) return null
  return { record: o.record, version: o.version as number }
}

/**
 * Versions of the records and their replication (§5.5 begin_replica/next_replica). A write bumps the key's version
 * and sends the record to the next q servants of the key; writes arriving while one replication runs are folded
 * into one more pass with the newest record. A replica keeps what it gets only if it is not older than its own.
 */
export class Replicator<K, R> {
  readonly #versions = new Map<string, number>()
  readonly #running = new Map<string, { dirty: boolean }>()
  replicasWritten = 0
  passes = 0
  /** Replication passes that ended in an error (logged). */
  failures = 0

  constructor (private readonly peers: PeerServices, private readonly d: DatabaseDescriptor<K, R>, private readonly timeoutExecMs: Ms) {}

  version (k: K): number { return this.#versions.get(this.d.keyId(k)) ?? 0 }
  setVersion (k: K, v: number): void { this.#versions.set(this.d.keyId(k), v) }

  /** Replications still running (tests wait for them). */
  get busy (): number { return this.#running.size }

  /** The record of k changed here (the servant wrote it): new version, replicas updated in the background. */
  written (k: K): void {
    this.setVersion(k, this.version(k) + 1)
    const id = this.d.keyId(k)
    const run = this.#running.get(id)
    if (run !== undefined) { run.dirty = true; return }
    const state = { dirty: true }
    this.#running.set(id, state)
    void (async () => {
      try {
        while (state.dirty && !this.peers.core.stopped) {
          state.dirty = false
          this.passes++
          const record = this.d.myRecordsContains(k) ? this.d.recordToWire(k, this.d.getRecord(k)) : null
          const request: DbRequest = { peersDb: 'replica', key: this.d.keyToWire(k), record, version: this.version(k) }
          const done = await this.peers.replicate(this.d.pId, this.d.evaluateHashNode(k), request, { timeoutExecMs: this.timeoutExecMs })
          this.replicasWritten += done.length
        }
      } catch (e) {
        this.failures++
        this.peers.core.log(`replication of ${id} failed: ${(e as Error).message}`)
      } finally {
        this.#running.delete(id)
      }
    })()
  }

  /** A replica arrived: keep it unless what is here is newer. */
  receive (req: Extract<DbRequest, { peersDb: 'replica' }>): DbResponse {
    const k = this.d.keyFromWire(req.key)
    if (k === null) throw new PeersInvalidRequestError(this.d.pId, 'replica of an invalid key')
    if (req.version < this.version(k)) return { peersDb: 'ok' }
    if (req.record === null) {
      this.d.deleteRecord?.(k)
    } else {
      const rec = this.d.recordFromWire(k, req.record)
      if (rec === null) throw new PeersInvalidRequestError(this.d.pId, 'replica of an invalid record')
      this.d.setRecord(k, rec)
    }
    this.setVersion(k, req.version)
    return { peersDb: 'ok' }
  }

  /** Runs a write request and replicates when the record changed. */
  execWrite (k: K, r: unknown, clientTuple: readonly number[]): unknown {
    const before = this.d.myRecordsContains(k) ? JSON.stringify(this.d.recordToWire(k, this.d.getRecord(k))) : null
    const res = this.d.execute(r, clientTuple)
    const after = this.d.myRecordsContains(k) ? JSON.stringify(this.d.recordToWire(k, this.d.getRecord(k))) : null
    if (before !== after) this.written(k)
    return res
  }
}

/** Runs `f` when the promise settles or after `ms`, whichever comes first. */
export async function waitAtMost (peers: PeerServices, p: Promise<unknown>, ms: Ms): Promise<void> {
  await Promise.race([p.then(() => {}, () => {}), peers.core.sleep(Math.max(0, ms))])
}
