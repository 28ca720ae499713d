import test from 'ava'
import { MessageRegistry, WireCodec } from '../src/wire'
import { InMemoryNetwork, type Transport } from '../src/transport'
import { VirtualClock } from '../src/sim/virtual-clock'
import { SeededRandom } from '../src/util/random'
import { QspnManager } from '../src/qspn/manager'
import { TransportQspnMessenger, registerQspnMessages, type MessengerArc } from '../src/qspn/transport-messenger'
import { IdentityDemux } from '../src/identities'

// QSPN over the Transport port, as the daemon runs it: ETPs and full-ETP requests travel as encoded,
// schema-checked wire messages addressed from one identity to another (src/dst), between three nodes a - b - c of
// 4·2·2·2, each with one identity behind the system's demultiplexer.
const GSIZES = [2, 2, 2, 4]

async function flush (): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>(resolve => setImmediate(resolve))
}

interface Node { manager: QspnManager, messenger: TransportQspnMessenger, transport: Transport, demux: IdentityDemux, arcs: Map<string, MessengerArc & { dev: string }> }

const idOf = (name: string): string => `${name.charCodeAt(0).toString(16)}`.padStart(16, '0')

async function threeNodes (): Promise<{ clock: VirtualClock, nodes: Record<'a' | 'b' | 'c', Node> }> {
  const clock = new VirtualClock()
  const net = new InMemoryNetwork(clock, new SeededRandom(3))
  const plan = {
    a: { naddr: [0, 0, 0, 0], nics: { a1: '169.254.0.1' } },
    b: { naddr: [1, 0, 0, 0], nics: { b1: '169.254.0.2', b2: '169.254.0.3' } },
    c: { naddr: [0, 1, 0, 0], nics: { c1: '169.254.0.4' } }
  }
  const nodes = {} as Record<'a' | 'b' | 'c', Node>
  for (const [name, p] of Object.entries(plan) as Array<['a' | 'b' | 'c', typeof plan.a]>) {
    const registry = new MessageRegistry()
    registerQspnMessages(registry)
    const transport = net.transport(name, new WireCodec({ registry }))
    for (const [nic, linklocal] of Object.entries(p.nics)) await transport.attachNic({ name: nic, linklocal })
    const arcs = new Map<string, MessengerArc & { dev: string }>()
    const messenger = new TransportQspnMessenger(transport, () => idOf(name), id => arcs.get(id), { timeoutMs: 1000 })
    const manager = QspnManager.createNet({ clock, random: new SeededRandom(name.charCodeAt(0)), messenger },
      { gsizes: GSIZES, naddr: p.naddr, fingerprint: { id: name.charCodeAt(0), level: 0, elderships: [0, 0, 0, 0], eldershipsSeed: [] } })
    messenger.attach(manager)
    const demux = new IdentityDemux(transport, clock, 0)
    demux.register(idOf(name), {
      arcFrom: (dev, peerId) => [...arcs].find(([, a]) => a.dev === dev && a.peerId === peerId)?.[0],
      handle: async (arcId, m) => await messenger.handle(arcId, m)
    })
    nodes[name] = { manager, messenger, transport, demux, arcs }
  }
  net.link({ node: 'a', nic: 'a1' }, { node: 'b', nic: 'b1' }, { latencyMs: 1 })
  net.link({ node: 'b', nic: 'b2' }, { node: 'c', nic: 'c1' }, { latencyMs: 1 })
  const arc = (dev: string, linklocal: string, peer: string): MessengerArc & { dev: string } => ({ dev, peer: { nic: dev, linklocal }, peerId: idOf(peer) })
  nodes.a.arcs.set('a-b', arc('a1', '169.254.0.2', 'b'))
  nodes.b.arcs.set('b-a', arc('b1', '169.254.0.1', 'a'))
  nodes.b.arcs.set('b-c', arc('b2', '169.254.0.4', 'c'))
  nodes.c.arcs.set('c-b', arc('c1', '169.254.0.3', 'b'))
  for (const [n, id] of [['a', 'a-b'], ['b', 'b-a'], ['b', 'b-c'], ['c', 'c-b']] as const) nodes[n].manager.arcAdd({ id, cost: 1000 })
  return { clock, nodes }
}

/** Awaits a promise that needs virtual time to pass (a unicast over the in-memory network). */
async function settle<T> (clock: VirtualClock, p: Promise<T>): Promise<T> {
  let done = false
  const watched = p.finally(() => { done = true })
  await flush()
  for (let i = 0; !done && i < 10_000 && clock.step(); i++) await flush()
  return await watched
}

/** Steps virtual time (the periodic full ETP would go on forever: stop at a horizon). */
async function runFor (clock: VirtualClock, ms: number): Promise<void> {
  const until = clock.now() + ms
  await flush()
  while (clock.now() < until && clock.step()) await flush()
}

test('three nodes converge through wire messages: destinations at levels 0 and 1 with the right costs', async t => {
  const { clock, nodes } = await threeNodes()
  await runFor(clock, 5000)
  // a = 0·0·0·0, b = 0·0·0·1, c = 0·0·1·0: for a, b is (0,1) and c's g-node is (1,1).
  const a = nodes.a.manager
  t.deepEqual(a.getPathsTo({ lvl: 0, pos: 1 }).map(p => [p.arcId, p.cost]), [['a-b', 1000]])
  t.deepEqual(a.getPathsTo({ lvl: 1, pos: 1 }).map(p => [p.arcId, p.cost]), [['a-b', 2000]])
  t.deepEqual(nodes.c.manager.getPathsTo({ lvl: 1, pos: 0 }).map(p => [p.arcId, p.cost]), [['c-b', 1000]], 'c reaches the g-node 0·0·0· through b (its cheapest member)')
  t.deepEqual(nodes.b.manager.getKnownDestinations(0), [{ lvl: 0, pos: 0 }])
  t.deepEqual(nodes.b.manager.getKnownDestinations(1), [{ lvl: 1, pos: 1 }])
  t.deepEqual(nodes.a.manager.getNaddrForArc('a-b'), [1, 0, 0, 0], 'a learnt its neighbour\'s address from its ETP')
  t.is(nodes.a.manager.getNodesInside(4), 3)
  for (const n of Object.values(nodes)) t.is(n.messenger.stats.sendFailures, 0)
})

test('a malformed ETP on the wire is rejected and counted, and changes no map', async t => {
  const { clock, nodes } = await threeNodes()
  await runFor(clock, 5000)
  const before = JSON.stringify(nodes.b.manager.getPathsTo({ lvl: 1, pos: 1 }))
  const rejected = nodes.b.manager.stats.etpRejected
  await settle(clock, nodes.c.transport.unicast({ nic: 'c1', linklocal: '169.254.0.3' }, { v: 1, kind: 'qspn_etp', src: idOf('c'), dst: idOf('b'), etp: { naddr: 'nonsense', paths: 7 }, full: true }))
  t.is(nodes.b.manager.stats.etpRejected, rejected + 1)
  t.is(JSON.stringify(nodes.b.manager.getPathsTo({ lvl: 1, pos: 1 })), before)
})

test('QSPN messages for an identity the system does not have, or over no identity-arc, are dropped and counted', async t => {
  const { clock, nodes } = await threeNodes()
  await runFor(clock, 5000)
  const b = nodes.b
  const before = JSON.stringify(b.manager.getPathsTo({ lvl: 1, pos: 1 }))
  const request = { kind: 'get_full_etp', requesterAddress: [0, 1, 0, 0] }
  // to an identity b does not have
  const unknown = await settle(clock, nodes.c.transport.unicast({ nic: 'c1', linklocal: '169.254.0.3' }, { v: 1, kind: 'qspn_get_full_etp', src: idOf('c'), dst: idOf('z'), request }))
  t.is(unknown, undefined, 'no QSPN answer')
  t.is(b.demux.stats.unknownIdentity, 1)
  // from an identity b has no identity-arc with on that NIC (a's id claimed from c's side)
  const spoofed = await settle(clock, nodes.c.transport.unicast({ nic: 'c1', linklocal: '169.254.0.3' }, { v: 1, kind: 'qspn_etp', src: idOf('a'), dst: idOf('b'), etp: {}, full: true }))
  t.is(spoofed, undefined)
  t.is(b.demux.stats.unknownArc, 1)
  // without identities at all: the schema rejects it before anything else
  const bare = nodes.c.transport.unicast({ nic: 'c1', linklocal: '169.254.0.3' }, { v: 1, kind: 'qspn_get_full_etp', request })
  await t.throwsAsync(settle(clock, bare))
  t.is(JSON.stringify(b.manager.getPathsTo({ lvl: 1, pos: 1 })), before, 'the map did not change')
  t.is(b.manager.stats.etpRejected, 0)
})
