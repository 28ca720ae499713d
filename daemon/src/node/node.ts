import { IDENTITY_AUDIT_INTERVAL_MS, IdentityArcAudit, IdentityDemux, IdentityManager, firstFingerprint, registerIdentityMessages, type HandledNic, type IdentityArc } from '../identities'
import type { Kernel } from '../kernel/kernel'
import { type KernelState, type NamespaceState, type RouteItem, SYSTEM_NS, TABLE_MAIN, emptyNamespace, keyOf } from '../kernel/state'
import { Neighborhood, TIMER_PROFILES, registerNeighborhoodMessages, type Arc, type CarrierChanges, type NicCarrier, type NicInfo } from '../neighborhood'
import { DEFAULT_QSPN_CONFIG, LAB_QSPN_CONFIG } from '../qspn/config'
import { registerQspnMessages } from '../qspn/transport-messenger'
import { CONTACT_KINDS, registerPeersMessages, type PeersView } from '../peers'
import { registerCoordinatorMessages } from '../coordinator/messages'
import { HookingManager, LAB_HOOKING_CONFIG, DEFAULT_HOOKING_CONFIG, registerHookingMessages, type HookingHost, type HookingIdentity } from '../hooking'
import type { Naddr } from '../addressing'
import type { Transport } from '../transport'
import { MessageRegistry, type WireCounters } from '../wire'
import type { Clock, Ms } from '../util/clock'
import { RETHROW_LISTENER_ERRORS, type ListenerErrorHandler } from '../util/listener-errors'
import type { Random } from '../util/random'
import { plainLog, type ComponentLog, type LogComponent } from '../util/logger'
import type { NodeConfig } from './config'
import { IdentityRuntime, type RuntimeContext } from './identity-runtime'
import { KernelSync } from './kernel-sync'
import { NodeOperations } from './operations'
import type { CoordinatorView } from './peers-attach'
import { nodeViews, type ArcView, type DestinationView, type IdentityView, type NodeCounters, type NodeStatus } from './views'

export type { ArcView, DestinationView, IdentityView, NodeCounters, NodeStatus } from './views'

/** Every message kind ntkd speaks, with its schema (a codec built on it rejects anything else). */
export function ntkdMessageRegistry (): MessageRegistry {
  const r = new MessageRegistry()
  registerNeighborhoodMessages(r)
  registerIdentityMessages(r)
  registerQspnMessages(r)
  registerPeersMessages(r)
  registerCoordinatorMessages(r)
  registerHookingMessages(r)
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
  /** Each component's log (ntkd: a Logger's); without it every line goes to `log` as it is. */
  readonly logger?: (component: LogComponent) => ComponentLog
  /** Carrier of a managed NIC (real NICs: sysfsCarrier): arcs of a NIC that lost it go at once. */
  readonly nicCarrier?: NicCarrier
  /** When NICs may have changed (real NICs: ipMonitorCarrierChanges): the carrier is read at once. */
  readonly carrierChanges?: CarrierChanges
}

export interface NodeOptions {
  /** Minimum time between two kernel applies caused by QSPN events (coalescing). */
  readonly kernelIntervalMs?: Ms
}

/** A running ntkd: queries for ntkctl, the operator's operations, and stop. */
export interface RunningNode {
  status (): NodeStatus
  arcs (): ArcView[]
  identities (): IdentityView[]
  /** The map of one identity (the main one by default): every known destination with its paths. */
  map (identity?: string): DestinationView[]
  /** The desired state of the last apply and what the kernel holds now, both canonical. */
  kernel (): Promise<{ desired: unknown, actual: unknown }>
  counters (): NodeCounters
  /** PeerServices of the main identity: services, participants, request counters, latencies (ntkctl peers). */
  peers (): PeersView
  /** The Coordinator of each of the main identity's g-nodes and its shared memory (ntkctl coordinator). */
  coordinator (): Promise<CoordinatorView>
  /** ntkctl coordinator reserve LVL ID | delete-reserve LVL ID. */
  coordinatorCommand (args: readonly string[]): Promise<unknown>
  /** The desired kernel state as of now (tests compare it with the kernel). */
  desiredState (): KernelState
  /** Applies now what is pending (tests; the daemon coalesces on its own). */
  syncKernel (): Promise<void>
  /** The proof of concept's operations on identities (entries, migrations, qspn-arcs, dismissal). */
  readonly ops: NodeOperations
  /** The system's parts, for tests and the operations. */
  readonly system: NodeSystem
  /** Graceful stop: kernel state removed, sockets closed. */
  stop (): Promise<void>
}

/**
 * The system part of a running ntkd (spec §11, DESIGN "a system of identities"): NICs, Transport, Neighborhood,
 * Identities with its demultiplexer, the kernel sync, and the runtime of each identity. The desired kernel state is
 * the fold of every identity's namespace state plus the Neighborhood's contribution to the default namespace.
 */
export class NodeSystem {
  readonly runtimes = new Map<string, IdentityRuntime>()
  readonly neighborhood: Neighborhood
  readonly identities: IdentityManager
  /** Repairs identity-arcs a lost message left out of step (IDENTITY_AUDIT_INTERVAL_MS: 10 s with lab timers, 5 min otherwise). */
  readonly #audit: IdentityArcAudit
  readonly demux: IdentityDemux
  readonly sync: KernelSync
  readonly ctx: RuntimeContext
  readonly hooking: HookingManager
  readonly listenerErrors = { count: 0, last: null as string | null }
  /** Namespaces whose state holds still while an identity in them is being replaced (duplication in progress). */
  readonly #frozen = new Set<string>()
  readonly #costs = new Map<string, number>()
  #last: { key: string, state: KernelState } | undefined
  readonly #detachContact: () => void

  constructor (readonly config: NodeConfig, readonly ports: NodePorts, o: NodeOptions) {
    const { transport, kernel, clock, random } = ports
    const log = this.log
    const daemonLog = this.logOf('daemon')
    const nicInfos: NicInfo[] = config.interfaces.map(name => ({ name, mac: ports.macOf(name).toUpperCase() }))
    const onListenerError: ListenerErrorHandler = (event, error) => {
      this.listenerErrors.count++
      this.listenerErrors.last = `${event}: ${error instanceof Error ? error.message : String(error)}`
      daemonLog.error(`listener of ${event} threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
      if (RETHROW_LISTENER_ERRORS) throw error
    }
    this.sync = new KernelSync(kernel, () => this.desiredState(), clock, { minIntervalMs: o.kernelIntervalMs ?? 50, rescanMs: config.rescanSeconds * 1000, log: this.logOf('kernel') })
    this.sync.onListenerError = onListenerError
    const neighbourTimers = TIMER_PROFILES[config.timers]
    this.neighborhood = new Neighborhood({
      transport, clock, random, syncKernel: async () => await this.sync.applyNow(), ...(ports.nicCarrier === undefined ? {} : { nicCarrier: ports.nicCarrier }), ...(ports.carrierChanges === undefined ? {} : { carrierChanges: ports.carrierChanges })
    }, { nics: nicInfos, timers: neighbourTimers, fixedCosts: { byNic: config.costs }, linkLocals: config.linkLocals })
    this.neighborhood.events.onError = onListenerError
    const realNic = (dev: string): HandledNic | undefined => {
      const ll = this.neighborhood.desiredKernelContribution().addresses.find(a => a.dev === dev)?.address
      const info = nicInfos.find(n => n.name === dev)
      return ll === undefined || info === undefined ? undefined : { dev, realDev: dev, mac: info.mac, linkLocal: ll }
    }
    const unicastTimeoutMs = neighbourTimers.unicastTimeoutMs * 4
    this.identities = new IdentityManager({
      transport, clock, random, realNic, realNics: () => [...config.interfaces], syncKernel: async () => await this.sync.applyNow(), log: this.logOf('identities'), timeoutMs: unicastTimeoutMs
    })
    this.identities.events.onError = onListenerError
    this.#audit = new IdentityArcAudit(this.identities, clock, IDENTITY_AUDIT_INTERVAL_MS[config.timers], this.logOf('identities'))
    this.demux = new IdentityDemux(transport, clock, (config.timers === 'lab' ? LAB_QSPN_CONFIG : DEFAULT_QSPN_CONFIG).arcTimeoutMs, log)
    this.hooking = new HookingManager(this.#hookingHost(), config.timers === 'lab' ? LAB_HOOKING_CONFIG : DEFAULT_HOOKING_CONFIG)
    this.hooking.events.onError = onListenerError
    this.ctx = {
      config,
      topology: config.topology,
      identities: this.identities,
      transport,
      clock,
      random,
      qspnConfig: config.timers === 'lab' ? LAB_QSPN_CONFIG : DEFAULT_QSPN_CONFIG,
      unicastTimeoutMs,
      arcCost: arcId => this.#costs.get(arcId) ?? 1,
      scheduleSync: () => this.sync.schedule(),
      onListenerError,
      log,
      logOf: c => this.logOf(c),
      hooking: this.hooking
    }
    // PeerServices' messages routed to this system's addresses (contact back to a client): only the main identity
    // has addresses, so they are its own
    this.#detachContact = transport.onMessage(async (m, caller) => {
      if (caller.via !== 'routed' || !CONTACT_KINDS.has(m.kind)) return undefined
      const main = this.runtimes.get(this.identities.mainId)
      return main === undefined ? undefined : await main.peersPorts.handleContact(m)
    })
  }

  /** The system's own lines (identities and their operations). */
  readonly log = (line: string): void => { this.logOf('identities')(line) }

  readonly #logs = new Map<LogComponent, ComponentLog>()
  /** Identities whose namespace state could not be made, with the last error (logged when it changes). */
  readonly #stateFailures = new Map<string, string>()
  /** The log of one component: the ports' logger's, or the plain `log` of the ports. */
  logOf (component: LogComponent): ComponentLog {
    let l = this.#logs.get(component)
    if (l === undefined) {
      l = this.ports.logger?.(component) ?? plainLog(component, line => { this.ports.log?.(line) })
      this.#logs.set(component, l)
    }
    return l
  }

  /** What Hooking acts through: the main identity, the identity-arcs, the operations of an entry. */
  #hookingHost (): HookingHost {
    const view = (r: IdentityRuntime | undefined): HookingIdentity | undefined => r === undefined
      ? undefined
      : { id: r.identity.id, index: r.identity.index, naddr: r.naddr, elderships: r.fingerprint.elderships, qspn: r.qspn, coordinator: r.peers.coordinator, peers: r.peers.peers, isMain: r.isMain }
    const runtime = (id: string): IdentityRuntime => {
      const r = this.runtimes.get(id)
      if (r === undefined) throw new RangeError(`no identity ${id}`)
      return r
    }
    return {
      topology: this.config.topology,
      subnetLevel: this.config.subnetLevel,
      clock: this.ports.clock,
      random: this.ports.random,
      log: this.logOf('hooking'),
      main: () => view(this.runtimes.get(this.identities.mainId)),
      identity: id => view(this.runtimes.get(id)),
      arcs: id => this.identities.arcsOf(id).map(a => ({ id: a.id, peerId: a.peerId, peerMac: a.peerMac })),
      isQspnArc: (id, arcId) => this.runtimes.get(id)?.qspnArcs.has(arcId) === true,
      addQspnArc: (id, arcId) => { runtime(id).addQspnArc(arcId) },
      request: async (id, arcId, m, timeoutMs) => await runtime(id).request(arcId, m, timeoutMs),
      prepareEnter: (id, opId) => { this.ops().prepareDuplication('enter', id, opId) },
      enter: async (id, move, opId, externalArcs) => {
        const ops = this.ops()
        ops.prepareEnterNet(id, { ...move, externalArcs, opId, prevOpId: null })
        return (await ops.enterNetPhase1(id, opId)).id
      },
      prepareMigrate: (id, opId) => { this.ops().prepareDuplication('migrate', id, opId) },
      migrate: async (id, move, opId) => {
        const ops = this.ops()
        ops.prepareMigrate(id, { ...move, opId, prevOpId: null })
        return (await ops.migratePhase1(id, opId)).id
      },
      dismiss: async id => { await this.ops().removeIdentity(id) },
      // QSPN drops the arcs with arc_removed: the identity-arcs go (the neighbours told) and are made again later
      exitNetwork: (id, level) => { const gone = runtime(id).qspn.exitNetwork(level); this.sync.schedule(); return gone },
      ensureMainArcs: async () => { await this.identities.ensureMainArcs() }
    }
  }

  /** The main identity a duplication under way replaces (its new identity has no runtime until the duplication returns). */
  #replacedMain: string | undefined
  get main (): IdentityRuntime {
    // during a duplication the new main identity exists a moment (seconds, under load) before its runtime: the one it
    // replaces answers for it meanwhile (in the default namespace still, or already moved)
    const r = this.runtimes.get(this.identities.mainId) ?? (this.#replacedMain === undefined ? undefined : this.runtimes.get(this.#replacedMain))
    if (r === undefined) throw new Error(`the main identity ${this.identities.mainId} has no runtime (runtimes: ${[...this.runtimes.values()].map(x => `${x.identity.index}/${x.identity.id.slice(0, 6)}${x.local.netns === '' ? '' : ` in ${x.local.netns}`}`).join(', ') || 'none'})`)
    return r
  }

  /** Registers a runtime with the demultiplexer and wires its QSPN signals to the system. */
  addRuntime (r: IdentityRuntime): void {
    this.runtimes.set(r.identity.id, r)
    this.demux.register(r.identity.id, {
      arcFrom: (dev, peerId) => this.identities.arcFrom(r.identity.id, dev, peerId)?.id,
      handle: async (arcId, m) => await r.handle(arcId, m)
    })
    // communication over the arc failed (or a connectivity identity dropped it): QSPN dropped it already; the
    // identity-arc goes (telling the neighbour), or the physical arc when the link itself looks broken (§4.9) -
    // judged only on the arc between the real NICs: a pseudo-interface's trouble says nothing of the link
    r.qspn.events.on('arc_removed', ({ arcId, badLink }) => {
      r.dropQspnArc(arcId, true)
      const ia = this.identities.arcOf(r.identity.id, arcId)
      this.logOf('qspn')(`identity ${r.identity.index}: QSPN dropped arc ${arcId}${badLink ? ' (bad link)' : ''}`)
      if (ia === undefined) return
      const realToReal = r.isMain && this.neighborhood.arcs().some(a => a.id === ia.arcId && a.peerLinklocal === ia.peerLinkLocal)
      if (badLink && realToReal) { void this.neighborhood.removeArc(ia.arcId).catch(e => { this.logOf('neighborhood')(`remove arc ${ia.arcId}: ${(e as Error).message}`) }); return }
      void this.identities.removeIdentityArc(r.identity.id, arcId).catch(e => { this.log(`remove identity-arc ${arcId}: ${(e as Error).message}`) })
      // the link is fine (the neighbour refused a request, say): the identity-arc between the main identities is
      // made again a moment later, as the physical arc would be, so the two never stay apart for good
      if (realToReal) this.#remakeMainArcsLater()
    })
    r.qspn.events.on('gnode_splitted', ({ arcId, hc, fingerprintId }) => {
      this.logOf('qspn')(`identity ${r.identity.index}: g-node ${hc.lvl}:${hc.pos} split, the island with fingerprint ${fingerprintId} is over arc ${arcId}`)
      if (r.isMain) this.hooking.gnodeSplitted(r.identity.id, arcId, hc, fingerprintId)
    })
    r.qspn.events.on('remove_identity', () => { void this.ops().removeIdentity(String(r.identity.index)).catch(e => { this.log(`remove identity ${r.identity.index}: ${(e as Error).message}`) }) })
  }

  #remakeTimer: (() => void) | null = null
  #remakeMainArcsLater (): void {
    if (this.#remakeTimer !== null || this.#stopping) return
    this.#remakeTimer = this.ports.clock.setTimer(this.ctx.unicastTimeoutMs, () => {
      this.#remakeTimer = null
      if (this.#stopping) return
      void this.identities.ensureMainArcs().catch(e => { this.log(`main identity-arcs: ${(e as Error).message}`) })
    })
  }

  removeRuntime (id: string): void {
    const r = this.runtimes.get(id)
    if (r === undefined) return
    r.stop()
    this.runtimes.delete(id)
    this.log(`identity ${r.identity.index} (${id.slice(0, 6)}) stopped${id === this.identities.mainId ? ', although it is the main identity' : ''}`)
  }

  /** While frozen, a namespace keeps the state applied last (its identity is being replaced). */
  freeze (netns: string): void { this.#frozen.add(netns) }
  unfreeze (netns: string): void { this.#frozen.delete(netns); this.sync.schedule() }

  /** The fold of every identity's namespace, plus the Neighborhood's link-locals and host routes in the default one. */
  desiredState (): KernelState {
    const contrib = this.neighborhood.desiredKernelContribution()
    const byNs = new Map<string, NamespaceState>()
    const applied = this.sync.lastDesired
    for (const r of this.runtimes.values()) {
      const ns = r.local.netns
      if (this.#frozen.has(ns)) continue
      try {
        byNs.set(ns, r.namespaceState())
        this.#stateFailures.delete(r.identity.id)
      } catch (e) {
        // one identity whose state cannot be made keeps its namespace as last applied, and the other identities'
        // namespaces go on being applied (a connectivity identity left with an all-real address once stopped every
        // apply of its node for good, its main identity's routes included)
        const held = applied?.namespaces.get(ns)
        if (held === undefined) throw e
        byNs.set(ns, held)
        const message = (e as Error).message
        if (this.#stateFailures.get(r.identity.id) !== message) this.logOf('kernel')(`identity ${r.identity.index} (${ns === '' ? 'default namespace' : ns}): its desired state failed, its namespace is kept as last applied: ${message}`)
        this.#stateFailures.set(r.identity.id, message)
      }
    }
    for (const ns of this.#frozen) {
      const held = applied?.namespaces.get(ns)
      if (held !== undefined) byNs.set(ns, held)
    }
    // the same object while every namespace's state is the same object: KernelSync then skips the apply
    const key = [...byNs].map(([ns, s]) => `${ns}:${objectId(s)}`).join(' ') + ` | ${contribKey(contrib)}`
    if (this.#last?.key === key) return this.#last.state
    const base = byNs.get(SYSTEM_NS) ?? emptyNamespace()
    byNs.set(SYSTEM_NS, this.#frozen.has(SYSTEM_NS) ? base : withNeighbourhood(base, contrib))
    const state: KernelState = { namespaces: byNs }
    this.#last = { key, state }
    return state
  }

  #ops: NodeOperations | undefined
  ops (): NodeOperations { return (this.#ops ??= new NodeOperations(this)) }

  /** Wires the Neighborhood and Identities events, then starts. */
  async start (): Promise<void> {
    const nb = this.neighborhood
    const ids = this.identities
    const physical = (a: Arc): { id: string, nic: string, peerMac: string, peerLinkLocal: string } => ({ id: a.id, nic: a.nic, peerMac: a.peerMac.toUpperCase(), peerLinkLocal: a.peerLinklocal })
    nb.on('arc_added', a => {
      this.#costs.set(a.id, a.cost ?? 1)
      this.logOf('neighborhood')(`arc added ${a.id} ${a.peerLinklocal} cost ${a.cost ?? 1}`)
      void ids.addArc(physical(a))
      this.sync.schedule()
    })
    nb.on('arc_changed', a => {
      this.#costs.set(a.id, a.cost ?? 1)
      for (const r of this.runtimes.values()) r.arcCostChanged(a.id, a.cost ?? 1)
      this.sync.schedule()
    })
    nb.on('arc_removing', ({ arc }) => {
      // spec §2.8-8: QSPN first (routes over the arc go), then the identity-arcs and the host route
      this.#costs.delete(arc.id)
      ids.removeArc(arc.id)
      this.logOf('neighborhood')(`arc removed ${arc.id}`)
      this.sync.schedule()
    })
    ids.on('identity_arc_added', ({ arc, qspn }) => {
      this.log(`identity-arc added ${describeArc(arc)}${qspn === true ? ' (qspn)' : ''}`)
      this.demux.arcAdded(arc.identityId)
      const r = this.runtimes.get(arc.identityId)
      // hooking: the neighbour says whether it is in our network first
      if (r !== undefined && !r.qspnArcs.has(arc.id) && qspn !== true && this.config.qspnArcs === 'hooking' && r.isMain) this.hooking.arcAdded(r.identity.id, arc.id)
      if (r !== undefined && !r.qspnArcs.has(arc.id) && (qspn === true || (this.config.qspnArcs === 'auto' && r.isMain))) {
        // QSPN talks over it at once: the host route to the peer's link-local must be in the kernel first (in the
        // default namespace the Neighborhood's is, not in a connectivity identity's)
        const ready = r.isMain ? Promise.resolve() : this.sync.applyNow()
        void ready.then(() => { if (this.identities.arcOf(arc.identityId, arc.id) !== undefined && !r.qspnArcs.has(arc.id)) r.addQspnArc(arc.id) })
      }
      this.sync.schedule()
    })
    ids.on('identity_arc_changed', ({ arc }) => {
      this.log(`identity-arc changed ${describeArc(arc)} (was ${arc.prevPeerMac ?? '?'} ${arc.prevPeerLinkLocal ?? '?'})`)
      this.sync.schedule()
    })
    ids.on('identity_arc_removing', ({ arc }) => { this.runtimes.get(arc.identityId)?.dropQspnArc(arc.id, false) })
    // an identity that moves to a new namespace says nothing until its NICs, link-locals and routes are made and its
    // neighbours know where it went (NodeOperations releases it)
    ids.on('identity_moving', ({ identity }) => {
      if (identity.id === ids.mainId) this.#replacedMain = identity.id
      this.runtimes.get(identity.id)?.messenger.hold()
    })
    // a neighbour of the same moving g-node duplicated after us: the arc between our new identities is internal to
    // the g-node, a qspn-arc as the one between the old ones was
    ids.on('late_arc_pair', ({ oldIdentityId, newIdentityId, pair }) => {
      const fresh = this.runtimes.get(newIdentityId)
      if (fresh !== undefined && this.runtimes.get(oldIdentityId)?.qspnArcs.has(pair.oldArcId) === true && !fresh.qspnArcs.has(pair.newArcId)) fresh.addQspnArc(pair.newArcId)
    })
    ids.on('identity_arc_removed', ({ arc }) => { this.log(`identity-arc removed ${describeArc(arc)}`); this.hooking.arcRemoved(arc.identityId, arc.id); this.sync.schedule() })
    ids.on('identity_removed', ({ identity }) => { this.hooking.identityRemoved(identity.id) })

    const main = ids.identity(ids.mainId)
    if (main === undefined) throw new Error('no main identity')
    // no configured address: a network of our own at random positions, merged by Hooking with those we meet
    const naddr: Naddr = this.config.naddr ?? this.config.topology.gsizes.map(g => this.ports.random.int(g))
    this.addRuntime(new IdentityRuntime(this.ctx, main, naddr, firstFingerprint(this.config.topology, naddr, this.ports.random, this.config.networkId), { kind: 'create' }))
    this.hooking.identityAdded(main.id, { kind: 'create' })
    await nb.start()
    await this.sync.applyNow()
    this.#audit.start()
  }

  #stopping = false
  async stop (): Promise<void> {
    this.#stopping = true
    this.#remakeTimer?.()
    this.#remakeTimer = null
    this.hooking.stop()
    this.#audit.stop()
    for (const r of this.runtimes.values()) r.stop()
    this.#detachContact()
    this.demux.stop()
    this.identities.stop()
    try {
      // neighbours first (remove_arc): they route around us at once, while our own routes still stand
      await this.neighborhood.stop().catch(e => { this.logOf('neighborhood')(`neighborhood stop: ${(e as Error).message}`) })
    } finally {
      try {
        // spec §2.8-10: everything the daemon added goes, nested namespaces too (sysctls stay: enforced, not owned)
        await this.sync.final({ namespaces: new Map([[SYSTEM_NS, emptyNamespace()]]) })
      } finally {
        await this.ports.transport.close().catch(() => {})
        await this.ports.kernel.close().catch(() => {})
      }
    }
  }
}

/**
 * Starts one ntkd (spec §11) for a configured address (create_net semantics: bootstrap is immediate):
 * Neighborhood, Identities, the main identity's QSPN carried over the Transport, and the kernel kept equal to the
 * fold of the identities' states and the Neighborhood's contribution.
 */
export async function startNode (config: NodeConfig, ports: NodePorts, o: NodeOptions = {}): Promise<RunningNode> {
  const system = new NodeSystem(config, ports, o)
  await system.start()
  const views = nodeViews(system)
  let stopped: Promise<void> | undefined
  return {
    ...views,
    desiredState: () => system.desiredState(),
    syncKernel: async () => await system.sync.applyNow(),
    ops: system.ops(),
    system,
    stop: async () => {
      stopped ??= system.stop()
      await stopped
    }
  }
}

function describeArc (a: IdentityArc): string {
  return `${a.id} of identity ${a.identityId.slice(0, 6)} \u2192 ${a.peerId.slice(0, 6)} at ${a.peerMac} ${a.peerLinkLocal}`
}

function contribKey (c: ReturnType<Neighborhood['desiredKernelContribution']>): string {
  return `${c.addresses.map(a => `${a.dev}/${a.address}`).join(' ')} | ${c.hostRoutes.map(r => `${r.dst}/${r.dev}/${r.src}`).join(' ')}`
}

const objectIds = new WeakMap<object, number>()
let nextObjectId = 0
/** A number naming an object for as long as it lives (to notice that a state is the very same object). */
function objectId (o: object): number {
  let n = objectIds.get(o)
  if (n === undefined) { n = ++nextObjectId; objectIds.set(o, n) }
  return n
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
