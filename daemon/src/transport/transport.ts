import type { WireMessage } from '../wire'

/** Default UDP and TCP port, as the original daemon (spec §3). */
export const DEFAULT_PORT = 60269
export const DEFAULT_UNICAST_TIMEOUT_MS = 10_000

/** A neighbour's NIC as reached from one of our NICs. */
export interface PeerAddress {
  /** The neighbour's IPv4 link-local (unicast goes there over TCP). */
  readonly linklocal: string
  /** Our NIC that leads to it. */
  readonly nic: string
}

/** Who sent a message and how it arrived. Informative: protocol decisions use the message's own, validated fields. */
export interface CallerInfo {
  /** Our NIC the message arrived on ('' for a routed message: it came to one of our 10.x addresses). */
  readonly nic: string
  /**
   * broadcast and unicast come from a neighbour over one NIC; routed comes from anywhere in the network to one of
   * our routable addresses (PeerServices' contact back, §5.4), never from a neighbour's link-local protocol.
   */
  readonly via: 'broadcast' | 'unicast' | 'routed'
  /** Transport-level source address (IPv4 link-local for unicast; for a real broadcast the sender's IPv6 fe80; the 10.x source for routed). */
  readonly source: string
}

/**
 * Handles an incoming message. For a unicast the first handler to return a message supplies the reply; if all
 * return undefined the requester receives `undefined`. For a broadcast the return value is ignored. A throwing
 * handler drops the request (the requester sees UnicastFailedError); it never takes the transport down.
 */
export type MessageHandler = (message: WireMessage, caller: CallerInfo) => WireMessage | undefined | Promise<WireMessage | undefined>

export interface UnicastOptions {
  readonly timeoutMs?: number
  readonly signal?: AbortSignal
}

/** A managed NIC as the transport needs it. */
export interface TransportNic {
  readonly name: string
  /** Our IPv4 link-local on it (spec §1.6); unicast requests leave from it and arrive at it. */
  readonly linklocal: string
  /**
   * A pseudo-interface of a connectivity identity (spec §2.7): the real NIC it is a macvlan of, and the nested
   * namespace it lives in. It carries unicasts only (requests to and from its link-local), no broadcasts.
   */
  readonly parent?: string
  readonly netns?: string
}

/**
 * The messaging port of a node (DESIGN §3 "one core, three worlds").
 * Lifecycle: `attachNic` before sending or receiving on a NIC; after `close()` every call rejects.
 */
export interface Transport {
  attachNic (nic: TransportNic): Promise<void>
  detachNic (name: string): Promise<void>
  /** One datagram to every neighbour on that NIC only; unreliable, no reply. */
  broadcast (nic: string, message: WireMessage): Promise<void>
  /** A request over a reliable channel; resolves with the peer's reply (or undefined when it had none). */
  unicast (peer: PeerAddress, message: WireMessage, o?: UnicastOptions): Promise<WireMessage | undefined>
  /**
   * A request to a routable address (10.x) anywhere in the network, over a reliable channel the kernel routes (its
   * `ntk` table picks the way and the source address); resolves with the reply.
   */
  routedUnicast (ip: string, message: WireMessage, o?: UnicastOptions): Promise<WireMessage | undefined>
  /** Returns a function that removes the handler. */
  onMessage (handler: MessageHandler): () => void
  close (): Promise<void>
}

export class UnicastTimeoutError extends Error {
  constructor (readonly peer: PeerAddress, readonly kind: string, readonly timeoutMs: number) {
    super(`no reply to '${kind}' from ${peer.linklocal} via ${peer.nic} within ${timeoutMs} ms`)
    this.name = 'UnicastTimeoutError'
  }
}

export class UnicastAbortedError extends Error {
  constructor (readonly peer: PeerAddress, readonly kind: string) {
    super(`'${kind}' to ${peer.linklocal} via ${peer.nic} aborted`)
    this.name = 'UnicastAbortedError'
  }
}

/** The peer could not be reached, closed without replying, or replied with something we could not accept. */
export class UnicastFailedError extends Error {
  constructor (readonly peer: PeerAddress, readonly kind: string, readonly reason: string) {
    super(`'${kind}' to ${peer.linklocal} via ${peer.nic} failed: ${reason}`)
    this.name = 'UnicastFailedError'
  }
}

export class UnknownNicError extends Error {
  constructor (readonly nic: string, where: string) {
    super(`${where}: NIC '${nic}' is not attached to the transport`)
    this.name = 'UnknownNicError'
  }
}

export class TransportClosedError extends Error {
  constructor (where: string) {
    super(`${where}: transport is closed`)
    this.name = 'TransportClosedError'
  }
}

/** Runs the handlers in order; the first defined reply wins. Shared by every implementation. */
export async function dispatch (handlers: Iterable<MessageHandler>, message: WireMessage, caller: CallerInfo): Promise<WireMessage | undefined> {
  let reply: WireMessage | undefined
  for (const h of [...handlers]) {
    const r = await h(message, caller)
    if (reply === undefined && r !== undefined) reply = r
  }
  return reply
}
