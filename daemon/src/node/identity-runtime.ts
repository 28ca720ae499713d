import { type Naddr, type Topology } from '../addressing'
import type { IdentityManager, LocalIdentity } from '../identities'
import { emptyNamespace, type NamespaceState } from '../kernel/state'
import type { QspnConfig } from '../qspn/config'
import type { Fingerprint } from '../qspn/fingerprint'
import { QspnManager, type EntryArgs } from '../qspn/manager'
import { TransportQspnMessenger } from '../qspn/transport-messenger'
import {
  mainIdentityState, routeChoices, routeStateKey, routesInputFromQspn,
  type ArcEndpoint, type MainIdentityInput, type RouteChoicesMemo, type RoutesInputMemo
} from '../routes'
import type { Transport } from '../transport'
import type { WireMessage } from '../wire'
import type { Clock } from '../util/clock'
import type { ListenerErrorHandler } from '../util/listener-errors'
import type { Random } from '../util/random'
import type { NodeConfig } from './config'
import type { LogComponent } from '../util/logger'
import { HOOKING_NEIGHBOUR_KINDS, type HookingManager } from '../hooking'
import { PEERS_NEIGHBOUR_KINDS, attachPeerServices, identityPeersPorts, type AttachedPeers, type IdentityPeersPorts, type PeersArc } from './peers-attach'

/** What an identity's runtime takes from its system. */
export interface RuntimeContext {
  readonly config: NodeConfig
  readonly topology: Topology
  readonly identities: IdentityManager
  readonly transport: Transport
  readonly clock: Clock
  readonly random: Random
  readonly qspnConfig: QspnConfig
  readonly unicastTimeoutMs: number
  /** Cost in µs of a physical arc, as the Neighborhood measured it (or as configured). */
  readonly arcCost: (arcId: string) => number
  /** The kernel should follow this identity's state soon. */
  readonly scheduleSync: () => void
  readonly onListenerError: ListenerErrorHandler
  readonly log: (line: string) => void
  /** A component's log (peers, coordinator); `log` when absent. */
  readonly logOf?: (component: LogComponent) => (line: string) => void
  /** The system's Hooking: it decides on the Coordinator's behalf and reacts to its propagations. */
  readonly hooking: HookingManager
}

/** How a runtime's QSPN instance is made. */
export type QspnStart =
  | { readonly kind: 'create' }
  | { readonly kind: 'enter' | 'migrate', readonly args: Omit<EntryArgs, 'identity' | 'previous'>, readonly previous: IdentityRuntime }

/**
 * One identity of the system at run time (spec §6.1, ntkd's IdentityData): its address and fingerprint, its QSPN
 * instance carried over the transport, which of its identity-arcs are qspn-arcs, and the desired state of its
 * namespace, with the memos that make recomputing it cheap.
 */
export class IdentityRuntime {
  readonly qspn: QspnManager
  readonly messenger: TransportQspnMessenger
  /** PeerServices and the Coordinator of this identity (a connectivity identity only forwards: §5.1). */
  readonly peers: AttachedPeers
  readonly peersPorts: IdentityPeersPorts
  /** Identity-arcs (their ids) that are qspn-arcs: same network, handed to QSPN. */
  readonly qspnArcs = new Set<string>()
  #fingerprint: Fingerprint
  readonly #inputMemo: RoutesInputMemo = { perDest: new Map() }
  readonly #choicesMemo: RouteChoicesMemo = { perDest: new Map() }
  #last: { quick: string, key: string, state: NamespaceState } | undefined
  /**
   * The connectivity position this identity takes while it moves to its own namespace: its kernel state there is
   * made for it from the start (the proof does the same), QSPN takes it a moment later (makeConnectivity).
   */
  #leaving: { level: number, pos: number } | undefined

  constructor (private readonly ctx: RuntimeContext, readonly identity: LocalIdentity, naddr: Naddr, fingerprint: Fingerprint, start: QspnStart) {
    this.#fingerprint = fingerprint
    this.messenger = new TransportQspnMessenger(ctx.transport, () => identity.id, arcId => {
      const ia = ctx.identities.arcOf(identity.id, arcId)
      return ia === undefined ? undefined : { peer: ctx.identities.peerAddress(ia), peerId: ia.peerId }
    }, { timeoutMs: ctx.unicastTimeoutMs })
    const components = { clock: ctx.clock, random: ctx.random, messenger: this.messenger }
    const id = { gsizes: ctx.topology.gsizes, naddr, fingerprint }
    if (start.kind === 'create') {
      this.qspn = QspnManager.createNet(components, id, ctx.qspnConfig)
    } else {
      const a: EntryArgs = { ...start.args, identity: { ...id, isConnectivity: start.previous.qspn.isConnectivity }, previous: start.previous.qspn }
      this.qspn = start.kind === 'enter' ? QspnManager.enterNet(components, a, ctx.qspnConfig) : QspnManager.migration(components, a, ctx.qspnConfig)
      for (const ia of a.internalArcs) this.qspnArcs.add(ia.arc.id)
      for (const arc of a.externalArcs) this.qspnArcs.add(arc.id)
    }
    this.qspn.events.onError = ctx.onListenerError
    this.messenger.attach(this.qspn)
    this.peersPorts = identityPeersPorts({
      transport: ctx.transport,
      topology: ctx.topology,
      qspn: this.qspn,
      myId: () => identity.id,
      arcs: () => this.#peersArcs(),
      isMain: () => this.isMain,
      clock: ctx.clock,
      random: ctx.random,
      log: peersLog(ctx, identity.index),
      timeoutMs: ctx.unicastTimeoutMs
    })
    // after an entry or migration the databases start from the identity this one replaces (§5.5): records of keys
    // visible inside the g-node that moved are copied, those of the g-node formed anew start from their default
    const origin = start.kind === 'create' ? undefined : { previous: start.previous.peers, guestGnodeLevel: start.args.guestLevel, newGnodeLevel: start.args.hostLevel - 1 }
    this.peers = attachPeerServices(this.peersPorts, {
      timers: ctx.config.timers,
      subnetLevel: ctx.config.subnetLevel,
      handlers: ctx.hooking.coordinatorHandlers(identity.id),
      propagation: ctx.hooking.propagationHandler(identity.id),
      ...(origin === undefined ? {} : { origin })
    })
    this.peers.peers.register(ctx.hooking.migrationService(identity.id))
    for (const ev of ['path_added', 'path_changed', 'path_removed', 'destination_added', 'destination_removed'] as const) {
      this.qspn.events.on(ev, () => ctx.scheduleSync())
    }
  }

  get naddr (): Naddr { return this.qspn.naddr }

  /** The address the kernel state is made for: QSPN's, or the connectivity position it is about to take. */
  get #kernelNaddr (): Naddr {
    const l = this.#leaving
    return l === undefined ? this.qspn.naddr : this.qspn.naddr.map((p, lvl) => lvl === l.level ? l.pos : p)
  }

  /** The identity is about to duplicate and stay as a connectivity identity at `pos` of `level` (undefined: not). */
  prepareConnectivity (at: { level: number, pos: number } | undefined): void {
    this.#leaving = at
    this.ctx.scheduleSync()
  }
  get fingerprint (): Fingerprint { return this.#fingerprint }
  /** The identity as the Identities module knows it now (its namespace changes when it duplicates). */
  get local (): LocalIdentity { return this.ctx.identities.identity(this.identity.id) ?? this.identity }
  get isMain (): boolean { return this.local.netns === '' }

  /** Hands identity-arc `arcId` to QSPN (same network), and so to PeerServices. */
  addQspnArc (arcId: string): void {
    if (this.qspnArcs.has(arcId)) return
    // checked before anything changes: an arc in qspnArcs that QSPN never got would fail every kernel apply after
    // (its routes input asks QSPN about each qspn-arc) and make the arc a no-op when it comes back
    const ia = this.ctx.identities.arcOf(this.identity.id, arcId)
    if (ia === undefined) throw new RangeError(`identity ${this.identity.index} has no identity-arc ${arcId}`)
    this.qspnArcs.add(arcId)
    this.qspn.arcAdd({ id: arcId, cost: this.ctx.arcCost(ia.arcId) })
    this.peers.arcAdded(arcId)
    this.ctx.scheduleSync()
  }

  /** A message of an identity module for this identity over identity-arc `arcId` (from the demultiplexer). */
  async handle (arcId: string, m: WireMessage): Promise<WireMessage | undefined> {
    if (PEERS_NEIGHBOUR_KINDS.has(m.kind)) return this.qspnArcs.has(arcId) ? await this.peersPorts.handleNeighbour(arcId, m) : undefined
    if (HOOKING_NEIGHBOUR_KINDS.has(m.kind)) return await this.ctx.hooking.handle(this.identity.id, arcId, m)
    return await this.messenger.handle(arcId, m)
  }

  /** A request from this identity to the peer identity of identity-arc `arcId` (addressed from us to it). */
  async request (arcId: string, m: WireMessage, timeoutMs: number): Promise<WireMessage | undefined> {
    const ia = this.ctx.identities.arcOf(this.identity.id, arcId)
    if (ia === undefined) throw new RangeError(`identity ${this.identity.index} has no identity-arc ${arcId}`)
    return await this.ctx.transport.unicast(this.ctx.identities.peerAddress(ia), { ...m, src: this.identity.id, dst: ia.peerId }, { timeoutMs })
  }

  #peersArcs (): PeersArc[] {
    const out: PeersArc[] = []
    for (const id of this.qspnArcs) {
      const ia = this.ctx.identities.arcOf(this.identity.id, id)
      if (ia !== undefined) out.push({ id, peer: this.ctx.identities.peerAddress(ia), peerId: ia.peerId })
    }
    return out
  }

  /** The identity-arc is gone (or QSPN dropped it): QSPN forgets it; idempotent. */
  dropQspnArc (arcId: string, alreadyInQspn: boolean): void {
    if (!this.qspnArcs.delete(arcId)) return
    if (!alreadyInQspn && this.qspn.arcIds().includes(arcId)) this.qspn.arcRemove(arcId)
    this.ctx.scheduleSync()
  }

  /** The physical arc's cost changed. */
  arcCostChanged (physicalArcId: string, cost: number): void {
    for (const id of this.qspnArcs) {
      if (this.ctx.identities.arcOf(this.identity.id, id)?.arcId === physicalArcId && this.qspn.arcIds().includes(id)) this.qspn.arcIsChanged({ id, cost })
    }
  }

  /** The old identity of a duplication becomes a connectivity identity (§4.9). */
  makeConnectivity (fromLevel: number, toLevel: number, virtualPos: number, eldership: number): void {
    const fingerprint = withEldershipAt(this.#fingerprint, fromLevel - 1, eldership)
    this.qspn.makeConnectivity(fromLevel, toLevel, virtualPos, fingerprint)
    // only once QSPN holds the virtual position: the kernel state of an identity out of the default namespace is
    // never made for an all-real address
    this.#fingerprint = fingerprint
    this.#leaving = undefined
    // a connectivity identity forwards PeerServices' requests and serves none (§5.1)
    this.peers.coordinator.goneConnectivity()
    this.ctx.scheduleSync()
  }

  /** Phase 2: the virtual position at `level` becomes the real `pos` with eldership `eldership`. */
  makeReal (level: number, pos: number, eldership: number): void {
    this.#fingerprint = withEldershipAt(this.#fingerprint, level, eldership)
    this.qspn.makeReal(level, pos, this.#fingerprint)
    this.peers.coordinator.becameMain()
    this.ctx.scheduleSync()
  }

  /**
   * The desired state of this identity's namespace (spec §2.1-2.8): link-locals, local addresses (main only),
   * host routes to every identity-arc's peer, `ntk` (main only) and an `ntk_from` table with its mark and rule per
   * qspn-arc, NAT (main only). The same object while nothing it derives from changed.
   */
  namespaceState (): NamespaceState {
    const { ctx } = this
    const me = this.local
    const nics = ctx.identities.nicsOf(me.id)
    if (nics.length === 0) return emptyNamespace()
    const arcs = ctx.identities.arcsOf(me.id)
    const devOf = new Map(nics.map(n => [n.realDev, n.dev]))
    const endpoints = new Map<string, ArcEndpoint>()
    const otherArcs: Array<{ dev: string, peerLinkLocal: string }> = []
    for (const ia of arcs) {
      const dev = devOf.get(ia.realDev)
      if (dev === undefined) continue
      if (this.qspnArcs.has(ia.id)) endpoints.set(ia.id, { dev, peerMac: ia.peerMac, peerLinkLocal: ia.peerLinkLocal })
      else otherArcs.push({ dev, peerLinkLocal: ia.peerLinkLocal })
    }
    const naddr = this.#kernelNaddr
    // Nothing the state derives from changed (QSPN's routing, address, NICs, arcs and the neighbours' addresses):
    // the last state stands, without computing it again (a change of nodes-inside alone, say).
    const quick = [
      this.qspn.routingVersion, naddr.join('.'), me.netns, nics.map(n => `${n.dev}/${n.mac}/${n.linkLocal}`).join(' '),
      [...endpoints].map(([id, e]) => `${id}/${e.dev}/${e.peerMac}/${e.peerLinkLocal}/${this.#peerNaddr(id)}`).join(' '),
      otherArcs.map(a => `${a.dev}/${a.peerLinkLocal}`).join(' ')
    ].join(' | ')
    if (this.#last?.quick === quick) return this.#last.state
    const input: MainIdentityInput = {
      topology: ctx.topology,
      naddr,
      nics: nics.map(n => ({ name: n.dev, mac: n.mac, linkLocal: n.linkLocal })),
      ...(me.netns === '' ? {} : { connectivity: { parents: new Map(nics.map(n => [n.dev, n.realDev])) } }),
      linkUp: ctx.config.linkUp,
      anonymize: ctx.config.anonymize,
      serveAnonymous: ctx.config.serveAnonymous,
      subnetLevel: ctx.config.subnetLevel,
      otherArcs,
      ...routesInputFromQspn(this.qspn, ctx.topology.levels, endpoints, this.#inputMemo)
    }
    // Most QSPN changes move no route (an alternative path, a cost): the same state object is then returned, and
    // KernelSync skips the apply. Only destinations whose paths changed are looked at again.
    const choices = routeChoices(input, this.#choicesMemo)
    const key = routeStateKey(input, choices)
    if (this.#last?.key === key) { this.#last.quick = quick; return this.#last.state }
    const state = mainIdentityState(input, choices, this.#last?.state)
    this.#last = { quick, key, state }
    return state
  }

  stop (): void {
    this.peers.stop()
    this.qspn.stop()
  }

  #peerNaddr (arcId: string): string {
    try { return this.qspn.getNaddrForArc(arcId)?.join('.') ?? '' } catch { return '' }
  }
}

function withEldershipAt (fp: Fingerprint, level: number, eldership: number): Fingerprint {
  const elderships = [...fp.elderships]
  elderships[level] = eldership
  return { ...fp, elderships }
}

/**
 * PeerServices' lines of an identity: the Coordinator's (its bookings, its propagations) under `coordinator`, the
 * rest under `peers`. The modules mark them by their first words; the component comes from there.
 */
function peersLog (ctx: RuntimeContext, index: number): (line: string) => void {
  const peers = ctx.logOf?.('peers') ?? ctx.log
  const coordinator = ctx.logOf?.('coordinator') ?? ctx.log
  return line => {
    const text = `identity ${index} ${line.startsWith('peers: ') ? line : `peers: ${line}`}`
    if (/^(peers: )?(coordinator|propagation)\b/.test(line)) coordinator(text)
    else peers(text)
  }
}
