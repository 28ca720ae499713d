import test from 'ava'
import { type DaemonNetwork, runFor, runUntil, startDaemons } from './helpers/inprocess-network'
import { settled, startHookingNetworks } from './helpers/hooking-networks'
import { mapProblems, oracleOfArcs, kernelProblems } from './helpers/daemon-checks'

// Networks that meet merge by themselves (§6.3): daemons started without an address found a network each at
// random positions; when an arc joins two networks the smaller enters the bigger (an exact tie: the smaller
// network id), and afterwards there is one network id, every address is unique and real, every map and kernel
// equals the oracle's over the addresses the daemons took, and no connectivity identity is left.

async function merged (dn: DaemonNetwork, budgetMs: number): Promise<{ ms: number | null, problems: string[] }> {
  let problems: string[] = []
  const ms = await runUntil(dn.clock, async () => {
    problems = networkProblems(dn)
    if (problems.length > 0) return false
    problems = mapProblems(dn, oracleOfArcs(dn), { limit: 5, alternatives: false })
    if (problems.length > 0) return false
    await dn.syncKernels()
    problems = await kernelProblems(dn, oracleOfArcs(dn), 5)
    return problems.length === 0
  }, { budgetMs, stepMs: 250 })
  if ((ms === null && process.env.HOOKING_DEBUG === '1') || process.env.HOOKING_DEBUG === '2') {
    for (const d of dn.list()) {
      console.log(`${d.name} ${[...d.naddr].reverse().join('.')} net ${String(d.node.status().networkId)} ids ${d.node.identities().map(i => `${i.index}:${i.kind}:${i.address}`).join(' ')}`)
      console.log('  ' + JSON.stringify(d.node.system.hooking.view()))
      for (const e of d.node.system.hooking.events.list()) console.log(`  ${JSON.stringify(e)}`)
    }
  }
  return { ms, problems }
}

/** One network id, unique real addresses, one identity per system. */
function networkProblems (dn: DaemonNetwork): string[] {
  const out: string[] = []
  const ids = new Set(dn.list().map(d => d.node.status().networkId))
  if (ids.size !== 1) out.push(`network ids: ${[...ids].join(', ')}`)
  const seen = new Map<string, string>()
  for (const d of dn.list()) {
    const a = d.naddr.join('.')
    if (seen.has(a)) out.push(`${d.name} and ${seen.get(a) ?? ''} share ${a}`)
    seen.set(a, d.name)
    if (d.naddr.some((p, l) => p >= dn.topology.gsizes[l])) out.push(`${d.name} has a virtual position: ${a}`)
    const n = d.node.identities().length
    if (n !== 1) out.push(`${d.name} has ${n} identities`)
  }
  return out
}

test('two lone daemons meet: one enters the other\'s network, one network id, routes both ways, no identity left over', async t => {
  const dn = await startDaemons({ a: { nics: ['eth0'] }, b: { nics: ['eth0'] } }, { topologyBits: [2, 1, 1, 1], seed: 3 })
  t.teardown(async () => await dn.stopAll())
  const before = dn.list().map(d => d.node.status().networkId)
  t.not(before[0], before[1], 'two networks at first')
  dn.link({ node: 'a', nic: 'eth0' }, { node: 'b', nic: 'eth0' })
  const r = await merged(dn, 60_000)
  t.deepEqual(r.problems, [], 'merged')
  t.log(`merged after ${String(r.ms)} ms of virtual time`)
  const events = dn.list().flatMap(d => d.node.system.hooking.events.list().map(e => `${d.name} ${e.type}`))
  t.true(events.some(e => / entered$/.test(e)), events.join(', '))
  t.true(events.some(e => / same_network$/.test(e)), events.join(', '))
})

/** Unconfigured daemons on a graph: nodes n0..n(k-1), each edge a link (a NIC per link end). */
async function graph (k: number, edges: Array<[number, number]>, seed: number, bits = [2, 1, 1, 1]): Promise<DaemonNetwork> {
  const nics = Array.from({ length: k }, () => [] as string[])
  const ends = edges.map(([a, b]) => {
    const ea = `e${nics[a].length}`; nics[a].push(ea)
    const eb = `e${nics[b].length}`; nics[b].push(eb)
    return { a: { node: `n${a}`, nic: ea }, b: { node: `n${b}`, nic: eb } }
  })
  const dn = await startDaemons(Object.fromEntries(nics.map((list, i) => [`n${i}`, { nics: list.length === 0 ? ['e0'] : list }])), { topologyBits: bits, seed })
  for (const e of ends) dn.link(e.a, e.b)
  return dn
}

const line = (k: number, from = 0): Array<[number, number]> => Array.from({ length: k - 1 }, (_, i) => [from + i, from + i + 1])

test('a line of 5 lone daemons started at once becomes one network', async t => {
  const dn = await graph(5, line(5), 11)
  t.teardown(async () => await dn.stopAll())
  const r = await merged(dn, 120_000)
  t.deepEqual(r.problems, [])
  t.log(`merged after ${String(r.ms)} ms; addresses ${dn.list().map(d => `${d.name}=${[...d.naddr].reverse().join('.')}`).join(' ')}`)
})

/** The whole network's size as its Coordinator answers `name` (runs the clock until the answer comes). */
async function askNNodes (dn: DaemonNetwork, name: string): Promise<number> {
  let out: number | Error | undefined
  dn.get(name).node.system.main.peers.coordinator.getNNodes().then(n => { out = n }, (e: Error) => { out = e })
  await runUntil(dn.clock, () => out !== undefined, { budgetMs: 20_000, stepMs: 50 })
  if (out === undefined) throw new Error(`${name}: no answer to number_of_nodes within 20 s`)
  if (out instanceof Error) throw out
  return out
}

test('the network\'s size from its Coordinator follows a merge although it is asked all along (a count is repeated for its cache time from when it was made)', async t => {
  const { dn, join } = await startHookingNetworks(['a', 'b', 'c'], [{ a: 'a', b: 'b' }], [{ a: 'b', b: 'c' }], { seed: 5, bits: [2, 1, 1, 1] })
  t.teardown(async () => await dn.stopAll())
  t.deepEqual((await settled(dn, [['a', 'b'], ['c']], 60_000)).problems, [], 'a and b form a network, c one of its own')
  await runFor(dn.clock, 6000) // past the cache time of a count made while a and b met
  t.is(await askNNodes(dn, 'a'), 2)
  join()
  // asked every second, more often than the count's cache time (lab: 5 s), as contact points of merges ask it
  const answers: number[] = []
  const start = dn.clock.now()
  let mergedAt: number | null = null
  while (dn.clock.now() - start < 60_000 && (mergedAt === null || dn.clock.now() - mergedAt < 12_000)) {
    answers.push(await askNNodes(dn, 'a'))
    await runFor(dn.clock, 1000)
    if (mergedAt === null && networkProblems(dn).length === 0) mergedAt = dn.clock.now()
  }
  t.not(mergedAt, null, 'c entered')
  t.is(answers[answers.length - 1], 3, `the answers, one a second: ${answers.join(',')}`)
})

test('two configured networks holding the same addresses merge: the smaller enters the bigger as one g-node, the bigger keeps its addresses', async t => {
  // a ring of 5 (network id 2) and a line of 3 (network id 1), both configured inside top-level g-node 0 of 4·2·2·2
  const A = ['a0', 'a1', 'a2', 'a3', 'a4']
  const B = ['b0', 'b1', 'b2']
  const inner = [...A.map((a, i) => ({ a, b: A[(i + 1) % A.length] })), { a: 'b0', b: 'b1' }, { a: 'b1', b: 'b2' }]
  const address: Record<string, string> = { a0: '0.0.0.0', a1: '0.0.0.1', a2: '0.0.1.1', a3: '0.0.1.0', a4: '0.1.0.0', b0: '0.0.0.0', b1: '0.0.0.1', b2: '0.0.1.1' }
  const { dn, join } = await startHookingNetworks([...A, ...B], inner, [{ a: 'a2', b: 'b2' }], {
    seed: 21, bits: [2, 1, 1, 1], configured: n => ({ address: address[n], networkId: n.startsWith('a') ? 2 : 1 })
  })
  t.teardown(async () => await dn.stopAll())
  t.deepEqual(dn.list().map(d => d.node.status().networkId), [2, 2, 2, 2, 2, 1, 1, 1], 'each daemon is in its configured network from the start')
  const degree = (n: string): number => inner.filter(e => e.a === n || e.b === n).length
  t.not(await runUntil(dn.clock, () => dn.list().every(d => d.node.system.main.qspnArcs.size === degree(d.name)), { budgetMs: 10_000 }), null, 'every arc inside a configured network becomes a qspn-arc')
  for (const d of dn.list()) {
    const types = d.node.system.hooking.events.list().map(e => e.type)
    t.deepEqual([...new Set(types)], ['same_network'], `${d.name}: its neighbours are in its network (${types.join(',')})`)
  }
  const apart = await settled(dn, [A, B], 10_000)
  t.deepEqual(apart.problems, [], 'each configured network routes inside')

  join()
  const r = await settled(dn, [[...A, ...B]], 60_000)
  t.deepEqual(r.problems, [], 'one network, unique real addresses, one identity per system, maps and kernels the oracle\'s')
  t.log(`merged ${String(r.ms)} ms (virtual) after the join`)
  t.deepEqual([...new Set(dn.list().map(d => d.node.status().networkId))], [2], 'the bigger network\'s id')
  for (const a of A) t.is(dn.get(a).node.status().address, address[a], `${a} keeps its configured address`)
  const tops = new Set(B.map(b => dn.get(b).naddr[3]))
  t.is(tops.size, 1, 'the line entered as one g-node of level 3')
  t.false(tops.has(0), 'in a top-level position of its own')
  for (const b of B) t.deepEqual(dn.get(b).naddr.slice(0, 3), [...address[b].split('.').map(Number)].reverse().slice(0, 3), `${b} keeps its positions inside the g-node`)
  const entered = B.flatMap(b => dn.get(b).node.system.hooking.events.list().filter(e => e.type === 'entered'))
  t.true(entered.length > 0, 'Hooking says the line entered')
})
