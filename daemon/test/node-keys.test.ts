import test from 'ava'
import { SeededRandom } from '../src/util/random'
import { WireCodec } from '../src/wire'
import { type DaemonNetwork, runFor, runUntil, startSpec } from './helpers/inprocess-network'
import { RING6, differences, observable } from './helpers/fuzz/network'
import { RouteOracle } from './helpers/route-oracle'
import { kernelProblems, mapProblems } from './helpers/daemon-checks'

// Network keys in whole daemons on the ring of six (topologies/ntkd-ring6.yaml in process): a rollover from key A to
// key B node by node without losing an arc, and a node holding another key kept out.

const BUDGET = { budgetMs: 60_000, stepMs: 250 }

async function ring (logs: string[]): Promise<DaemonNetwork> {
  const dn = await startSpec(RING6, { seed: 5, networkKey: 'key A', log: (node, line) => logs.push(`${dn.clock.now()} ${node}: ${line}`) })
  const oracle = RouteOracle.ofSpec(RING6)
  if (await runUntil(dn.clock, () => mapProblems(dn, oracle, { limit: 1 }).length === 0, BUDGET) === null) throw new Error('the ring did not form')
  await runFor(dn.clock, 5_000)
  return dn
}

const removals = (logs: string[]): string[] => logs.filter(l => l.includes('arc removed'))
const olderKey = (dn: DaemonNetwork): number => dn.list().reduce((s, d) => s + d.counters.snapshot().acceptedWithOlderKey, 0)

test('key rollover A -> B node by node ([A, B], then [B, A], then [B]) loses no arc and changes no route', async t => {
  const logs: string[] = []
  const dn = await ring(logs)
  t.teardown(async () => await dn.stopAll())
  const before = await observable(dn)
  const rnd = new SeededRandom(9)
  const steps: Array<[string, string[]]> = [['accept B', ['key A', 'key B']], ['sign with B', ['key B', 'key A']], ['drop A', ['key B']]]
  for (const [step, keys] of steps) {
    // node by node, in an order of its own, with time for probes and ETPs between two nodes
    const order = dn.list().map(d => d.name).sort(() => rnd.next() - 0.5)
    for (const name of order) {
      dn.get(name).codec.setNetworkKeys(keys)
      await runFor(dn.clock, 3_000)
    }
    t.deepEqual(removals(logs), [], `${step}: no arc removed`)
    if (step === 'sign with B') t.true(olderKey(dn) > 0, 'while some nodes signed with B and others with A, both were accepted')
  }
  await runFor(dn.clock, 10_000)
  t.deepEqual(removals(logs), [], 'no arc removed')
  t.deepEqual(differences(before, await observable(dn)), [], 'arcs, maps and kernels as before the rollover')
  // A is gone: a message signed with A is refused everywhere
  const a = dn.get('a')
  const stale = olderKey(dn)
  const rejectedBefore = a.counters.snapshot().rejected.unauthenticated
  const oldCodec = new WireCodec({ registry: a.codec.registry, networkKey: 'key A' })
  const from = dn.peerOf('a', a.config.interfaces[0])
  await dn.net.injectRaw(from, { node: 'a', nic: a.config.interfaces[0] }, oldCodec.encode({ v: 1, kind: 'void' }), 'broadcast')
  t.is(a.counters.snapshot().rejected.unauthenticated, rejectedBefore + 1, 'a message signed with A is unauthenticated')
  await runFor(dn.clock, 5_000)
  t.is(olderKey(dn), stale, 'nothing is accepted with an older key any more')
})

test('a node that switches to B while its neighbours hold only A loses its arcs (why the rollover takes three steps), and gets them back with A', async t => {
  const logs: string[] = []
  const dn = await ring(logs)
  t.teardown(async () => await dn.stopAll())
  const before = await observable(dn)
  dn.get('c').codec.setNetworkKeys(['key B'])
  t.not(await runUntil(dn.clock, () => dn.get('c').node.arcs().length === 0, { budgetMs: 15_000, stepMs: 250 }), null, 'c loses both arcs')
  t.true(removals(logs).some(l => l.includes(' c: ')), 'logged')
  dn.get('c').codec.setNetworkKeys(['key A'])
  const oracle = RouteOracle.ofSpec(RING6)
  t.not(await runUntil(dn.clock, () => mapProblems(dn, oracle, { limit: 1 }).length === 0, BUDGET), null, 'back with A, the ring forms again')
  await runFor(dn.clock, 5_000)
  await dn.syncKernels()
  t.deepEqual(await kernelProblems(dn, oracle), [])
  t.deepEqual(differences(before, await observable(dn)), [], 'as before')
})
