import test from 'ava'
import { gridTopology, type TopologySpec } from '../src/sim/topologies'
import { answerControl, type CoordinatorView } from '../src/node'
import { formatCoordinator, formatPeers } from '../src/cli/ntkctl-format'
import { type DaemonNetwork, runFor, runUntil, startSpec } from './helpers/inprocess-network'
import { RouteOracle } from './helpers/route-oracle'
import { mapProblems } from './helpers/daemon-checks'
import { expectedCoordinator } from './helpers/peers-oracle'

// Whole daemons in process: PeerServices and the Coordinator attached by startNode, neighbour messages over the
// in-memory transport, and the contact back to a client routed hop by hop by each node's in-memory kernel (table
// ntk), as the lab's kernels route the TCP connection to the client's internal address.

const PROOF = [2, 2, 2, 4]
const dotted = (naddr: readonly number[]): string => [...naddr].reverse().join('.')

async function settle<T> (dn: DaemonNetwork, p: Promise<T>, budgetMs = 60_000): Promise<T> {
  let done = false
  p.then(() => { done = true }, () => { done = true })
  const start = dn.clock.now()
  while (!done && dn.clock.now() - start < budgetMs) await runFor(dn.clock, 50)
  return await p
}

async function converged (spec: TopologySpec): Promise<DaemonNetwork> {
  const dn = await startSpec(spec)
  const oracle = RouteOracle.ofSpec(spec)
  const ms = await runUntil(dn.clock, () => mapProblems(dn, oracle, { limit: 1 }).length === 0, { budgetMs: 60_000, stepMs: 250 })
  if (ms === null) throw new Error('did not converge')
  await dn.syncKernels()
  return dn
}

function checkViews (spec: TopologySpec, views: Map<string, CoordinatorView>, live: (n: string) => boolean): string[] {
  const wrong: string[] = []
  for (const [name, v] of views) {
    for (const l of v.levels) {
      const want = expectedCoordinator(spec, name, l.lvl, n => live(n.name))
      const me = spec.nodes.find(n => n.name === name)!
      const members = spec.nodes.filter(n => live(n.name) && n.naddr.slice(l.lvl).join('.') === me.naddr.slice(l.lvl).join('.')).length
      if (l.servant !== dotted(want?.naddr ?? [])) wrong.push(`${name} level ${l.lvl}: servant ${l.servant ?? l.error ?? '?'}, expected ${dotted(want?.naddr ?? [])}`)
      if (l.nodesInside !== members) wrong.push(`${name} level ${l.lvl}: ${String(l.nodesInside)} nodes, expected ${members}`)
    }
  }
  return wrong
}

test('ntkctl coordinator on every daemon names the same servant per g-node with the right count; its daemon stops: the role moves, the memory stays', async t => {
  const rnd = [1000, 1100, 1200, 1300, 1400, 1500, 1600]
  let k = 0
  const spec = gridTopology(4, 4, PROOF, () => rnd[k++ % rnd.length])
  const dn = await converged(spec)
  t.teardown(async () => await dn.stopAll())
  const views = new Map<string, CoordinatorView>()
  await settle(dn, Promise.all(dn.list().map(async d => { views.set(d.name, await d.node.coordinator()) })))
  t.deepEqual(checkViews(spec, views, () => true), [])
  // a reservation in the whole network's memory, through the control socket's command
  const client = dn.list()[9]
  const reply = await settle(dn, answerControl(client.node, JSON.stringify({ cmd: 'coordinator', args: ['reserve', '4', '77'] })))
  t.true(reply.ok, JSON.stringify(reply))
  const booked = (reply as { ok: true, result: { newPos: number } }).result
  const top = expectedCoordinator(spec, client.name, 4)!
  await runFor(dn.clock, 5_000) // replicas written
  await dn.stop(top.name)
  const live = (n: string): boolean => n !== top.name
  const oracle = RouteOracle.ofSpec({ ...spec, nodes: spec.nodes.filter(n => live(n.name)), links: spec.links.filter(l => live(l.a) && live(l.b)) })
  t.not(await runUntil(dn.clock, () => mapProblems(dn, oracle, { limit: 1 }).length === 0, { budgetMs: 60_000, stepMs: 250 }), null)
  await dn.syncKernels()
  views.clear()
  await settle(dn, Promise.all(dn.list().map(async d => { views.set(d.name, await d.node.coordinator()) })))
  t.deepEqual(checkViews(spec, views, live), [], 'every daemon names the new servants')
  const topView = views.get(client.name)!.levels.find(l => l.lvl === 4)!
  t.deepEqual(topView.reservations.map(r => [r.reserveRequestId, r.newPos]), [[77, booked.newPos]], 'the booking survived')
  t.regex(formatCoordinator(views.get(client.name)!), /level 4 \(the network\): servant \d\.\d\.\d\.\d nodes 15 .*\n {2}reservation 77: pos \d+ eldership 1 expires in/)
  const peers = client.node.peers()
  t.true(peers.services.some(s => s.pId === 1 && s.answered > 0))
  t.regex(formatPeers(peers), /service 1 participating: requests \d+ answered \d+ failed 0 served \d+ refused 0 latency avg/)
  for (const d of dn.list()) t.is((d.node.counters().peers as { invalid: number }).invalid, 0)
})
