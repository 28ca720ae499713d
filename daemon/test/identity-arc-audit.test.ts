import test, { type ExecutionContext } from 'ava'
import { IdentityArcAudit, type AuditedIdentities } from '../src/identities/arc-audit'
import type { IdentityArc, LocalIdentity, PhysicalArc } from '../src/identities'
import { VirtualClock } from '../src/sim/virtual-clock'
import { SeededRandom } from '../src/util/random'
import { runFor, runUntil, type DaemonNetwork } from './helpers/inprocess-network'
import { components, settled, startHookingNetworks, type Edge } from './helpers/hooking-networks'
import { kernelProblems, mapProblems, oracleOfArcs } from './helpers/daemon-checks'

// The identity-arc audit: identity-arcs a lost message left out of step between two neighbours are put right
// (the main identity-arc made again where missing, identity-arcs to identities the neighbour no longer has
// forgotten), so that no link stays out of the maps for good.

/** An identity-arc of the fake's main identity to `peerId` over physical arc `arcId`. */
const ia = (arcId: string, peerId: string): IdentityArc => ({ id: `${arcId}#${peerId}`, identityId: 'm0', arcId, realDev: 'eth0', peerId, peerMac: 'x', peerLinkLocal: 'y' })

/** A fake Identities module: one identity (the main one), identity-arcs, and what each neighbour lists. */
function fakeIdentities (arcs: IdentityArc[], lists: Map<string, { ids: Set<string>, mainId: string | null }>): AuditedIdentities & { added: string[], forgotten: string[], duplicating: boolean } {
  const main: LocalIdentity = { id: 'm0', index: 0, netns: '' }
  const physical: PhysicalArc[] = [...lists.keys()].map(id => ({ id, nic: 'eth0', peerMac: 'x', peerLinkLocal: 'y' }))
  const added: string[] = []
  const forgotten: string[] = []
  return {
    added,
    forgotten,
    duplicating: false,
    changing () { return this.duplicating },
    mainId: 'm0',
    stats: { requestsFailed: 0, rejected: 0, unverified: 0, auditMainArcsMade: 0, auditArcsForgotten: 0, duplicationSteps: 0 },
    identities: () => [main],
    arcsOf: () => [...arcs],
    physicalArcs: () => physical,
    peerIdentities: async arcId => lists.get(arcId) ?? null,
    forgetIdentityArc: (_id, iaId) => { forgotten.push(iaId); arcs.splice(arcs.findIndex(a => a.id === iaId), 1) },
    addIdentityArc: async (_id, arcId, peer) => { const made = ia(arcId, peer); arcs.push(made); added.push(made.id); return made }
  }
}

test('the audit forgets an identity-arc whose peer identity two lists in a row do not name, and makes a main identity-arc two passes found missing', async t => {
  const arcs = [ia('a1', 'p-main'), ia('a1', 'p-gone'), ia('a2', 'q-old')]
  const lists = new Map([
    ['a1', { ids: new Set(['p-main', 'p-conn']), mainId: 'p-main' }],
    // the neighbour over a2 moved: its main identity is q-new, q-old is gone, and our main identity-arc to q-new was lost
    ['a2', { ids: new Set(['q-new']), mainId: 'q-new' }],
    // a neighbour that does not answer: nothing over it is judged
    ['a3', null as unknown as { ids: Set<string>, mainId: string | null }]
  ])
  const im = fakeIdentities(arcs, lists)
  const audit = new IdentityArcAudit(im, new VirtualClock(), 5000)
  const first = await audit.runOnce()
  t.deepEqual(first, { made: 0, forgotten: 0 }, 'one pass is not enough (it may see a duplication half done)')
  // while a duplication of this system is under way, no pass runs
  im.duplicating = true
  t.deepEqual(await audit.runOnce(), { made: 0, forgotten: 0 })
  t.deepEqual([im.added, im.forgotten], [[], []])
  im.duplicating = false
  const second = await audit.runOnce()
  t.deepEqual(second, { made: 1, forgotten: 2 })
  t.deepEqual(im.added, ['a2#q-new'])
  t.deepEqual(im.forgotten.sort(), ['a1#p-gone', 'a2#q-old'])
  t.deepEqual(arcs.map(a => a.id).sort(), ['a1#p-main', 'a2#q-new'])
  t.deepEqual([im.stats.auditMainArcsMade, im.stats.auditArcsForgotten], [1, 2])
  // an identity-arc to a listed identity is never forgotten, however often the audit runs
  await audit.runOnce()
  t.deepEqual(arcs.map(a => a.id).sort(), ['a1#p-main', 'a2#q-new'])
})

test('the audit does not judge an identity-arc made after the lists were asked (the list may predate its peer)', async t => {
  const arcs: IdentityArc[] = []
  const lists = new Map([['a1', { ids: new Set(['p-main']), mainId: 'p-main' }]])
  const im = fakeIdentities(arcs, lists)
  const audit = new IdentityArcAudit(im, new VirtualClock(), 5000)
  // the main identity-arc is missing: made at the second pass; a second identity-arc appears meanwhile, to an identity not yet listed
  await audit.runOnce()
  await audit.runOnce()
  t.deepEqual(im.added, ['a1#p-main'])
  arcs.push(ia('a1', 'p-new'))
  await audit.runOnce() // first list without p-new: noted, not forgotten
  t.deepEqual(arcs.map(a => a.id).sort(), ['a1#p-main', 'a1#p-new'])
  lists.set('a1', { ids: new Set(['p-main', 'p-new']), mainId: 'p-main' })
  await audit.runOnce()
  await audit.runOnce()
  t.deepEqual(arcs.map(a => a.id).sort(), ['a1#p-main', 'a1#p-new'], 'listed the next time: kept')
})

/** Maps and kernels of every daemon equal to the oracle's. */
async function routesProblems (dn: DaemonNetwork): Promise<string[]> {
  const oracle = oracleOfArcs(dn)
  const maps = mapProblems(dn, oracle, { limit: 5, alternatives: false })
  if (maps.length > 0) return maps
  await dn.syncKernels()
  return await kernelProblems(dn, oracle, 5)
}

test('whole daemons: a main identity-arc lost on one side is made again by the audit, and the link carries routes again', async t => {
  const names = ['n0', 'n1', 'n2']
  const edges: Edge[] = [{ a: 'n0', b: 'n1' }, { a: 'n1', b: 'n2' }, { a: 'n0', b: 'n2' }]
  const { dn } = await startHookingNetworks(names, edges, [], { seed: 5, bits: [2, 1, 1, 1] })
  t.teardown(async () => await dn.stopAll())
  const formed = await settled(dn, components(names, edges), 120_000, edges)
  t.deepEqual(formed.problems, [], 'one network first')
  // n1 loses its main identity-arc to n2 (as when the message that made it was lost); n2 keeps its side
  const n1 = dn.get('n1').node.system
  const lost = n1.identities.arcsOf(n1.identities.mainId).find(ia => dn.peerOf('n1', ia.realDev).node === 'n2')
  if (lost === undefined) { t.fail('n1 has no identity-arc to n2'); return }
  n1.identities.forgetIdentityArc(n1.identities.mainId, lost.id)
  await runFor(dn.clock, 500)
  t.false(dn.get('n1').node.map().some(x => x.paths.some(p => p.arc === lost.id)), 'no path over the lost identity-arc')
  // within three audit intervals (10 s with lab timers: two passes must find it missing) and the Hooking check: back, and the link carries the cheapest paths
  let problems: string[] = []
  const ms = await runUntil(dn.clock, async () => {
    const back = n1.identities.arcsOf(n1.identities.mainId).some(ia => ia.arcId === lost.arcId)
    problems = back ? await routesProblems(dn) : ['not made again yet']
    return problems.length === 0
  }, { budgetMs: 40_000, stepMs: 250 })
  t.deepEqual(problems, [], 'the identity-arc is made again and every map and kernel is the oracle\'s')
  t.true(n1.identities.stats.auditMainArcsMade >= 1)
  t.log(`made again and routed ${String(ms)} ms (virtual) after it was lost`)
})

// Before the two fixes tested above, seed 2 kept one link out of every map for good (its two ends held identity-arcs
// out of step) and seed 20 left three networks apart for good (a qspn-arc made of a vanished identity-arc broke every
// kernel apply of two daemons after, and with them the answers of their networks' Coordinators). Seed 53 gave one
// address to two daemons: a Coordinator servant that had just entered its g-node started the memory afresh because its
// young map showed nobody to ask (peers-databases has the unit test of that fix).
for (const seed of [2, 20, 53]) {
  test(`a 5x5 grid of unconfigured daemons forming while every link's latency jitters up to 1.5 s settles into one network with cheapest paths (seed ${seed})`, async t => {
    await jitteredGrid(t, seed)
  })
}

async function jitteredGrid (t: ExecutionContext, seed: number): Promise<void> {
  const names: string[] = []
  const edges: Edge[] = []
  for (let r = 1; r <= 5; r++) {
    for (let c = 1; c <= 5; c++) {
      names.push(`g${r}x${c}`)
      if (c < 5) edges.push({ a: `g${r}x${c}`, b: `g${r}x${c + 1}` })
      if (r < 5) edges.push({ a: `g${r}x${c}`, b: `g${r + 1}x${c}` })
    }
  }
  const { dn } = await startHookingNetworks(names, edges, [], { seed, bits: [3, 2, 2, 2] })
  t.teardown(async () => await dn.stopAll())
  // the link ends as startHookingNetworks numbers the NICs (e0, e1, ... per node in edge order)
  const count = new Map<string, number>()
  const nic = (n: string): { node: string, nic: string } => { const k = count.get(n) ?? 0; count.set(n, k + 1); return { node: n, nic: `e${k}` } }
  const ends = edges.map(e => ({ a: nic(e.a), b: nic(e.b) }))
  const rnd = new SeededRandom(seed * 7919)
  const start = dn.clock.now()
  const jitter = (): void => {
    const over = dn.clock.now() - start > 90_000
    for (const e of ends) dn.setLatency(e.a, e.b, over ? 1 : 1 + rnd.int(1500))
    if (!over) dn.clock.setTimer(250, jitter)
  }
  jitter()
  const r = await settled(dn, components(names, edges), 240_000, edges)
  t.deepEqual(r.problems, [], 'one network, unique addresses, every g-node connected, every map and kernel the oracle\'s')
  t.log(`settled ${String(r.ms)} ms (virtual) after the start; the jitter stopped at 90,000 ms`)
}

test('whole daemons: making a qspn-arc of an identity-arc that is gone throws and changes nothing: the desired kernel state stays computable and every route the oracle\'s', async t => {
  const names = ['n0', 'n1']
  const edges: Edge[] = [{ a: 'n0', b: 'n1' }]
  const { dn } = await startHookingNetworks(names, edges, [], { seed: 7, bits: [2, 1, 1, 1] })
  t.teardown(async () => await dn.stopAll())
  const formed = await settled(dn, components(names, edges), 60_000, edges)
  t.deepEqual(formed.problems, [], 'one network first')
  const n0 = dn.get('n0').node.system
  const main = n0.runtimes.get(n0.identities.mainId)
  if (main === undefined) { t.fail('n0 has no main runtime'); return }
  // Hooking's check ends by making the arc a qspn-arc; the identity-arc may have gone while it asked (seen: seed 20
  // of the jittered 5x5 formation, where every kernel apply failed after and the networks never merged)
  t.throws(() => { main.addQspnArc('e0/02:00:00:00:00:99#00000000000000ff') }, { instanceOf: RangeError })
  t.false(main.qspnArcs.has('e0/02:00:00:00:00:99#00000000000000ff'), 'not taken as a qspn-arc')
  t.notThrows(() => n0.desiredState(), 'the desired kernel state is still computable')
  t.deepEqual(await routesProblems(dn), [])
})
