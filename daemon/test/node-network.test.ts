import test, { type ExecutionContext } from 'ava'
import { gridTopology, type TopologySpec } from '../src/sim/topologies'
import { SeededRandom } from '../src/util/random'
import { MessageAuthenticator, DEFAULT_MAX_FRAME_BYTES, MAC_FIELD, REJECTION_REASONS, type RejectionReason } from '../src/wire'
import { hcKey } from '../src/addressing'
import { SYSTEM_NS } from '../src/kernel'
import { type DaemonNetwork, runFor, runUntil, startSpec, ntkRoutes, linkLocalOf } from './helpers/inprocess-network'
import { RouteOracle, splitGnodes } from './helpers/route-oracle'
import { bestFirstHop, daemonSnapshot, kernelProblems, mapProblems, oracleOfArcs, unsyncedKernels } from './helpers/daemon-checks'

// Whole daemons (startNode) on grids spanning g-nodes at every level, in one process over an in-memory network with
// a virtual clock and in-memory kernels, checked against a Dijkstra oracle: maps, disjoint alternatives, ntk tables,
// and how they follow a cut link, a stopped daemon, a cost change and hostile bytes on the wire.

/** 4·2·2·2 (bits [2,1,1,1]) and 4·4·4 (bits [2,2,2]), level 0 first as the simulator writes them. */
const PROOF = [2, 2, 2, 4]
const QUAD = [4, 4, 4]

/** A w×h grid whose g-nodes are rectangles, link costs 1000-1900 µs drawn from `seed`. */
function grid (w: number, h: number, gsizes: number[], seed = 3): TopologySpec {
  const rnd = new SeededRandom(seed)
  return gridTopology(w, h, gsizes, () => 1000 + 100 * rnd.int(10))
}

/** Budget of virtual time for a (re)convergence: arcs form in ~1 s, liveness detects a dead arc within ~1.5 s. */
const BUDGET = { budgetMs: 60_000, stepMs: 250 }

async function converge (dn: DaemonNetwork, oracle: () => RouteOracle): Promise<number | null> {
  const ms = await runUntil(dn.clock, () => mapProblems(dn, oracle(), { limit: 1 }).length === 0, BUDGET)
  await dn.syncKernels()
  return ms
}

async function checkAll (t: ExecutionContext, dn: DaemonNetwork, oracle: RouteOracle, what: string): Promise<void> {
  t.deepEqual(mapProblems(dn, oracle), [], `${what}: maps`)
  t.deepEqual(await kernelProblems(dn, oracle), [], `${what}: ntk tables`)
  t.deepEqual(await unsyncedKernels(dn), [], `${what}: kernels equal desired state`)
}

/** Pairs (node, destination) whose paths leave over at least two different arcs. */
function pairsWithDisjointAlternatives (dn: DaemonNetwork): number {
  let n = 0
  for (const d of dn.list()) for (const dest of d.node.map()) if (new Set(dest.paths.map(p => p.arc)).size >= 2) n++
  return n
}

for (const [name, spec] of [['4x4 grid in 4·2·2·2', grid(4, 4, PROOF)], ['5x4 grid in 4·4·4', grid(5, 4, QUAD)]] as const) {
  test(`daemons on a ${name} spanning every level converge to the oracle's maps and ntk tables`, async t => {
    const levels = spec.gsizes.length
    t.is(new Set(spec.nodes.map(n => n.naddr[levels - 1])).size, 2, 'the grid spans two g-nodes of the top level')
    const dn = await startSpec(spec)
    t.teardown(async () => await dn.stopAll())
    const oracle = RouteOracle.ofSpec(spec)
    t.not(await converge(dn, () => oracle), null, 'converged within the budget')
    await checkAll(t, dn, oracle, 'converged')
    // every level has destinations somewhere, and a corner reaches the other top-level g-node over both its arcs
    for (let lvl = 0; lvl < levels; lvl++) t.true(dn.list().some(d => d.node.map().some(x => x.hc.lvl === lvl)), `level ${lvl} destinations`)
    const corner = dn.get(spec.nodes[0].name)
    const far = corner.node.map().find(x => x.hc.lvl === levels - 1)
    t.is(corner.node.arcs().length, 2)
    t.is(new Set(far?.paths.map(p => p.arc)).size, 2, `${corner.name} reaches ${far?.name ?? '?'} over both its arcs`)
    t.true(pairsWithDisjointAlternatives(dn) >= spec.nodes.length, 'disjoint alternatives kept throughout the grid')
    for (const d of dn.list()) {
      t.is((d.node.counters().kernel as { applyErrors: number }).applyErrors, 0, `${d.name}: no failed apply`)
      t.true(REJECTION_REASONS.every(r => d.counters.snapshot().rejected[r] === 0), `${d.name}: nothing rejected on the wire`)
    }
  })
}

test('a cut link moves routes to the alternative path in map and kernel, and back when it returns', async t => {
  const spec = grid(4, 4, PROOF)
  const dn = await startSpec(spec)
  t.teardown(async () => await dn.stopAll())
  t.not(await converge(dn, () => RouteOracle.ofSpec(spec)), null)
  const a = dn.get(spec.nodes[0].name)
  const far = a.node.map().find(x => x.hc.lvl === 3)
  if (far === undefined) return t.fail('corner knows the other top-level g-node')
  const key = hcKey(far.hc)
  const before = bestFirstHop(dn, a, key) as string
  const nic = a.config.interfaces.find(n => dn.peerOf(a.name, n).node === before) as string
  const peer = dn.peerOf(a.name, nic)
  const cut = (l: TopologySpec['links'][number]): boolean => !((l.a === a.name && l.b === before) || (l.b === a.name && l.a === before))
  t.deepEqual(splitGnodes({ ...spec, links: spec.links.filter(cut) }), [], 'the cut splits no g-node')
  const without = RouteOracle.ofSpec(spec, cut)
  t.not(mapProblems(dn, without).length, 0, 'the cut link carries best paths (the check sees the difference)')

  dn.setLinkUp({ node: a.name, nic }, peer, false)
  t.not(await converge(dn, () => without), null, 'reconverged without the link')
  await checkAll(t, dn, without, 'link down')
  const after = bestFirstHop(dn, a, key)
  t.not(after, before)
  const other = a.config.interfaces.find(n => n !== nic) as string
  t.is((await ntkRoutes(a.kernel)).get(far.cidr ?? '')?.via, linkLocalOf(dn.get(dn.peerOf(a.name, other).node), dn.peerOf(a.name, other).nic), 'kernel routes the far g-node over the other arc')
  t.is(a.node.arcs().length, 1)

  dn.setLinkUp({ node: a.name, nic }, peer, true)
  t.not(await converge(dn, () => RouteOracle.ofSpec(spec)), null, 'reconverged with the link back')
  await checkAll(t, dn, RouteOracle.ofSpec(spec), 'link up again')
  t.is(bestFirstHop(dn, a, key), before)
})

test('a stopped daemon leaves an empty kernel, and the others route around it', async t => {
  const spec = grid(4, 4, PROOF)
  const dn = await startSpec(spec)
  t.teardown(async () => await dn.stopAll())
  t.not(await converge(dn, () => RouteOracle.ofSpec(spec)), null)
  // the best connected node whose absence splits no g-node (a split g-node is a matter of migration, not routing)
  const without = (name: string): TopologySpec => ({ ...spec, nodes: spec.nodes.filter(n => n.name !== name), links: spec.links.filter(l => l.a !== name && l.b !== name) })
  const victim = dn.list().filter(d => splitGnodes(without(d.name)).length === 0).sort((x, y) => y.node.arcs().length - x.node.arcs().length)[0]
  t.is(victim.node.arcs().length, 3, `${victim.name} has 3 neighbours`)
  const neighbours = victim.config.interfaces.map(n => dn.get(dn.peerOf(victim.name, n).node))
  const survivors = RouteOracle.ofSpec(without(victim.name))
  await dn.stop(victim.name)
  const left = (await victim.kernel.read()).namespaces.get(SYSTEM_NS)
  t.deepEqual([left?.addresses, left?.routes, left?.rules, left?.marks, left?.nat], [[], [], [], [], []], 'stopped daemon removed all it added')
  t.not(await converge(dn, () => survivors), null, 'reconverged without it')
  await checkAll(t, dn, survivors, 'daemon stopped')
  for (const n of neighbours) t.is(n.node.arcs().length, n.config.interfaces.length - 1, `${n.name} dropped its arc to the stopped daemon`)
})

test('a rising measured cost reorders the paths, in map and kernel', async t => {
  // the corner's link on its cheapest path to the other top-level g-node is measured (RTT on the virtual clock),
  // all others have fixed costs
  const spec = grid(4, 4, PROOF)
  const corner = spec.nodes[0].name
  const farDest = [...RouteOracle.ofSpec(spec).destinations(corner).values()].find(x => x.hc.lvl === 3)
  if (farDest === undefined) return t.fail('corner reaches the other top-level g-node')
  t.is(farDest.firstHops.size, 1, 'one cheapest first hop')
  const key = hcKey(farDest.hc)
  const via = [...farDest.firstHops][0]
  const isMeasured = (l: TopologySpec['links'][number]): boolean => (l.a === corner && l.b === via) || (l.b === corner && l.a === via)
  const dn = await startSpec(spec, { measured: isMeasured })
  t.teardown(async () => await dn.stopAll())
  t.not(await converge(dn, () => RouteOracle.ofSpec(spec)), null, 'measured cost equals the configured one on the virtual clock')
  await checkAll(t, dn, RouteOracle.ofSpec(spec), 'measured link')
  const a = dn.get(corner)
  t.is(bestFirstHop(dn, a, key), via)
  const nic = a.config.interfaces.find(n => dn.peerOf(a.name, n).node === via) as string
  const arcBefore = a.node.arcs().find(x => x.dev === nic)
  const link = spec.links.find(isMeasured) as TopologySpec['links'][number]
  t.is(arcBefore?.cost, link.cost)

  dn.setLatency({ node: a.name, nic }, dn.peerOf(a.name, nic), 20)
  // the smoothed cost climbs for a few samples (1 per second in the lab profile), then the official one settles
  await runFor(dn.clock, 20_000)
  t.not(await converge(dn, () => oracleOfArcs(dn)), null, 'reconverged on the new cost')
  const oracle = oracleOfArcs(dn)
  await checkAll(t, dn, oracle, 'cost raised')
  const arcAfter = a.node.arcs().find(x => x.dev === nic)
  t.true((arcAfter?.cost ?? 0) > 10 * link.cost, `cost went up: ${arcAfter?.cost ?? '?'}`)
  const dest = a.node.map().find(x => hcKey(x.hc) === key)
  t.not(bestFirstHop(dn, a, key), via, 'best path leaves over the other arc')
  t.true((dest?.paths ?? []).slice(1).some(p => p.arc === arcBefore?.id), 'the path over the dearer arc is still there, further down')
  const other = a.config.interfaces.find(n => n !== nic) as string
  t.is((await ntkRoutes(a.kernel)).get(dest?.cidr ?? '')?.dev, other, 'kernel follows')
})

test('bad bytes on the wire are counted and change neither maps nor kernels', async t => {
  const KEY = 'lab network key'
  const spec = grid(4, 4, PROOF)
  const dn = await startSpec(spec, { networkKey: KEY })
  t.teardown(async () => await dn.stopAll())
  t.not(await converge(dn, () => RouteOracle.ofSpec(spec)), null, 'a signed network converges')
  await runFor(dn.clock, 5_000)
  await dn.syncKernels()
  const before = await Promise.all(dn.list().map(async d => await daemonSnapshot(d)))
  const rejectedBefore = dn.list().map(d => d.counters.snapshot().rejected)
  const etpRejectedBefore = dn.list().map(d => (d.node.counters().qspn as { etpRejected: number }).etpRejected)

  const sign = (body: Record<string, unknown>, key = KEY): Buffer => Buffer.from(JSON.stringify({ ...body, [MAC_FIELD]: new MessageAuthenticator(key).sign(body) }))
  const someone = { nodeId: 'f00d', mac: '02:99:99:99:99:99', linklocal: '169.254.9.9' }
  const hello = { v: 1, kind: 'here_i_am', from: someone }
  const valid = sign(hello)
  const injections: Array<[string, Buffer, RejectionReason | 'etp']> = [
    ['not a message', Buffer.from([0, 1, 2, 0xff, 0x7b]), 'bad-json'],
    ['truncated message', valid.subarray(0, Math.floor(valid.length / 2)), 'bad-json'],
    ['oversized', Buffer.alloc(DEFAULT_MAX_FRAME_BYTES + 1, 0x20), 'oversized'],
    ['unknown kind', sign({ v: 1, kind: 'qspn_teleport', to: someone }), 'unknown-kind'],
    ['other protocol version', sign({ ...hello, v: 2 }), 'bad-version'],
    ['wrong schema', sign({ v: 1, kind: 'nop', from: { ...someone, mac: 'not a mac' }, to: someone }), 'invalid'],
    ['wrong network key', sign(hello, 'another network'), 'unauthenticated'],
    ['unsigned', Buffer.from(JSON.stringify(hello)), 'unauthenticated'],
    // well-formed on the wire, from the real neighbour's link-local and identity, but no ETP inside: QSPN's
    // validator drops it (built per receiver below: it names the identities)
    ['ETP that is no ETP', Buffer.alloc(0), 'etp']
  ]
  for (const d of dn.list()) {
    const nic = d.config.interfaces[0]
    const from = dn.peerOf(d.name, nic)
    const noEtp = sign({ v: 1, kind: 'qspn_etp', src: dn.get(from.node).node.system.identities.mainId, dst: d.node.system.identities.mainId, full: false, etp: { kind: 'etp', nodeAddress: 'x', paths: [{}] } })
    for (const [, bytes, reason] of injections) {
      for (const via of ['broadcast', 'unicast'] as const) t.is(await dn.net.injectRaw(from, { node: d.name, nic }, reason === 'etp' ? noEtp : bytes, via), undefined)
    }
  }
  await runFor(dn.clock, 5_000)
  await dn.syncKernels()

  dn.list().forEach((d, k) => {
    const rejected = d.counters.snapshot().rejected
    for (const reason of REJECTION_REASONS) {
      const want = 2 * injections.filter(([, , r]) => r === reason).length
      t.is(rejected[reason] - rejectedBefore[k][reason], want, `${d.name}: ${reason} counted`)
    }
    t.is((d.node.counters().qspn as { etpRejected: number }).etpRejected - etpRejectedBefore[k], 2, `${d.name}: bad ETP counted by QSPN`)
  })
  const after = await Promise.all(dn.list().map(async d => await daemonSnapshot(d)))
  dn.list().forEach((d, k) => t.is(after[k], before[k], `${d.name}: map and kernel unchanged`))
  await checkAll(t, dn, RouteOracle.ofSpec(spec), 'after the bad bytes')
})
