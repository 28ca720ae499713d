import { type HCoord, type Naddr, formatHCoord, formatNaddr, cidrGlobalOf } from '../addressing'
import { firstMainIdentity, IdentityArcs, type Identity } from '../identities'
import type { Kernel } from '../kernel/kernel'
import { type KernelState, type NamespaceState, type RouteItem, SYSTEM_NS, TABLE_MAIN, canonicalState, emptyNamespace, keyOf } from '../kernel/state'
import { Neighborhood, TIMER_PROFILES, registerNeighborhoodMessages, type Arc, type NicCarrier, type NicInfo } from '../neighborhood'
import { DEFAULT_QSPN_CONFIG, LAB_QSPN_CONFIG } from '../qspn/config'
import { QspnManager } from '../qspn/manager'
import { TransportQspnMessenger, registerQspnMessages } from '../qspn/transport-messenger'
import { localAddressSet, mainIdentityState, routeChoices, routeStateKey, routesInputFromQspn, type RouteChoicesMemo, type RoutesInputMemo } from '../routes'
import type { Transport } from '../transport'
import { MessageRegistry, type WireCounters } from '../wire'
import type { Clock, Ms } from '../util/clock'
import type { Random } from '../util/random'
import type { NodeConfig } from './config'
import { KernelSync } from './kernel-sync'

/** Every message kind ntkd speaks, with its schema (a codec built on it rejects anything else). */
export function ntkdMessageRegistry (): MessageRegistry {
  const r = new MessageRegistry()
  registerNeighborhoodMessages(r)
  registerQspnMessages(r)
  return r
}

/** The ports a node runs on (DESIGN §3): the same node code runs over real sockets and kernel, or in memory. */
export interface NodePorts {
  /** Built on a codec from `ntkdMessageRegistry()`; started; the node closes it on stop. */
  readonly transport: Transport
  /** The node applies its desired state to it and empties it on stop. */
  readonly kernel: Kernel
  readonly clock: Clock
  readonly random: Random
  /** MAC of each managed NIC. */
  readonly macOf: (nic: string) => string
  /** The codec's counters, for `ntkctl counters`. */
  readonly wireCounters?: WireCounters
  readonly log?: (line: string) => void
  /** Carrier of a managed NIC (real NICs: sysfsCarrier): arcs of a NIC that lost it go at once. */
  readonly nicCarrier?: NicCarrier
}

export interface NodeOptions {
  /** Minimum time between two kernel applies caused by QSPN events (coalescing). */
  readonly kernelIntervalMs?: Ms
}

export interface ArcView {
  readonly id: string
  readonly dev: string
  readonly peerMac: string
  readonly peerLinkLocal: string
  readonly cost: number
  /** The neighbour's address, top level first, once its first ETP arrived. */
  readonly peerAddress: string | null
}

export interface DestinationView {
  readonly hc: HCoord
  /** "(lvl,pos)" */
  readonly name: string
  /** null for a g-node at a virtual position (a connectivity identity's): it has no IPv4 CIDR and no route. */
  readonly cidr: string | null
  readonly paths: ReadonlyArray<{ readonly arc: string, readonly cost: number, readonly hops: string[] }>
}

export interface NodeStatus {
  readonly address: string
  readonly topology: string
  readonly global: string | null
  readonly bootstrapComplete: boolean
  readonly identities: ReadonlyArray<{ readonly id: string, readonly kind: string, readonly netns: string, readonly address: string, readonly fingerprint: number }>
  readonly nics: ReadonlyArray<{ readonly name: string, readonly mac: string, readonly linkLocal: string | null }>
  readonly arcs: number
  readonly destinations: number
  readonly counters: NodeCounters
}

/** One identity with its identity-arcs (ntkctl identities). */
export interface IdentityView {
  readonly id: string
  readonly kind: string
  /** '' for the default namespace. */
  readonly netns: string
  readonly address: string
  readonly fingerprint: { readonly id: number, readonly elderships: readonly number[] }
  readonly arcs: ReadonlyArray<{ readonly id: string, readonly dev: string, readonly peerLinkLocal: string, readonly cost: number, readonly peerAddress: string | null }>
}

export interface NodeCounters {
  readonly wire: unknown
  readonly neighborhood: unknown
  readonly qspn: unknown
  readonly qspnTransport: unknown
  readonly kernel: unknown
}

/** A running ntkd: queries for ntkctl, and stop. */
export interface RunningNode {
  readonly identity: Identity
  status (): NodeStatus
  arcs (): ArcView[]
  identities (): IdentityView[]
  map (): DestinationView[]
  /** The desired state of the last apply and what the kernel holds now, both canonical. */
  kernel (): Promise<{ desired: unknown, actual: unknown }>
  counters (): NodeCounters
  /** The desired kernel state as of now (tests compare it with the kernel). */
  desiredState (): KernelState
  /** Applies now what is pending (tests; the daemon coalesces on its own). */
  syncKernel (): Promise<void>
  /** Graceful stop: kernel state removed, sockets closed. */
  stop (): Promise<void>
}

/**
 * Starts one ntkd (spec §11) for a configured address (create_net semantics: bootstrap is immediate):
 * Neighborhood (link-locals, host routes, arcs), QSPN of the main identity carried over the Transport, and the
 * kernel kept equal to neighbourhood contribution + main identity state (addresses, ntk and ntk_from tables).
 */
export async function startNode (config: NodeConfig, ports: NodePorts, o: NodeOptions = {}): Promise<RunningNode> {
  const { transport, kernel, clock, random } = ports
  const log = ports.log ?? (() => {})
  const topology = config.topology
  const identity = firstMainIdentity(topology, config.naddr, random)
  const nicInfos: NicInfo[] = config.interfaces.map(name => ({ name, mac: ports.macOf(name).toUpperCase() }))
  const arcs = new IdentityArcs()
  const lab = config.timers === 'lab'
  const neighbourTimers = TIMER_PROFILES[config.timers]

  const messenger = new TransportQspnMessenger(transport, { timeoutMs: neighbourTimers.unicastTimeoutMs * 4 })
  const qspn = QspnManager.createNet({ clock, random, messenger },
    { gsizes: topology.gsizes, naddr: identity.naddr, fingerprint: identity.fingerprint },
    lab ? LAB_QSPN_CONFIG : DEFAULT_QSPN_CONFIG)
  const detachQspn = messenger.attach(qspn)

  let neighborhood: Neighborhood | undefined
  const desiredState = (): KernelState => {
    const contrib = neighborhood?.desiredKernelContribution() ?? { addresses: [], hostRoutes: [] }
    const linkLocal = new Map(contrib.addresses.map(a => [a.dev, a.address]))
    const nics = nicInfos.filter(n => linkLocal.has(n.name)).map(n => ({ name: n.name, mac: n.mac, linkLocal: linkLocal.get(n.name) as string }))
    const endpoints = new Map([...arcs.endpoints()].filter(([, e]) => linkLocal.has(e.dev)))
    // Nothing the routes derive from changed (QSPN's routing, arcs and the neighbours' addresses, link-locals and
    // host routes): the last state stands, without computing it again (a change of nodes-inside alone, say).
    const contribKey = `${contrib.addresses.map(a => `${a.dev}/${a.address}`).join(' ')} | ${contrib.hostRoutes.map(r => `${r.dst}/${r.dev}/${r.src}`).join(' ')}`
    const quick = [
      qspn.routingVersion, identity.naddr.join('.'), nics.map(n => `${n.name}/${n.mac}/${n.linkLocal}`).join(' '),
      [...endpoints].map(([id, e]) => `${id}/${e.dev}/${e.peerMac}/${e.peerLinkLocal}/${qspn.getNaddrForArc(id)?.join('.') ?? ''}`).join(' '),
      contribKey
    ].join(' | ')
    if (lastDesired?.quick === quick) return lastDesired.state
    const input = {
      topology, naddr: identity.naddr, nics, anonymize: config.anonymize, serveAnonymous: config.serveAnonymous,
      subnetLevel: config.subnetLevel, ...routesInputFromQspn(qspn, topology.levels, endpoints, inputMemo)
    }
    // Most QSPN changes move no route (an alternative path, a cost): the same state object is then returned, and
    // KernelSync skips the apply. Only destinations whose paths changed are looked at again.
    const choices = routeChoices(input, choicesMemo)
    const key = `${routeStateKey(input, choices)} | ${contribKey}`
    if (lastDesired?.key === key) { lastDesired.quick = quick; return lastDesired.state }
    const state = { namespaces: new Map([[SYSTEM_NS, withNeighbourhood(mainIdentityState(input, choices, lastDesired?.state.namespaces.get(SYSTEM_NS)), contrib)]]) }
    lastDesired = { key, quick, state }
    return state
  }
  let lastDesired: { key: string, quick: string, state: KernelState } | undefined
  const inputMemo: RoutesInputMemo = { perDest: new Map() }
  const choicesMemo: RouteChoicesMemo = { perDest: new Map() }
  const sync = new KernelSync(kernel, desiredState, clock, { minIntervalMs: o.kernelIntervalMs ?? 50, rescanMs: config.rescanSeconds * 1000, log })

  neighborhood = new Neighborhood({
    transport, clock, random, syncKernel: async () => await sync.applyNow(), ...(ports.nicCarrier === undefined ? {} : { nicCarrier: ports.nicCarrier })
  }, {
    nics: nicInfos, timers: neighbourTimers, fixedCosts: { byNic: config.costs }
  })
  const nb = neighborhood
  nb.events.onError = (event, e) => { log(`neighborhood ${String(event)} listener failed: ${(e as Error)?.stack ?? String(e)}`) }

  const identityArc = (a: Arc): { id: string, dev: string, peerMac: string, peerLinkLocal: string, cost: number } =>
    ({ id: a.id, dev: a.nic, peerMac: a.peerMac.toUpperCase(), peerLinkLocal: a.peerLinklocal, cost: a.cost ?? 1 })
  const unsubscribe = [
    nb.on('arc_added', a => {
      const ia = identityArc(a)
      arcs.upsert(ia)
      messenger.setArc(ia.id, { nic: ia.dev, linklocal: ia.peerLinkLocal })
      qspn.arcAdd({ id: ia.id, cost: ia.cost })
      log(`arc added ${ia.id} ${ia.peerLinkLocal} cost ${ia.cost}`)
      sync.schedule()
    }),
    nb.on('arc_changed', a => {
      const ia = identityArc(a)
      if (arcs.get(ia.id) === undefined) return
      arcs.upsert(ia)
      messenger.setArc(ia.id, { nic: ia.dev, linklocal: ia.peerLinkLocal })
      qspn.arcIsChanged({ id: ia.id, cost: ia.cost })
      sync.schedule()
    }),
    nb.on('arc_removing', ({ arc }) => {
      // spec §2.8-8: QSPN first (routes over the arc go), then the arc and its host route
      if (arcs.remove(arc.id) === undefined) return
      // QSPN may have dropped it first (a neighbour that failed a full-ETP request): it is then gone there already
      if (qspn.arcIds().includes(arc.id)) qspn.arcRemove(arc.id)
      messenger.removeArc(arc.id)
      log(`arc removed ${arc.id}`)
      sync.schedule()
    }),
    qspn.events.on('path_added', () => { sync.schedule() }),
    qspn.events.on('path_changed', () => { sync.schedule() }),
    qspn.events.on('path_removed', () => { sync.schedule() }),
    qspn.events.on('destination_added', () => { sync.schedule() }),
    qspn.events.on('destination_removed', () => { sync.schedule() }),
    // communication over the arc failed: QSPN dropped it; drop the physical arc too (§4.9)
    qspn.events.on('arc_removed', ({ arcId }) => { void nb.removeArc(arcId) })
  ]

  await nb.start()
  await sync.applyNow()

  let stopped: Promise<void> | undefined
  const counters = (): NodeCounters => ({
    wire: ports.wireCounters?.snapshot() ?? null,
    neighborhood: nb.stats,
    qspn: { ...qspn.stats },
    qspnTransport: { ...messenger.stats },
    kernel: { ...sync.stats }
  })
  const nicView = (): NodeStatus['nics'] => {
    const ll = new Map(nb.desiredKernelContribution().addresses.map(a => [a.dev, a.address]))
    return nicInfos.map(n => ({ name: n.name, mac: n.mac, linkLocal: ll.get(n.name) ?? null }))
  }
  // the main identity's address is configured: it never changes while the daemon runs
  const mainView = { id: identity.id, kind: identity.kind, netns: identity.netns, address: formatNaddr(identity.naddr, '.') }
  const addr = (n: Naddr | null): string | null => n === null ? null : formatNaddr(n, '.')
  const arcViews = (): ArcView[] => arcs.list().map(a => ({ ...a, peerAddress: addr(qspn.getNaddrForArc(a.id)) }))
  const map = (): DestinationView[] => {
    const out: DestinationView[] = []
    for (let lvl = topology.levels - 1; lvl >= 0; lvl--) {
      for (const hc of qspn.getKnownDestinations(lvl)) {
        out.push({
          hc,
          name: formatHCoord(hc),
          cidr: hc.pos < topology.gsizes[hc.lvl] ? cidrGlobalOf(topology, identity.naddr, hc) : null,
          paths: qspn.getPathsTo(hc).map(p => ({ arc: p.arcId, cost: p.cost, hops: p.hops.map(formatHCoord) }))
        })
      }
    }
    return out
  }
  return {
    identity,
    status: () => {
      const local = localAddressSet({ topology, naddr: identity.naddr, main: true, serveAnonymous: config.serveAnonymous, subnetLevel: config.subnetLevel })
      return {
        address: mainView.address,
        topology: topology.toString(),
        global: local.global,
        bootstrapComplete: qspn.isBootstrapComplete(),
        identities: [{ ...mainView, fingerprint: identity.fingerprint.id }],
        nics: nicView(),
        arcs: arcs.list().length,
        destinations: Array.from({ length: topology.levels }, (_, lvl) => qspn.getKnownDestinations(lvl).length).reduce((a, b) => a + b, 0),
        counters: counters()
      }
    },
    arcs: () => arcViews(),
    identities: () => [{
      ...mainView,
      fingerprint: { id: identity.fingerprint.id, elderships: [...identity.fingerprint.elderships] },
      arcs: arcViews().map(a => ({ id: a.id, dev: a.dev, peerLinkLocal: a.peerLinkLocal, cost: a.cost, peerAddress: a.peerAddress }))
    }],
    map,
    kernel: async () => {
      const desired = sync.lastDesired ?? desiredState()
      return { desired: canonicalState(desired), actual: canonicalState(await kernel.read(desired)) }
    },
    counters,
    desiredState,
    syncKernel: async () => await sync.applyNow(),
    stop: async () => {
      stopped ??= (async () => {
        qspn.stop()
        for (const u of unsubscribe) u()
        detachQspn()
        try {
          // neighbours first (remove_arc): they route around us at once, while our own routes still stand
          await nb.stop().catch(e => { log(`neighborhood stop: ${(e as Error).message}`) })
        } finally {
          try {
            // spec §2.8-10: everything the daemon added goes (sysctls stay: they are enforced, not owned)
            await sync.final({ namespaces: new Map([[SYSTEM_NS, emptyNamespace()]]) })
          } finally {
            await transport.close().catch(() => {})
            await kernel.close().catch(() => {})
          }
        }
      })()
      await stopped
    }
  }
}

/** Adds the Neighborhood's link-locals and host routes (also those of arcs still being negotiated) to a namespace. */
function withNeighbourhood (ns: NamespaceState, contrib: ReturnType<Neighborhood['desiredKernelContribution']>): NamespaceState {
  const addresses = [...ns.addresses]
  const haveAddr = new Set(addresses.map(keyOf.address))
  for (const a of contrib.addresses) {
    const item = { dev: a.dev, ip: a.address }
    if (!haveAddr.has(keyOf.address(item))) { addresses.push(item); haveAddr.add(keyOf.address(item)) }
  }
  const routes = [...ns.routes]
  const haveRoute = new Set(routes.filter(r => r.table === TABLE_MAIN).map(keyOf.route))
  for (const r of contrib.hostRoutes) {
    const item: RouteItem = { table: TABLE_MAIN, dst: `${r.dst}/32`, type: 'unicast', dev: r.dev, src: r.src }
    if (!haveRoute.has(keyOf.route(item))) { routes.push(item); haveRoute.add(keyOf.route(item)) }
  }
  return { ...ns, addresses, routes }
}
