import test from 'ava'
import { gridTopology, hierarchicalTopology, ringTopology, type TopologySpec } from '../src/sim/topologies'
import { memoryFromWire, memoryToWire, defaultMemory, reserve, deleteReserve, parseCoordRequest } from '../src/coordinator'
import { PeersInvalidRequestError } from '../src/peers'
import { coordinatorNetwork, settleReplicas, youngMap, type CoordNode } from './helpers/coordinator-network'
import { PeerServices } from '../src/peers'
import { Coordinator } from '../src/coordinator'
import { expectedCoordinator } from './helpers/peers-oracle'
import type { PeersNetwork } from '../src/sim/peers-network'

const addr = (n: readonly number[]): string => [...n].reverse().join('·')

test('reservations: free real positions first, then virtual ones; the same id gets its booking back; expired bookings free their positions', t => {
  const m = defaultMemory([4, 4], 1)
  const r1 = reserve(m, { now: 0, reserveRequestId: 10, freePositions: [1, 3], bookingTimeoutMs: 1000 })
  const r2 = reserve(m, { now: 0, reserveRequestId: 11, freePositions: [1, 3], bookingTimeoutMs: 1000 })
  const r3 = reserve(m, { now: 0, reserveRequestId: 12, freePositions: [1, 3], bookingTimeoutMs: 1000 })
  t.deepEqual([r1.newPos, r2.newPos, r3.newPos], [1, 3, 5], 'real 1 and 3, then the first virtual after max_virtual_pos = gsize')
  t.deepEqual([r1.newEldership, r2.newEldership, r3.newEldership], [1, 2, 3])
  t.deepEqual(reserve(m, { now: 500, reserveRequestId: 11, freePositions: [1, 3], bookingTimeoutMs: 1000 }), r2, 'asked again: same booking')
  // at 1200 bookings 10 and 12 have expired (11 was renewed at 500)
  const r4 = reserve(m, { now: 1200, reserveRequestId: 13, freePositions: [1, 3], bookingTimeoutMs: 1000 })
  t.is(r4.newPos, 1, 'the position of the expired booking is free again')
  t.deepEqual(m.reserveList.map(b => b.reserveRequestId), [11, 13])
  deleteReserve(m, 11)
  t.deepEqual(m.reserveList.map(b => b.reserveRequestId), [13])
  // on the wire the expiry travels as what is left
  const w = memoryToWire(m, 1500)
  t.is(w.reserveList[0].ttlMs, 700)
  t.is(memoryFromWire(w, 10_000)?.reserveList[0].expiresAt, 10_700)
  t.is(memoryFromWire({ ...w, maxEldership: -1 }, 0), null)
  t.is(memoryFromWire({ ...w, reserveList: [{ reserveRequestId: 1, newPos: 'x', newEldership: 1, ttlMs: 1 }] }, 0), null)
  t.throws(() => parseCoordRequest({ type: 'reserve', lvl: 9, reserveRequestId: 1 }, 4), { instanceOf: PeersInvalidRequestError, message: /level 9 outside 1..4/ })
  t.throws(() => parseCoordRequest({ type: 'launch' }, 4), { message: /unknown request type "launch"/ })
})

async function askEveryCoordinator (spec: TopologySpec, pn: PeersNetwork<CoordNode>, live: (name: string) => boolean = () => true): Promise<string[]> {
  const wrong: string[] = []
  const levels = spec.gsizes.length
  const jobs = spec.nodes.filter(n => live(n.name)).flatMap(client => Array.from({ length: levels }, (_, k) => k + 1).map(async lvl => {
    try {
      const view = await pn.node(client.name).value.coord.memory(lvl)
      const want = expectedCoordinator(spec, client.name, lvl, n => live(n.name))
      const members = spec.nodes.filter(n => live(n.name) && n.naddr.slice(lvl).join('.') === client.naddr.slice(lvl).join('.')).length
      if (addr(view.servant) !== addr(want?.naddr ?? [])) wrong.push(`${client.name} level ${lvl}: servant ${addr(view.servant)}, expected ${addr(want?.naddr ?? [])}`)
      if (view.nodesInside !== members) wrong.push(`${client.name} level ${lvl}: ${view.nodesInside} nodes reported, ${members} expected`)
    } catch (e) { wrong.push(`${client.name} level ${lvl}: ${(e as Error).message}`) }
  }))
  await pn.run(Promise.all(jobs), 600_000)
  return wrong
}

for (const [name, make] of [
  ['ring of 10 in 4·2·2·2', () => ringTopology(10, [2, 2, 2, 4])],
  ['grid 10x10 in [4,4,4,4]', () => gridTopology(10, 10, [4, 4, 4, 4], () => 1000)],
  ['hierarchical random in [4,4,4]', () => hierarchicalTopology([4, 4, 4], { seed: 9, fill: 0.7, extraLinks: 2 })]
] as Array<[string, () => TopologySpec]>) {
  test(`${name}: every node reaches the Coordinator of each of its g-nodes, the participant nearest to 0·…·0 inside it, which counts the g-node's nodes`, async t => {
    const spec = make()
    const pn = await coordinatorNetwork(spec)
    t.deepEqual((await askEveryCoordinator(spec, pn)).slice(0, 10), [])
    t.is(pn.traffic.routingErrors, 0, pn.routingProblems.join('\n'))
  })
}

test('200 reservations at once in one g-node never hand out a position twice; real positions first', async t => {
  const spec = gridTopology(6, 6, [4, 4, 4], () => 1000)
  const pn = await coordinatorNetwork(spec)
  const names = spec.nodes.map(n => n.name)
  const lvl = 3 // the whole network: positions at level 2
  const jobs = Array.from({ length: 200 }, async (_, k) => ({ id: k, r: await pn.node(names[k % names.length]).value.coord.reserve(lvl, 1000 + k) }))
  const got = await pn.run(Promise.all(jobs), 600_000)
  const positions = got.map(x => x.r.newPos)
  t.is(new Set(positions).size, 200, 'every position handed out once')
  t.is(new Set(got.map(x => x.r.newEldership)).size, 200)
  const used = new Set(spec.nodes.map(n => n.naddr[2]))
  const freeReal = [0, 1, 2, 3].filter(p => !used.has(p))
  t.deepEqual(positions.filter(p => p < 4).sort(), freeReal.sort(), 'the free real positions are among them')
  t.true(positions.every(p => p < 4 ? !used.has(p) : p > 4), 'never a position the map knows')
  await settleReplicas(pn)
})

test('expired reservations free their positions (timer from the configuration)', async t => {
  // 8 nodes: two level-1 g-nodes of 4, so the level-2 g-node has two free real positions
  const spec = gridTopology(4, 2, [4, 4, 4], () => 1000)
  const pn = await coordinatorNetwork(spec, { coordinator: { bookingTimeoutMs: 5_000 } })
  const c = pn.node(spec.nodes[5].name).value.coord
  const used = new Set(spec.nodes.map(n => n.naddr[1]))
  t.is(used.size, 2)
  const first = await pn.run(Promise.all([1, 2, 3].map(async id => await c.reserve(2, id))))
  t.deepEqual(first.map(r => r.newPos).slice(0, 2).sort(), [0, 1, 2, 3].filter(p => !used.has(p)), 'the two free real positions')
  t.is(first[2].newPos, 5, 'then a virtual one')
  await pn.runFor(6_000)
  const again = await pn.run(Promise.all([4, 5, 6].map(async id => await c.reserve(2, id))))
  t.deepEqual(again.map(r => r.newPos).slice(0, 2).sort(), first.map(r => r.newPos).slice(0, 2).sort(), 'the real positions are free again')
  t.is(again[2].newPos, 6, 'virtual positions are never handed out twice')
  t.true(again[0].newEldership > first[2].newEldership, 'elderships keep growing')
  const view = await pn.run(c.memory(2))
  t.deepEqual(view.memory.reserveList.map(b => b.reserveRequestId).sort(), [4, 5, 6])
})

test('number of nodes: the whole network\'s Coordinator answers, and repeats its answer while it is cached', async t => {
  const spec = hierarchicalTopology([4, 4, 4], { seed: 4, fill: 0.6 })
  const pn = await coordinatorNetwork(spec)
  const answers = await pn.run(Promise.all(spec.nodes.map(async n => await pn.node(n.name).value.coord.getNNodes())))
  t.true(answers.every(a => a === spec.nodes.length), `every node hears ${spec.nodes.length}: ${answers.join(',')}`)
})

test('hooking memory is read and written only on the coordinator node itself; proxies reach the handlers of the servant', async t => {
  const spec = ringTopology(8, [2, 2, 2, 4])
  const pn = await coordinatorNetwork(spec)
  const servantOfTop = expectedCoordinator(spec, spec.nodes[5].name, 4)!
  const coordNode = pn.node(servantOfTop.name).value.coord
  await pn.run(coordNode.setHookingMemory(4, { plan: 'x' }))
  t.deepEqual(await pn.run(coordNode.getHookingMemory(4)), { plan: 'x' })
  const other = pn.node(spec.nodes.find(n => n.name !== servantOfTop.name)!.name).value.coord
  await t.throwsAsync(pn.run(other.getHookingMemory(4)), { name: 'NotCoordinatorNodeError' })
  await t.throwsAsync(pn.run(other.evaluateEnter(4, {})), { name: 'CoordinatorError', message: /no handler for evaluate_enter/ })
})

test('inside an autonomous subnet (levels up to subnetLevel) reservations are refused', async t => {
  const spec = ringTopology(6, [2, 2, 2, 4])
  const pn = await coordinatorNetwork(spec, { subnetLevel: 2 })
  const c = pn.node(spec.nodes[3].name).value.coord
  await t.throwsAsync(pn.run(c.reserve(2, 1)), { name: 'ReserveError', message: /level 2 is inside the autonomous subnet of level 2/ })
  const ok = await pn.run(c.reserve(3, 1))
  t.true(Number.isInteger(ok.newPos))
})

test('after a g-node entered as a block, its Coordinator does not give a member\'s position its young map does not show yet', async t => {
  // one g-node of level 1 holding 4 nodes of 8 positions (free: 4..7); a node's identity is replaced as after an entry
  // of that whole g-node (guest level 1), with a map that shows nobody yet: its duplications matched too late for
  // the block's paths to be copied (lab 2x25 formation: a node entering 18 s later got a member's address)
  const spec = gridTopology(2, 2, [8, 4, 4], () => 1000)
  const pn = await coordinatorNetwork(spec)
  const name = spec.nodes[0].name
  const node = pn.node(name)
  const old = node.value
  old.coord.stop()
  old.peers.stop()
  const fresh = pn.attach(name, (_, ports) => {
    const peers = new PeerServices(ports, { origin: { previous: old.peers, guestGnodeLevel: 1, newGnodeLevel: 1 } })
    return { peers, coord: new Coordinator(peers, { previous: old.coord }) }
  }, youngMap(node.ports.map, () => true)).value
  const members = spec.nodes.map(n => n.naddr[0])
  // its memory of the block is copied from the previous identity after the start-up delay; until then it refuses
  await t.throwsAsync(pn.run(fresh.coord.reserve(1, 76)), { message: /every servant refused: not-exhaustive/ })
  await pn.runFor(3000)
  const r = await pn.run(fresh.coord.reserve(1, 77))
  t.false(members.includes(r.newPos), `position ${r.newPos} belongs to a member of the block (${members.join(', ')})`)
  t.is(r.newPos, 4, 'the first free one')
})
