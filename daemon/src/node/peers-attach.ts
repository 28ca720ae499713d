import { formatNaddr, ipGlobal, ipInternal, type Naddr, type Topology } from '../addressing'
import type { QspnManager } from '../qspn/manager'
import type { PeerAddress, Transport } from '../transport'
import type { WireMessage } from '../wire'
import type { Clock, Ms } from '../util/clock'
import type { Random } from '../util/random'
import {
  DEFAULT_PEERS_CONFIG, NEIGHBOUR_KINDS, HandlerList, LAB_PEERS_CONFIG, PeerServices, qspnPeersMap,
  type ContactBackPort, type ContactHandler, type NeighbourHandler, type NeighbourPort, type PeersConfig, type PeersPorts, type PeersView
} from '../peers'
import {
  Coordinator, DEFAULT_COORDINATOR_CONFIG, LAB_COORDINATOR_CONFIG,
  type CoordinatorConfig, type CoordinatorHandlers, type PropagationHandler
} from '../coordinator'

/*
 * One identity's PeerServices and Coordinator, attached to its ports in one call (each identity runtime calls
 * attachPeerServices), and the ports of a real daemon's identity over its Transport.
 */

export const PEERS_TIMER_PROFILES: Readonly<Record<'lab' | 'default', { readonly peers: PeersConfig, readonly coordinator: CoordinatorConfig }>> = {
  default: { peers: DEFAULT_PEERS_CONFIG, coordinator: DEFAULT_COORDINATOR_CONFIG },
  lab: { peers: LAB_PEERS_CONFIG, coordinator: LAB_COORDINATOR_CONFIG }
}

export interface AttachPeersOptions {
  readonly timers: 'lab' | 'default'
  /** Autonomous subnet level (-s): reservations inside it are refused. */
  readonly subnetLevel?: number
  /** Hooking's decisions on a Coordinator servant and its reactions to propagations (issue 13). */
  readonly handlers?: CoordinatorHandlers
  readonly propagation?: PropagationHandler
  /** An entry or migration: the attachment of the identity this one replaces and the levels (§5.5). */
  readonly origin?: { readonly previous: AttachedPeers, readonly guestGnodeLevel: number, readonly newGnodeLevel: number }
  readonly peersConfig?: Partial<PeersConfig>
  readonly coordinatorConfig?: Partial<CoordinatorConfig>
}

/** One level of `ntkctl coordinator`: who serves my g-node of that level, and its shared memory. */
export interface CoordinatorLevelView {
  readonly lvl: number
  /** My g-node of that level, written top first with a trailing dot ("3·1·"); "" for the whole network. */
  readonly gnode: string
  readonly servant: string | null
  readonly servantIsMe: boolean
  /** The servant's count of the g-node's nodes. */
  readonly nodesInside: number | null
  readonly reservations: ReadonlyArray<{ reserveRequestId: number, newPos: number, newEldership: number, ttlMs: number }>
  readonly maxVirtualPos: number | null
  readonly maxEldership: number | null
  readonly nNodes: number | null
  readonly hookingMemory: unknown
  /** This node holds a copy (servant or replica). */
  readonly localCopy: boolean
  readonly error?: string
}

export interface CoordinatorView { readonly address: string, readonly serving: boolean, readonly levels: readonly CoordinatorLevelView[] }

export interface AttachedPeers {
  readonly peers: PeerServices
  readonly coordinator: Coordinator
  /** A new qspn-arc stands: its neighbour is asked for its participant maps. */
  arcAdded (arcId: string): void
  peersView (): PeersView
  /** Asks the Coordinator of each of my g-nodes for its memory (routed requests). */
  coordinatorView (): Promise<CoordinatorView>
  /** ntkctl coordinator reserve LVL ID | delete-reserve LVL ID. */
  coordinatorCommand (args: readonly string[]): Promise<unknown>
  counters (): Record<string, unknown>
  stop (): void
}

/** PeerServices and the Coordinator of one identity, on its ports. */
export function attachPeerServices (ports: PeersPorts, o: AttachPeersOptions): AttachedPeers {
  const profile = PEERS_TIMER_PROFILES[o.timers]
  const origin = o.origin === undefined ? undefined : { previous: o.origin.previous.peers, guestGnodeLevel: o.origin.guestGnodeLevel, newGnodeLevel: o.origin.newGnodeLevel }
  const peers = new PeerServices(ports, { config: { ...profile.peers, ...o.peersConfig }, ...(origin === undefined ? {} : { origin }) })
  const coordinator = new Coordinator(peers, {
    config: { ...profile.coordinator, ...o.coordinatorConfig },
    handlers: o.handlers,
    propagation: o.propagation,
    subnetLevel: o.subnetLevel,
    previous: o.origin?.previous.coordinator
  })
  const levels = peers.levels
  const gnodeName = (lvl: number): string => lvl >= levels ? '' : `${[...peers.naddr].slice(lvl).reverse().join('·')}·`
  return {
    peers,
    coordinator,
    arcAdded: arcId => { void peers.participants.askNeighbours([arcId]) },
    peersView: () => peers.view(),
    coordinatorView: async () => {
      const views = await Promise.all(Array.from({ length: levels }, (_, k) => k + 1).map(async (lvl): Promise<CoordinatorLevelView> => {
        const localCopy = coordinator.localMemory(lvl) !== undefined
        try {
          const v = await coordinator.memory(lvl)
          const servant = formatNaddr(v.servant, '.')
          return {
            lvl, gnode: gnodeName(lvl), servant, servantIsMe: v.servant.join('.') === peers.naddr.join('.'), nodesInside: v.nodesInside,
            reservations: v.memory.reserveList, maxVirtualPos: v.memory.maxVirtualPos, maxEldership: v.memory.maxEldership,
            nNodes: v.memory.nNodes, hookingMemory: v.memory.hookingMemory, localCopy
          }
        } catch (e) {
          return { lvl, gnode: gnodeName(lvl), servant: null, servantIsMe: false, nodesInside: null, reservations: [], maxVirtualPos: null, maxEldership: null, nNodes: null, hookingMemory: null, localCopy, error: (e as Error).message }
        }
      }))
      return { address: formatNaddr(peers.naddr, '.'), serving: coordinator.serving, levels: views }
    },
    coordinatorCommand: async args => {
      const [verb, lvlText, idText] = args
      const lvl = Number(lvlText)
      const id = Number(idText)
      if ((verb !== 'reserve' && verb !== 'delete-reserve') || !Number.isInteger(lvl) || lvl < 1 || lvl > levels || !Number.isInteger(id) || id < 0 || id >= 2 ** 31) {
        throw new RangeError(`coordinator: expected "reserve LEVEL ID" or "delete-reserve LEVEL ID" with LEVEL in 1..${levels} and ID in 0..2^31-1, got "${args.join(' ')}"`)
      }
      if (verb === 'reserve') return await coordinator.reserve(lvl, id)
      await coordinator.deleteReserve(lvl, id)
      return { deleted: id }
    },
    counters: () => {
      const { byService, ...c } = peers.stats
      return { ...c, propagation: { ...coordinator.propagation.stats }, replicasWritten: coordinator.replicasWritten, replicationFailures: coordinator.replicationFailures }
    },
    stop: () => { coordinator.stop(); peers.stop() }
  }
}

/** Neighbour kinds of PeerServices and the Coordinator (what travels over qspn-arcs, addressed by identity). */
export const PEERS_NEIGHBOUR_KINDS: ReadonlySet<string> = new Set([...NEIGHBOUR_KINDS, 'coord_propagate'])

/** One qspn-arc of the identity as PeerServices sees it: where the neighbour identity is, and its NodeID. */
export interface PeersArc { readonly id: string, readonly peer: PeerAddress, readonly peerId: string }

export interface IdentityPeersInit {
  readonly transport: Transport
  readonly topology: Topology
  readonly qspn: QspnManager
  /** The identity's NodeID (the source of its neighbour messages). */
  readonly myId: () => string
  /** The identity's qspn-arcs now. */
  readonly arcs: () => Iterable<PeersArc>
  /** Only the main identity has addresses of its own to reach a client from (a connectivity identity only forwards). */
  readonly isMain: () => boolean
  readonly clock: Clock
  readonly random: Random
  readonly log?: (line: string) => void
  readonly timeoutMs?: Ms
}

export interface IdentityPeersPorts extends PeersPorts {
  /** A neighbour message for this identity over one of its identity-arcs (from the system's demultiplexer). */
  handleNeighbour (arcId: string, m: WireMessage): Promise<WireMessage | undefined>
  /** A message routed to the system's addresses (the system hands it to the main identity). */
  handleContact (m: WireMessage): Promise<WireMessage | undefined>
}

/**
 * The ports of one identity of a real daemon: neighbour messages as unicasts to the qspn-arc's peer identity,
 * addressed from this identity to it (src, dst) like QSPN's, and arriving through the identity demultiplexer;
 * contact back as a routed unicast to the client's internal address of the common g-node's level (its global
 * address when that is the whole network), which the kernel's table ntk routes.
 */
export function identityPeersPorts (init: IdentityPeersInit): IdentityPeersPorts {
  const { transport, topology } = init
  const log = init.log ?? (() => {})
  const fromNeighbours = new HandlerList<NeighbourHandler>(log)
  const fromClients = new HandlerList<ContactHandler>(log)
  const neighbours: NeighbourPort = {
    arcIds: () => [...init.arcs()].map(a => a.id),
    send: async (arcId, m, o) => {
      const a = [...init.arcs()].find(x => x.id === arcId)
      if (a === undefined) throw new RangeError(`no qspn-arc ${arcId}`)
      return await transport.unicast(a.peer, { ...m, src: init.myId(), dst: a.peerId }, { timeoutMs: o?.timeoutMs ?? init.timeoutMs })
    },
    onMessage: h => fromNeighbours.add(h)
  }
  const contactBack: ContactBackPort = {
    send: async (target, m, o) => {
      if (!init.isMain()) throw new RangeError('a connectivity identity has no address to contact a client from')
      return await transport.routedUnicast(contactAddress(topology, init.qspn.naddr, target.tuple), m, { timeoutMs: o?.timeoutMs ?? init.timeoutMs })
    },
    onMessage: h => fromClients.add(h)
  }
  return {
    map: qspnPeersMap(init.qspn, topology.gsizes),
    neighbours,
    contactBack,
    clock: init.clock,
    random: init.random,
    log: init.log,
    handleNeighbour: async (arcId, m) => {
      const { src, dst, ...payload } = m
      return await fromNeighbours.dispatch(arcId, payload as WireMessage)
    },
    handleContact: async m => await fromClients.dispatch(m)
  }
}
/**
 * The address a servant uses to reach a client whose positions inside their smallest common g-node (of level
 * tuple.length) are `tuple` (§5.4, §1.5): the client's internal address of that level, or its global one when the
 * common g-node is the whole network.
 */
export function contactAddress (topology: Topology, mine: Naddr, tuple: readonly number[]): string {
  const k = tuple.length
  const full = [...tuple, ...mine.slice(k)]
  return k >= topology.levels ? ipGlobal(topology, full) : ipInternal(topology, full, k)
}
