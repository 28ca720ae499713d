import type { WireMessage } from '../wire'
import type { Clock, Ms } from '../util/clock'
import type { Random } from '../util/random'

/*
 * The ports of one identity's PeerServices (DESIGN §3). They are all an identity offers: the lead's identity runtime
 * builds them from the identity's QSPN instance, its qspn-arcs and the system's sockets; the in-process network
 * (sim/peers-network.ts) builds them over a SimNetwork.
 */

/** A first hop toward a g-node, from the identity's QSPN map. */
export interface GatewayPath {
  /** The identity's qspn-arc to the gateway. */
  readonly arcId: string
  /** g-nodes on the path (the destination last). */
  readonly hops: number
  readonly cost: number
}

/** What PeerServices needs from the identity's QSPN map (§4, §5.4). */
export interface PeersMap {
  /** Positions per level, level 0 first. */
  readonly gsizes: readonly number[]
  /** The identity's address, level 0 first. A virtual position (>= gsize) makes the identity a forwarder only (§5.1). */
  readonly naddr: readonly number[]
  isBootstrapComplete (): boolean
  /** Real positions at `lvl` of the g-nodes the map knows inside my g-node of level lvl+1 (mine excluded). */
  knownDestinations (lvl: number): readonly number[]
  /** Paths to the g-node (lvl, pos), cheapest first; empty when unknown. */
  pathsTo (lvl: number, pos: number): readonly GatewayPath[]
  /** Estimated nodes inside my g-node of level `lvl` (1..levels); sizes the timeouts. */
  nodesInside (lvl: number): number
  /** Fingerprint id of my g-node of level `lvl` (1..levels): a g-node that split carries another one. */
  fingerprintId (lvl: number): number
  /** The neighbour identity's address over a qspn-arc, once QSPN knows it. */
  neighbourNaddr (arcId: string): readonly number[] | null
}

export type NeighbourHandler = (arcId: string, message: WireMessage) => WireMessage | undefined | Promise<WireMessage | undefined>

/**
 * Messages to the neighbour identities over this identity's qspn-arcs (reliable: a send resolves with the
 * neighbour's reply, undefined when it had none, and rejects when the neighbour could not be reached in time).
 * Several modules share it: a handler returns undefined for kinds that are not its own; the first defined reply wins.
 */
export interface NeighbourPort {
  arcIds (): readonly string[]
  send (arcId: string, message: WireMessage, o?: { timeoutMs?: Ms }): Promise<WireMessage | undefined>
  onMessage (handler: NeighbourHandler): () => void
}

/**
 * Where the servant reaches the client (§5.4): the client's positions inside the smallest g-node it shares with
 * the sender (level 0 first, `tuple.length` = the level of that g-node). The sender's own positions above complete
 * the address. In a real daemon: a TCP connection to the client's internal address of that level (its global
 * address when the common g-node is the whole network), routed by the kernel's `ntk` table.
 */
export interface ContactTarget { readonly tuple: readonly number[] }

export type ContactHandler = (message: WireMessage) => WireMessage | undefined | Promise<WireMessage | undefined>

/** The routed channel from a servant or forwarder back to a client ("contact back"). */
export interface ContactBackPort {
  send (target: ContactTarget, message: WireMessage, o?: { timeoutMs?: Ms }): Promise<WireMessage | undefined>
  onMessage (handler: ContactHandler): () => void
}

/** Everything one identity's PeerServices runs on. */
export interface PeersPorts {
  readonly map: PeersMap
  readonly neighbours: NeighbourPort
  readonly contactBack: ContactBackPort
  readonly clock: Clock
  readonly random: Random
  readonly log?: (line: string) => void
}

/** Dispatches to several handlers; the first defined reply wins, a throwing handler is logged and counted. */
export class HandlerList<H extends (...args: any[]) => WireMessage | undefined | Promise<WireMessage | undefined>> {
  readonly #handlers = new Set<H>()
  failures = 0
  constructor (readonly log: (line: string) => void = () => {}) {}

  add (h: H): () => void {
    this.#handlers.add(h)
    return () => { this.#handlers.delete(h) }
  }

  get size (): number { return this.#handlers.size }

  async dispatch (...args: Parameters<H>): Promise<WireMessage | undefined> {
    let reply: WireMessage | undefined
    for (const h of [...this.#handlers]) {
      try {
        const r = await h(...args)
        if (reply === undefined && r !== undefined) reply = r
      } catch (e) {
        this.failures++
        this.log(`handler failed: ${(e as Error).message}`)
      }
    }
    return reply
  }
}
