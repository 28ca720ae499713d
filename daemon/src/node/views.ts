import type { PeersView } from '../peers'
import type { CoordinatorView } from './peers-attach'
import { type HCoord, type Naddr, cidrGlobalOf, formatHCoord, formatNaddr, isRealAddress } from '../addressing'
import { canonicalState } from '../kernel/state'
import { localAddressSet } from '../routes'
import type { IdentityRuntime } from './identity-runtime'
import type { NodeSystem } from './node'

/** An identity-arc of the main identity (ntkctl arcs). */
export interface ArcView {
  readonly id: string
  readonly dev: string
  readonly peerMac: string
  readonly peerLinkLocal: string
  readonly cost: number
  /** The neighbour's address, top level first, once its first ETP arrived (qspn-arcs only). */
  readonly peerAddress: string | null
  /** Handed to QSPN (same network). */
  readonly qspn: boolean
}

export interface DestinationView {
  readonly hc: HCoord
  /** "(lvl,pos)" */
  readonly name: string
  /** Global CIDR, or null while the identity's own address is virtual above that level. */
  readonly cidr: string | null
  readonly paths: ReadonlyArray<{ readonly arc: string, readonly cost: number, readonly hops: string[] }>
}

export interface NodeStatus {
  readonly address: string
  /** The network the main identity is in (its top fingerprint, or the one it entered); null while unknown. */
  readonly networkId: number | null
  readonly topology: string
  readonly global: string | null
  readonly bootstrapComplete: boolean
  readonly identities: ReadonlyArray<{ readonly id: string, readonly index: number, readonly kind: string, readonly netns: string, readonly address: string, readonly fingerprint: number }>
  readonly nics: ReadonlyArray<{ readonly name: string, readonly mac: string, readonly linkLocal: string | null }>
  readonly arcs: number
  readonly destinations: number
  readonly counters: NodeCounters
}

/** One identity with its namespace, connectivity levels, NICs and identity-arcs (ntkctl identities). */
export interface IdentityView {
  readonly id: string
  readonly index: number
  readonly kind: 'main' | 'connectivity'
  /** '' for the default namespace. */
  readonly netns: string
  readonly address: string
  /** Levels whose g-nodes a connectivity identity keeps connected; [0, 0] for the main identity. */
  readonly connectivityLevels: readonly [number, number]
  /** Levels holding a virtual position (top level first in `address`). */
  readonly virtualLevels: number[]
  readonly bootstrapComplete: boolean
  readonly fingerprint: { readonly id: number, readonly elderships: readonly number[] }
  readonly nics: ReadonlyArray<{ readonly dev: string, readonly realDev: string, readonly mac: string, readonly linkLocal: string }>
  readonly arcs: ReadonlyArray<{
    readonly id: string, readonly dev: string, readonly peerId: string, readonly peerMac: string, readonly peerLinkLocal: string,
    readonly prevPeerMac: string | null, readonly qspn: boolean, readonly cost: number, readonly peerAddress: string | null
  }>
}

export interface NodeCounters {
  readonly wire: unknown
  /** Messages the Neighborhood ignored, by reason, and its listeners that threw. */
  readonly neighborhood: unknown
  readonly qspn: unknown
  readonly qspnTransport: unknown
  readonly kernel: unknown
  readonly identities: unknown
  readonly listenerErrors: unknown
  /** PeerServices and Coordinator of the main identity. */
  readonly peers: unknown
  readonly hooking: unknown
}

const addr = (n: Naddr | null): string | null => n === null ? null : formatNaddr(n, '.')

/** The read-only views ntkctl shows, over a running system. */
export function nodeViews (system: NodeSystem): {
  status: () => NodeStatus
  arcs: () => ArcView[]
  identities: () => IdentityView[]
  map: (identity?: string) => DestinationView[]
  kernel: () => Promise<{ desired: unknown, actual: unknown }>
  counters: () => NodeCounters
  peers: () => PeersView
  coordinator: () => Promise<CoordinatorView>
  coordinatorCommand: (args: readonly string[]) => Promise<unknown>
} {
  const { config, identities, ctx } = system
  const topology = config.topology
  const peerAddress = (r: IdentityRuntime, arcId: string): string | null => {
    if (!r.qspnArcs.has(arcId)) return null
    try { return addr(r.qspn.getNaddrForArc(arcId)) } catch { return null }
  }
  const counters = (): NodeCounters => {
    const qspn = { etpReceived: 0, etpRejected: 0, etpIgnored: 0, etpSent: 0, fullEtpRequests: 0 }
    const transport = { sendFailures: 0 }
    for (const r of system.runtimes.values()) {
      for (const k of Object.keys(qspn) as Array<keyof typeof qspn>) qspn[k] += r.qspn.stats[k]
      transport.sendFailures += r.messenger.stats.sendFailures
    }
    return {
      wire: system.ports.wireCounters?.snapshot() ?? null,
      neighborhood: system.neighborhood.stats,
      qspn,
      qspnTransport: transport,
      kernel: { ...system.sync.stats },
      identities: { ...identities.stats, ...system.demux.stats },
      listenerErrors: { ...system.listenerErrors },
      peers: system.main.peers.counters(),
      hooking: { events: system.hooking.events.count }
    }
  }
  const identityViews = (): IdentityView[] => [...system.runtimes.values()].sort((a, b) => a.identity.index - b.identity.index).map(r => {
    const local = r.local
    const virtualLevels = r.naddr.map((p, lvl) => p >= topology.gsizes[lvl] ? lvl : -1).filter(l => l >= 0)
    return {
      id: local.id,
      index: local.index,
      kind: local.netns === '' ? 'main' : 'connectivity',
      netns: local.netns,
      address: formatNaddr(r.naddr, '.'),
      connectivityLevels: r.qspn.connectivityLevels,
      virtualLevels,
      bootstrapComplete: r.qspn.isBootstrapComplete(),
      fingerprint: { id: r.fingerprint.id, elderships: [...r.fingerprint.elderships] },
      nics: identities.nicsOf(local.id).map(n => ({ dev: n.dev, realDev: n.realDev, mac: n.mac, linkLocal: n.linkLocal })),
      arcs: identities.arcsOf(local.id).map(ia => ({
        id: ia.id,
        dev: identities.nicOf(local.id, ia.realDev)?.dev ?? ia.realDev,
        peerId: ia.peerId,
        peerMac: ia.peerMac,
        peerLinkLocal: ia.peerLinkLocal,
        prevPeerMac: ia.prevPeerMac ?? null,
        qspn: r.qspnArcs.has(ia.id),
        cost: ctx.arcCost(ia.arcId),
        peerAddress: peerAddress(r, ia.id)
      }))
    }
  })
  const runtimeOf = (ref?: string): IdentityRuntime => {
    if (ref === undefined) return system.main
    const local = identities.find(ref)
    const r = local === undefined ? undefined : system.runtimes.get(local.id)
    if (r === undefined) throw new RangeError(`no identity ${ref} (give its index, NodeID or namespace)`)
    return r
  }
  const map = (ref?: string): DestinationView[] => {
    const r = runtimeOf(ref)
    const out: DestinationView[] = []
    const real = isRealAddress(topology, r.naddr)
    for (let lvl = topology.levels - 1; lvl >= 0; lvl--) {
      for (const hc of r.qspn.getKnownDestinations(lvl)) {
        out.push({
          hc,
          name: formatHCoord(hc),
          // a virtual g-node (a connectivity identity's position), or one seen from a virtual address, has no CIDR
          cidr: hc.pos < topology.gsizes[lvl] && (real || r.naddr.slice(lvl + 1).every((p, k) => p < topology.gsizes[lvl + 1 + k])) ? cidrGlobalOf(topology, r.naddr, hc) : null,
          paths: r.qspn.getPathsTo(hc).map(p => ({ arc: p.arcId, cost: p.cost, hops: p.hops.map(formatHCoord) }))
        })
      }
    }
    return out
  }
  return {
    status: () => {
      const main = system.main
      const local = localAddressSet({ topology, naddr: main.naddr, main: true, serveAnonymous: config.serveAnonymous, subnetLevel: config.subnetLevel })
      const nics = config.interfaces.map(name => {
        const n = identities.nicOf(main.identity.id, name)
        return { name, mac: n?.mac ?? '', linkLocal: n?.linkLocal ?? null }
      })
      return {
        address: formatNaddr(main.naddr, '.'),
        networkId: system.hooking.networkIdOf(main.identity.id),
        topology: topology.toString(),
        global: local.global,
        bootstrapComplete: main.qspn.isBootstrapComplete(),
        identities: identityViews().map(v => ({ id: v.id, index: v.index, kind: v.kind, netns: v.netns, address: v.address, fingerprint: v.fingerprint.id })),
        nics,
        arcs: identities.arcsOf(main.identity.id).length,
        destinations: Array.from({ length: topology.levels }, (_, lvl) => main.qspn.getKnownDestinations(lvl).length).reduce((a, b) => a + b, 0),
        counters: counters()
      }
    },
    arcs: () => {
      const main = system.main
      return identities.arcsOf(main.identity.id).map(ia => ({
        id: ia.id,
        dev: ia.realDev,
        peerMac: ia.peerMac,
        peerLinkLocal: ia.peerLinkLocal,
        cost: ctx.arcCost(ia.arcId),
        peerAddress: peerAddress(main, ia.id),
        qspn: main.qspnArcs.has(ia.id)
      }))
    },
    identities: identityViews,
    map,
    kernel: async () => {
      const desired = system.sync.lastDesired ?? system.desiredState()
      return { desired: canonicalState(desired), actual: canonicalState(await system.ports.kernel.read(desired)) }
    },
    counters,
    peers: () => system.main.peers.peersView(),
    coordinator: async () => await system.main.peers.coordinatorView(),
    coordinatorCommand: async args => await system.main.peers.coordinatorCommand(args)
  }
}
