import { maxDistinctGnode } from '../addressing/naddr'
import { MessageRegistry, WireCodec, type WireMessage } from '../wire'
import { SeededRandom, type Random } from '../util/random'
import type { Ms } from '../util/clock'
import { HandlerList, type ContactHandler, type NeighbourHandler, type PeersMap, type PeersPorts } from '../peers/ports'
import { qspnPeersMap } from '../peers/qspn-map'
import { registerPeersMessages } from '../peers/messages'
import type { SimLink, SimNetwork, SimNode } from './network'

/*
 * PeerServices of every node of a SimNetwork, in one process on its virtual clock. Neighbour messages cross the
 * simulated links (latency, optional seeded loss and extra delay); messages back to a client are routed hop by hop
 * over the QSPN maps as a kernel would route them with the `ntk` tables (each hop: best path toward the maximum
 * distinct g-node of the destination), which also checks that the maps route. Every message is encoded and
 * validated by a WireCodec, as on the wire.
 */

export interface PeersFaults {
  /** Probability that one hop of a message is lost (the sender notices only at its timeout). */
  readonly lossPerHop?: number
  /** Extra delay per hop, uniform in [0, maxExtraDelayMs). */
  readonly maxExtraDelayMs?: Ms
}

export interface PeersTraffic {
  /** Messages between neighbours (each leg: request and reply). */
  neighbourMessages: number
  /** Routed messages to clients (each leg) and the hops they crossed. */
  contactMessages: number
  contactHops: number
  bytes: number
  lost: number
  /** Routed messages that found no path or looped: the maps do not route. */
  routingErrors: number
}

export interface PeersSimNode<T> {
  readonly name: string
  readonly sim: SimNode
  readonly ports: PeersPorts
  readonly value: T
}

export class PeersRoutingError extends Error {
  constructor (message: string) { super(message); this.name = 'PeersRoutingError' }
}

export class PeersSendFailedError extends Error {
  constructor (message: string) { super(message); this.name = 'PeersSendFailedError' }
}

interface ArcEnd { link: SimLink, from: string, to: string, peerArc: string }

interface Endpoint {
  readonly neighbours: HandlerList<NeighbourHandler>
  readonly contact: HandlerList<ContactHandler>
  stopped: boolean
}

/** Builds the registry with every kind the in-process identities speak. */
export type RegistryBuilder = (r: MessageRegistry) => void

export class PeersNetwork<T> {
  readonly traffic: PeersTraffic = { neighbourMessages: 0, contactMessages: 0, contactHops: 0, bytes: 0, lost: 0, routingErrors: 0 }
  readonly routingProblems: string[] = []
  readonly nodes = new Map<string, PeersSimNode<T>>()
  faults: PeersFaults
  readonly #codec: WireCodec
  readonly #random: Random
  readonly #endpoints = new Map<string, Endpoint>()
  readonly #byAddress = new Map<string, string>()
  #arcs = new Map<string, ArcEnd>()

  constructor (readonly sim: SimNetwork, o: { seed?: number, faults?: PeersFaults, registry?: RegistryBuilder } = {}) {
    const registry = new MessageRegistry()
    registerPeersMessages(registry)
    o.registry?.(registry)
    this.#codec = new WireCodec({ registry })
    this.#random = new SeededRandom(o.seed ?? 1)
    this.faults = o.faults ?? {}
    this.#indexArcs()
  }

  get clock (): SimNetwork['clock'] { return this.sim.clock }
  get counters (): ReturnType<WireCodec['counters']['snapshot']> { return this.#codec.counters.snapshot() }

  /** Creates the ports of every node of the SimNetwork and builds each node's modules on them. */
  attachAll (build: (name: string, ports: PeersPorts) => T): void {
    for (const n of this.sim.nodes()) this.attach(n.name, build)
  }

  attach (name: string, build: (name: string, ports: PeersPorts) => T, map?: PeersMap): PeersSimNode<T> {
    const sim = this.sim.node(name)
    const ep: Endpoint = { neighbours: new HandlerList(), contact: new HandlerList(), stopped: false }
    this.#endpoints.set(name, ep)
    this.#byAddress.set(sim.naddr.join('.'), name)
    const ports: PeersPorts = {
      map: map ?? qspnPeersMap(sim.manager, this.sim.gsizes),
      clock: this.sim.clock,
      random: new SeededRandom(this.#random.int(2 ** 31)),
      neighbours: {
        arcIds: () => [...this.#arcs.values()].filter(a => a.from === name && a.link.up).map(a => a.link.a === name ? a.link.arcAtA : a.link.arcAtB),
        send: async (arcId, m, o) => await this.#sendNeighbour(name, arcId, m, o?.timeoutMs ?? 2000),
        onMessage: h => ep.neighbours.add(h)
      },
      contactBack: {
        send: async (target, m, o) => await this.#sendRouted(name, target.tuple, m, o?.timeoutMs ?? 2000),
        onMessage: h => ep.contact.add(h)
      }
    }
    const node: PeersSimNode<T> = { name, sim, ports, value: build(name, ports) }
    this.nodes.set(name, node)
    return node
  }

  node (name: string): PeersSimNode<T> {
    const n = this.nodes.get(name)
    if (n === undefined) throw new RangeError(`no peers node ${name}`)
    return n
  }

  /** Stops a node: it answers nothing more and its links go down (QSPN reroutes; run the clock to let it). */
  stopNode (name: string): void {
    const ep = this.#endpoints.get(name)
    if (ep !== undefined) ep.stopped = true
    this.#byAddress.delete(this.sim.node(name).naddr.join('.'))
    this.sim.node(name).manager.stop()
    for (const l of this.sim.links()) if (l.a === name || l.b === name) this.sim.unlink(l)
  }

  /** Runs the virtual clock until `p` settles, for at most `budgetMs` of virtual time. */
  async run<R> (p: Promise<R>, budgetMs: Ms = 3_600_000): Promise<R> {
    let settled = false
    p.then(() => { settled = true }, () => { settled = true })
    const clock = this.sim.clock
    const until = clock.now() + budgetMs
    await flush()
    while (!settled) {
      const at = clock.nextAt()
      if (at === undefined || at > until) {
        await flush()
        if (settled) break
        throw new Error(at === undefined ? 'nothing left to run and the promise is still pending' : `still pending after ${budgetMs} ms of virtual time`)
      }
      while (clock.nextAt() === at) clock.step()
      await flush()
    }
    return await p
  }

  /** Runs every timer due in the next `ms` of virtual time. */
  async runFor (ms: Ms): Promise<void> {
    const clock = this.sim.clock
    const until = clock.now() + ms
    await flush()
    for (let at = clock.nextAt(); at !== undefined && at <= until; at = clock.nextAt()) {
      while (clock.nextAt() === at) clock.step()
      await flush()
    }
    clock.advanceTo(until)
    await flush()
  }

  #indexArcs (): void {
    const arcs = new Map<string, ArcEnd>()
    for (const link of this.sim.links()) {
      arcs.set(link.arcAtA, { link, from: link.a, to: link.b, peerArc: link.arcAtB })
      arcs.set(link.arcAtB, { link, from: link.b, to: link.a, peerArc: link.arcAtA })
    }
    this.#arcs = arcs
  }

  #hopLost (): boolean {
    const p = this.faults.lossPerHop ?? 0
    if (p > 0 && this.#random.next() < p) { this.traffic.lost++; return true }
    return false
  }

  #hopDelay (link: SimLink): Ms {
    const extra = this.faults.maxExtraDelayMs ?? 0
    return link.latencyMs + (extra > 0 ? this.#random.next() * extra : 0)
  }

  /** Encodes and decodes as the wire would (a message our own schema refuses is a bug: it throws). */
  #wire (m: WireMessage): { bytes: number, decoded: () => WireMessage | undefined } {
    const bytes = this.#codec.encode(m)
    this.traffic.bytes += bytes.length
    return { bytes: bytes.length, decoded: () => { const r = this.#codec.decode(bytes); return r.ok ? r.message : undefined } }
  }

  async #sendNeighbour (from: string, arcId: string, m: WireMessage, timeoutMs: Ms): Promise<WireMessage | undefined> {
    const end = this.#arcs.get(arcId)
    if (end === undefined || end.from !== from || !end.link.up) throw new PeersSendFailedError(`${from}: no arc ${arcId}`)
    const clock = this.sim.clock
    // addressed from identity to identity as a daemon's port does (the schema requires it); the receiver's port strips it
    const wire = this.#wire({ ...m, src: simIdentityId(from), dst: simIdentityId(end.to) })
    this.traffic.neighbourMessages++
    return await new Promise((resolve, reject) => {
      let done = false
      const finish = (f: () => void): void => { if (!done) { done = true; cancel(); f() } }
      const cancel = clock.setTimer(timeoutMs, () => finish(() => reject(new PeersSendFailedError(`${from}: ${m.kind} over ${arcId}: no answer within ${timeoutMs} ms`))))
      if (this.#hopLost()) return
      clock.setTimer(this.#hopDelay(end.link), () => {
        const ep = this.#endpoints.get(end.to)
        if (ep === undefined || ep.stopped || !end.link.up) { finish(() => reject(new PeersSendFailedError(`${end.to} refused ${m.kind}`))); return }
        const decoded = wire.decoded()
        if (decoded === undefined) return
        const { src, dst, ...msg } = decoded
        ep.neighbours.dispatch(end.peerArc, msg as WireMessage).then(reply => {
          const back = this.#wire(reply ?? { v: 1, kind: 'void' })
          this.traffic.neighbourMessages++
          if (this.#hopLost()) return
          clock.setTimer(this.#hopDelay(end.link), () => finish(() => {
            const r = back.decoded()
            resolve(r === undefined || r.kind === 'void' ? undefined : r)
          }))
        }, () => {})
      })
    })
  }

  /** The node names and links a routed message crosses from `from` to the address `dest`, over the QSPN maps. */
  route (from: string, dest: readonly number[]): { path: string[], links: SimLink[] } {
    const path = [from]
    const links: SimLink[] = []
    let cur = from
    for (let hops = 0; ; hops++) {
      const me = this.sim.node(cur)
      const hc = maxDistinctGnode(me.naddr, dest)
      if (hc === null) return { path, links }
      if (hops > 4 * this.sim.nodes().length) throw new PeersRoutingError(`route ${from} -> ${dest.join('.')} loops: ${path.slice(-8).join(' ')}`)
      const best = me.manager.getPathsTo(hc)[0]
      if (best === undefined) throw new PeersRoutingError(`${cur} has no path to (${hc.lvl},${hc.pos}) on the way ${from} -> ${[...dest].reverse().join('·')}`)
      const end = this.#arcs.get(best.arcId)
      if (end === undefined || !end.link.up) throw new PeersRoutingError(`${cur}: path to (${hc.lvl},${hc.pos}) uses arc ${best.arcId}, which is down`)
      links.push(end.link)
      cur = end.to
      path.push(cur)
    }
  }

  async #sendRouted (from: string, tuple: readonly number[], m: WireMessage, timeoutMs: Ms): Promise<WireMessage | undefined> {
    const me = this.sim.node(from)
    const dest = [...tuple, ...me.naddr.slice(tuple.length)]
    let route: { path: string[], links: SimLink[] }
    try {
      route = this.route(from, dest)
    } catch (e) {
      this.traffic.routingErrors++
      if (this.routingProblems.length < 20) this.routingProblems.push((e as Error).message)
      throw e
    }
    const clock = this.sim.clock
    const wire = this.#wire(m)
    this.traffic.contactMessages++
    this.traffic.contactHops += route.links.length
    const legLost = (): boolean => route.links.some(() => this.#hopLost())
    const legDelay = (): Ms => route.links.reduce((s, l) => s + this.#hopDelay(l), 0)
    const to = route.path[route.path.length - 1]
    return await new Promise((resolve, reject) => {
      let done = false
      const finish = (f: () => void): void => { if (!done) { done = true; cancel(); f() } }
      const cancel = clock.setTimer(timeoutMs, () => finish(() => reject(new PeersSendFailedError(`${from}: routed ${m.kind} to ${dest.join('.')}: no answer within ${timeoutMs} ms`))))
      if (legLost()) return
      clock.setTimer(legDelay(), () => {
        const ep = this.#endpoints.get(to)
        if (ep === undefined || ep.stopped || this.#byAddress.get(dest.join('.')) !== to) { finish(() => reject(new PeersSendFailedError(`${dest.join('.')} refused ${m.kind}`))); return }
        const msg = wire.decoded()
        if (msg === undefined) return
        ep.contact.dispatch(msg).then(reply => {
          const back = this.#wire(reply ?? { v: 1, kind: 'void' })
          this.traffic.contactMessages++
          this.traffic.contactHops += route.links.length
          if (legLost()) return
          clock.setTimer(legDelay(), () => finish(() => {
            const r = back.decoded()
            resolve(r === undefined || r.kind === 'void' ? undefined : r)
          }))
        }, () => {})
      })
    })
  }
}

/** Lets every pending promise chain run (microtasks drain before the next macrotask). */
async function flush (): Promise<void> {
  await new Promise<void>(resolve => setImmediate(resolve))
}

/** A NodeID (16 hex digits) for a simulated node, from its name (FNV-1a, 64 bits). */
export function simIdentityId (name: string): string {
  let h = 0xcbf29ce484222325n
  for (const c of Buffer.from(name)) h = BigInt.asUintN(64, (h ^ BigInt(c)) * 0x100000001b3n)
  return h.toString(16).padStart(16, '0')
}
