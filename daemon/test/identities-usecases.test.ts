import test, { type ExecutionContext } from 'ava'
import { type DaemonNetwork, runFor, runUntil, startDaemons } from './helpers/inprocess-network'
import { expectedSystem, kernelProblems, type StoryWorld } from './helpers/identity-expect'

// The documented use cases (shared/spec/usecases.md) driven by hand, as the proof of concept's qspnclient did, on
// whole daemons in one process (in-memory network and kernels, virtual clock). After each step every system's
// kernel, in every namespace, must equal what the spec prescribes (§2.3-2.8), computed independently of the
// daemon's routes code (helpers/identity-expect).

const T4222 = { gsizesTop: [4, 2, 2, 2] }
const MANUAL = { qspnArcs: 'manual', serveAnonymous: true }
const MAC = {
  alfa: '00:16:3E:FD:E2:AA', beta: '00:16:3E:EC:A3:E1', gamma: '00:16:3E:5B:78:D5', delta: '00:16:3E:1A:C4:45',
  epsilon: '00:16:3E:3C:14:33', lambda: '00:16:3E:06:3E:90', mu: '00:16:3E:2D:8D:DE'
}
type System = keyof typeof MAC

async function systems (plan: Partial<Record<System, string>>, arcs: Array<[System, System]>, costs: Partial<Record<System, number>>): Promise<DaemonNetwork> {
  const dn = await startDaemons(Object.fromEntries(Object.entries(plan).map(([name, address]) => [name, {
    address: address as string, nics: ['eth1'], costs: { eth1: costs[name as System] ?? 10_000 }, config: MANUAL, macs: { eth1: MAC[name as System] }
  }])), { topologyBits: [2, 1, 1, 1], seed: 11 })
  for (const [a, b] of arcs) dn.link({ node: a, nic: 'eth1' }, { node: b, nic: 'eth1' })
  // every arc has its main identity-arcs on both sides
  const ok = await runUntil(dn.clock, () => arcs.every(([a, b]) => dn.get(a).node.identities()[0].arcs.some(x => x.peerMac === MAC[b]) && dn.get(b).node.identities()[0].arcs.some(x => x.peerMac === MAC[a])), { budgetMs: 10_000 })
  if (ok === null) throw new Error('the arcs did not form')
  return dn
}

/** Awaits an operation that needs the virtual clock to move (requests between systems), for at most `budgetMs`. */
async function drive<T> (dn: DaemonNetwork, p: Promise<T>, budgetMs = 10_000): Promise<T> {
  let done = false
  const watched = p.finally(() => { done = true })
  for (let waited = 0; !done && waited < budgetMs; waited += 10) await runFor(dn.clock, 10)
  return await watched
}

/** Runs until every system's kernel equals the story's expectation (budget in virtual ms); fails with the differences. */
async function holds (t: ExecutionContext, dn: DaemonNetwork, w: StoryWorld, step: string, budgetMs = 15_000): Promise<void> {
  const nodes = [...new Set(Object.values(w.identities).map(i => i.node))]
  let problems: string[] = []
  const took = await runUntil(dn.clock, async () => {
    await dn.syncKernels()
    problems = []
    for (const n of nodes) {
      const actual = await dn.get(n).kernel.read()
      for (const p of kernelProblems(actual, expectedSystem(dn, w, n))) problems.push(`${n}: ${p}`)
    }
    return problems.length === 0
  }, { budgetMs, stepMs: 200 })
  t.deepEqual(problems, [], `${step}: every namespace of every system as the spec prescribes`)
  if (took === null) t.log(`${step}: still different after ${budgetMs} ms`)
}

test('entr01 step by step: μ alone enters Gδ; every namespace of both systems holds exactly what §2.8 prescribes', async t => {
  const dn = await systems({ delta: '3.1.0.1', mu: '1.0.1.1' }, [['delta', 'mu']], { delta: 11_000, mu: 10_000 })
  t.teardown(async () => await dn.stopAll())
  const mu = dn.get('mu').node
  const delta = dn.get('delta').node
  const base = { topology: T4222, costs: { delta: 11_000, mu: 10_000 }, serveAnonymous: true }

  // Two networks of one node each: addresses, 18 unreachable destinations, SNAT; the arc only as a host route.
  await holds(t, dn, {
    ...base,
    identities: { δ0: { node: 'delta', ref: '0', addr: [3, 1, 0, 1], main: true }, μ0: { node: 'mu', ref: '0', addr: [1, 0, 1, 1], main: true } },
    qspn: [],
    plain: [['δ0', 'μ0']]
  }, 'start')

  // prepare_enter_net_phase_1 0 0 1 3.1.0 0.0.0 2 1 0 2 2 1 [0] 3069540 null, then enter_net_phase_1 0 3069540:
  // μ0 moves to its own namespace as 1·0·1·2, μ1 takes the default one and (no previous operation: phase 2 at
  // once) the real address 3·1·0·0; its qspn-arc towards δ is there, δ's towards μ1 not yet.
  mu.ops.prepareEnterNet('0', { guestLevel: 0, hostLevel: 1, hostGnode: [3, 1, 0], hostElderships: [0, 0, 0], pos1: 2, eld1: 1, pos2: 0, eld2: 2, connPos: 2, connEld: 1, externalArcs: ['0'], opId: 3069540, prevOpId: null })
  t.like(await drive(dn, mu.ops.enterNetPhase1('0', 3069540)), { index: 1, netns: '', address: '3.1.0.0' })
  const ids = mu.identities()
  t.like(ids[0], { index: 0, kind: 'connectivity', netns: 'ntkv0', address: '1.0.1.2', connectivityLevels: [1, 4], virtualLevels: [0] })
  t.is(ids[0].nics[0].dev, 'ntkv0_eth1')
  t.regex(ids[0].nics[0].mac, /^4E(:[0-9A-F]{2}){5}$/, 'a random, locally administered MAC (ntkd\'s 4E:…)')
  t.like(ids[1], { index: 1, kind: 'main', netns: '', address: '3.1.0.0', fingerprint: { elderships: [2, 0, 0, 0] } })
  const afterPhase1: StoryWorld = {
    ...base,
    identities: {
      δ0: { node: 'delta', ref: '0', addr: [3, 1, 0, 1], main: true },
      μ0: { node: 'mu', ref: '0', addr: [1, 0, 1, 2], main: false },
      μ1: { node: 'mu', ref: '1', addr: [3, 1, 0, 0], main: true }
    },
    qspn: [],
    plain: [['δ0', 'μ0'], ['δ0', 'μ1']]
  }
  // μ1's table for δ exists already (all unreachable: no ETP yet), δ has none for μ1
  await dn.syncKernels()
  const muNow = await dn.get('mu').kernel.read()
  t.true(muNow.namespaces.get('')?.marks.some(m => m.mac === MAC.delta), 'μ1 marks packets from δ')
  t.false((await dn.get('delta').kernel.read()).namespaces.get('')?.marks.some(m => m.mac === MAC.mu), 'δ has no table for μ yet')

  // add_qspn_arc 0 eth1 00:16:3E:2D:8D:DE on δ: the ETPs flow, both route to each other
  delta.ops.addQspnArc('0', 'eth1', MAC.mu)
  await holds(t, dn, { ...afterPhase1, qspn: [['δ0', 'μ1']], plain: [['δ0', 'μ0']] }, 'after add_qspn_arc on δ')
  t.like(delta.identities()[0].arcs.find(a => a.peerMac === MAC.mu && a.qspn), { peerAddress: '3.1.0.0' })

  // μ0 is dismissed (entry: no connectivity check): its namespace, pseudo-interface and δ's host route go
  await drive(dn, mu.ops.removeIdentity('0'))
  await holds(t, dn, {
    ...base,
    identities: { δ0: afterPhase1.identities.δ0, μ1: afterPhase1.identities.μ1 },
    qspn: [['δ0', 'μ1']]
  }, 'after dismissing μ0')
  t.is(mu.identities().length, 1)
  t.is(delta.identities()[0].arcs.length, 1, 'δ keeps only the identity-arc to μ1')
  t.is(mu.counters().listenerErrors && (mu.counters().listenerErrors as { count: number }).count, 0)
})
