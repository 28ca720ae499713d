import test from 'ava'
import { gridTopology, hierarchicalTopology, type TopologySpec } from '../src/sim/topologies'
import { coordinatorNetwork, settleReplicas } from './helpers/coordinator-network'
import { expectedCoordinator, oracleDistance } from './helpers/peers-oracle'
import type { PropagationKind } from '../src/coordinator'

const addr = (n: readonly number[]): string => [...n].reverse().join('·')

/** Nodes of the client's g-node of level lvl, nearest to 0·…·0 first (the servant, then its replicas in order). */
function holders (spec: TopologySpec, client: string, lvl: number): string[] {
  const me = spec.nodes.find(n => n.name === client)!
  const zeros = new Array<number>(lvl).fill(0)
  return spec.nodes.filter(n => n.naddr.slice(lvl).join('.') === me.naddr.slice(lvl).join('.'))
    .sort((a, b) => oracleDistance(spec.gsizes, zeros, a.naddr) - oracleDistance(spec.gsizes, zeros, b.naddr)).map(n => n.name)
}

test('the servant stops: the next replica answers and no booking is lost', async t => {
  const spec = gridTopology(6, 6, [4, 4, 4], () => 1000)
  const pn = await coordinatorNetwork(spec)
  const client = spec.nodes[20].name
  const order = holders(spec, client, 3)
  const ids = Array.from({ length: 12 }, (_, k) => 500 + k)
  const before = await pn.run(Promise.all(ids.map(async id => await pn.node(client).value.coord.reserve(3, id))))
  await settleReplicas(pn)
  pn.stopNode(order[0])
  await pn.sim.runUntilQuiescent()
  const view = await pn.run(pn.node(client).value.coord.memory(3))
  t.is(addr(view.servant), order[1], 'the next node nearest to 0·0·0 serves')
  t.deepEqual(view.memory.reserveList.map(b => b.reserveRequestId).sort(), ids, 'every booking is there')
  const after = await pn.run(Promise.all(ids.map(async id => await pn.node(client).value.coord.reserve(3, id))))
  t.deepEqual(after, before, 'asked again, each id gets the same position and eldership')
  const fresh = await pn.run(pn.node(client).value.coord.reserve(3, 999))
  t.false(before.some(r => r.newPos === fresh.newPos), 'a new booking takes a position not handed out before')
})

test('a replica set survives q − 1 stops at once (q = 15)', async t => {
  const spec = gridTopology(8, 8, [4, 4, 4], () => 1000)
  const pn = await coordinatorNetwork(spec)
  const client = spec.nodes[63].name
  const order = holders(spec, client, 3)
  const ids = [7, 8, 9]
  const before = await pn.run(Promise.all(ids.map(async id => await pn.node(client).value.coord.reserve(3, id))))
  await settleReplicas(pn)
  const copies = order.filter(n => pn.node(n).value.coord.localMemory(3)?.reserveList.length === 3)
  t.deepEqual(copies, order.slice(0, 16), 'the servant and the next 15 hold the memory')
  const stopped = order.slice(0, 14)
  for (const n of stopped) pn.stopNode(n)
  await pn.sim.runUntilQuiescent()
  const view = await pn.run(pn.node(client).value.coord.memory(3))
  t.is(addr(view.servant), order[14])
  t.deepEqual(view.memory.reserveList.map(b => b.reserveRequestId).sort(), ids)
  const after = await pn.run(Promise.all(ids.map(async id => await pn.node(client).value.coord.reserve(3, id))))
  t.deepEqual(after, before)
})

for (const seed of [5, 6, 7]) test(`messages lost and delayed at random (seed ${seed}) never yield two answers that disagree`, async t => {
  const spec = hierarchicalTopology([4, 4, 4], { seed: 11, fill: 0.8, extraLinks: 2 })
  const pn = await coordinatorNetwork(spec, { seed })
  pn.faults = { lossPerHop: 0.03, maxExtraDelayMs: 40 }
  const names = spec.nodes.map(n => n.name)
  // 120 reservations over 40 ids at the whole network's coordinator, from every node, some ids asked 3 times
  const answers = new Map<number, string[]>()
  const failures: string[] = []
  const jobs = Array.from({ length: 120 }, async (_, k) => {
    const id = k % 40
    const client = names[(k * 7) % names.length]
    try {
      const r = await pn.node(client).value.coord.reserve(3, id)
      const list = answers.get(id) ?? []
      list.push(`${r.newPos}/${r.newEldership}`)
      answers.set(id, list)
    } catch (e) { failures.push(`${client} id ${id}: ${(e as Error).message}`) }
  })
  const counts = Array.from({ length: 30 }, async (_, k) => await pn.node(names[k % names.length]).value.coord.getNNodes().catch(() => null))
  const [, n] = await pn.run(Promise.all([Promise.all(jobs), Promise.all(counts)]), 3_600_000)
  t.true(pn.traffic.lost > 0, `${pn.traffic.lost} hops lost`)
  const disagree = [...answers].filter(([, l]) => new Set(l).size > 1)
  t.deepEqual(disagree, [], 'one answer per id')
  const byPos = new Map<number, number>()
  for (const [id, l] of answers) {
    const pos = Number(l[0].split('/')[0])
    t.false(byPos.has(pos), `position ${pos} handed to ids ${byPos.get(pos) ?? '?'} and ${id}`)
    byPos.set(pos, id)
  }
  t.true(answers.size >= 36, `most ids answered (${answers.size}); failures: ${failures.slice(0, 3).join('; ')}`)
  t.true(new Set(n.filter(x => x !== null)).size <= 1, `the node counts agree: ${n.join(',')}`)
  const redos = [...pn.nodes.values()].reduce((s, x) => s + x.value.peers.stats.redos, 0)
  t.log(`${pn.traffic.lost} hops lost, ${answers.size}/40 ids answered, ${failures.length} requests failed, ${redos} redos`)
})

test('a propagation reaches every member of the g-node exactly once, and no node outside it', async t => {
  const spec = hierarchicalTopology([4, 4, 4], { seed: 12, fill: 0.8, extraLinks: 3 })
  const runs = new Map<string, number>()
  const kinds: PropagationKind[] = []
  const pn = await coordinatorNetwork(spec, {
    propagation: name => ({
      prepare_migration: () => { runs.set(name, (runs.get(name) ?? 0) + 1); kinds.push('prepare_migration') },
      finish_enter: () => { runs.set(name, (runs.get(name) ?? 0) + 1) }
    })
  })
  const origin = spec.nodes[spec.nodes.length - 1]
  for (const [lvl, what] of [[2, 'prepare'], [1, 'finish']] as const) {
    runs.clear()
    const members = new Set(spec.nodes.filter(n => n.naddr.slice(lvl).join('.') === origin.naddr.slice(lvl).join('.')).map(n => n.name))
    const c = pn.node(origin.name).value.coord
    if (what === 'prepare') {
      await pn.run(c.prepareMigration(lvl, { migrationId: 42 }))
      t.deepEqual([...runs.keys()].sort(), [...members].sort(), 'with return: every member has run it when the origin returns')
    } else {
      await pn.run(c.finishEnter(lvl, { enterId: 7 }))
      await pn.runFor(5_000)
      t.deepEqual([...runs.keys()].sort(), [...members].sort())
    }
    t.true([...runs.values()].every(x => x === 1), 'once each')
    t.true(members.size > 1)
  }
  const dups = [...pn.nodes.values()].reduce((s, n) => s + n.value.coord.propagation.stats.duplicates, 0)
  t.true(dups > 0, 'the g-nodes have cycles: some nodes were reached twice and ran it once')
})

test('bad messages are dropped and counted, nothing crashes', async t => {
  const spec = gridTopology(3, 3, [4, 4, 4], () => 1000)
  const pn = await coordinatorNetwork(spec)
  const a = pn.node(spec.nodes[0].name)
  const arc = a.ports.neighbours.arcIds()[0]
  // positions outside the topology, a client tuple too long, an exclusion of the wrong top
  for (const m of [
    { v: 1, kind: 'peers_forward', pId: 1, msgId: 1, insideLevel: 3, client: [9, 0], lvl: 1, pos: 0, xbar: [0], exclude: [], hops: 0 },
    { v: 1, kind: 'peers_forward', pId: 1, msgId: 2, insideLevel: 2, client: [0, 0, 0], lvl: 1, pos: 0, xbar: [0], exclude: [], hops: 0 },
    { v: 1, kind: 'peers_forward', pId: 1, msgId: 3, insideLevel: 3, client: [0, 0], lvl: 1, pos: 0, xbar: [0], exclude: [{ level: 0, positions: [1, 2, 3] }], hops: 0 },
    { v: 1, kind: 'coord_propagate', id: 5, what: 'prepare_enter', lvl: 2, gnode: [0, 0], fpId: 1, withReturn: true, data: null }
  ]) {
    await pn.run(a.ports.neighbours.send(arc, m as never, { timeoutMs: 1000 }))
  }
  await pn.runFor(1000)
  const peer = [...pn.nodes.values()].find(n => n.name !== a.name && n.value.peers.stats.invalid > 0)
  t.is(peer?.value.peers.stats.invalid, 3)
  t.is([...pn.nodes.values()].reduce((s, n) => s + n.value.coord.propagation.stats.invalid, 0), 1)
  // a request that violates a schema never leaves its sender
  await t.throwsAsync(pn.run(a.ports.neighbours.send(arc, { v: 1, kind: 'peers_forward', pId: -1 } as never)), { message: /refusing to send message kind 'peers_forward'/ })
  // the network still works
  const view = await pn.run(a.value.coord.memory(3))
  t.is(addr(view.servant), addr(expectedCoordinator(spec, a.name, 3)!.naddr))
})
