import test, { type ExecutionContext } from 'ava'
import { type DaemonNetwork, runFor, runUntil, startDaemons } from './helpers/inprocess-network'
import { expectedSystem, kernelProblems, type StoryIdentity, type StoryWorld } from './helpers/identity-expect'
import { expectedCoordinator } from './helpers/peers-oracle'
import type { TopologySpec } from '../src/sim/topologies'

// The whole story of the documented use cases (shared/spec/usecases.md: entr01-entr06, migr01-migr02, the removal
// of the connectivity identities) on seven whole daemons in one process, driven by the proof's operations as
// ntkctl gives them. After every phase each system's kernel, in every namespace, is compared with the spec
// (helpers/identity-expect): addresses, ntk and ntk_from routes with src, rules, marks, SNAT/NETMAP, nested
// namespaces and pseudo-interfaces. Arcs appear as the story says (Grafo 1, then γ–ε for Grafo 3).

const MAC = {
  alfa: '00:16:3E:FD:E2:AA', beta: '00:16:3E:EC:A3:E1', gamma: '00:16:3E:5B:78:D5', delta: '00:16:3E:1A:C4:45',
  epsilon: '00:16:3E:3C:14:33', lambda: '00:16:3E:06:3E:90', mu: '00:16:3E:2D:8D:DE'
}
type System = keyof typeof MAC
// arcs of the testbeds cost 10000 or 11000 µs; distinct costs per system make every cheapest path unique
const COSTS: Record<System, number> = { alfa: 10_000, beta: 11_000, gamma: 12_000, delta: 13_000, epsilon: 14_000, lambda: 15_000, mu: 16_000 }

async function drive<T> (dn: DaemonNetwork, p: Promise<T>, budgetMs = 10_000): Promise<T> {
  let done = false
  const watched = p.finally(() => { done = true })
  for (let waited = 0; !done && waited < budgetMs; waited += 10) await runFor(dn.clock, 10)
  return await watched
}

async function arc (dn: DaemonNetwork, a: System, b: System): Promise<void> {
  dn.link({ node: a, nic: 'eth1' }, { node: b, nic: 'eth1' })
  const main = (n: System): { arcs: ReadonlyArray<{ peerMac: string }> } => dn.get(n).node.identities().find(i => i.kind === 'main') ?? { arcs: [] }
  const ok = await runUntil(dn.clock, () => main(a).arcs.some(x => x.peerMac === MAC[b]) && main(b).arcs.some(x => x.peerMac === MAC[a]), { budgetMs: 10_000 })
  if (ok === null) throw new Error(`arc ${a}–${b} did not form`)
}

async function holds (t: ExecutionContext, dn: DaemonNetwork, w: StoryWorld, step: string, budgetMs = 20_000): Promise<void> {
  const nodes = [...new Set(Object.values(w.identities).map(i => i.node))]
  let problems: string[] = []
  await runUntil(dn.clock, async () => {
    await dn.syncKernels()
    problems = []
    for (const n of nodes) {
      for (const p of kernelProblems(await dn.get(n).kernel.read(), expectedSystem(dn, w, n))) problems.push(`${n}: ${p}`)
    }
    return problems.length === 0
  }, { budgetMs, stepMs: 250 })
  t.deepEqual(problems, [], `${step}: every namespace of every system as the spec prescribes`)
}

test('the whole story: entries entr01-entr06, migrations migr01-migr02, and the removal of connectivity identities', async t => {
  const systems = Object.keys(MAC) as System[]
  const dn = await startDaemons(Object.fromEntries(systems.map(s => [s, {
    address: { alfa: '3.0.1.0', beta: '1.0.1.0', gamma: '2.1.1.0', delta: '3.1.0.1', mu: '1.0.1.1', epsilon: '3.1.0.0', lambda: '1.1.0.0' }[s],
    nics: ['eth1'],
    costs: { eth1: COSTS[s] },
    config: { qspnArcs: 'manual', serveAnonymous: true, ...(s === 'lambda' ? { subnetLevel: 1 } : {}) },
    macs: { eth1: MAC[s] }
  }])), { topologyBits: [2, 1, 1, 1], seed: 21 })
  t.teardown(async () => await dn.stopAll())
  const n = Object.fromEntries(systems.map(s => [s, dn.get(s).node])) as Record<System, ReturnType<typeof dn.get>['node']>
  const id = (node: System, ref: string, addr: number[], main = true, extra: Partial<StoryIdentity> = {}): StoryIdentity => ({ node, ref, addr, main, ...extra })
  const world = (identities: Record<string, StoryIdentity>, qspn: Array<[string, string]>, plain: Array<[string, string]> = []): StoryWorld =>
    ({ topology: { gsizesTop: [4, 2, 2, 2] }, costs: COSTS, serveAnonymous: true, identities, qspn, plain })
  const λsub = { subnetLevel: 1 }

  // Steps 1-7: every system starts as a network of its own
  let ids: Record<string, StoryIdentity> = {
    α0: id('alfa', '0', [3, 0, 1, 0]), β0: id('beta', '0', [1, 0, 1, 0]), γ0: id('gamma', '0', [2, 1, 1, 0]), δ0: id('delta', '0', [3, 1, 0, 1]),
    μ0: id('mu', '0', [1, 0, 1, 1]), ε0: id('epsilon', '0', [3, 1, 0, 0]), λ0: id('lambda', '0', [1, 1, 0, 0], true, λsub)
  }
  await holds(t, dn, world(ids, []), 'steps 1-7: seven networks')

  // entr02 (steps 8-12): arc β–γ; β enters Gγ as 2·1·1·2, then 2·1·1·1; γ adds the qspn-arc; β0 dismissed
  await arc(dn, 'beta', 'gamma')
  n.beta.ops.prepareEnterNet('0', { guestLevel: 0, hostLevel: 1, hostGnode: [2, 1, 1], hostElderships: [0, 0, 0], pos1: 2, eld1: 1, pos2: 1, eld2: 2, connPos: 2, connEld: 1, externalArcs: [MAC.gamma], opId: 4379845, prevOpId: null })
  t.like(await drive(dn, n.beta.ops.enterNetPhase1('0', 4379845)), { index: 1, address: '2.1.1.1' })
  n.gamma.ops.addQspnArc('0', 'eth1', MAC.beta)
  ids = { ...ids, β0: id('beta', '0', [1, 0, 1, 2], false), β1: id('beta', '1', [2, 1, 1, 1]) }
  await holds(t, dn, world(ids, [['β1', 'γ0']], [['β0', 'γ0']]), 'entr02: β1 in Gγ')
  await drive(dn, n.beta.ops.removeIdentity('0'))
  delete ids.β0
  await holds(t, dn, world(ids, [['β1', 'γ0']]), 'entr02: β0 dismissed')

  // entr01 (step 13): arc δ–μ; μ enters Gδ as 3·1·0·2, then 3·1·0·0
  await arc(dn, 'delta', 'mu')
  n.mu.ops.prepareEnterNet('0', { guestLevel: 0, hostLevel: 1, hostGnode: [3, 1, 0], hostElderships: [0, 0, 0], pos1: 2, eld1: 1, pos2: 0, eld2: 2, connPos: 2, connEld: 1, externalArcs: [MAC.delta], opId: 3069540, prevOpId: null })
  t.like(await drive(dn, n.mu.ops.enterNetPhase1('0', 3069540)), { index: 1, address: '3.1.0.0' })
  n.delta.ops.addQspnArc('0', 'eth1', MAC.mu)
  await drive(dn, n.mu.ops.removeIdentity('0'))
  delete ids.μ0
  ids = { ...ids, μ1: id('mu', '1', [3, 1, 0, 0]) }
  await holds(t, dn, world(ids, [['β1', 'γ0'], ['δ0', 'μ1']]), 'entr01: μ1 in Gδ')

  // entr03 (steps 15-27): arc γ–δ; the g-node χ = 3·1·0· (δ0, μ1) enters Gγ as 2·1·2·, then 2·1·0·
  await arc(dn, 'gamma', 'delta')
  const χ = { guestLevel: 1, hostLevel: 2, hostGnode: [2, 1], hostElderships: [0, 0], pos1: 2, eld1: 1, pos2: 0, eld2: 2, connPos: 2, connEld: 1, opId: 8191409, prevOpId: null }
  n.delta.ops.prepareEnterNet('0', { ...χ, externalArcs: [MAC.gamma] })
  n.mu.ops.prepareEnterNet('1', { ...χ, externalArcs: [] })
  await drive(dn, Promise.all([n.delta.ops.enterNetPhase1('0', 8191409), n.mu.ops.enterNetPhase1('1', 8191409)]))
  n.gamma.ops.addQspnArc('0', 'eth1', MAC.delta)
  ids = { ...ids, δ0: id('delta', '0', [3, 1, 2, 1], false), μ1: id('mu', '1', [3, 1, 2, 0], false), δ1: id('delta', '1', [2, 1, 0, 1]), μ2: id('mu', '2', [2, 1, 0, 0]) }
  await holds(t, dn, world(ids, [['β1', 'γ0'], ['δ0', 'μ1'], ['δ1', 'μ2'], ['γ0', 'δ1']], [['γ0', 'δ0']]), 'entr03: χ in Gγ')
  await drive(dn, Promise.all([n.delta.ops.removeIdentity('0'), n.mu.ops.removeIdentity('1')]))
  delete ids.δ0
  delete ids.μ1
  await holds(t, dn, world(ids, [['β1', 'γ0'], ['δ1', 'μ2'], ['γ0', 'δ1']]), 'entr03: χ\'s old identities dismissed')

  // entr04 (steps 28-35): arc α–β; α enters Gγ as a new level-2 g-node 2·2·1·0, then 2·0·1·0
  await arc(dn, 'alfa', 'beta')
  n.alfa.ops.prepareEnterNet('0', { guestLevel: 0, hostLevel: 3, hostGnode: [2], hostElderships: [0], pos1: 2, eld1: 1, pos2: 0, eld2: 2, connPos: 2, connEld: 1, externalArcs: [MAC.beta], opId: 90256060, prevOpId: null })
  t.like(await drive(dn, n.alfa.ops.enterNetPhase1('0', 90256060)), { index: 1, address: '2.0.1.0' })
  n.beta.ops.addQspnArc('1', 'eth1', MAC.alfa)
  await drive(dn, n.alfa.ops.removeIdentity('0'))
  delete ids.α0
  ids = { ...ids, α1: id('alfa', '1', [2, 0, 1, 0]) }
  let qspn: Array<[string, string]> = [['β1', 'γ0'], ['δ1', 'μ2'], ['γ0', 'δ1'], ['α1', 'β1']]
  await holds(t, dn, world(ids, qspn), 'entr04: α1 in Gγ')

  // entr05 + migr01 (steps 36-56): arc β–ε; ε enters as the virtual 2·1·1·2 waiting for migr01, which moves β1
  // (2·1·1·1) to 2·0·1·1 and leaves it as the connectivity identity 2·1·1·3 in its own namespace
  await arc(dn, 'beta', 'epsilon')
  n.epsilon.ops.prepareEnterNet('0', { guestLevel: 0, hostLevel: 1, hostGnode: [2, 1, 1], hostElderships: [0, 0, 0], pos1: 2, eld1: 3, pos2: 1, eld2: 4, connPos: 2, connEld: 1, externalArcs: [MAC.beta], opId: 4958850, prevOpId: 262359 })
  t.like(await drive(dn, n.epsilon.ops.enterNetPhase1('0', 4958850)), { index: 1, address: '2.1.1.2' })
  n.beta.ops.addQspnArc('1', 'eth1', MAC.epsilon)
  n.beta.ops.prepareMigrate('1', { guestLevel: 0, hostLevel: 1, hostGnode: [2, 0, 1], hostElderships: [0, 2, 0], pos1: 2, eld1: 3, pos2: 1, eld2: 4, connPos: 3, connEld: 3, opId: 262359, prevOpId: null })
  t.like(await drive(dn, n.beta.ops.migratePhase1('1', 262359)), { index: 2, address: '2.0.1.1' })
  n.alfa.ops.addQspnArc('1', 'eth1', MAC.beta)
  n.gamma.ops.addQspnArc('0', 'eth1', MAC.beta)
  n.epsilon.ops.addQspnArc('1', 'eth1', MAC.beta)
  n.epsilon.ops.enterNetPhase2('0', 4958850)
  n.beta.ops.removeOuterArcs('1')
  await drive(dn, n.epsilon.ops.removeIdentity('0'))
  delete ids.ε0
  ids = { ...ids, β1: id('beta', '1', [2, 1, 1, 3], false), β2: id('beta', '2', [2, 0, 1, 1]), ε1: id('epsilon', '1', [2, 1, 1, 1]) }
  qspn = [['β1', 'γ0'], ['δ1', 'μ2'], ['γ0', 'δ1'], ['α1', 'β2'], ['β2', 'γ0'], ['β1', 'ε1'], ['β2', 'ε1']]
  await holds(t, dn, world(ids, qspn), 'migr01 + entr05: β2 in 2·0·1·, ε1 = 2·1·1·1, β1 keeps 2·1·1· connected')

  // entr06 + migr02 (steps 57-88): arc ε–λ; λ (gateway of a level-1 subnet) enters as the virtual 2·1·2·0 waiting
  // for migr02, which moves the level-1 g-node φ = 2·1·1· (β1, γ0, ε1) to 2·0·0·
  await arc(dn, 'epsilon', 'lambda')
  n.lambda.ops.prepareEnterNet('0', { guestLevel: 1, hostLevel: 2, hostGnode: [2, 1], hostElderships: [0, 0], pos1: 2, eld1: 2, pos2: 1, eld2: 3, connPos: 2, connEld: 1, externalArcs: [MAC.epsilon], opId: 5511, prevOpId: 5522 })
  t.like(await drive(dn, n.lambda.ops.enterNetPhase1('0', 5511)), { index: 1, address: '2.1.2.0' })
  n.epsilon.ops.addQspnArc('1', 'eth1', MAC.lambda)
  const φ = { guestLevel: 1, hostLevel: 2, hostGnode: [2, 0], hostElderships: [0, 2], pos1: 2, eld1: 2, pos2: 0, eld2: 3, connPos: 3, connEld: 3, opId: 5522, prevOpId: null }
  n.beta.ops.prepareMigrate('1', φ)
  n.gamma.ops.prepareMigrate('0', φ)
  n.epsilon.ops.prepareMigrate('1', φ)
  // β3 takes β1's namespace (the name depends on how many identities moved out of β's way before)
  const beta1Netns = n.beta.identities().find(i => i.index === 1)?.netns
  t.regex(beta1Netns ?? '', /^ntkv\d$/, 'β1 is a connectivity identity in its own namespace')
  const moved = await drive(dn, Promise.all([n.beta.ops.migratePhase1('1', 5522), n.gamma.ops.migratePhase1('0', 5522), n.epsilon.ops.migratePhase1('1', 5522)]))
  t.like(moved, [{ index: 3, address: '2.0.0.3', netns: beta1Netns }, { index: 1, address: '2.0.0.0' }, { index: 2, address: '2.0.0.1' }])
  // outside neighbours add qspn-arcs to the new identities; φ's old identities drop their arcs outside 2·1·
  n.beta.ops.addQspnArc('2', 'eth1', MAC.gamma)
  n.beta.ops.addQspnArc('2', 'eth1', MAC.epsilon)
  n.delta.ops.addQspnArc('1', 'eth1', MAC.gamma)
  n.lambda.ops.addQspnArc('1', 'eth1', MAC.epsilon)
  n.gamma.ops.removeOuterArcs('0')
  n.epsilon.ops.removeOuterArcs('1')
  n.beta.ops.removeOuterArcs('1')
  n.lambda.ops.enterNetPhase2('0', 5511)
  await drive(dn, n.lambda.ops.removeIdentity('0'))
  delete ids.λ0
  ids = {
    ...ids,
    β1: id('beta', '1', [2, 1, 3, 3], false), β3: id('beta', '3', [2, 0, 0, 3], false),
    γ0: id('gamma', '0', [2, 1, 3, 0], false), γ1: id('gamma', '1', [2, 0, 0, 0]),
    ε1: id('epsilon', '1', [2, 1, 3, 1], false), ε2: id('epsilon', '2', [2, 0, 0, 1]),
    λ1: id('lambda', '1', [2, 1, 1, 0], true, λsub)
  }
  qspn = [
    ['δ1', 'μ2'], ['α1', 'β2'],
    ['γ0', 'δ1'], ['β1', 'γ0'], ['β1', 'ε1'], ['ε1', 'λ1'], // φ's old identities keep 2·1· connected
    ['γ1', 'δ1'], ['β3', 'γ1'], ['β3', 'ε2'], ['β2', 'γ1'], ['β2', 'ε2'], ['ε2', 'λ1']
  ]
  await holds(t, dn, world(ids, qspn), 'migr02 + entr06: φ in 2·0·0·, λ1 = 2·1·1·0 with its NETMAP')

  // steps 89-98: arc γ–ε; the main identities and the migr02 ones get identity-arcs (not main–migr02), β3 and β1
  // are found superfluous and dismissed; γ0 and ε1 stay (Grafo 5)
  await arc(dn, 'gamma', 'epsilon')
  n.gamma.ops.addQspnArc('1', 'eth1', MAC.epsilon)
  n.epsilon.ops.addQspnArc('2', 'eth1', MAC.gamma)
  const epsilon1Netns = n.epsilon.identities().find(i => i.index === 1)?.netns ?? ''
  const added = await drive(dn, n.gamma.ops.addIdentityArc('0', 'eth1', MAC.epsilon, epsilon1Netns, true))
  if (process.env.STORY_DEBUG === '1') console.log('ADDED', added, JSON.stringify(n.gamma.identities().find(i => i.index === 0)?.arcs), JSON.stringify(n.epsilon.identities().find(i => i.index === 1)?.arcs))
  qspn = [...qspn, ['γ1', 'ε2'], ['γ0', 'ε1']]
  await holds(t, dn, world(ids, qspn), 'Grafo 3: γ–ε')
  t.deepEqual(n.beta.ops.checkConnectivity('3'), { ok: true }, 'β3 (2·0·0·3) is superfluous: γ1 and ε2 reach each other directly')
  await drive(dn, n.beta.ops.removeIdentity('3'))
  // β1 (2·1·3·3) belongs to the connectivity g-node 2·1·3· that still holds 2·1· together (λ reaches δ and μ only
  // through it), so its check says no; β's member alone is dismissed by the operator's reasoning (UseCases19):
  // γ0 and ε1 now reach each other directly
  t.deepEqual(n.beta.ops.checkConnectivity('1'), { ok: false })
  await drive(dn, n.beta.ops.removeIdentity('1'))
  delete ids.β1
  delete ids.β3
  qspn = qspn.filter(([a, b]) => ![a, b].includes('β1') && ![a, b].includes('β3'))
  await holds(t, dn, world(ids, qspn), 'Grafo 5: β\'s connectivity identities dismissed')

  const mains = Object.fromEntries(systems.map(s => [s, n[s].identities().find(i => i.kind === 'main')?.address]))
  t.deepEqual(mains, { alfa: '2.0.1.0', beta: '2.0.1.1', gamma: '2.0.0.0', delta: '2.1.0.1', mu: '2.1.0.0', epsilon: '2.0.0.1', lambda: '2.1.1.0' }, 'the final addresses of §1.5')
  t.deepEqual(systems.map(s => n[s].identities().length), [1, 1, 2, 1, 2, 1, 1], 'γ and ε keep their migr02 identities')

  // PeerServices after the story: every system's main identity asks the Coordinator of each of its g-nodes, and each
  // names the servant H_t prescribes for the final addresses (the node nearest 0·…·0 inside the g-node). λ reaches
  // 2·1·'s servant μ only through γ0 and ε1 (2·1·3·): connectivity identities forward requests, the contact back
  // crosses their namespaces.
  const final: TopologySpec = {
    gsizes: [2, 2, 2, 4],
    nodes: systems.map(s => ({ name: s, naddr: String(mains[s]).split('.').map(Number).reverse() })),
    links: []
  }
  const wrong: string[] = []
  await drive(dn, Promise.all(systems.map(async s => {
    const v = await n[s].coordinator()
    for (const l of v.levels) {
      const want = [...(expectedCoordinator(final, s, l.lvl)?.naddr ?? [])].reverse().join('.')
      if (l.servant !== want) wrong.push(`${s} level ${l.lvl}: servant ${l.servant ?? l.error ?? '?'}, expected ${want}`)
    }
  })), 60_000)
  if (process.env.STORY_DEBUG === '1') for (const s of systems) for (const r of n[s].system.runtimes.values()) console.log(s, r.identity.index, r.naddr.join('.'), r.isMain, r.peers.coordinator.serving, r.qspn.isBootstrapComplete(), JSON.stringify(r.peers.peers.core.stats))
  t.deepEqual(wrong, [], 'every main identity names the Coordinator of each of its g-nodes')
  const byConnectivity = systems.flatMap(s => [...n[s].system.runtimes.values()].filter(r => !r.isMain).map(r => [`${s}${r.identity.index}`, r.peers.peers.core.stats.forwarded] as const))
  t.true(byConnectivity.some(([, f]) => f > 0), `connectivity identities forwarded requests: ${byConnectivity.map(([k, f]) => `${k} ${f}`).join(', ')}`)
  for (const s of systems) t.is((n[s].counters().listenerErrors as { count: number }).count, 0, `${s}: no listener threw`)
})
