import test from 'ava'
import { MessageRegistry, WireCodec } from '../src/wire'
import { InMemoryNetwork, type Transport } from '../src/transport'
import { VirtualClock } from '../src/sim/virtual-clock'
import { SeededRandom } from '../src/util/random'
import { QspnManager } from '../src/qspn/manager'
import { TransportQspnMessenger, registerQspnMessages } from '../src/qspn/transport-messenger'

// QSPN over the Transport port, as the daemon runs it: ETPs and full-ETP requests travel as
// encoded, schema-checked wire messages between three nodes a - b - c of 4·2·2·2.
const GSIZES = [2, 2, 2, 4]

async function flush (): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>(resolve => setImmediate(resolve))
}

interface Node { manager: QspnManager, messenger: TransportQspnMessenger, transport: Transport }

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
    const messenger = new TransportQspnMessenger(transport, { timeoutMs: 1000 })
    const manager = QspnManager.createNet({ clock, random: new SeededRandom(name.charCodeAt(0)), messenger },
      { gsizes: GSIZES, naddr: p.naddr, fingerprint: { id: name.charCodeAt(0), level: 0, elderships: [0, 0, 0, 0], eldershipsSeed: [] } })
    messenger.attach(manager)
    nodes[name] = { manager, messenger, transport }
  }
  net.link({ node: 'a', nic: 'a1' }, { node: 'b', nic: 'b1' }, { latencyMs: 1 })
  net.link({ node: 'b', nic: 'b2' }, { node: 'c', nic: 'c1' }, { latencyMs: 1 })
  nodes.a.messenger.setArc('a-b', { nic: 'a1', linklocal: '169.254.0.2' })
  nodes.b.messenger.setArc('b-a', { nic: 'b1', linklocal: '169.254.0.1' })
  nodes.b.messenger.setArc('b-c', { nic: 'b2', linklocal: '169.254.0.4' })
  nodes.c.messenger.setArc('c-b', { nic: 'c1', linklocal: '169.254.0.3' })
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
  await settle(clock, nodes.c.transport.unicast({ nic: 'c1', linklocal: '169.254.0.3' }, { v: 1, kind: 'qspn_etp', etp: { naddr: 'nonsense', paths: 7 }, full: true }))
  t.is(nodes.b.manager.stats.etpRejected, rejected + 1)
  t.is(JSON.stringify(nodes.b.manager.getPathsTo({ lvl: 1, pos: 1 })), before)
})

test('QSPN messages from a link-local that is no arc are refused and counted', async t => {
  const { clock, nodes } = await threeNodes()
  await runFor(clock, 5000)
  nodes.b.messenger.removeArc('b-c')
  const reply = await settle(clock, nodes.c.transport.unicast({ nic: 'c1', linklocal: '169.254.0.3' }, { v: 1, kind: 'qspn_get_full_etp', request: {} }))
  t.deepEqual(reply, { v: 1, kind: 'qspn_refused', reason: 'not-accepted' })
  t.true(nodes.b.messenger.stats.fromUnknownArc >= 1)
})
