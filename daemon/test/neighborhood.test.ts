import test from 'ava'
import { InMemoryNetwork } from '../src/transport'
import { VirtualClock } from '../src/sim/virtual-clock'
import { SeededRandom } from '../src/util/random'
import { MessageRegistry, WireCodec } from '../src/wire'
import {
  Neighborhood, registerNeighborhoodMessages, smoothCost, TIMER_PROFILES,
  type Arc, type CarrierChanges, type FixedCosts, type NeighborhoodEvents, type NeighborhoodTimers, type NicCarrier, type NicInfo
} from '../src/neighborhood'

async function flush (): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>(resolve => setImmediate(resolve))
}

interface Node { nb: Neighborhood, events: Array<[keyof NeighborhoodEvents, unknown]>, syncs: number, nops: number[], onNop?: () => void, hereIAms: Array<[number, string]> }

class World {
  readonly clock = new VirtualClock()
  readonly net = new InMemoryNetwork(this.clock, new SeededRandom(3))
  readonly nodes = new Map<string, Node>()
  #seed = 100

  async add (name: string, nics: NicInfo[], o: { fixedCosts?: FixedCosts, linkLocals?: Record<string, string>, maxArcs?: number, nicCarrier?: NicCarrier, carrierChanges?: CarrierChanges, timers?: NeighborhoodTimers, syncKernel?: () => Promise<void> } = {}): Promise<Node> {
    const registry = new MessageRegistry()
    registerNeighborhoodMessages(registry)
    const transport = this.net.transport(name, new WireCodec({ registry }))
    const node: Node = { nb: undefined as unknown as Neighborhood, events: [], syncs: 0, nops: [], hereIAms: [] }
    // record when liveness probes leave
    const unicast = transport.unicast.bind(transport)
    transport.unicast = async (peer, m, uo) => {
      if (m.kind === 'nop') { node.nops.push(this.clock.now()); node.onNop?.() }
      return await unicast(peer, m, uo)
    }
    // and announcements (when, on which NIC)
    const broadcast = transport.broadcast.bind(transport)
    transport.broadcast = async (nic, m) => {
      if (m.kind === 'here_i_am') node.hereIAms.push([this.clock.now(), nic])
      return await broadcast(nic, m)
    }
    const { nicCarrier, carrierChanges, syncKernel, ...init } = o
    node.nb = new Neighborhood(
      { transport, clock: this.clock, random: new SeededRandom(this.#seed++), syncKernel: async () => { node.syncs++; await syncKernel?.() }, nicCarrier, carrierChanges },
      { nics, timers: TIMER_PROFILES.lab, ...init })
    for (const ev of ['nic_address_set', 'arc_added', 'arc_changed', 'arc_removing', 'arc_removed'] as const) {
      node.nb.on(ev, p => node.events.push([ev, p]))
    }
    this.nodes.set(name, node)
    return node
  }

  async startAll (): Promise<void> { for (const n of this.nodes.values()) await n.nb.start() }

  async run (ms: number): Promise<void> {
    const until = this.clock.now() + ms
    await flush()
    for (let at = this.clock.nextAt(); at !== undefined && at <= until; at = this.clock.nextAt()) {
      this.clock.step()
      await flush()
    }
    this.clock.advanceTo(until)
  }

  stop = async (): Promise<void> => { for (const n of this.nodes.values()) await n.nb.stop() }
}

const mac = (n: number): string => `00:16:3E:00:00:${n.toString(16).padStart(2, '0').toUpperCase()}`
const llOf = (n: Node, dev: string): string =>
  n.nb.desiredKernelContribution().addresses.find(a => a.dev === dev)!.address
const view = (arcs: Arc[]): unknown => arcs.map(a => [a.nic, a.peerMac, a.peerLinklocal, a.cost, a.exposed]).sort()

test('two nodes discover each other: one exposed arc each side, RTT cost, link-locals and host routes', async t => {
  const w = new World()
  t.teardown(w.stop)
  const a = await w.add('a', [{ name: 'eth1', mac: mac(1) }])
  const b = await w.add('b', [{ name: 'eth1', mac: mac(2) }])
  w.net.link({ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' }, { latencyMs: 5 })
  await w.startAll()
  await w.run(200)
  const llA = llOf(a, 'eth1'); const llB = llOf(b, 'eth1')
  t.regex(llA, /^169\.254\.(\d|[1-9]\d|1\d\d|2[0-4]\d|25[0-4])\.(\d|[1-9]\d|1\d\d|2[0-4]\d|25[0-4])$/)
  t.not(llA, llB)
  // a nop round trip over a 5 ms link: 10 ms = 10000 µs
  t.deepEqual(view(a.nb.arcs()), [['eth1', mac(2), llB, 10000, true]])
  t.deepEqual(view(b.nb.arcs()), [['eth1', mac(1), llA, 10000, true]])
  t.is(a.nb.arcs()[0].peerNodeId, b.nb.nodeId)
  t.deepEqual(a.nb.desiredKernelContribution(), {
    addresses: [{ dev: 'eth1', address: llA }],
    hostRoutes: [{ dst: llB, dev: 'eth1', src: llA }]
  })
  t.deepEqual(a.events.map(([e]) => e), ['nic_address_set', 'arc_added'])
  t.true(a.syncs > 0, 'the kernel was asked to apply address and route')
  // periodic here_i_am afterwards adds nothing
  await w.run(5000)
  t.is(a.nb.arcs().length, 1)
  t.deepEqual(a.events.map(([e]) => e), ['nic_address_set', 'arc_added'])
})

test('three nodes on a line: b gets one arc per NIC; fixed costs by NIC and by peer MAC override measurement', async t => {
  const w = new World()
  t.teardown(w.stop)
  const a = await w.add('a', [{ name: 'eth1', mac: mac(1) }], { fixedCosts: { byNic: { eth1: 700 } } })
  const b = await w.add('b', [{ name: 'eth1', mac: mac(2) }, { name: 'eth2', mac: mac(3) }], { fixedCosts: { byPeerMac: { [mac(4).toLowerCase()]: 1234 } } })
  const c = await w.add('c', [{ name: 'eth1', mac: mac(4) }])
  w.net.link({ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' }, { latencyMs: 1 })
  w.net.link({ node: 'b', nic: 'eth2' }, { node: 'c', nic: 'eth1' }, { latencyMs: 2 })
  await w.startAll()
  await w.run(300)
  t.deepEqual(view(a.nb.arcs()), [['eth1', mac(2), llOf(b, 'eth1'), 700, true]])
  t.deepEqual(view(b.nb.arcs()), [
    ['eth1', mac(1), llOf(a, 'eth1'), 2000, true],
    ['eth2', mac(4), llOf(c, 'eth1'), 1234, true]])
  t.deepEqual(view(c.nb.arcs()), [['eth1', mac(3), llOf(b, 'eth2'), 4000, true]])
  const k = b.nb.desiredKernelContribution()
  t.deepEqual(k.addresses.map(x => x.dev), ['eth1', 'eth2'])
  t.deepEqual(new Set(k.hostRoutes), new Set([
    { dst: llOf(a, 'eth1'), dev: 'eth1', src: llOf(b, 'eth1') },
    { dst: llOf(c, 'eth1'), dev: 'eth2', src: llOf(b, 'eth2') }]))
})

test('fixed link-locals (replaying documented values): each NIC takes its own, the arcs and host routes use them', async t => {
  const w = new World()
  t.teardown(w.stop)
  // α and β of the use cases: eth1 169.254.69.30 and 169.254.96.141; b's eth2 is not listed and gets a random one
  const a = await w.add('a', [{ name: 'eth1', mac: mac(1) }], { linkLocals: { eth1: '169.254.69.30' } })
  const b = await w.add('b', [{ name: 'eth1', mac: mac(2) }, { name: 'eth2', mac: mac(3) }], { linkLocals: { eth1: '169.254.96.141' } })
  w.net.link({ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' }, { latencyMs: 1 })
  await w.startAll()
  await w.run(300)
  t.deepEqual(a.events.find(([e]) => e === 'nic_address_set')?.[1], { dev: 'eth1', address: '169.254.69.30' })
  t.is(llOf(b, 'eth1'), '169.254.96.141')
  t.regex(llOf(b, 'eth2'), /^169\.254\.\d+\.\d+$/)
  t.not(llOf(b, 'eth2'), '169.254.96.141')
  t.deepEqual(view(a.nb.arcs()), [['eth1', mac(2), '169.254.96.141', 2000, true]])
  t.deepEqual(a.nb.desiredKernelContribution(), {
    addresses: [{ dev: 'eth1', address: '169.254.69.30' }],
    hostRoutes: [{ dst: '169.254.96.141', dev: 'eth1', src: '169.254.69.30' }]
  })
})

test('no two NICs of a node get one link-local: a random draw already held or configured on another NIC is drawn again', async t => {
  const w = new World()
  const registry = new MessageRegistry()
  registerNeighborhoodMessages(registry)
  // draws of int(255) in order: eth1 7.7; eth2 7.7 (eth1 has it), 7.8 (configured for eth3), then 9.9
  const draws = [7, 7, 7, 7, 7, 8, 9, 9]
  const fallback = new SeededRandom(5)
  const random = { next: () => fallback.next(), int: (n: number) => n === 255 && draws.length > 0 ? draws.shift() as number : fallback.int(n) }
  const nb = new Neighborhood(
    { transport: w.net.transport('a', new WireCodec({ registry })), clock: w.clock, random, syncKernel: async () => {} },
    { nics: [{ name: 'eth1', mac: mac(1) }, { name: 'eth2', mac: mac(2) }, { name: 'eth3', mac: mac(3) }], timers: TIMER_PROFILES.lab, linkLocals: { eth3: '169.254.7.8' } })
  t.teardown(async () => await nb.stop())
  await nb.start()
  t.deepEqual(nb.desiredKernelContribution().addresses, [
    { dev: 'eth1', address: '169.254.7.7' }, { dev: 'eth2', address: '169.254.9.9' }, { dev: 'eth3', address: '169.254.7.8' }
  ])
  t.is(draws.length, 0)
})

test('the smoothing rule of spec §3 step 5', t => {
  const first = smoothCost(undefined, 1000)
  t.deepEqual(first, { state: { stored: 1000, official: 1000 }, officialChanged: true })
  // rise counts a tenth: 1000 + (3000-1000)/10 = 1200, inside [500, 2000]
  t.deepEqual(smoothCost(first.state, 3000), { state: { stored: 1200, official: 1000 }, officialChanged: false })
  // fall counts a third: 1000 - 900/3 = 700
  t.deepEqual(smoothCost(first.state, 100), { state: { stored: 700, official: 1000 }, officialChanged: false })
  // leaving [0.5x, 2x] updates the official cost
  t.deepEqual(smoothCost({ stored: 600, official: 1000 }, 0), { state: { stored: 400, official: 400 }, officialChanged: true })
  t.deepEqual(smoothCost({ stored: 1900, official: 1000 }, 4000), { state: { stored: 2110, official: 2110 }, officialChanged: true })
  t.deepEqual(smoothCost({ stored: 1000, official: 1000 }, 1000), { state: { stored: 1000, official: 1000 }, officialChanged: false })
  // the official cost goes on the wire as whole microseconds (ETP schema): fractions of the smoothed value are rounded
  t.deepEqual(smoothCost({ stored: 400, official: 1000 }, 0), { state: { stored: 400 - 400 / 3, official: 267 }, officialChanged: true })
  t.deepEqual(smoothCost(undefined, 0.4), { state: { stored: 0.4, official: 1 }, officialChanged: true })
})

test('a slower link changes the cost only once the smoothed value leaves [0.5x, 2x]', async t => {
  const w = new World()
  t.teardown(w.stop)
  const a = await w.add('a', [{ name: 'eth1', mac: mac(1) }])
  await w.add('b', [{ name: 'eth1', mac: mac(2) }])
  w.net.link({ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' }, { latencyMs: 5 })
  await w.startAll()
  await w.run(100)
  t.is(a.nb.arcs()[0].cost, 10000)
  w.net.setLink({ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' }, { latencyMs: 50 })
  await w.run(1150) // one more measurement (period 1 s + the RTT itself): 10000 + 90000/10 = 19000, official stays
  t.is(a.nb.arcs()[0].cost, 10000)
  t.false(a.events.some(([e]) => e === 'arc_changed'))
  await w.run(1100) // 19000 + 81000/10 = 27100 > 20000
  t.is(a.nb.arcs()[0].cost, 27100)
  t.deepEqual(a.events.filter(([e]) => e === 'arc_changed').map(([, p]) => (p as Arc).cost), [27100])
})

test('a neighbour that stops answering loses its arc after missedProbes liveness timeouts, with its host route', async t => {
  const w = new World()
  t.teardown(w.stop)
  const a = await w.add('a', [{ name: 'eth1', mac: mac(1) }])
  const b = await w.add('b', [{ name: 'eth1', mac: mac(2) }])
  w.net.link({ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' }, { latencyMs: 1 })
  await w.startAll()
  await w.run(100)
  t.is(a.nb.arcs().length, 1)
  w.net.setLink({ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' }, { up: false })
  const cut = w.clock.now()
  const { monitorMs, unicastTimeoutMs, missedProbes } = TIMER_PROFILES.lab
  await w.run(monitorMs + missedProbes * unicastTimeoutMs + 10)
  t.deepEqual(a.nb.arcs(), [])
  t.deepEqual(b.nb.arcs(), [])
  const removing = a.events.find(([e]) => e === 'arc_removing')
  t.deepEqual(removing?.[1], { arc: { ...(removing?.[1] as { arc: Arc }).arc, peerMac: mac(2) }, stillUsable: false })
  t.deepEqual(a.events.map(([e]) => e).slice(-2), ['arc_removing', 'arc_removed'])
  t.true(w.clock.now() - cut <= monitorMs + missedProbes * unicastTimeoutMs + 10)
  // the failed probe was retried at once, not after a monitor period
  const [first, retry] = a.nops.filter(x => x > cut)
  t.is(retry - first, unicastTimeoutMs)
  t.deepEqual(a.nb.desiredKernelContribution().hostRoutes, [])
  // the link comes back: discovery forms the arc again
  w.net.setLink({ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' }, { up: true })
  await w.run(2500)
  t.deepEqual(a.nb.arcs().map(x => x.peerMac), [mac(2)])
})

/** a in the middle, linked to b on eth1 and to c on eth2; started and run for 100 ms. */
async function star (w: World, aInit: Parameters<World['add']>[2] = {}): Promise<{ a: Node, b: Node, c: Node }> {
  const a = await w.add('a', [{ name: 'eth1', mac: mac(1) }, { name: 'eth2', mac: mac(5) }], aInit)
  const b = await w.add('b', [{ name: 'eth1', mac: mac(2) }])
  const c = await w.add('c', [{ name: 'eth1', mac: mac(3) }])
  w.net.link({ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' }, { latencyMs: 1 })
  w.net.link({ node: 'a', nic: 'eth2' }, { node: 'c', nic: 'eth1' }, { latencyMs: 1 })
  await w.startAll()
  await w.run(100)
  return { a, b, c }
}

test('removing an arc by hand tells the peer (remove_arc), and max_arcs limits discovery', async t => {
  const w = new World()
  t.teardown(w.stop)
  const { a, b, c } = await star(w, { maxArcs: 1 })
  t.is(a.nb.arcs().length, 1, 'max_arcs 1')
  t.is(b.nb.arcs().length + c.nb.arcs().length, 1)
  const [only] = a.nb.arcs()
  const peer = only.peerMac === mac(2) ? b : c
  await a.nb.removeArc(only.id)
  await w.run(10)
  t.deepEqual(peer.nb.arcs(), [], 'the peer removed its side on remove_arc')
  const removing = peer.events.filter(([e]) => e === 'arc_removing').map(([, p]) => (p as { stillUsable: boolean }).stillUsable)
  t.deepEqual(removing, [false])
})

test('a graceful stop tells every neighbour, which drops its arc at once instead of waiting for its probes', async t => {
  const w = new World()
  t.teardown(w.stop)
  const { a, b, c } = await star(w)
  t.is(b.nb.arcs().length + c.nb.arcs().length, 2)
  await a.nb.stop()
  await w.run(10)
  t.deepEqual(b.nb.arcs(), [], 'b dropped its arc within 10 ms (a probe timeout is ' + String(TIMER_PROFILES.lab.unicastTimeoutMs) + ' ms)')
  t.deepEqual(c.nb.arcs(), [])
})

test('while it stops a system makes no new arc: a neighbour told remove_arc does not get the arc back', async t => {
  const w = new World()
  t.teardown(w.stop)
  // a's kernel applies take 1.5 s from the moment it stops, so neighbours hear from it (and it from them) while
  // it is still telling them: here_i_am goes every second
  let slow = false
  const { a, b, c } = await star(w, { syncKernel: async () => { if (slow) await new Promise<void>(resolve => w.clock.setTimer(1500, resolve)) } })
  t.is(b.nb.arcs().length + c.nb.arcs().length, 2)
  slow = true
  let stopped = false
  const stopping = a.nb.stop().then(() => { stopped = true })
  for (let k = 0; k < 40 && !stopped; k++) await w.run(500)
  await stopping
  await w.run(100)
  t.deepEqual(b.nb.arcs(), [], 'b has no arc with a stopped system')
  t.deepEqual(c.nb.arcs(), [])
  for (const n of [b, c]) t.is(n.events.filter(([e]) => e === 'arc_added').length, 1, 'only the arc made before the stop')
  t.deepEqual(a.nb.arcs(), [])
})

test('at start every NIC announces itself after one kernel apply, not after one apply per NIC in turn', async t => {
  const w = new World()
  t.teardown(w.stop)
  // each kernel apply takes 300 ms (a loaded host); the link-locals must be in the kernel before anyone answers
  let slow = true
  t.teardown(() => { slow = false })
  const a = await w.add('a', [1, 2, 3, 4].map(k => ({ name: `eth${k}`, mac: mac(k) })), { syncKernel: async () => { if (slow) await new Promise<void>(resolve => w.clock.setTimer(300, resolve)) } })
  let started = false
  const starting = a.nb.start().then(() => { started = true })
  for (let k = 0; k < 20 && !started; k++) await w.run(100)
  await starting
  t.deepEqual(a.hereIAms.map(([at, nic]) => [at, nic]), [[300, 'eth1'], [300, 'eth2'], [300, 'eth3'], [300, 'eth4']])
  t.is(a.syncs, 1, 'one apply for all the link-locals')
  t.deepEqual(a.events.filter(([e]) => e === 'nic_address_set').length, 4)
  // and again every second on each
  await w.run(1000)
  t.deepEqual(a.hereIAms.slice(4).map(([at, nic]) => [at, nic]), [[1300, 'eth1'], [1300, 'eth2'], [1300, 'eth3'], [1300, 'eth4']])
})

test('a second arc to the same system is allowed only over two other NICs', async t => {
  const w = new World()
  t.teardown(w.stop)
  const a = await w.add('a', [{ name: 'eth1', mac: mac(1) }, { name: 'eth2', mac: mac(2) }])
  const b = await w.add('b', [{ name: 'eth1', mac: mac(3) }, { name: 'eth2', mac: mac(4) }])
  // a.eth1 hears both NICs of b (one segment emulated by two links); a.eth2 - b.eth2 is a separate link
  w.net.link({ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' }, { latencyMs: 1 })
  w.net.link({ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth2' }, { latencyMs: 1 })
  w.net.link({ node: 'a', nic: 'eth2' }, { node: 'b', nic: 'eth2' }, { latencyMs: 1 })
  await w.startAll()
  await w.run(3000)
  const arcs = a.nb.arcs()
  t.is(arcs.length, 2)
  t.is(new Set(arcs.map(x => x.nic)).size, 2, 'never two arcs on one of my NICs to the same system')
  t.is(new Set(arcs.map(x => x.peerMac)).size, 2, 'never two arcs to one NIC of the peer')
  t.is(b.nb.arcs().length, 2)
})

test('one lost liveness probe is forgiven: the retry goes at once and the arc stays', async t => {
  const w = new World()
  t.teardown(w.stop)
  const a = await w.add('a', [{ name: 'eth1', mac: mac(1) }])
  await w.add('b', [{ name: 'eth1', mac: mac(2) }])
  const ends = [{ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' }] as const
  w.net.link(ends[0], ends[1], { latencyMs: 1 })
  await w.startAll()
  await w.run(100)
  t.is(a.nb.arcs().length, 1)
  // a's next probe is lost: the link goes down as it leaves, for 300 ms
  const sent = a.nops.length
  a.onNop = () => {
    a.onNop = undefined
    w.net.setLink(ends[0], ends[1], { up: false })
    w.clock.setTimer(300, () => { w.net.setLink(ends[0], ends[1], { up: true }) })
  }
  await w.run(3000)
  t.is(a.nb.arcs().length, 1, 'the arc survived one missed probe')
  t.false(a.events.some(([e]) => e === 'arc_removing'))
  const times = a.nops.slice(sent)
  t.is(times[1] - times[0], TIMER_PROFILES.lab.unicastTimeoutMs, 'the retry left when the lost probe timed out')
})

test('a NIC that loses its carrier drops its arcs at the next carrier check, before any probe fails', async t => {
  const w = new World()
  t.teardown(w.stop)
  const carrier = new Map([['a', true], ['b', true]])
  const of = (node: string): NicCarrier => async () => carrier.get(node)
  const a = await w.add('a', [{ name: 'eth1', mac: mac(1) }], { nicCarrier: of('a') })
  const b = await w.add('b', [{ name: 'eth1', mac: mac(2) }], { nicCarrier: of('b') })
  const ends = [{ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' }] as const
  w.net.link(ends[0], ends[1], { latencyMs: 1 })
  await w.startAll()
  await w.run(500)
  t.is(a.nb.arcs().length, 1)
  // the cable is cut: both ends lose their carrier
  w.net.setLink(ends[0], ends[1], { up: false })
  carrier.set('a', false)
  carrier.set('b', false)
  const cut = w.clock.now()
  await w.run(TIMER_PROFILES.lab.carrierPollMs + 5)
  t.deepEqual(a.nb.arcs(), [])
  t.deepEqual(b.nb.arcs(), [])
  t.true(w.clock.now() - cut < TIMER_PROFILES.lab.unicastTimeoutMs, 'sooner than one probe timeout')
  t.deepEqual(a.events.map(([e]) => e).slice(-2), ['arc_removing', 'arc_removed'])
  t.deepEqual(a.nb.desiredKernelContribution().hostRoutes, [])
  // carrier back: discovery forms the arc again
  w.net.setLink(ends[0], ends[1], { up: true })
  carrier.set('a', true)
  carrier.set('b', true)
  await w.run(2500)
  t.is(a.nb.arcs().length, 1)
})

test('with link-change notices the carrier is read when a NIC changes, and polled ten times less often', async t => {
  const w = new World()
  t.teardown(w.stop)
  const carrier = new Map([['a', true], ['b', true]])
  const reads = new Map([['a', 0], ['b', 0]])
  const of = (node: string): NicCarrier => async () => { reads.set(node, (reads.get(node) ?? 0) + 1); return carrier.get(node) }
  const listeners = new Map<string, (nic: string) => void>()
  let unsubscribed = 0
  const changesOf = (node: string): CarrierChanges => onChange => { listeners.set(node, onChange); return () => { unsubscribed++ } }
  const a = await w.add('a', [{ name: 'eth1', mac: mac(1) }], { nicCarrier: of('a'), carrierChanges: changesOf('a') })
  await w.add('b', [{ name: 'eth1', mac: mac(2) }], { nicCarrier: of('b'), carrierChanges: changesOf('b') })
  const ends = [{ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' }] as const
  w.net.link(ends[0], ends[1], { latencyMs: 1 })
  await w.startAll()
  await w.run(500)
  t.is(a.nb.arcs().length, 1)
  // idle: one read per 10 x carrierPollMs (1 s with lab timers), not one per 100 ms
  reads.set('a', 0)
  await w.run(5000)
  t.true((reads.get('a') ?? 0) <= 6, `${reads.get('a') ?? 0} carrier reads in 5 s`)
  // the cable is cut and the change told: the arcs go at once, long before the next poll or probe timeout
  w.net.setLink(ends[0], ends[1], { up: false })
  carrier.set('a', false)
  carrier.set('b', false)
  const cut = w.clock.now()
  listeners.get('a')?.('eth1')
  listeners.get('b')?.('eth1')
  await w.run(5)
  t.deepEqual(a.nb.arcs(), [])
  t.true(w.clock.now() - cut <= 5)
  // a change of a NIC the Neighborhood does not manage reads nothing
  reads.set('a', 0)
  listeners.get('a')?.('eth9')
  await w.run(5)
  t.is(reads.get('a'), 0)
  await w.stop()
  t.is(unsubscribed, 2)
})

test('a failed probe on a NIC without carrier removes the arc at once, without retrying', async t => {
  const w = new World()
  t.teardown(w.stop)
  let up = true
  // carrier is known only when asked after a failed probe (no polling: carrierPollMs 0)
  const a = await w.add('a', [{ name: 'eth1', mac: mac(1) }], { nicCarrier: async () => up, timers: { ...TIMER_PROFILES.lab, carrierPollMs: 0 } })
  await w.add('b', [{ name: 'eth1', mac: mac(2) }])
  const ends = [{ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' }] as const
  w.net.link(ends[0], ends[1], { latencyMs: 1 })
  await w.startAll()
  await w.run(100)
  t.is(a.nb.arcs().length, 1)
  w.net.setLink(ends[0], ends[1], { up: false })
  up = false
  const cut = w.clock.now()
  const sent = a.nops.length
  await w.run(TIMER_PROFILES.lab.monitorMs + TIMER_PROFILES.lab.unicastTimeoutMs + 10)
  t.deepEqual(a.nb.arcs(), [])
  t.is(a.nops.length, sent + 1, 'one probe, no retry')
  t.true(w.clock.now() - cut <= TIMER_PROFILES.lab.monitorMs + TIMER_PROFILES.lab.unicastTimeoutMs + 10)
})
