import test from 'ava'
import { InMemoryNetwork, type Transport } from '../src/transport'
import { VirtualClock } from '../src/sim/virtual-clock'
import { SeededRandom } from '../src/util/random'
import { FrameReader } from '../src/wire'
import { complianceCodec, NICS, NodeAgent, transportCompliance, type NodeName, type TransportHarness, type UnicastOutcome } from './transport-compliance'

/** Lets microtasks and immediate callbacks run, so promise chains started by a timer complete. */
export async function flush (): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>(resolve => setImmediate(resolve))
}

async function runUntil<T> (clock: VirtualClock, p: Promise<T>): Promise<T> {
  let done = false
  const watched = p.finally(() => { done = true })
  await flush()
  while (!done && clock.step()) await flush()
  return await watched
}

async function inMemoryHarness (): Promise<TransportHarness> {
  const clock = new VirtualClock()
  const net = new InMemoryNetwork(clock, new SeededRandom(1))
  const agents = new Map<NodeName, NodeAgent>()
  const codecs = new Map<NodeName, ReturnType<typeof complianceCodec>>()
  for (const node of ['a', 'b', 'c'] as NodeName[]) {
    const codec = complianceCodec()
    codecs.set(node, codec)
    const tr: Transport = net.transport(node, codec)
    for (const [name, linklocal] of Object.entries(NICS[node])) await tr.attachNic({ name, linklocal })
    agents.set(node, new NodeAgent(node, tr))
  }
  net.link({ node: 'a', nic: 'a1' }, { node: 'b', nic: 'b1' }, { latencyMs: 2 })
  net.link({ node: 'b', nic: 'b2' }, { node: 'c', nic: 'c1' }, { latencyMs: 3 })
  const agent = (n: NodeName): NodeAgent => agents.get(n)!
  const farEnd = (node: NodeName, nic: string, to: string): { node: NodeName, nic: string } | undefined => {
    for (const [far] of net.neighbours({ node, nic })) if (NICS[far.node as NodeName][far.nic] === to) return far as { node: NodeName, nic: string }
    return undefined
  }
  return {
    broadcast: async (node, nic, m) => { await agent(node).transport.broadcast(nic, m) },
    unicast: async (node, peer, m, timeoutMs): Promise<UnicastOutcome> => {
      try {
        const reply = await runUntil(clock, agent(node).transport.unicast(peer, m, { timeoutMs }))
        return { reply: reply ?? null }
      } catch (e) { return { error: `${(e as Error).name}: ${(e as Error).message}` } }
    },
    inbox: async node => agent(node).inbox,
    setMode: async (node, mode) => { agent(node).mode = mode },
    raw: async (node, nic, to, bytes) => {
      // The in-memory medium has no byte stream: split the bytes into frames here, as the TCP server would.
      const far = farEnd(node, nic, to)
      if (far === undefined) return
      for (const ev of new FrameReader().push(bytes)) {
        if (ev.type === 'oversized') codecs.get(far.node)!.reject('oversized', 'injected')
        else await net.injectRaw({ node, nic }, far, ev.payload, 'unicast')
      }
    },
    counters: async node => codecs.get(node)!.counters.snapshot(),
    settle: async ms => {
      const until = clock.now() + ms
      await flush()
      for (let at = clock.nextAt(); at !== undefined && at <= until; at = clock.nextAt()) { clock.step(); await flush() }
      clock.advanceTo(until)
    },
    close: async () => { for (const a of agents.values()) await a.transport.close() }
  }
}

transportCompliance(test, 'InMemoryTransport', inMemoryHarness)

test('InMemoryTransport: a link that is down or fully lossy delivers nothing; latency is on the clock', async t => {
  const clock = new VirtualClock()
  const net = new InMemoryNetwork(clock, new SeededRandom(7))
  const x = net.transport('x', complianceCodec())
  const y = net.transport('y', complianceCodec())
  await x.attachNic({ name: 'e0', linklocal: '169.254.0.1' })
  await y.attachNic({ name: 'e0', linklocal: '169.254.0.2' })
  const heard: number[] = []
  y.onMessage(() => { heard.push(clock.now()); return undefined })
  net.link({ node: 'x', nic: 'e0' }, { node: 'y', nic: 'e0' }, { latencyMs: 40 })
  await x.broadcast('e0', { v: 1, kind: 'note', text: '1' })
  while (clock.step()) await flush()
  t.deepEqual(heard, [40])
  net.setLink({ node: 'x', nic: 'e0' }, { node: 'y', nic: 'e0' }, { up: false })
  await x.broadcast('e0', { v: 1, kind: 'note', text: '2' })
  net.setLink({ node: 'x', nic: 'e0' }, { node: 'y', nic: 'e0' }, { up: true, loss: 1 })
  await x.broadcast('e0', { v: 1, kind: 'note', text: '3' })
  while (clock.step()) await flush()
  t.deepEqual(heard, [40])
  net.setLink({ node: 'x', nic: 'e0' }, { node: 'y', nic: 'e0' }, { loss: 0 })
  const rtt = clock.now()
  await runUntil(clock, x.unicast({ nic: 'e0', linklocal: '169.254.0.2' }, { v: 1, kind: 'note', text: '4' }))
  t.is(clock.now() - rtt, 80)
})
