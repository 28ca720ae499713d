import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { connect, createServer, type Server, type Socket as TcpSocket } from 'node:net'
import { NetnsSockets } from './netns-sockets'
import { SystemClock, type Clock } from '../util/clock'
import { FrameReader, voidMessage, VOID_KIND, type WireCodec, type WireMessage } from '../wire'
import {
  dispatch, DEFAULT_PORT, DEFAULT_UNICAST_TIMEOUT_MS, TransportClosedError, UnicastAbortedError, UnicastFailedError,
  UnicastTimeoutError, UnknownNicError,
  type CallerInfo, type MessageHandler, type PeerAddress, type Transport, type TransportNic, type UnicastOptions
} from './transport'

/**
 * Per-NIC "broadcast" (spec §3: here_i_am, request_arc, remove_arc go out of one NIC and must tell the receiver
 * which of its NICs they came in on).
 *
 * Why not IPv4 255.255.255.255: sending per NIC works (a socket bound to the NIC's /32 link-local makes Linux pick
 * the device owning that source for a limited broadcast), but receiving does not: only a socket bound to 0.0.0.0
 * gets broadcasts, and Node exposes neither SO_BINDTODEVICE nor IP_PKTINFO, so the arrival NIC is unknown on a node
 * with two NICs. Measured in namespaces a-b-c (b with two veths).
 *
 * What we do: IPv6 link-local all-nodes multicast. Per NIC one UDP socket bound to `[ff02::1%<nic>]:<port>`; binding
 * a scoped (link-local) address sets the socket's bound device in the kernel (inet6_bind), which is exactly
 * SO_BINDTODEVICE: it only receives datagrams that arrived on that NIC. Sending goes to `[ff02::1%<nic>]` from that
 * same socket (a socket bound to a multicast address sends with a source the kernel picks, port <port>).
 *
 * No UDP socket of the daemon ever takes an ephemeral port: one did (the sending socket, bound to port 0), and when
 * the kernel handed it the protocol port itself (60269 lies inside Linux's default ephemeral range 32768-60999) every
 * NIC's bind failed with EADDRINUSE and the daemon died at start. A port taken by someone else is waited for
 * (`bindRetryMs`, logged) instead of being fatal at once. Every IPv6-enabled interface is in ff02::1, so no group join and no route is
 * needed. Requirement on the host: IPv6 enabled on managed NICs (`net.ipv6.conf.<nic>.disable_ipv6=0`); the first
 * sends fail with EADDRNOTAVAIL while the NIC's fe80 address is still tentative (DAD), so the daemon should set
 * `net.ipv6.conf.<nic>.accept_dad=0`, and `broadcast` retries for a short while anyway.
 *
 * Unicast is TCP over IPv4 link-locals as in the original: a server on 0.0.0.0:<port>, a connection per request
 * from our link-local on the NIC (needs the host route `<peer-ll> dev <nic> src <my-ll>`); the arrival NIC of a
 * request is the NIC owning the connection's local address. A routed unicast (PeerServices' contact back) goes to a
 * 10.x address with no source of ours: the kernel's routes pick both; it arrives as via 'routed'. Framing: 4-byte
 * big-endian length + JSON.
 */
export interface UdpTcpTransportInit {
  readonly codec: WireCodec
  readonly port?: number
  readonly clock?: Clock
  /** How long `broadcast` keeps retrying while the NIC's IPv6 link-local is not usable yet. */
  readonly broadcastRetryMs?: number
  /** How long a bind of the protocol port keeps retrying while another socket holds it (EADDRINUSE). */
  readonly bindRetryMs?: number
  readonly log?: (line: string) => void
  /** The /run/netns name of a nested namespace of the daemon (as the kernel adapter creates it); default: itself. */
  readonly netnsPath?: (netns: string) => string
}

const ALL_NODES = 'ff02::1'

export class BroadcastFailedError extends Error {
  constructor (readonly nic: string, cause: Error) {
    super(`broadcast on ${nic} failed: ${cause.message}`, { cause })
    this.name = 'BroadcastFailedError'
  }
}

/** The protocol port could not be bound (held by another socket past the retry window, or another error). */
export class PortBindError extends Error {
  constructor (readonly what: string, cause: Error, waitedMs: number) {
    super(`cannot bind ${what}: ${cause.message}${waitedMs > 0 ? ` (still taken after ${Math.round(waitedMs / 1000)} s)` : ''}`, { cause })
    this.name = 'PortBindError'
  }
}

/** One NIC of the transport: its receiving UDP socket, or (a pseudo-interface) its listener and socket maker. */
interface NicEntry { nic: TransportNic, rx?: UdpSocket, server?: Server, sockets?: NetnsSockets }

export class UdpTcpTransport implements Transport {
  readonly port: number
  readonly #codec: WireCodec
  readonly #clock: Clock
  readonly #retryMs: number
  readonly #bindRetryMs: number
  readonly #log: (line: string) => void
  /** Real NICs have their multicast socket; pseudo-interfaces of nested namespaces a TCP listener opened there. */
  readonly #nics = new Map<string, NicEntry>()
  readonly #netns = new Map<string, NetnsSockets>()
  readonly #netnsPath: (netns: string) => string
  readonly #handlers = new Set<MessageHandler>()
  readonly #connections = new Set<TcpSocket>()
  #server: Server | undefined
  #started = false
  #closed = false
  #handlerErrors = 0

  constructor (init: UdpTcpTransportInit) {
    this.#codec = init.codec
    this.port = init.port ?? DEFAULT_PORT
    this.#clock = init.clock ?? new SystemClock()
    this.#retryMs = init.broadcastRetryMs ?? 3000
    this.#bindRetryMs = init.bindRetryMs ?? 30_000
    this.#log = init.log ?? (() => {})
    this.#netnsPath = init.netnsPath ?? (ns => ns)
  }

  /** Opens the TCP server on the protocol port. Call once before anything else. */
  async start (): Promise<void> {
    this.#live('start')
    const server = createServer(sock => this.#accept(sock))
    await this.#bindWithRetry(`TCP 0.0.0.0:${this.port}`, async () => await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, '0.0.0.0', () => { server.removeListener('error', reject); resolve() })
    }))
    server.removeAllListeners('error')
    server.on('error', () => {})
    this.#server = server
    this.#started = true
  }

  async attachNic (nic: TransportNic): Promise<void> {
    this.#live('attachNic')
    if (this.#nics.has(nic.name)) await this.detachNic(nic.name)
    if (nic.netns !== undefined) { await this.#attachNested(nic, nic.netns); return }
    let rx: UdpSocket | undefined
    await this.#bindWithRetry(`UDP [${ALL_NODES}%${nic.name}]:${this.port}`, async () => {
      const s = createSocket({ type: 'udp6', reuseAddr: true })
      try {
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject)
          s.bind({ port: this.port, address: `${ALL_NODES}%${nic.name}` }, () => { s.removeListener('error', reject); resolve() })
        })
      } catch (e) {
        s.close()
        throw e
      }
      rx = s
    })
    const sock = rx as UdpSocket
    sock.removeAllListeners('error')
    sock.on('error', () => {})
    sock.setMulticastLoopback(false)
    sock.on('message', (bytes, remote) => { void this.#deliver(nic.name, remote.address, bytes) })
    this.#nics.set(nic.name, { nic, rx: sock })
  }

  /** Binds the protocol port; while another socket holds it (EADDRINUSE) tries again each second, saying so. */
  async #bindWithRetry (what: string, bind: () => Promise<void>): Promise<void> {
    const deadline = this.#clock.now() + this.#bindRetryMs
    for (;;) {
      try {
        await bind()
        return
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code
        const left = deadline - this.#clock.now()
        if (code !== 'EADDRINUSE' || left <= 0 || this.#closed) {
          throw new PortBindError(what, e as Error, code === 'EADDRINUSE' ? this.#bindRetryMs : 0)
        }
        this.#log(`${what} is taken by another socket (EADDRINUSE); trying again in 1 s (${Math.ceil(left / 1000)} s left)`)
        await new Promise<void>(resolve => this.#clock.setTimer(Math.min(1000, left), resolve))
      }
    }
  }

  /** A pseudo-interface in a nested namespace: a TCP listener on its link-local, opened inside that namespace. */
  async #attachNested (nic: TransportNic, netns: string): Promise<void> {
    let sockets = this.#netns.get(netns)
    if (sockets === undefined) {
      sockets = new NetnsSockets(this.#netnsPath(netns), { log: this.#log })
      this.#netns.set(netns, sockets)
    }
    const server = await sockets.listen(nic.linklocal, this.port)
    server.on('connection', (sock: TcpSocket) => this.#accept(sock, nic.name))
    server.on('error', () => {})
    this.#nics.set(nic.name, { nic, server, sockets })
  }

  async detachNic (name: string): Promise<void> {
    const n = this.#nics.get(name)
    if (n === undefined) return
    this.#nics.delete(name)
    if (n.rx !== undefined) { const rx = n.rx; await new Promise<void>(resolve => rx.close(() => resolve())) }
    if (n.server !== undefined) n.server.close()
    const netns = n.nic.netns
    if (netns !== undefined && ![...this.#nics.values()].some(x => x.nic.netns === netns)) {
      this.#netns.get(netns)?.close()
      this.#netns.delete(netns)
    }
  }

  onMessage (handler: MessageHandler): () => void {
    this.#handlers.add(handler)
    return () => { this.#handlers.delete(handler) }
  }

  /** Handlers that threw (the message was dropped; a unicast's requester saw the connection close): counted, logged. */
  get handlerErrors (): number { return this.#handlerErrors }

  #handlerFailed (e: unknown, m: WireMessage, caller: CallerInfo): void {
    this.#handlerErrors++
    this.#log(`handler of '${m.kind}' (${caller.via} on ${caller.nic} from ${caller.source}) failed: ${(e as Error)?.message ?? String(e)}`)
  }

  async broadcast (nic: string, message: WireMessage): Promise<void> {
    this.#live('broadcast')
    const tx = this.#nics.get(nic)?.rx
    if (tx === undefined) throw new UnknownNicError(nic, 'broadcast (pseudo-interfaces carry unicasts only)')
    if (!this.#started) throw new TransportClosedError('broadcast before start()')
    const bytes = this.#codec.encode(message)
    const deadline = this.#clock.now() + this.#retryMs
    for (;;) {
      const err = await new Promise<Error | null>(resolve => tx.send(bytes, this.port, `${ALL_NODES}%${nic}`, e => resolve(e ?? null)))
      if (err === null) return
      // EADDRNOTAVAIL: the NIC's fe80 address is still tentative (DAD); it becomes usable within a second or two.
      if ((err as NodeJS.ErrnoException).code !== 'EADDRNOTAVAIL' || this.#clock.now() >= deadline || this.#closed) {
        throw new BroadcastFailedError(nic, err)
      }
      await new Promise<void>(resolve => this.#clock.setTimer(200, resolve))
    }
  }

  async unicast (peer: PeerAddress, message: WireMessage, o: UnicastOptions = {}): Promise<WireMessage | undefined> {
    this.#live('unicast')
    const mine = this.#nics.get(peer.nic)
    if (mine === undefined) throw new UnknownNicError(peer.nic, 'unicast')
    return await this.#request(peer, mine, message, o)
  }

  /** To a 10.x address: no source given, the kernel's route (table ntk) picks the way and the source. */
  async routedUnicast (ip: string, message: WireMessage, o: UnicastOptions = {}): Promise<WireMessage | undefined> {
    this.#live('routedUnicast')
    if (!this.#started) throw new TransportClosedError('routedUnicast before start()')
    return await this.#request({ linklocal: ip, nic: '(routed)' }, undefined, message, o)
  }

  async #request (peer: PeerAddress, mine: NicEntry | undefined, message: WireMessage, o: UnicastOptions): Promise<WireMessage | undefined> {
    if (o.signal?.aborted === true) throw new UnicastAbortedError(peer, message.kind)
    const request = this.#codec.encodeFrame(message)
    const timeoutMs = o.timeoutMs ?? DEFAULT_UNICAST_TIMEOUT_MS
    return await new Promise<WireMessage | undefined>((resolve, reject) => {
      const reader = new FrameReader(this.#codec.maxFrameBytes)
      let settled = false
      let sock: TcpSocket | undefined
      const finish = (f: () => void): void => {
        if (settled) return
        settled = true
        cancelTimeout()
        o.signal?.removeEventListener('abort', onAbort)
        if (sock !== undefined) { sock.destroy(); this.#connections.delete(sock) }
        f()
      }
      // The timeout is decided after one more turn of I/O: a loop held past the deadline (a process spawn, a CPU
      // starved under load) runs its expired timers before it reads the sockets, so a reply that arrived in time
      // would otherwise lose to its own timeout (and a neighbour answering probes would lose its arc).
      const cancelTimeout = this.#clock.setTimer(timeoutMs, () => {
        setImmediate(() => finish(() => reject(new UnicastTimeoutError(peer, message.kind, timeoutMs))))
      })
      const onAbort = (): void => finish(() => reject(new UnicastAbortedError(peer, message.kind)))
      o.signal?.addEventListener('abort', onAbort, { once: true })
      const talk = (s: TcpSocket, connected: boolean): void => {
        if (settled) { s.destroy(); return }
        sock = s
        this.#connections.add(s)
        if (connected) s.write(request); else s.on('connect', () => s.write(request))
        s.on('data', chunk => {
          for (const ev of reader.push(chunk)) {
            if (ev.type === 'oversized') {
              this.#codec.reject('oversized', `reply from ${peer.linklocal} announced ${ev.announced} bytes`)
              finish(() => reject(new UnicastFailedError(peer, message.kind, 'reply rejected: oversized')))
              return
            }
            const r = this.#codec.decode(ev.payload)
            if (!r.ok) finish(() => reject(new UnicastFailedError(peer, message.kind, `reply rejected: ${r.reason}`)))
            else finish(() => resolve(r.message.kind === VOID_KIND ? undefined : r.message))
            return
          }
        })
        s.on('error', e => finish(() => reject(new UnicastFailedError(peer, message.kind, e.message))))
        s.on('close', () => finish(() => reject(new UnicastFailedError(peer, message.kind, 'closed without a reply'))))
      }
      if (mine === undefined) {
        talk(connect({ host: peer.linklocal, port: this.port }), false)
      } else if (mine.sockets === undefined) {
        talk(connect({ host: peer.linklocal, port: this.port, localAddress: mine.nic.linklocal }), false)
      } else {
        // from a pseudo-interface: the connection is opened inside its namespace, then handed over connected
        mine.sockets.connect(peer.linklocal, this.port, mine.nic.linklocal).then(
          s => talk(s, true),
          (e: Error) => finish(() => reject(new UnicastFailedError(peer, message.kind, e.message))))
      }
    })
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#handlers.clear()
    for (const name of [...this.#nics.keys()]) await this.detachNic(name)
    for (const c of this.#connections) c.destroy()
    this.#connections.clear()
    const server = this.#server
    if (server !== undefined) await new Promise<void>(resolve => server.close(() => resolve()))
  }

  async #deliver (nic: string, source: string, bytes: Buffer): Promise<void> {
    const r = this.#codec.decode(bytes)
    if (!r.ok) return
    const caller: CallerInfo = { nic, via: 'broadcast', source: source.replace(/%.*$/, '') }
    try {
      await dispatch(this.#handlers, r.message, caller)
    } catch (e) { this.#handlerFailed(e, r.message, caller) }
  }

  /**
   * One request per connection: read a frame, dispatch, write the reply frame, close. Bad input closes it. The
   * arrival NIC is the one owning the connection's local address (or the pseudo-interface whose listener took it);
   * any other local address (10.x, lo) means it was routed to us from somewhere in the network.
   */
  #accept (sock: TcpSocket, pseudo?: string): void {
    this.#connections.add(sock)
    sock.on('error', () => {})
    sock.on('close', () => this.#connections.delete(sock))
    const local = (sock.localAddress ?? '').replace(/^::ffff:/, '')
    const nic = pseudo ?? [...this.#nics.values()].find(n => n.nic.netns === undefined && n.nic.linklocal === local)?.nic.name
    const reader = new FrameReader(this.#codec.maxFrameBytes)
    let served = false
    const idle = this.#clock.setTimer(DEFAULT_UNICAST_TIMEOUT_MS, () => sock.destroy())
    sock.on('close', idle)
    sock.on('end', () => { if (!served && reader.end()) this.#codec.reject('truncated', `connection from ${sock.remoteAddress ?? '?'} ended mid-frame`) })
    sock.on('data', chunk => {
      if (served) return
      for (const ev of reader.push(chunk)) {
        served = true
        if (ev.type === 'oversized') {
          this.#codec.reject('oversized', `frame from ${sock.remoteAddress ?? '?'} announced ${ev.announced} bytes`)
          sock.destroy()
          return
        }
        const r = this.#codec.decode(ev.payload)
        if (!r.ok) { sock.destroy(); return }
        const source = (sock.remoteAddress ?? '').replace(/^::ffff:/, '')
        const caller: CallerInfo = nic === undefined ? { nic: '', via: 'routed', source } : { nic, via: 'unicast', source }
        // encoding the reply is inside the chain: a reply that fails its schema is a handler failure, never an
        // unhandled rejection
        dispatch(this.#handlers, r.message, caller)
          .then(reply => { if (!sock.destroyed) sock.end(this.#codec.encodeFrame(reply ?? voidMessage())) })
          .catch(e => { this.#handlerFailed(e, r.message, caller); sock.destroy() })
        return
      }
    })
  }

  #live (where: string): void { if (this.#closed) throw new TransportClosedError(where) }
}
