import test, { type ExecutionContext } from 'ava'
import { lineTopology, type TopologySpec } from '../src/sim/topologies'
import type { WireMessage } from '../src/wire'
import { type Daemon, type DaemonNetwork, linkLocalOf, runFor, runUntil, startSpec } from './helpers/inprocess-network'
import { RouteOracle } from './helpers/route-oracle'
import { kernelProblems, mapProblems } from './helpers/daemon-checks'

// Faults the wire fuzzer (bench/wire-fuzz.ts) found in whole daemons, each replayed deterministically in process.

const PROOF = [2, 2, 2, 4]
const BUDGET = { budgetMs: 60_000, stepMs: 250 }

interface Counters { neighborhood: { listenerErrors: number } }
const listenerErrors = (dn: DaemonNetwork): Record<string, number> =>
  Object.fromEntries(dn.list().map(d => [d.name, (d.node.counters() as unknown as Counters).neighborhood.listenerErrors]))

/** The line of 3 (a - b - c) formed, its maps equal to the oracle's and its kernels applied; the daemons' logs. */
async function formedLine (t: ExecutionContext): Promise<{ spec: TopologySpec, dn: DaemonNetwork, oracle: RouteOracle, logs: string[], a: Daemon, b: Daemon, c: Daemon, state: () => string }> {
  const spec = lineTopology(3, PROOF, 1000)
  const logs: string[] = []
  const dn = await startSpec(spec, { log: (node, line) => logs.push(`${node}: ${line}`) })
  t.teardown(async () => await dn.stopAll())
  const oracle = RouteOracle.ofSpec(spec)
  t.not(await runUntil(dn.clock, () => mapProblems(dn, oracle, { limit: 1 }).length === 0, BUDGET), null, 'the line forms')
  await dn.syncKernels()
  const [a, b, c] = dn.list()
  return { spec, dn, oracle, logs, a, b, c, state: () => JSON.stringify([b.node.identities(), b.node.map(), b.node.desiredState()]) }
}

test('a neighbour that refuses our full-ETP request loses the arc cleanly: no listener throws, the arc is made again, maps and kernels converge', async t => {
  const { dn, oracle, logs, a, b } = await formedLine(t)
  // a's link to b fails; while it is down, b's answers to full-ETP requests turn into refusals (a peer that lost
  // the arc on its side answers so), so when the link comes back a's request fails and QSPN drops the arc
  const ab = { node: a.name, nic: a.config.interfaces[0] }
  const ba = dn.peerOf(ab.node, ab.nic)
  dn.setLinkUp(ab, ba, false)
  await runFor(dn.clock, 6_000)
  const refusal = b.codec.encode({ v: 1, kind: 'qspn_refused', reason: 'not-accepted' })
  let refused = 0
  dn.net.tap = leg => {
    if (leg.via !== 'reply' || leg.from.node !== b.name || leg.to.node !== a.name || refused > 0) return undefined
    if (!(leg.request?.toString('utf8').includes('"qspn_get_full_etp"') ?? false)) return undefined
    refused++
    return refusal
  }
  dn.setLinkUp(ab, ba, true)
  t.not(await runUntil(dn.clock, () => refused > 0, BUDGET), null, 'a asked b for its full ETP and was refused')
  dn.net.tap = undefined
  t.not(await runUntil(dn.clock, () => mapProblems(dn, oracle, { limit: 1 }).length === 0, BUDGET), null, 'the arc is made again and maps converge')
  await dn.syncKernels()
  t.deepEqual(await kernelProblems(dn, oracle), [], 'ntk tables')
  t.deepEqual(listenerErrors(dn), { [a.name]: 0, [b.name]: 0, [dn.list()[2].name]: 0 }, 'no Neighborhood listener threw')
  t.deepEqual(logs.filter(l => /failed|threw/.test(l)), [], 'no failure logged')
})

test('an ETP naming a g-node at a virtual position (valid on the wire) leaves ntkctl map working and the kernel untouched', async t => {
  const { spec, dn, oracle, a, b } = await formedLine(t)
  // the next full ETP b sends a, captured on the medium
  let captured: Record<string, any> | undefined
  dn.net.tap = leg => {
    if (captured === undefined && leg.from.node === b.name && leg.to.node === a.name && leg.bytes.toString('utf8').includes('"qspn_etp"')) {
      const m = JSON.parse(leg.bytes.toString('utf8'))
      if (m.etp.paths.length > 0) captured = m
    }
    return undefined
  }
  t.not(await runUntil(dn.clock, () => captured !== undefined, BUDGET), null, 'b sent a an ETP with paths')
  dn.net.tap = undefined
  await runFor(dn.clock, 5_000)
  await dn.syncKernels()
  const kernelBefore = await kernelProblems(dn, oracle)
  // the same ETP, its first path now ending at a virtual position of that level (positions >= gsize are virtual)
  const etp = captured?.etp
  const path = etp.paths[0]
  const dest = path.hops[path.hops.length - 1]
  dest.pos = spec.gsizes[dest.lvl]
  const from = { node: b.name, nic: b.config.interfaces[0] }
  await dn.net.injectRequest(from, dn.peerOf(from.node, from.nic), b.codec.encode({ ...captured, etp, full: false } as unknown as WireMessage))
  await runFor(dn.clock, 1_000)
  await dn.syncKernels()
  const virtual = a.node.map().filter(d => d.hc.pos >= spec.gsizes[d.hc.lvl])
  t.deepEqual(virtual.map(d => ({ name: d.name, cidr: d.cidr })), [{ name: `(${dest.lvl as number},${dest.pos as number})`, cidr: null }], 'the map shows it, without a CIDR')
  t.deepEqual(await kernelProblems(dn, oracle), kernelBefore, 'no route for it; ntk tables as before')
})

test('an arc one side dropped while its remove_arc was lost is made again (no half-open arc kept alive by the probes)', async t => {
  const { dn, oracle, a, b } = await formedLine(t)
  const ab = { node: a.name, nic: a.config.interfaces[0] }
  // a drops the arc (as after a failed probe) and its remove_arc to b is lost: b keeps its side of the arc, and its
  // probes are answered by a's negotiation of a new one
  let lost = 0
  dn.net.tap = leg => {
    const text = leg.bytes.toString('utf8')
    if (leg.via === 'broadcast' && leg.from.node === a.name && leg.to.node === b.name && text.includes('"remove_arc"')) { lost++; return Buffer.from('lost') }
    return undefined
  }
  const arc = a.node.system.neighborhood.arcs().find(x => x.nic === ab.nic)
  if (arc === undefined) { t.fail('a has no arc to b'); return }
  await a.node.system.neighborhood.removeArc(arc.id)
  t.not(await runUntil(dn.clock, () => lost > 0, BUDGET), null, 'a dropped the arc and its remove_arc was lost')
  dn.net.tap = undefined
  const both = (): boolean => a.node.arcs().length === 1 && b.node.arcs().length === 2
  t.not(await runUntil(dn.clock, both, { budgetMs: 10_000, stepMs: 250 }), null, `both sides hold the arc again within 10 s (a: ${a.node.arcs().length}, b: ${b.node.arcs().length})`)
  t.not(await runUntil(dn.clock, () => mapProblems(dn, oracle, { limit: 1 }).length === 0, BUDGET), null, 'maps converge')
  await dn.syncKernels()
  t.deepEqual(await kernelProblems(dn, oracle), [], 'ntk tables')
})

test('identity_add_arc from the real neighbour naming another MAC for an identity-arc we have is refused: the arc, map and kernel stay as they were', async t => {
  const { dn, oracle, logs, a, b, c } = await formedLine(t)
  const ab = { node: a.name, nic: a.config.interfaces[0] }
  const ba = dn.peerOf(ab.node, ab.nic)
  const before = JSON.stringify([b.node.identities(), b.node.map(), b.node.desiredState()])
  const aId = a.node.identities()[0].id
  const bId = b.node.identities()[0].id
  // a's own identity-arc with b, as a would ask for it, but naming c's MAC (a fuzzed or forged request over the
  // real arc, from a's real link-local)
  const request = a.codec.encode({ v: 1, kind: 'identity_add_arc', fromId: aId, toId: bId, fromMac: c.macOf(c.config.interfaces[0]).toUpperCase(), fromLinkLocal: b.node.identities()[0].arcs.find(x => x.peerId === aId)?.peerLinkLocal ?? '' })
  const reply = await dn.net.injectRequest(ab, ba, request)
  t.like(JSON.parse(reply?.toString('utf8') ?? '{}'), { kind: 'identity_ack', ok: false })
  t.is((b.node.counters().identities as { rejected: number }).rejected, 1, 'counted as rejected')
  await runFor(dn.clock, 5_000)
  await dn.syncKernels()
  t.is(JSON.stringify([b.node.identities(), b.node.map(), b.node.desiredState()]), before, 'b\'s identity-arcs, map and desired kernel state unchanged')
  t.deepEqual(await kernelProblems(dn, oracle), [], 'ntk tables')
  t.deepEqual(logs.filter(l => /kernel apply failed/.test(l)), [], 'no kernel apply failed')
})

/** Serves `m` at b as a unicast from a over their arc; resolves with b's decoded reply once the clock brought it. */
async function askOverArc (dn: DaemonNetwork, from: Daemon, m: Record<string, unknown>): Promise<Record<string, any>> {
  const ab = { node: from.name, nic: from.config.interfaces[0] }
  const got: { done: boolean, reply?: Buffer } = { done: false }
  void dn.net.injectRequest(ab, dn.peerOf(ab.node, ab.nic), from.codec.encode(m as unknown as WireMessage)).then(reply => { got.done = true; got.reply = reply })
  if (await runUntil(dn.clock, () => got.done, { budgetMs: 15_000, stepMs: 50 }) === null) return { kind: 'no reply within 15 s' }
  return JSON.parse(got.reply?.toString('utf8') ?? '{}')
}

interface IdentityCounters { rejected: number, unverified: number }
const identityCounters = (d: Daemon): IdentityCounters => d.node.counters().identities as unknown as IdentityCounters

/** A line of three, formed and applied; what `b` holds as text, to compare after. */

const PHANTOM_ID = '0123456789abcdef'

test('identity_add_arc from the real neighbour for an identity it does not have, or on a NIC that is not its own, is refused once its identity list says otherwise: nothing changes', async t => {
  const { dn, oracle, logs, a, b, c, state } = await formedLine(t)
  const before = state()
  const aId = a.node.identities()[0].id
  const bId = b.node.identities()[0].id
  const aNic = a.config.interfaces[0]
  // an identity a does not have, on a's own NIC; and on c's MAC and link-local (b has no identity-arc with it, so
  // only a's identity list can tell)
  const claims = [
    { fromId: PHANTOM_ID, fromMac: a.macOf(aNic).toUpperCase(), fromLinkLocal: linkLocalOf(a, aNic) },
    { fromId: PHANTOM_ID, fromMac: c.macOf(c.config.interfaces[0]).toUpperCase(), fromLinkLocal: linkLocalOf(c, c.config.interfaces[0]) }
  ]
  for (const claim of claims) {
    const reply = await askOverArc(dn, a, { v: 1, kind: 'identity_add_arc', toId: bId, ...claim })
    t.like(reply, { kind: 'identity_ack', ok: false }, `refused: ${JSON.stringify(claim)}`)
  }
  t.true(a.node.identities().every(i => i.id !== PHANTOM_ID) && aId !== PHANTOM_ID)
  await runFor(dn.clock, 5_000)
  await dn.syncKernels()
  t.is(state(), before, 'b\'s identity-arcs, map and desired kernel state unchanged')
  t.like(identityCounters(b), { unverified: 2, rejected: 0 }, 'counted as refused after the check')
  t.deepEqual(await kernelProblems(dn, oracle), [], 'ntk tables')
  t.deepEqual(logs.filter(l => /kernel apply failed/.test(l)), [], 'no kernel apply failed')
})

test('an unsolicited identity_match_duplication (a neighbour claiming it duplicated) moves no identity-arc and adds none: refused when its identity list belies it, or when it replays a done one', async t => {
  const { dn, oracle, logs, a, b, state } = await formedLine(t)
  const before = state()
  const aId = a.node.identities()[0].id
  const bId = b.node.identities()[0].id
  const aNic = a.config.interfaces[0]
  const base = { v: 1, kind: 'identity_match_duplication', migrationId: 7, oldId: aId, newId: PHANTOM_ID, peerId: bId }
  // a's main identity "moved" to a pseudo-interface a does not have, a phantom taking its NIC: checked, refused
  t.deepEqual(await askOverArc(dn, a, { ...base, oldMac: '4E:11:22:33:44:55', oldLinkLocal: '169.254.1.2' }), { v: 1, kind: 'identity_duplication' })
  const afterFirst = state()
  const countedFirst = identityCounters(b)
  // the claim as if already done (the old identity "on" the NIC it has): nothing to re-do, and no second identity on
  // that NIC: refused at once
  t.deepEqual(await askOverArc(dn, a, { ...base, oldMac: a.macOf(aNic).toUpperCase(), oldLinkLocal: linkLocalOf(a, aNic) }), { v: 1, kind: 'identity_duplication' })
  await runFor(dn.clock, 5_000)
  await dn.syncKernels()
  t.is(afterFirst, before, 'the checked claim left b\'s identity-arcs, map and desired kernel state unchanged')
  t.is(state(), before, 'the replayed one too')
  t.like(countedFirst, { unverified: 1, rejected: 0 }, 'the first counted as refused after the check')
  t.like(identityCounters(b), { unverified: 1, rejected: 1 }, 'the second as refused at once')
  t.deepEqual(await kernelProblems(dn, oracle), [], 'ntk tables')
  t.deepEqual(logs.filter(l => /kernel apply failed/.test(l)), [], 'no kernel apply failed')
})

test('a neighbour whose identity_main_reply names an identity it does not have gets no identity-arc to it: its identity list is asked, the lie refused, the true main identity-arc made', async t => {
  const { dn, oracle, logs, a, b } = await formedLine(t)
  const ab = { node: a.name, nic: a.config.interfaces[0] }
  const ba = dn.peerOf(ab.node, ab.nic)
  const bId = b.node.identities()[0].id
  // the link fails and comes back; the first answer b gives to a's identity_main names another identity (a mutated
  // or forged reply from b's link-local)
  dn.setLinkUp(ab, ba, false)
  t.not(await runUntil(dn.clock, () => a.node.arcs().every(x => x.dev !== ab.nic), BUDGET), null, 'a drops the arc')
  let lied = 0
  dn.net.tap = leg => {
    if (leg.via !== 'reply' || leg.from.node !== b.name || leg.to.node !== a.name || lied > 0) return undefined
    if (!(leg.request?.toString('utf8').includes('"identity_main"') ?? false)) return undefined
    lied++
    return b.codec.encode({ v: 1, kind: 'identity_main_reply', id: PHANTOM_ID } as unknown as WireMessage)
  }
  dn.setLinkUp(ab, ba, true)
  t.not(await runUntil(dn.clock, () => lied > 0, BUDGET), null, 'a asked b for its main identity and was lied to')
  dn.net.tap = undefined
  t.not(await runUntil(dn.clock, () => mapProblems(dn, oracle, { limit: 1 }).length === 0, BUDGET), null, 'the arc is made again and maps converge')
  await runFor(dn.clock, 5_000)
  t.deepEqual(a.node.identities()[0].arcs.filter(x => x.dev === ab.nic).map(x => x.peerId), [bId], 'a\'s identity-arcs on that link: b\'s main identity only')
  t.deepEqual(logs.filter(l => l.startsWith(`${a.name}: identity-arc added`) && l.includes(`#${PHANTOM_ID}`)), [], 'never an identity-arc to the identity b does not have')
  t.like(identityCounters(a), { unverified: 1 }, 'the lie counted as refused after the check')
  await dn.syncKernels()
  t.deepEqual(await kernelProblems(dn, oracle), [], 'ntk tables')
  t.deepEqual(logs.filter(l => /kernel apply failed/.test(l)), [], 'no kernel apply failed')
})

test('an identity_remove_arc replayed from the real neighbour for the main identity-arc (the neighbour keeps its side) leaves the two apart only a moment: the identity-arc is asked for again, maps and kernels converge', async t => {
  const { dn, oracle, logs, a, b } = await formedLine(t)
  const aId = a.node.identities()[0].id
  const bId = b.node.identities()[0].id
  const arcsOf = (d: Daemon, peerId: string): string[] => d.node.identities()[0].arcs.filter(x => x.peerId === peerId).map(x => x.id)
  const bBefore = arcsOf(b, aId)
  t.is(bBefore.length, 1, 'b has its main identity-arc with a')
  // a's request to remove the identity-arc (as a sends when its QSPN drops it), but a keeps its own side: an old
  // request replayed
  t.like(await askOverArc(dn, a, { v: 1, kind: 'identity_remove_arc', fromId: aId, toId: bId }), { kind: 'identity_ack', ok: true })
  t.deepEqual(arcsOf(b, aId), [], 'b removed its side, as asked')
  t.is(arcsOf(a, bId).length, 1, 'a still has its side')
  t.not(await runUntil(dn.clock, () => arcsOf(b, aId).length === 1, { budgetMs: 30_000, stepMs: 250 }), null, 'b has the main identity-arc with a again within 30 s')
  t.deepEqual(arcsOf(b, aId), bBefore, 'the same identity-arc')
  t.not(await runUntil(dn.clock, () => mapProblems(dn, oracle, { limit: 1 }).length === 0, BUDGET), null, 'maps converge')
  await dn.syncKernels()
  t.deepEqual(await kernelProblems(dn, oracle), [], 'ntk tables')
  t.deepEqual(logs.filter(l => /kernel apply failed/.test(l)), [], 'no kernel apply failed')
})
