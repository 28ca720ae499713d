import test from 'ava'
import { buildNetwork, gridTopology, type TopologySpec } from '../src/sim/topologies'
import { PeersNetwork } from '../src/sim/peers-network'
import { PeerServices, TtlDatabase, PeersRefuseExecutionError, PeersInvalidRequestError, type TtlDescriptor, type ExecInfo } from '../src/peers'
import type { PeersConfig } from '../src/peers/config'
import { Coordinator, registerCoordinatorMessages } from '../src/coordinator'
import { coordinatorNetwork, settleReplicas, youngMap } from './helpers/coordinator-network'
import { expectedServant } from './helpers/peers-oracle'

const addr = (n: readonly number[]): string => [...n].reverse().join('·')

test('after an entry, the new holder of a Coordinator key retrieves the memory from the previous one, which serves meanwhile', async t => {
  const spec = gridTopology(4, 4, [4, 4, 4], () => 1000)
  const pn = await coordinatorNetwork(spec, { peers: { dbStartupDelayMs: 500, coherenceDeltaMs: [1000, 1000, 1000, 1000] } })
  const client = pn.node(spec.nodes[10].name).value.coord
  const first = await pn.run(Promise.all([1, 2, 3].map(async id => await client.reserve(3, id))))
  await settleReplicas(pn)
  // the Coordinator of the network (0·0·0) is replaced by a new identity of the same node, as after an entry of a
  // single node (guest level 0) into an existing g-node: its memory of levels 1..3 must come from the network
  const holder = spec.nodes.find(n => n.naddr.every(p => p === 0))!
  const old = pn.node(holder.name).value
  old.coord.stop()
  old.peers.stop()
  const fresh = pn.attach(holder.name, (_, ports) => {
    const peers = new PeerServices(ports, { config: { dbStartupDelayMs: 500, coherenceDeltaMs: [1000, 1000, 1000, 1000] }, origin: { previous: old.peers, guestGnodeLevel: 0, newGnodeLevel: 0 } })
    return { peers, coord: new Coordinator(peers, { previous: old.coord }) }
  }).value
  t.is(fresh.coord.localMemory(3), undefined, 'nothing yet')
  // while it retrieves, it is not exhaustive: the next node serves (and takes a write)
  const during = await pn.run(client.reserve(3, 4))
  const view = await pn.run(client.memory(3))
  t.not(addr(view.servant), holder.name, 'the previous holder serves meanwhile')
  await pn.runFor(10_000)
  t.deepEqual(fresh.coord.localMemory(3)?.reserveList.map(b => b.reserveRequestId).sort(), [1, 2, 3, 4], 'retrieved, with the write made meanwhile')
  const after = await pn.run(client.memory(3))
  t.is(addr(after.servant), holder.name, 'it serves again')
  t.deepEqual(await pn.run(Promise.all([1, 2, 3, 4].map(async id => await client.reserve(3, id)))), [...first, during])
})

test('a Coordinator servant whose young map showed nobody retrieves the memory again when a member shows itself: no position booked twice', async t => {
  // one g-node of level 1 holding 4 nodes of 8 positions: bookings take the free positions 4..7
  const spec = gridTopology(2, 2, [8, 4, 4], () => 1000)
  const config: Partial<PeersConfig> = { dbStartupDelayMs: 500, coherenceDeltaMs: [1000, 1000, 1000, 1000] }
  const pn = await coordinatorNetwork(spec, { peers: config })
  const holderName = addr((await pn.run(pn.node(spec.nodes[0].name).value.coord.memory(1))).servant)
  const clientName = spec.nodes.map(n => n.name).find(n => n !== holderName)!
  const client = pn.node(clientName).value.coord
  const booked = await pn.run(Promise.all([1, 2].map(async id => await client.reserve(1, id))))
  await settleReplicas(pn)
  // the servant's node enters anew (guest level 0 inside the same g-node) with a map that shows nobody at first, as
  // a young identity's map over slow links: its retrieval finds nobody to ask and the memory starts afresh
  const holder = pn.node(holderName)
  const old = holder.value
  old.coord.stop()
  old.peers.stop()
  let blind = true
  const young = youngMap(holder.ports.map, () => blind)
  const fresh = pn.attach(holderName, (_, ports) => {
    const peers = new PeerServices(ports, { config, origin: { previous: old.peers, guestGnodeLevel: 0, newGnodeLevel: 0 } })
    return { peers, coord: new Coordinator(peers, { previous: old.coord }) }
  }, young).value
  await pn.runFor(3000)
  t.deepEqual(fresh.coord.localMemory(1)?.reserveList, [], 'started afresh: nobody to ask')
  // the map learns the g-node; the next booking reaches the young servant, which must not give a booked position
  blind = false
  const next = await pn.run(client.reserve(1, 3))
  t.false(booked.map(b => b.newPos).includes(next.newPos), `position ${next.newPos} was booked already (${booked.map(b => b.newPos).join(', ')})`)
  await pn.runFor(10_000)
  t.deepEqual(fresh.coord.localMemory(1)?.reserveList.map(b => b.reserveRequestId).sort(), [1, 2, 3], 'the memory retrieved, with the booking made meanwhile')
  const again = await pn.run(client.reserve(1, 4))
  t.false([...booked, next].map(b => b.newPos).includes(again.newPos), 'and it books the next free position itself')
})

// ------------------------------------------------------------------- a TTL database: names to numbers

const TTL_PID = 42
interface Rec { value: number, expiresAt: number }
type Req = { op: 'insert' | 'update', name: string, value: number } | { op: 'read', name: string }

/** A tiny name service on a TTL database (the test's own descriptor). */
class NameService implements TtlDescriptor<string, Rec> {
  readonly pId = TTL_PID
  readonly records = new Map<string, Rec>()
  readonly maxKeys = 64
  readonly ttlMs = 30_000
  readonly timeoutExecSendKeysMs = 1000
  readonly db: TtlDatabase<string, Rec>
  constructor (private readonly peers: PeerServices, readonly maxRecords = 50) { this.db = new TtlDatabase(peers, this) }
  get now (): number { return this.peers.core.ports.clock.now() }
  exec = async (r: unknown, ct: readonly number[], info: ExecInfo): Promise<unknown> => await this.db.onRequest(r, ct, info)
  readonly optional = false
  #expire (): void { for (const [k, r] of this.records) if (r.expiresAt <= this.now) this.records.delete(k) }
  keyFromWire (raw: unknown): string | null { return typeof raw === 'string' && raw.length > 0 && raw.length < 64 ? raw : null }
  keyToWire (k: string): unknown { return k }
  keyId (k: string): string { return k }
  evaluateHashNode (k: string): number[] { return this.peers.perfectTuple(k) }
  recordFromWire (_k: string, raw: unknown): Rec | null {
    const o = raw as { value?: unknown, ttlMs?: unknown }
    return typeof o === 'object' && o !== null && Number.isInteger(o.value) && typeof o.ttlMs === 'number' ? { value: o.value as number, expiresAt: this.now + o.ttlMs } : null
  }

  recordToWire (_k: string, rec: Rec): unknown { return { value: rec.value, ttlMs: rec.expiresAt - this.now } }
  myRecordsContains (k: string): boolean { this.#expire(); return this.records.has(k) }
  getRecord (k: string): Rec { return this.records.get(k)! }
  setRecord (k: string, rec: Rec): void { this.records.set(k, rec) }
  deleteRecord (k: string): void { this.records.delete(k) }
  myRecordsSize (): number { this.#expire(); return this.records.size }
  allKeys (): string[] { this.#expire(); return [...this.records.keys()] }
  #req (r: unknown): Req {
    const o = r as Req
    if (typeof o !== 'object' || o === null || typeof o.name !== 'string' || !['insert', 'update', 'read'].includes(o.op)) throw new PeersInvalidRequestError(TTL_PID, 'bad request')
    return o
  }

  keyOfRequest (r: unknown): string { return this.#req(r).name }
  timeoutExecMs (): number { return 2000 }
  classify (r: unknown): 'insert' | 'read' | 'update' { return this.#req(r).op }
  responseNotFound (): unknown { return { found: false } }
  responseNotFree (_r: unknown, rec: Rec): unknown { return { taken: true, value: rec.value } }
  execute (r: unknown): unknown {
    const q = this.#req(r)
    if (q.op === 'read') return { found: true, value: this.records.get(q.name)!.value }
    this.records.set(q.name, { value: q.value, expiresAt: this.now + this.ttlMs })
    return { ok: true }
  }
}

async function names (spec: TopologySpec, maxRecords = 50): Promise<PeersNetwork<{ peers: PeerServices, names: NameService }>> {
  const sim = buildNetwork(spec, { seed: 3 })
  await sim.runUntilQuiescent()
  const pn = new PeersNetwork<{ peers: PeerServices, names: NameService }>(sim, { seed: 3, registry: registerCoordinatorMessages })
  pn.attachAll((_, ports) => {
    const peers = new PeerServices(ports, { config: { replicas: 2 } })
    const svc = new NameService(peers, maxRecords)
    peers.register(svc)
    svc.db.start()
    return { peers, names: svc }
  })
  return pn
}

const call = async (pn: PeersNetwork<{ peers: PeerServices, names: NameService }>, from: string, r: Req): Promise<unknown> => {
  const p = pn.node(from).value.peers
  return (await pn.run(p.contactPeer(TTL_PID, p.perfectTuple(r.name), r, { timeoutExecMs: 2000 }))).response
}

test('a TTL database: insert, read elsewhere, not found, taken, replicas on the next servants, records expire', async t => {
  const spec = gridTopology(4, 4, [4, 4, 4], () => 1000)
  const pn = await names(spec)
  const [a, b] = [spec.nodes[0].name, spec.nodes[15].name]
  t.deepEqual(await call(pn, a, { op: 'insert', name: 'alpha', value: 1 }), { ok: true })
  t.deepEqual(await call(pn, b, { op: 'read', name: 'alpha' }), { found: true, value: 1 })
  t.deepEqual(await call(pn, b, { op: 'read', name: 'beta' }), { found: false })
  t.deepEqual(await call(pn, b, { op: 'insert', name: 'alpha', value: 2 }), { taken: true, value: 1 })
  await pn.runFor(2_000)
  const servant = expectedServant(spec, a, pn.node(a).value.peers.perfectTuple('alpha'), () => true)!
  const holders = spec.nodes.filter(n => pn.node(n.name).value.names.records.has('alpha')).map(n => n.name)
  t.is(holders.length, 3, 'servant + 2 replicas')
  t.true(holders.includes(servant.name))
  pn.stopNode(servant.name)
  await pn.sim.runUntilQuiescent()
  t.deepEqual(await call(pn, b, { op: 'read', name: 'alpha' }), { found: true, value: 1 }, 'a replica answers')
  await pn.runFor(31_000)
  t.deepEqual(await call(pn, b, { op: 'read', name: 'alpha' }), { found: false }, 'expired')
})

test('TTL servants out of memory refuse inserts; the client hears every refusal (PeersDatabaseError)', async t => {
  const spec = gridTopology(3, 3, [4, 4, 4], () => 1000)
  const pn = await names(spec, 0)
  const n0 = pn.node(spec.nodes[0].name).value
  await t.throwsAsync(n0.names.db.onRequest({ op: 'insert', name: 'x', value: 1 }, [1]), { instanceOf: PeersRefuseExecutionError, message: /out-of-memory/ })
  await t.throwsAsync(pn.run(n0.peers.contactPeer(TTL_PID, n0.peers.perfectTuple('x'), { op: 'insert', name: 'x', value: 1 }, { timeoutExecMs: 2000 })), { name: 'PeersDatabaseError', message: /out-of-memory/ })
})
