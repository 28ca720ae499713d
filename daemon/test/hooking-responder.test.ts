import test from 'ava'
import { Topology } from '../src/addressing'
import { DEFAULT_HOOKING_CONFIG, type HookingHost, type HookingIdentity } from '../src/hooking'
import { HookingResponder } from '../src/hooking/responder'
import type { MigrationAgent } from '../src/hooking/migration-agent'
import { ntkdMessageRegistry } from '../src/node'
import { WireCodec, type WireMessage } from '../src/wire'

// The neighbour's answer to hooking_get_network_data with the network's size from its Coordinator: a count no
// network can hold (a corrupted Coordinator record, found by the wire fuzzer) is refused as 'busy' instead of
// making the handler throw while encoding the reply; a sound count is answered and encodes.

function responder (nNodes: number): HookingResponder {
  const topology = Topology.fromGsizes([16, 2, 2, 2])
  const me = { id: 'x', index: 0, naddr: [1, 0, 1, 3], elderships: [0, 0, 0, 0], isMain: true, qspn: {}, coordinator: { getNNodes: async () => nNodes } } as unknown as HookingIdentity
  const host = { topology, subnetLevel: 0, identity: () => me } as unknown as HookingHost
  return new HookingResponder(host, DEFAULT_HOOKING_CONFIG, () => 42, () => 3, () => {}, {} as unknown as MigrationAgent)
}

test('hooking_get_network_data: an impossible number of nodes from the Coordinator is refused, a sound one answered', async t => {
  const codec = new WireCodec({ registry: ntkdMessageRegistry() })
  const ask = { v: 1, kind: 'hooking_get_network_data', askCoordinator: true } as unknown as WireMessage
  const bad = await responder(2 ** 40).handle('x', 'arc', ask)
  t.like(bad, { kind: 'hooking_refused', reason: 'busy' })
  t.regex((bad as unknown as { message: string }).message, /impossible number of nodes \(1099511627776\)/)
  const good = await responder(7).handle('x', 'arc', ask)
  t.like(good, { kind: 'hooking_network_data', networkId: 42, nNodes: 7 })
  t.notThrows(() => codec.encode(good as never))
  t.throws(() => codec.encode({ ...(good as object), nNodes: 2 ** 40 } as never), { message: /nNodes/ }, 'the count the refusal guards against would not encode')
})
