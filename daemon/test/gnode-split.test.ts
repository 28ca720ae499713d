import test, { type ExecutionContext } from 'ava'
import { SeededRandom } from '../src/util/random'
import { runFor } from './helpers/inprocess-network'
import type { DaemonNetwork } from './helpers/inprocess-network'
import { components, describeHooking, type Edge, gnodeProblems, randomUnconfigured, settled, startHookingNetworks } from './helpers/hooking-networks'

// A g-node split inside a network is repaired (issue 14 items 1-2; spec §4.7, §6.3 item 9): the g-node shows two
// fingerprints, a border node next to the island without the eldest signals it (split_detected), the island's
// member it told propagates we_have_splitted (split_signalled), every island member leaves the network
// (network_exited: paths outside and arcs to other g-nodes dropped) and the island enters again by Hooking with a
// new address. Afterwards every g-node is connected inside, addresses are unique, one network id per component,
// maps and kernels equal the Dijkstra oracle's (which obeys QSPN's acyclic rule).

const BITS = [2, 2, 2]

const eventsOf = (dn: DaemonNetwork, name: string, since: number): string[] =>
  dn.get(name).node.system.hooking.events.list().filter(e => e.at >= since).map(e => e.type)

test('a ring of six loses its eldest node: the g-node left in two pieces is repaired (detected, signalled, exited, entered again)', async t => {
  const names = Array.from({ length: 6 }, (_, i) => `r${i}`)
  const edges: Edge[] = names.map((a, i) => ({ a, b: names[(i + 1) % 6] }))
  const { dn } = await startHookingNetworks(names, edges, [], { seed: 5, bits: BITS })
  t.teardown(async () => await dn.stopAll())
  t.deepEqual((await settled(dn, components(names, edges), 120_000)).problems, [])
  await runFor(dn.clock, 3000)
  const id = dn.get('r1').node.status().networkId
  const eldest = names.find(n => dn.get(n).node.system.main?.qspn.getFingerprint(0).id === id)
  if (eldest === undefined) { t.fail(`no node carries fingerprint ${String(id)}`); return }
  const rest = names.filter(n => n !== eldest)
  const left = edges.filter(e => e.a !== eldest && e.b !== eldest)
  // with the eldest gone the ring is a line, and some g-node of it has members on both sides of another g-node
  const before = gnodeProblems(dn, left)
  t.true(before.length > 0, `the stop leaves a g-node in pieces: ${before.join('; ')}`)
  const t0 = dn.clock.now()
  await dn.stop(eldest)
  const r = await settled(dn, components(rest, left), 90_000, left)
  t.deepEqual(r.problems, [], describeHooking(dn))
  t.deepEqual(gnodeProblems(dn, left), [], 'every g-node connected inside')
  const all = rest.flatMap(n => eventsOf(dn, n, t0))
  t.true(all.includes('split_detected'), `a border node detected the split: ${all.join(',')}`)
  const island = rest.filter(n => eventsOf(dn, n, t0).includes('network_exited'))
  t.true(island.length > 0, 'an island left the network')
  for (const n of island) t.true(eventsOf(dn, n, t0).includes('entered'), `${n} entered again`)
  t.log(`eldest ${eldest} stopped: ${before.join('; ')}; island ${island.join(',')}; repaired ${String(r.ms)} ms after the stop (virtual)`)
})

test('a 3x3 grid cut inside one of its g-nodes (the network stays connected): the island leaves and enters again', async t => {
  const names: string[] = []
  const edges: Edge[] = []
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      names.push(`g${r}${c}`)
      if (c < 2) edges.push({ a: `g${r}${c}`, b: `g${r}${c + 1}` })
      if (r < 2) edges.push({ a: `g${r}${c}`, b: `g${r + 1}${c}` })
    }
  }
  const { dn, setEdge } = await startHookingNetworks(names, edges, [], { seed: 9, bits: BITS })
  t.teardown(async () => await dn.stopAll())
  t.deepEqual((await settled(dn, components(names, edges), 120_000, edges)).problems, [])
  // one or two links inside a g-node whose loss leaves it in pieces while the grid stays connected
  let cut: Edge[] | undefined
  for (const e of edges) {
    const left = edges.filter(x => x !== e)
    if (components(names, left).length === 1 && gnodeProblems(dn, left).length > 0) { cut = [e]; break }
  }
  for (let i = 0; cut === undefined && i < edges.length; i++) {
    for (let j = i + 1; cut === undefined && j < edges.length; j++) {
      const left = edges.filter((_, k) => k !== i && k !== j)
      if (components(names, left).length === 1 && gnodeProblems(dn, left).length > 0) cut = [edges[i], edges[j]]
    }
  }
  if (cut === undefined) { t.fail(`no cut splits a g-node inside: ${describeHooking(dn)}`); return }
  const left = edges.filter(e => !cut.includes(e))
  const pieces = gnodeProblems(dn, left)
  const addresses = new Map(names.map(n => [n, dn.get(n).naddr.join('.')]))
  const t0 = dn.clock.now()
  for (const e of cut) setEdge(e, false)
  const r = await settled(dn, components(names, left), 90_000, left)
  t.deepEqual(r.problems, [], describeHooking(dn))
  const island = names.filter(n => eventsOf(dn, n, t0).includes('network_exited'))
  t.true(island.length > 0, 'an island left the network')
  for (const n of island) t.not(dn.get(n).naddr.join('.'), addresses.get(n), `${n} has a new address`)
  t.deepEqual(names.filter(n => !island.includes(n) && dn.get(n).naddr.join('.') !== addresses.get(n)), [], 'nobody outside the island moved')
  t.log(`cut ${cut.map(e => `${e.a}-${e.b}`).join(' ')}: ${pieces.join('; ')}; island ${island.join(',')}; repaired ${String(r.ms)} ms after the cut (virtual)`)
})

/** A random cut of `edges` (not the whole graph), possibly splitting the network or a g-node inside it. */
function randomCut (edges: readonly Edge[], rnd: SeededRandom): Edge[] {
  const n = 1 + rnd.int(Math.max(1, Math.floor(edges.length / 3)))
  const pool = [...edges]
  const out: Edge[] = []
  while (out.length < n && pool.length > 0) out.push(pool.splice(rnd.int(pool.length), 1)[0])
  return out
}

async function randomized (t: ExecutionContext, from: number, to: number): Promise<void> {
  let gnodeSplits = 0
  let networkSplits = 0
  for (let seed = from; seed <= to; seed++) {
    const { rnd, names, edges, dn, setEdge } = await randomUnconfigured(seed, BITS)
    try {
      const formed = await settled(dn, components(names, edges), 120_000)
      t.deepEqual(formed.problems, [], `seed ${seed}: formed\n${describeHooking(dn)}`)
      // two rounds: a random cut, then the heal
      for (let round = 0; round < 2; round++) {
        const cut = randomCut(edges, rnd)
        const left = edges.filter(e => !cut.includes(e))
        const parts = components(names, left)
        if (parts.length > 1) networkSplits++
        if (gnodeProblems(dn, left).length > 0) gnodeSplits++
        for (const e of cut) setEdge(e, false)
        const apart = await settled(dn, parts, 120_000, left)
        t.deepEqual(apart.problems, [], `seed ${seed} round ${round}: cut ${cut.map(e => `${e.a}-${e.b}`).join(' ')}\n${describeHooking(dn)}`)
        t.deepEqual(gnodeProblems(dn, left), [], `seed ${seed} round ${round}: every g-node connected inside after the cut`)
        for (const e of cut) setEdge(e, true)
        const healed = await settled(dn, components(names, edges), 120_000, edges)
        t.deepEqual(healed.problems, [], `seed ${seed} round ${round}: healed\n${describeHooking(dn)}`)
        t.deepEqual(gnodeProblems(dn, edges), [], `seed ${seed} round ${round}: every g-node connected inside after the heal`)
      }
    } finally { await dn.stopAll() }
  }
  t.log(`seeds ${from}..${to}: ${networkSplits} cuts split the network, ${gnodeSplits} left a g-node in pieces`)
}

const SEEDS = Number(process.env.SPLIT_SEEDS ?? 100)
const CHUNK = 20
for (let from = 1; from <= SEEDS; from += CHUNK) {
  const to = Math.min(SEEDS, from + CHUNK - 1)
  test(`randomized: seeds ${from}..${to}, random cuts and heals (network and g-node splits) keep every invariant after each`, async t => { await randomized(t, from, to) })
}
