import { buildNetwork, type TopologySpec } from '../../src/sim/topologies'
import { PeersNetwork, type PeersFaults } from '../../src/sim/peers-network'
import { PeerServices, type PeersConfig } from '../../src/peers'
import type { PeersMap } from '../../src/peers/ports'
import { Coordinator, registerCoordinatorMessages, type CoordinatorConfig, type PropagationHandler } from '../../src/coordinator'

export interface CoordNode { readonly peers: PeerServices, readonly coord: Coordinator }

/** A converged QSPN network of `spec` with PeerServices and a Coordinator on every node. */
export async function coordinatorNetwork (spec: TopologySpec, o: {
  seed?: number
  peers?: Partial<PeersConfig>
  coordinator?: Partial<CoordinatorConfig>
  faults?: PeersFaults
  propagation?: (name: string) => PropagationHandler
  subnetLevel?: number
} = {}): Promise<PeersNetwork<CoordNode>> {
  const sim = buildNetwork(spec, { seed: o.seed ?? 1 })
  await sim.runUntilQuiescent()
  const pn = new PeersNetwork<CoordNode>(sim, { seed: o.seed ?? 1, faults: o.faults, registry: registerCoordinatorMessages })
  pn.attachAll((name, ports) => {
    const peers = new PeerServices(ports, { config: o.peers })
    const coord = new Coordinator(peers, { config: o.coordinator, propagation: o.propagation?.(name), subnetLevel: o.subnetLevel })
    return { peers, coord }
  })
  await pn.run(Promise.all([...pn.nodes.values()].map(async n => await n.value.peers.start())))
  return pn
}

/** Lets background work (replications) finish: runs the clock until no node replicates, within a budget. */
export async function settleReplicas (pn: PeersNetwork<CoordNode>, budgetMs = 120_000): Promise<void> {
  const start = pn.clock.now()
  const busy = (): number => [...pn.nodes.values()].reduce((s, n) => s + n.value.coord.replicationsRunning, 0)
  while (pn.clock.now() - start < budgetMs) {
    await pn.runFor(200)
    if (busy() === 0) return
  }
  throw new Error(`replications still running after ${budgetMs} ms`)
}

/**
 * A map that shows nothing of the network while `blind()` holds, as a young identity's map over slow links: no
 * destination, no path, one node inside; the rest is `seen`'s.
 */
export function youngMap (seen: PeersMap, blind: () => boolean): PeersMap {
  return {
    gsizes: seen.gsizes,
    get naddr () { return seen.naddr },
    isBootstrapComplete: () => seen.isBootstrapComplete(),
    knownDestinations: lvl => blind() ? [] : seen.knownDestinations(lvl),
    pathsTo: (lvl, pos) => blind() ? [] : seen.pathsTo(lvl, pos),
    nodesInside: lvl => blind() ? 1 : seen.nodesInside(lvl),
    fingerprintId: lvl => seen.fingerprintId(lvl),
    neighbourNaddr: arcId => seen.neighbourNaddr(arcId)
  }
}
