import test from 'ava'
import { Topology, cidrGlobalOf, ipGlobal, maxDistinctGnode, formatNaddr, type Naddr } from '../src/addressing'
import { mainIdentityState, routesInputFromQspn, type ArcEndpoint } from '../src/routes'
import { InMemoryKernel, TableAllocator } from '../src/kernel'
import { buildNetwork, lineTopology, ringTopology, type TopologySpec } from '../src/sim/topologies'

// QSPN maps computed in process become kernel routes: every destination's `ntk` route goes to the
// neighbour on a cheapest path with the right `src`, and each `ntk_from_<MAC>` table avoids that
// neighbour's maximum distinct g-node (§2.5, §4.10).
const topo = Topology.fromBits([2, 1, 1, 1]) // 4·2·2·2
const GSIZES = [2, 2, 2, 4] // the same, level 0 first, as the simulator takes it

const mac = (i: number): string => `02:00:00:00:00:${(i + 1).toString(16).padStart(2, '0').toUpperCase()}`
const ll = (i: number): string => `169.254.0.${i + 1}`

/** Per node: arcs by QSPN arc id (one NIC per link, named after the peer's index) and its NICs. */
function endpoints (spec: TopologySpec, net: ReturnType<typeof buildNetwork>, i: number): { arcs: Map<string, ArcEndpoint>, nics: Array<{ name: string, mac: string, linkLocal: string }> } {
  const index = new Map(spec.nodes.map((n, k) => [n.name, k]))
  const me = spec.nodes[i].name
  const arcs = new Map<string, ArcEndpoint>()
  const nics: Array<{ name: string, mac: string, linkLocal: string }> = []
  for (const l of net.links()) {
    if (l.a !== me && l.b !== me) continue
    const peer = index.get(l.a === me ? l.b : l.a) as number
    const dev = `eth${peer}`
    arcs.set(l.a === me ? l.arcAtA : l.arcAtB, { dev, peerMac: mac(peer), peerLinkLocal: ll(peer) })
    nics.push({ name: dev, mac: mac(i), linkLocal: ll(i) })
  }
  return { arcs, nics }
}

async function kernelStatesOf (spec: TopologySpec): Promise<Array<ReturnType<typeof mainIdentityState>>> {
  const net = buildNetwork(spec, { seed: 11 })
  await net.runUntilQuiescent()
  return spec.nodes.map((n, i) => {
    const { arcs, nics } = endpoints(spec, net, i)
    const input = routesInputFromQspn(net.node(n.name).manager, topo.levels, arcs)
    return mainIdentityState({ topology: topo, naddr: n.naddr, nics, ...input })
  })
}

test('line of 4 spanning levels 0 and 1: ntk routes follow the line, with src, others unreachable', async t => {
  const spec = lineTopology(4, GSIZES)
  const states = await kernelStatesOf(spec)
  spec.nodes.forEach((me, i) => {
    const ntk = states[i].routes.filter(r => r.table === 'ntk')
    for (const [j, other] of spec.nodes.entries()) {
      if (j === i) continue
      const hc = maxDistinctGnode(me.naddr, other.naddr)
      if (hc === null) throw new Error('same address')
      const dst = cidrGlobalOf(topo, me.naddr, hc)
      const next = i + Math.sign(j - i)
      t.deepEqual(ntk.find(r => r.dst === dst), { table: 'ntk', dst, type: 'unicast', via: ll(next), dev: `eth${next}`, src: ipGlobal(topo, me.naddr) },
        `${formatNaddr(me.naddr)} → ${formatNaddr(other.naddr)} (${dst})`)
    }
    // The four members make up g-nodes at levels 0 and 1 only: the 4 upper destinations do not exist.
    // (2,1) has 3 CIDRs (global, anonymizing, internal in level 3), (3,1..3) 2 each: 9 unreachable.
    t.is(ntk.filter(r => r.type === 'unreachable').length, 9, `${formatNaddr(me.naddr)}: level 2 and 3 destinations are unreachable`)
    t.is(ntk.filter(r => r.type === 'unicast').length, 9, `${formatNaddr(me.naddr)}: 5 CIDRs for its level-0 sibling, 4 for the other level-1 g-node`)
  })
})

test('ring of 6: ntk_from tables never send a packet back towards the g-node it came from', async t => {
  const spec = ringTopology(6, GSIZES)
  const states = await kernelStatesOf(spec)
  spec.nodes.forEach((me, i) => {
    const neighbours = [(i + 5) % 6, (i + 1) % 6]
    for (const v of neighbours) {
      const table = `ntk_from_${mac(v)}`
      const routes = states[i].routes.filter(r => r.table === table)
      t.true(routes.some(r => r.type === 'unicast'), `${formatNaddr(me.naddr)} forwards for ${mac(v)} through its other neighbour`)
      for (const r of routes) {
        t.is(r.src, undefined, 'forwarding routes carry no src')
        if (r.type === 'unicast') t.not(r.via, ll(v), `${table} ${r.dst} does not bounce back to ${ll(v)}`)
      }
    }
  })
})

test('the desired state applies to the in-memory kernel and a repeated apply does nothing', async t => {
  const spec = lineTopology(4, GSIZES)
  const [first] = await kernelStatesOf(spec)
  const kernel = new InMemoryKernel({ allocator: new TableAllocator(), devices: ['lo', 'eth1'] })
  const desired = { namespaces: new Map([['', first]]) }
  await kernel.apply(desired)
  t.true((kernel.lastApplyStats?.ops ?? 0) > 0)
  await kernel.apply(desired)
  t.is(kernel.lastApplyStats?.ops, 0)
  const naddr: Naddr = spec.nodes[0].naddr
  t.true((await kernel.read()).namespaces.get('')?.routes.some(r => r.table === 'ntk' && r.type === 'unicast' && r.src === ipGlobal(topo, naddr)) ?? false)
})
