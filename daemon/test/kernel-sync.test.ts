import test from 'ava'
import { Topology, parseNaddr } from '../src/addressing'
import { InMemoryKernel, SYSTEM_NS, TableAllocator, canonicalState, type KernelState } from '../src/kernel'
import { KernelSync } from '../src/node/kernel-sync'
import { hcKey, mainIdentityState, routeChoices, routeStateKey, type MainIdentityInput, type RouteChoicesMemo } from '../src/routes'
import { VirtualClock } from '../src/sim/virtual-clock'

const topo = Topology.fromBits([2, 1, 1, 1])
const nic = { name: 'eth1', mac: '00:16:3E:1A:C4:45', linkLocal: '169.254.253.216' }
const mu = { dev: 'eth1', peerMac: '00:16:3E:2D:8D:DE', peerLinkLocal: '169.254.119.176', peerNaddr: parseNaddr('3·1·0·0') }
const nu = { dev: 'eth1', peerMac: '00:16:3E:2D:8D:DF', peerLinkLocal: '169.254.119.177', peerNaddr: parseNaddr('3·1·1·0') }
const base: MainIdentityInput = { topology: topo, naddr: parseNaddr('3·1·0·1'), nics: [nic], arcs: [mu, nu] }
const stateOf = (i: MainIdentityInput): KernelState => ({ namespaces: new Map([[SYSTEM_NS, mainIdentityState(i)]]) })

test('KernelSync skips the apply of the very state it applied last, applies any other, and retries after a failure', async t => {
  const clock = new VirtualClock()
  const kernel = new InMemoryKernel({ allocator: new TableAllocator(), devices: ['eth1'] })
  let desired = stateOf(base)
  const sync = new KernelSync(kernel, () => desired, clock, 50)
  await sync.applyNow()
  t.is(sync.stats.applies, 1)
  t.true(sync.stats.ops > 0)
  await sync.applyNow()
  t.deepEqual([sync.stats.applies, sync.stats.skipped], [1, 1], 'same object: nothing to do')

  // an equal but new state is planned (and finds nothing to do); a different one changes the kernel
  desired = stateOf(base)
  await sync.applyNow()
  t.deepEqual([sync.stats.applies, sync.stats.skipped], [2, 1])
  const opsBefore = sync.stats.ops
  desired = stateOf({ ...base, paths: new Map([[hcKey({ lvl: 1, pos: 1 }), [{ viaMac: nu.peerMac, hops: [{ lvl: 1, pos: 1 }] }]]]) })
  await sync.applyNow()
  t.is(sync.stats.applies, 3)
  t.true(sync.stats.ops > opsBefore)
  t.deepEqual(canonicalState(await kernel.read(desired)), canonicalState(desired))

  // a failed apply is not trusted: the same state is applied again
  const failing = { ...desired, namespaces: new Map([...desired.namespaces, ['ntkv0', { ...desired.namespaces.get(SYSTEM_NS)!, linksUp: ['nosuchdev'] }]]) }
  desired = failing
  await sync.applyNow()
  t.is(sync.stats.applyErrors, 1)
  const skipped = sync.stats.skipped
  await sync.applyNow()
  t.is(sync.stats.applyErrors, 2, 'applied again, not skipped')
  t.is(sync.stats.skipped, skipped)
})

test('routeStateKey changes exactly when the routes would: a path nobody chooses leaves it equal', t => {
  const key = (i: MainIdentityInput): string => routeStateKey(i, routeChoices(i))
  const same = (x: MainIdentityInput, y: MainIdentityInput): boolean => JSON.stringify(canonicalState(stateOf(x))) === JSON.stringify(canonicalState(stateOf(y)))
  const h = (lvl: number, pos: number): { lvl: number, pos: number } => ({ lvl, pos })
  const with1 = (dest: { lvl: number, pos: number }, paths: Array<{ viaMac: string, hops: Array<{ lvl: number, pos: number }> }>): MainIdentityInput => ({ ...base, paths: new Map([[hcKey(dest), paths]]) })
  // to g-node (1,1), where ν is: via ν; an alternative via μ is in no table (ntk takes ν's, ν's table must avoid
  // (1,1) altogether, μ's table avoids (0,0) and takes ν's)
  const direct = with1(h(1, 1), [{ viaMac: nu.peerMac, hops: [h(1, 1)] }])
  const alternative = with1(h(1, 1), [{ viaMac: nu.peerMac, hops: [h(1, 1)] }, { viaMac: mu.peerMac, hops: [h(0, 0), h(1, 1)] }])
  t.is(key(direct), key(alternative))
  t.true(same(direct, alternative))
  // the alternative becomes the best: ntk moves to μ
  const swapped = with1(h(1, 1), [{ viaMac: mu.peerMac, hops: [h(0, 0), h(1, 1)] }, { viaMac: nu.peerMac, hops: [h(1, 1)] }])
  t.not(key(direct), key(swapped))
  t.false(same(direct, swapped))
  // to g-node (2,0): a second path via μ moves nothing in ntk, but gives ν's table (which avoids (1,1)) a way
  const far = with1(h(2, 0), [{ viaMac: nu.peerMac, hops: [h(1, 1), h(2, 0)] }])
  const farBoth = with1(h(2, 0), [{ viaMac: nu.peerMac, hops: [h(1, 1), h(2, 0)] }, { viaMac: mu.peerMac, hops: [h(0, 0), h(2, 0)] }])
  t.not(key(far), key(farBoth))
  t.false(same(far, farBoth))
  // the neighbour's address, once known, fills its table
  const unknownMu = { ...far, arcs: [{ dev: mu.dev, peerMac: mu.peerMac, peerLinkLocal: mu.peerLinkLocal }, nu] }
  t.not(key(far), key(unknownMu))
  t.false(same(far, unknownMu))
})

test('routeChoices with a memo chooses again only for destinations given a new paths array, and for all when arcs change', t => {
  const h = (lvl: number, pos: number): { lvl: number, pos: number } => ({ lvl, pos })
  const toG11 = [{ viaMac: nu.peerMac, hops: [h(1, 1)] }]
  const toG20 = [{ viaMac: nu.peerMac, hops: [h(1, 1), h(2, 0)] }, { viaMac: mu.peerMac, hops: [h(0, 0), h(2, 0)] }]
  const memo: RouteChoicesMemo = { perDest: new Map() }
  const first = routeChoices({ ...base, paths: new Map([[hcKey(h(1, 1)), toG11], [hcKey(h(2, 0)), toG20]]) }, memo)
  const plain = routeChoices({ ...base, paths: new Map([[hcKey(h(1, 1)), toG11], [hcKey(h(2, 0)), toG20]]) })
  t.deepEqual(first, plain, 'a memo changes no answer')
  const before = memo.perDest.get(hcKey(h(2, 0)))
  // (1,1) gets a new array, (2,0) the same one: only (1,1) is chosen again
  const toG11ViaMu = [{ viaMac: mu.peerMac, hops: [h(0, 0), h(1, 1)] }]
  const second = routeChoices({ ...base, paths: new Map([[hcKey(h(1, 1)), toG11ViaMu], [hcKey(h(2, 0)), toG20]]) }, memo)
  t.is(memo.perDest.get(hcKey(h(2, 0))), before)
  t.is(second.ntk.get(hcKey(h(1, 1)))?.peerMac, mu.peerMac)
  t.deepEqual(second, routeChoices({ ...base, paths: new Map([[hcKey(h(1, 1)), toG11ViaMu], [hcKey(h(2, 0)), toG20]]) }))
  // μ's address unknown: its table empties although no paths array changed
  const arcs = [{ dev: mu.dev, peerMac: mu.peerMac, peerLinkLocal: mu.peerLinkLocal }, nu]
  const third = routeChoices({ ...base, arcs, paths: new Map([[hcKey(h(1, 1)), toG11ViaMu], [hcKey(h(2, 0)), toG20]]) }, memo)
  t.not(memo.perDest.get(hcKey(h(2, 0))), before)
  t.true([...third.from.get(mu.peerMac)!.values()].every(a => a === undefined))
  t.deepEqual(third, routeChoices({ ...base, arcs, paths: new Map([[hcKey(h(1, 1)), toG11ViaMu], [hcKey(h(2, 0)), toG20]]) }))
})

test('mainIdentityState given the previous state reuses its unchanged routes as they are, and builds the changed ones', t => {
  const h = (lvl: number, pos: number): { lvl: number, pos: number } => ({ lvl, pos })
  const one = { ...base, paths: new Map([[hcKey(h(1, 1)), [{ viaMac: nu.peerMac, hops: [h(1, 1)] }]]]) }
  const two = { ...base, paths: new Map([[hcKey(h(1, 1)), [{ viaMac: mu.peerMac, hops: [h(0, 0), h(1, 1)] }]]]) }
  const prev = mainIdentityState(one)
  const next = mainIdentityState(two, undefined, prev)
  t.deepEqual(canonicalState({ namespaces: new Map([[SYSTEM_NS, next]]) }), canonicalState(stateOf(two)), 'same state as without a previous one')
  const old = new Map(prev.routes.map(r => [`${r.table} ${r.dst}`, r]))
  const changed = next.routes.filter(r => old.get(`${r.table} ${r.dst}`) !== r)
  t.true(changed.length > 0)
  t.true(changed.every(r => r.table === 'ntk' || r.table.startsWith('ntk_from_')))
  // only the routes to g-node (1,1) (whose ntk gateway and μ's table changed) are new objects
  const g11 = new Set(next.routes.filter(r => r !== old.get(`${r.table} ${r.dst}`)).map(r => r.dst))
  t.true(g11.size >= 1 && g11.size <= 4, `${[...g11].join(', ')}`)
  t.is(next.routes.length, prev.routes.length)
})

test('the periodic rescan puts back an ntk route, the ntk rule and an address removed by hand, and counts the repair', async t => {
  const clock = new VirtualClock()
  const kernel = new InMemoryKernel({ allocator: new TableAllocator(), devices: ['eth1'] })
  const desired = stateOf(base)
  const logs: string[] = []
  const sync = new KernelSync(kernel, () => desired, clock, { minIntervalMs: 50, rescanMs: 5_000, log: l => logs.push(l) })
  t.teardown(async () => { await sync.final(desired) })
  await sync.applyNow()
  const ns = desired.namespaces.get(SYSTEM_NS)!
  const route = ns.routes.find(r => r.table === 'ntk')!
  const rule = ns.rules.find(r => r.table === 'ntk' && r.fwmarkOf === undefined)!
  const address = ns.addresses[0]
  // someone deletes them behind the daemon's back; nothing the daemon computes changes, so no apply is due
  kernel.applyOps([
    { kind: 'route', op: 'del', ns: SYSTEM_NS, item: route, why: 'unwanted' },
    { kind: 'rule', op: 'del', ns: SYSTEM_NS, item: rule, why: 'unwanted' },
    { kind: 'address', op: 'del', ns: SYSTEM_NS, item: address, why: 'unwanted' }
  ])
  await sync.applyNow()
  t.notDeepEqual(canonicalState(await kernel.read(desired)), canonicalState(desired), 'an ordinary apply trusts its last apply')
  t.is(sync.stats.rescans, 0)
  for (let k = 0; k < 100 && sync.stats.rescans === 0; k++) { clock.step(); await new Promise(resolve => setImmediate(resolve)) }
  t.is(clock.now(), 5_000, 'the rescan runs after rescanMs')
  await sync.applyNow()
  t.deepEqual(canonicalState(await kernel.read(desired)), canonicalState(desired), 'all three are back')
  t.like(sync.stats, { rescans: 1, repairs: 1 })
  t.true(sync.stats.repairedOps >= 3, `${sync.stats.repairedOps} ops`)
  t.true(logs.some(l => /kernel rescan: .* put right: .*route .* table ntk/.test(l)), logs.join('\n'))
  // the next rescan finds nothing to repair; after final() none runs
  for (let k = 0; k < 100 && sync.stats.rescans === 1; k++) { clock.step(); await new Promise(resolve => setImmediate(resolve)) }
  t.like(sync.stats, { rescans: 2, repairs: 1 })
  await sync.final(desired)
  const at = clock.now()
  while (clock.step()) await new Promise(resolve => setImmediate(resolve))
  t.is(sync.stats.rescans, 2, `no rescan after final (clock ran to ${clock.now()} from ${at})`)
})

test('a desired state that cannot be computed is counted and logged; the applies after it still run', async t => {
  const clock = new VirtualClock()
  const kernel = new InMemoryKernel({ allocator: new TableAllocator(), devices: ['eth1'] })
  let broken = true
  const logs: string[] = []
  const sync = new KernelSync(kernel, () => { if (broken) throw new Error('routes bug'); return stateOf(base) }, clock, { minIntervalMs: 50, log: l => logs.push(l) })
  await sync.applyNow()
  t.like(sync.stats, { applies: 0, applyErrors: 1, lastError: 'desired state: routes bug' })
  t.true(logs.some(l => l.includes('computing the desired state failed')))
  broken = false
  await sync.applyNow()
  t.is(sync.stats.applies, 1)
  t.deepEqual(canonicalState(await kernel.read(stateOf(base))), canonicalState(stateOf(base)))
})
