import test from 'ava'
import { VirtualClock } from '../src/sim/virtual-clock'
import { buildNetwork, gridTopology, lineTopology } from '../src/sim/topologies'
import { mapSnapshot } from '../src/sim/check'
import { SeededRandom } from '../src/util/random'

test('the virtual clock runs timers by time, then by order of setting, and skips cancelled ones', t => {
  const c = new VirtualClock()
  const ran: string[] = []
  c.setTimer(5, () => ran.push('b'))
  c.setTimer(1, () => ran.push('a'))
  const cancel = c.setTimer(3, () => ran.push('never'))
  c.setTimer(5, () => { ran.push('c'); c.setTimer(0, () => ran.push('d')) })
  cancel()
  while (c.step()) { /* run all */ }
  t.deepEqual(ran, ['a', 'b', 'c', 'd'])
  t.is(c.now(), 5)
})

test('the seeded random source is reproducible and in range', t => {
  const a = new SeededRandom(7); const b = new SeededRandom(7)
  const xs = Array.from({ length: 100 }, () => a.int(10))
  t.deepEqual(xs, Array.from({ length: 100 }, () => b.int(10)))
  t.true(xs.every(x => x >= 0 && x < 10))
  t.true(new Set(xs).size > 5)
})

test('same seed, same run: identical traffic, convergence time and maps', async t => {
  const spec = gridTopology(4, 4, [2, 2, 2, 4])
  const runs = await Promise.all([1, 2].map(async () => {
    const net = buildNetwork(spec, { seed: 99 })
    const r = await net.runUntilQuiescent()
    return { r, traffic: { ...net.traffic }, maps: spec.nodes.map(n => mapSnapshot(net, n.name)) }
  }))
  t.deepEqual(runs[0], runs[1])
})

test('messages and bytes are counted and latency shapes virtual convergence time', async t => {
  const spec = lineTopology(5, [8])
  // no pacing or holds: virtual time is then latency alone
  const qspn = { etpPacingMs: 0, ownInfoHoldMs: 0, fingerprintSettleMs: 0 }
  const fast = buildNetwork(spec, { seed: 1, defaultLatencyMs: 1, qspn })
  const slow = buildNetwork(spec, { seed: 1, defaultLatencyMs: 20, qspn })
  const rf = await fast.runUntilQuiescent()
  const rs = await slow.runUntilQuiescent()
  t.true(fast.traffic.messages > 0)
  t.true(fast.traffic.bytes > fast.traffic.messages * 50)
  t.is(fast.traffic.fullEtpRequests, 8, 'one request per arc end')
  t.is(fast.traffic.messages, fast.traffic.etps + fast.traffic.fullEtpRequests + fast.traffic.fullEtpResponses)
  t.true(rs.convergedAfterMs >= 20 * rf.convergedAfterMs - 20, `${rs.convergedAfterMs} vs ${rf.convergedAfterMs}`)
  t.is(fast.node('0').manager.getPathsTo({ lvl: 0, pos: 4 })[0].cost, 4000)
})

test('a node that stops answering is dropped by its neighbour (arc_removed) and others reroute', async t => {
  const spec = lineTopology(3, [4])
  const net = buildNetwork(spec, { seed: 2 })
  await net.runUntilQuiescent()
  t.is(net.node('0').manager.getKnownDestinations(0).length, 2)
  net.node('2').manager.stop()
  net.unlink(net.findLink('1', '2'))
  await net.runUntilQuiescent()
  t.deepEqual(net.node('0').manager.getKnownDestinations(0), [{ lvl: 0, pos: 1 }])
})
