import type { Clock, Ms } from '../util/clock'
import type { Random } from '../util/random'
import { voidMessage, VOID_KIND, type WireCodec, type WireMessage } from '../wire'
import {
  dispatch, TransportClosedError, UnicastAbortedError, UnicastFailedError, UnicastTimeoutError, UnknownNicError,
  DEFAULT_UNICAST_TIMEOUT_MS,
  type CallerInfo, type MessageHandler, type PeerAddress, type Transport, type TransportNic, type UnicastOptions
} from './transport'

/** One NIC of one node of the in-memory network. */
export interface Endpoint { readonly node: string, readonly nic: string }

export interface LinkOptions {
  /** One-way delay on the network's clock. */
  readonly latencyMs?: Ms
  /** Probability in [0, 1] that a datagram or a unicast leg is lost (drawn from the network's Random). */
  readonly loss?: number
  readonly up?: boolean
}

interface Link { a: Endpoint, b: Endpoint, latencyMs: Ms, loss: number, up: boolean }

/**
 * How a node's kernel forwards a packet to `ip` (its routes, e.g. an InMemoryKernel's tables): 'local' when `ip`
 * is one of its own addresses, the next hop (our NIC and the gateway's link-local, with the source address the
 * route gives), or null when there is no route. `arrival` is absent for the packet's first hop (sent from the
 * node's own namespace); a forwarded packet is routed in the namespace of the NIC it came in on, by the table its
 * previous hop's MAC selects (spec §2.3).
 */
export type RouteLookup = (node: string, ip: string, arrival?: RoutedArrival) => RouteHop | Promise<RouteHop>
export type RouteHop = 'local' | { nic: string, via: string, src?: string } | null
/** Where a forwarded packet came in: our NIC (real, or a pseudo-interface), and the neighbour's NIC it left from. */
export interface RoutedArrival { readonly nic: string, readonly fromNode: string, readonly fromNic: string }

/** A routed message went nowhere: no route, a loop, or a next hop that is no neighbour. */
export const MAX_ROUTED_HOPS = 64

/** The NIC name of both ends of a routed message's leg (it crosses the network, not one link). */
export const ROUTED_NIC = '(routed)'

/**
 * One message in flight between two NICs (what a wire tap sees). A routed unicast is one leg from the sender to the
 * node owning the address (both ends with NIC ROUTED_NIC), its reply one leg back.
 */
export interface WireLeg {
  readonly from: Endpoint
  readonly to: Endpoint
  readonly via: 'broadcast' | 'unicast' | 'routed' | 'reply'
  readonly bytes: Buffer
  /** For a reply: the bytes of the request it answers. */
  readonly request?: Buffer
  /** For a routed request and its reply: the request's source address (the sender's address the route gave). */
  readonly source?: string
}

/**
 * Sees every message on the medium as it leaves (tests: capture traffic, or tamper with it in flight). Returns the
 * bytes to deliver instead, or undefined to deliver the message as it is.
 */
export type WireTap = (leg: WireLeg) => Buffer | undefined

/** A message handler threw: the transport drops the message (the requester sees a failure) and reports it here. */
export type HandlerErrorReport = (node: string, error: unknown, message: WireMessage, caller: CallerInfo) => void

const key = (e: Endpoint): string => `${e.node}:${e.nic}`

/**
 * An in-process medium: named nodes with named NICs, point-to-point links between NICs with latency, loss and
 * up/down state, time from an injected Clock. Messages travel as the bytes each node's WireCodec produces, so the
 * wire validation runs exactly as on real sockets.
 */
export class InMemoryNetwork {
  /** Links by endpoint key (both ends), so a send does not scan every link of a large network. */
  readonly #linksAt = new Map<string, Link[]>()
  readonly #transports = new Map<string, InMemoryTransport>()
  /** Routes of routed unicasts (none: routed unicasts fail). */
  router: RouteLookup | undefined
  /** See WireTap; unset: messages travel untouched. */
  tap: WireTap | undefined
  /** See HandlerErrorReport; every transport also counts them (`handlerErrors`). */
  onHandlerError: HandlerErrorReport | undefined

  constructor (readonly clock: Clock, readonly random?: Random) {}

  /** A transport for node `node`; one per node name. */
  transport (node: string, codec: WireCodec): InMemoryTransport {
    if (this.#transports.has(node)) throw new Error(`in-memory network: node '${node}' already has a transport`)
    const t = new InMemoryTransport(this, node, codec)
    this.#transports.set(node, t)
    return t
  }

  link (a: Endpoint, b: Endpoint, o: LinkOptions = {}): void {
    if (this.#find(a, b) !== undefined) throw new Error(`in-memory network: ${key(a)} and ${key(b)} are already linked`)
    const l: Link = { a, b, latencyMs: o.latencyMs ?? 0, loss: o.loss ?? 0, up: o.up ?? true }
    for (const k of [key(a), key(b)]) {
      const list = this.#linksAt.get(k)
      if (list === undefined) this.#linksAt.set(k, [l]); else list.push(l)
    }
  }

  /** Changes a link's state, latency or loss. */
  setLink (a: Endpoint, b: Endpoint, o: LinkOptions): void {
    const l = this.#find(a, b)
    if (l === undefined) throw new Error(`in-memory network: no link ${key(a)} - ${key(b)}`)
    if (o.latencyMs !== undefined) l.latencyMs = o.latencyMs
    if (o.loss !== undefined) l.loss = o.loss
    if (o.up !== undefined) l.up = o.up
  }

  /** Delivers raw bytes to `to` as if `from` had sent them (for tests of hostile input). */
  injectRaw (from: Endpoint, to: Endpoint, bytes: Uint8Array, via: CallerInfo['via']): Promise<WireMessage | undefined> {
    const target = this.#transports.get(to.node)
    if (target === undefined) return Promise.resolve(undefined)
    return target.receive(to.nic, this.#linklocalOf(from), Buffer.from(bytes), via)
  }

  /**
   * Serves raw request bytes at `to` as a unicast from `from` (the link-local `source`, default from's own) and
   * returns the encoded reply, or undefined when the request was dropped (closed without a reply).
   */
  async injectRequest (from: Endpoint, to: Endpoint, bytes: Uint8Array, source = this.#linklocalOf(from)): Promise<Buffer | undefined> {
    const target = this.#transports.get(to.node)
    if (target === undefined) return undefined
    return await target.serve(to.nic, source, Buffer.from(bytes))
  }

  /** Serves raw request bytes at node `to` as a routed unicast from address `source`; the encoded reply or undefined. */
  async injectRouted (to: string, source: string, bytes: Uint8Array): Promise<Buffer | undefined> {
    return await this.#transports.get(to)?.serveRouted(source, Buffer.from(bytes))
  }

  /** The bytes a tap delivers instead of `leg.bytes`. */
  tapped (leg: WireLeg): Buffer { return this.tap?.(leg) ?? leg.bytes }

  forget (node: string): void { this.#transports.delete(node) }

  /** Links leaving `from` whose other end is up; each as [far end, link]. */
  neighbours (from: Endpoint): Array<[Endpoint, Link]> {
    const out: Array<[Endpoint, Link]> = []
    const k = key(from)
    for (const l of this.#linksAt.get(k) ?? []) {
      if (!l.up) continue
      if (key(l.a) === k) out.push([l.b, l])
      else out.push([l.a, l])
    }
    return out
  }

  lost (l: Link): boolean { return l.loss > 0 && (this.random?.next() ?? Math.random()) < l.loss }

  transportOf (node: string): InMemoryTransport | undefined { return this.#transports.get(node) }

  #linklocalOf (e: Endpoint): string { return this.#transports.get(e.node)?.linklocalOf(e.nic) ?? '0.0.0.0' }
  #find (a: Endpoint, b: Endpoint): Link | undefined {
    const kb = key(b)
    return this.#linksAt.get(key(a))?.find(l => key(l.a) === kb || key(l.b) === kb)
  }
}

/** The Transport of one node of an InMemoryNetwork. */
export class InMemoryTransport implements Transport {
  readonly #nics = new Map<string, TransportNic>()
  readonly #handlers = new Set<MessageHandler>()
  #closed = false
  #handlerErrors = 0

  constructor (readonly network: InMemoryNetwork, readonly node: string, readonly codec: WireCodec) {}

  linklocalOf (nic: string): string | undefined { return this.#nics.get(nic)?.linklocal }

  /** The real NIC under `nic` (itself, or a pseudo-interface's parent). */
  realNicOf (nic: string): string | undefined { const n = this.#nics.get(nic); return n === undefined ? undefined : n.parent ?? n.name }

  /** The NIC (real, or a pseudo-interface on real NIC `nic`) holding `linklocal`. */
  nicWith (nic: string, linklocal: string): string | undefined {
    for (const n of this.#nics.values()) if (n.linklocal === linklocal && (n.name === nic || n.parent === nic)) return n.name
    return undefined
  }

  async attachNic (nic: TransportNic): Promise<void> {
    this.#live('attachNic')
    this.#nics.set(nic.name, nic)
  }

  async detachNic (name: string): Promise<void> { this.#nics.delete(name) }

  onMessage (handler: MessageHandler): () => void {
    this.#handlers.add(handler)
    return () => { this.#handlers.delete(handler) }
  }

  async broadcast (nic: string, message: WireMessage): Promise<void> {
    this.#live('broadcast')
    const me = this.#nic(nic, 'broadcast')
    if (me.parent !== undefined) throw new UnknownNicError(nic, `${this.node} broadcast (a pseudo-interface carries unicasts only)`)
    const bytes = this.codec.encode(message)
    for (const [far, link] of this.network.neighbours({ node: this.node, nic })) {
      if (this.network.lost(link)) continue
      const delivered = this.network.tapped({ from: { node: this.node, nic }, to: far, via: 'broadcast', bytes })
      this.network.clock.setTimer(link.latencyMs, () => {
        void this.network.transportOf(far.node)?.receive(far.nic, me.linklocal, delivered, 'broadcast')
      })
    }
  }

  async unicast (peer: PeerAddress, message: WireMessage, o: UnicastOptions = {}): Promise<WireMessage | undefined> {
    this.#live('unicast')
    const me = this.#nic(peer.nic, 'unicast')
    const bytes = this.codec.encode(message)
    const timeoutMs = o.timeoutMs ?? DEFAULT_UNICAST_TIMEOUT_MS
    if (o.signal?.aborted === true) throw new UnicastAbortedError(peer, message.kind)
    // a pseudo-interface (macvlan) sends over its real NIC's links; the far end may answer on one of its own
    const hop = this.network.neighbours({ node: this.node, nic: me.parent ?? peer.nic })
      .map(([far, link]): [Endpoint, typeof link, string | undefined] => [far, link, this.network.transportOf(far.node)?.nicWith(far.nic, peer.linklocal)])
      .find(([, , nic]) => nic !== undefined)
    return await new Promise<WireMessage | undefined>((resolve, reject) => {
      let settled = false
      const finish = (f: () => void): void => {
        if (settled) return
        settled = true
        cancelTimeout()
        o.signal?.removeEventListener('abort', onAbort)
        f()
      }
      const cancelTimeout = this.network.clock.setTimer(timeoutMs, () =>
        finish(() => reject(new UnicastTimeoutError(peer, message.kind, timeoutMs))))
      const onAbort = (): void => finish(() => reject(new UnicastAbortedError(peer, message.kind)))
      o.signal?.addEventListener('abort', onAbort, { once: true })
      // No link to that address, or the leg is lost: like an unanswered TCP SYN, only the timeout ends the wait.
      if (hop === undefined) return
      const [far, link, farNic] = hop
      if (this.network.lost(link)) return
      const mine: Endpoint = { node: this.node, nic: peer.nic }
      const request = this.network.tapped({ from: mine, to: far, via: 'unicast', bytes })
      this.network.clock.setTimer(link.latencyMs, () => {
        const target = this.network.transportOf(far.node)
        if (target === undefined || target.#closed) {
          finish(() => reject(new UnicastFailedError(peer, message.kind, 'connection refused')))
          return
        }
        target.serve(farNic as string, me.linklocal, request).then(served => {
          if (served === undefined) {
            finish(() => reject(new UnicastFailedError(peer, message.kind, 'closed without a reply')))
            return
          }
          if (!link.up || this.network.lost(link)) return
          const replyBytes = this.network.tapped({ from: far, to: mine, via: 'reply', bytes: served, request })
          this.network.clock.setTimer(link.latencyMs, () => {
            if (this.#closed) return
            const r = this.codec.decode(replyBytes)
            if (!r.ok) finish(() => reject(new UnicastFailedError(peer, message.kind, `reply rejected: ${r.reason}`)))
            else finish(() => resolve(r.message.kind === VOID_KIND ? undefined : r.message))
          })
        }, () => {})
      })
    })
  }

  /**
   * A routed unicast: the network's router (each node's kernel routes) picks every hop from here to the node owning
   * `ip`; the latencies and losses of the links crossed apply both ways. The receiver sees via 'routed'.
   */
  async routedUnicast (ip: string, message: WireMessage, o: UnicastOptions = {}): Promise<WireMessage | undefined> {
    this.#live('routedUnicast')
    const peer = { linklocal: ip, nic: '(routed)' }
    const bytes = this.codec.encode(message)
    const timeoutMs = o.timeoutMs ?? DEFAULT_UNICAST_TIMEOUT_MS
    const net = this.network
    const router = net.router
    if (router === undefined) throw new UnicastFailedError(peer, message.kind, 'no routes in this in-memory network')
    // the way there, hop by hop, as each node's routes have it now
    const links: Link[] = []
    let at = this.node
    let source = ''
    let arrival: RoutedArrival | undefined
    for (;;) {
      const hop = await router(at, ip, arrival)
      if (hop === 'local') break
      if (hop === null) throw new UnicastFailedError(peer, message.kind, `no route to ${ip} at ${at}${arrival === undefined ? '' : ` (in on ${arrival.nic} from ${arrival.fromNode})`}`)
      if (source === '') source = hop.src ?? ''
      // the gateway: the neighbour's NIC, or a pseudo-interface on it, holding the link-local the route names
      const realNic = net.transportOf(at)?.realNicOf(hop.nic) ?? hop.nic
      const next = net.neighbours({ node: at, nic: realNic })
        .map(([far, link]): [Endpoint, Link, string | undefined] => [far, link, net.transportOf(far.node)?.nicWith(far.nic, hop.via)])
        .find(([, , nic]) => nic !== undefined)
      if (next === undefined) throw new UnicastFailedError(peer, message.kind, `${at}: next hop ${hop.via} via ${hop.nic} is no neighbour`)
      links.push(next[1])
      arrival = { nic: next[2] as string, fromNode: at, fromNic: hop.nic }
      at = next[0].node
      if (links.length > MAX_ROUTED_HOPS) throw new UnicastFailedError(peer, message.kind, `routing loop toward ${ip}`)
    }
    const target = net.transportOf(at)
    const latency = links.reduce((sum, l) => sum + l.latencyMs, 0)
    const [mine, theirs]: Endpoint[] = [{ node: this.node, nic: ROUTED_NIC }, { node: at, nic: ROUTED_NIC }]
    const request = net.tapped({ from: mine, to: theirs, via: 'routed', bytes, source })
    const lost = (): boolean => links.some(l => !l.up || net.lost(l))
    return await new Promise<WireMessage | undefined>((resolve, reject) => {
      let settled = false
      const finish = (f: () => void): void => { if (!settled) { settled = true; cancel(); f() } }
      const cancel = net.clock.setTimer(timeoutMs, () => finish(() => reject(new UnicastTimeoutError(peer, message.kind, timeoutMs))))
      if (lost()) return
      net.clock.setTimer(latency, () => {
        if (target === undefined || target.#closed) { finish(() => reject(new UnicastFailedError(peer, message.kind, 'connection refused'))); return }
        target.serveRouted(source, request).then(served => {
          if (served === undefined) { finish(() => reject(new UnicastFailedError(peer, message.kind, 'closed without a reply'))); return }
          if (lost()) return
          const replyBytes = net.tapped({ from: theirs, to: mine, via: 'reply', bytes: served, request, source })
          net.clock.setTimer(latency, () => {
            if (this.#closed) return
            const r = this.codec.decode(replyBytes)
            if (!r.ok) finish(() => reject(new UnicastFailedError(peer, message.kind, `reply rejected: ${r.reason}`)))
            else finish(() => resolve(r.message.kind === VOID_KIND ? undefined : r.message))
          })
        }, () => {})
      })
    })
  }

  /** Serves one routed request from `source` (any address of the network); undefined: closed without a reply. */
  async serveRouted (source: string, bytes: Buffer): Promise<Buffer | undefined> {
    if (this.#closed) return undefined
    const r = this.codec.decode(bytes)
    if (!r.ok) return undefined
    const caller: CallerInfo = { nic: '', via: 'routed', source }
    try {
      const reply = await dispatch(this.#handlers, r.message, caller)
      return this.codec.encode(reply ?? voidMessage())
    } catch (e) {
      this.#handlerFailed(e, r.message, caller)
      return undefined
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#handlers.clear()
    this.network.forget(this.node)
  }

  /** Called by the network: decodes and dispatches one incoming message; returns the reply for a unicast. */
  async receive (nic: string, source: string, bytes: Buffer, via: CallerInfo['via']): Promise<WireMessage | undefined> {
    if (this.#closed || !this.#nics.has(nic)) return undefined
    const r = this.codec.decode(bytes)
    if (!r.ok) return undefined
    const caller: CallerInfo = { nic, via, source }
    try {
      return await dispatch(this.#handlers, r.message, caller)
    } catch (e) {
      this.#handlerFailed(e, r.message, caller)
      return undefined
    }
  }

  /** Serves one unicast request; undefined means the connection closed without a reply (bad request, handler threw). */
  async serve (nic: string, source: string, bytes: Buffer): Promise<Buffer | undefined> {
    if (this.#closed || !this.#nics.has(nic)) return undefined
    const r = this.codec.decode(bytes)
    if (!r.ok) return undefined
    const caller: CallerInfo = { nic, via: 'unicast', source }
    try {
      const reply = await dispatch(this.#handlers, r.message, caller)
      return this.codec.encode(reply ?? voidMessage())
    } catch (e) {
      this.#handlerFailed(e, r.message, caller)
      return undefined
    }
  }

  /** Handlers that threw (a refusal such as a nop for an arc we do not have, or a bug): counted and reported. */
  get handlerErrors (): number { return this.#handlerErrors }

  #handlerFailed (e: unknown, message: WireMessage, caller: CallerInfo): void {
    this.#handlerErrors++
    this.network.onHandlerError?.(this.node, e, message, caller)
  }

  #nic (name: string, where: string): TransportNic {
    const n = this.#nics.get(name)
    if (n === undefined) throw new UnknownNicError(name, `${this.node} ${where}`)
    return n
  }

  #live (where: string): void { if (this.#closed) throw new TransportClosedError(`${this.node} ${where}`) }
}
