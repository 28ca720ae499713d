import { SeededRandom, type Random } from '../util/random'
import type { Ms } from '../util/clock'
import { QspnManager } from '../qspn/manager'
import type { QspnConfig } from '../qspn/config'
import type { QspnMessenger, QspnSignal } from '../qspn/messenger'
import type { EtpMessage, FullEtpRequest } from '../qspn/etp'
import type { Fingerprint } from '../qspn/fingerprint'
import type { Cost, Positions } from '../qspn/types'
import { VirtualClock } from './virtual-clock'

/*
 * An in-memory network of many QSPN identities in one process on a virtual clock. Messages are JSON text (as on
 * the wire), delivered after a per-link latency in deterministic (time, send order) order; every message and
 * byte is counted.
 */

export interface SimNetworkOptions {
  /** Positions per level, level 0 first. */
  readonly gsizes: readonly number[]
  readonly seed: number
  /** One-way latency of a link when `link()` does not say (ms of virtual time). */
  readonly defaultLatencyMs?: Ms
  /**
   * One-way latency of a link from its cost when `link()` does not say, e.g. `c => c / 2000` (cost is an RTT in
   * µs): then information travels in cost order, as on a real network. Overrides defaultLatencyMs.
   */
  readonly latencyOf?: (cost: Cost) => Ms
  readonly qspn?: Partial<QspnConfig>
}

export interface SimNode {
  readonly name: string
  readonly naddr: Positions
  readonly fingerprint: Fingerprint
  readonly manager: QspnManager
}

export interface SimLink {
  readonly a: string
  readonly b: string
  /** Arc id on a's side (towards b) and on b's side (towards a). */
  readonly arcAtA: string
  readonly arcAtB: string
  cost: Cost
  latencyMs: Ms
  up: boolean
}

export interface SimTraffic {
  messages: number
  bytes: number
  etps: number
  fullEtpRequests: number
  fullEtpResponses: number
}

export interface QuiescenceResult {
  /** Virtual ms from the start of the run to the last message delivered. */
  convergedAfterMs: Ms
  deliveredMessages: number
}

export class SimLinkDownError extends Error {
  constructor (readonly arcId: string) {
    super(`simulated link of arc ${arcId} is down`)
    this.name = 'SimLinkDownError'
  }
}

export class SimNotQuiescentError extends Error {
  constructor (readonly afterMs: Ms, readonly inFlight: number) {
    super(`network not quiescent after ${afterMs} ms of virtual time (${inFlight} messages in flight)`)
    this.name = 'SimNotQuiescentError'
  }
}

interface ArcEnd { link: SimLink, from: string, to: string, peerArc: string }

export class SimNetwork {
  readonly clock = new VirtualClock()
  readonly random: Random
  readonly traffic: SimTraffic = { messages: 0, bytes: 0, etps: 0, fullEtpRequests: 0, fullEtpResponses: 0 }
  readonly #o: SimNetworkOptions
  readonly #nodes = new Map<string, SimNode>()
  readonly #arcs = new Map<string, ArcEnd>()
  readonly #links: SimLink[] = []
  #inFlight = 0
  #delivered = 0
  #lastDeliveryAt: Ms = 0
  #needsDrain = false
  /** Answers to full-ETP requests a node has not produced yet (it may be waiting for the arc to be added). */
  #pendingAnswers = 0

  constructor (o: SimNetworkOptions) {
    this.#o = o
    this.random = new SeededRandom(o.seed)
  }

  get gsizes (): readonly number[] { return this.#o.gsizes }

  node (name: string): SimNode {
    const n = this.#nodes.get(name)
    if (n === undefined) throw new RangeError(`no simulated node named ${name}`)
    return n
  }

  nodes (): SimNode[] { return [...this.#nodes.values()] }
  links (): SimLink[] { return this.#links.filter(l => l.up) }

  /**
   * Adds a node that creates its own network (create_net). Its fingerprint id is random; its elderships are its
   * positions, so the eldest member of a g-node is the one with the smallest positions (highest level first).
   */
  addNode (name: string, naddr: Positions): SimNode {
    if (this.#nodes.has(name)) throw new RangeError(`duplicate simulated node ${name}`)
    const fingerprint: Fingerprint = { id: 1 + this.random.int(2 ** 31), level: 0, elderships: [...naddr], eldershipsSeed: [] }
    const manager = QspnManager.createNet(
      { clock: this.clock, random: new SeededRandom(this.random.int(2 ** 32)), messenger: this.#messengerFor(name) },
      { gsizes: this.#o.gsizes, naddr, fingerprint },
      this.#o.qspn
    )
    const n: SimNode = { name, naddr: [...naddr], fingerprint, manager }
    this.#nodes.set(name, n)
    return n
  }

  /** Wires a link and adds the arc on both sides at the current virtual time. */
  link (a: string, b: string, cost: Cost, latencyMs: Ms = this.#o.latencyOf?.(cost) ?? this.#o.defaultLatencyMs ?? 1): SimLink {
    const na = this.node(a); const nb = this.node(b)
    const n = this.#links.filter(l => (l.a === a && l.b === b) || (l.a === b && l.b === a)).length
    const link: SimLink = { a, b, arcAtA: `${a}>${b}#${n}`, arcAtB: `${b}>${a}#${n}`, cost, latencyMs, up: true }
    this.#links.push(link)
    this.#arcs.set(link.arcAtA, { link, from: a, to: b, peerArc: link.arcAtB })
    this.#arcs.set(link.arcAtB, { link, from: b, to: a, peerArc: link.arcAtA })
    na.manager.arcAdd({ id: link.arcAtA, cost })
    nb.manager.arcAdd({ id: link.arcAtB, cost })
    return link
  }

  findLink (a: string, b: string): SimLink {
    const l = this.#links.find(x => x.up && ((x.a === a && x.b === b) || (x.a === b && x.b === a)))
    if (l === undefined) throw new RangeError(`no link between ${a} and ${b}`)
    return l
  }

  /** Takes a link down: both sides remove the arc; messages in flight on it are lost. */
  unlink (l: SimLink): void {
    l.up = false
    this.node(l.a).manager.arcRemove(l.arcAtA)
    this.node(l.b).manager.arcRemove(l.arcAtB)
  }

  setCost (l: SimLink, cost: Cost): void {
    l.cost = cost
    this.node(l.a).manager.arcIsChanged({ id: l.arcAtA, cost })
    this.node(l.b).manager.arcIsChanged({ id: l.arcAtB, cost })
  }

  /** Delivers raw text to `to` as if it came over its arc from `from` (tests of the wire validator). */
  injectEtpText (to: string, from: string, text: string, isFull = false): void {
    const l = this.findLink(from, to)
    this.node(to).manager.receiveEtpText(l.a === to ? l.arcAtA : l.arcAtB, text, isFull)
  }

  /**
   * Runs the event queue until no message is in flight and nothing is scheduled within `settleMs` (periodic
   * timers further away do not count). Throws SimNotQuiescentError past `maxVirtualMs`.
   */
  async runUntilQuiescent (o: { settleMs?: Ms, maxVirtualMs?: Ms } = {}): Promise<QuiescenceResult> {
    const settle = o.settleMs ?? 1000
    const start = this.clock.now()
    const limit = start + (o.maxVirtualMs ?? 3_600_000)
    const delivered0 = this.#delivered
    this.#lastDeliveryAt = start
    await this.#drain()
    for (;;) {
      const next = this.clock.nextAt()
      if (next === undefined) break
      if (this.#inFlight === 0 && this.#pendingAnswers === 0 && next > this.clock.now() + settle) break
      if (next > limit) throw new SimNotQuiescentError(limit - start, this.#inFlight)
      this.clock.step()
      if (this.#needsDrain || this.#pendingAnswers > 0) await this.#drain()
    }
    return { convergedAfterMs: this.#lastDeliveryAt - start, deliveredMessages: this.#delivered - delivered0 }
  }

  /** Lets promise callbacks (request/response continuations) run before the next event. */
  async #drain (): Promise<void> {
    this.#needsDrain = false
    await new Promise<void>(resolve => setImmediate(resolve))
  }

  #schedule (latency: Ms, bytes: number, fn: () => void): void {
    this.traffic.messages++
    this.traffic.bytes += bytes
    this.#inFlight++
    this.clock.setTimer(latency, () => {
      this.#inFlight--
      this.#delivered++
      this.#lastDeliveryAt = this.clock.now()
      fn()
    })
  }

  #messengerFor (name: string): QspnMessenger {
    return {
      sendEtp: (arcIds: readonly string[], etp: EtpMessage, isFull: boolean): void => {
        const text = JSON.stringify(etp)
        for (const arcId of arcIds) {
          const end = this.#arcs.get(arcId)
          if (end === undefined || end.from !== name || !end.link.up) continue
          this.traffic.etps++
          const link = end.link
          this.#schedule(link.latencyMs, text.length, () => {
            if (link.up) this.node(end.to).manager.receiveEtpText(end.peerArc, text, isFull)
          })
        }
      },
      sendSignal: (arcIds: readonly string[], signal: QspnSignal): void => {
        for (const arcId of arcIds) {
          const end = this.#arcs.get(arcId)
          if (end === undefined || end.from !== name || !end.link.up) continue
          const link = end.link
          this.#schedule(link.latencyMs, 32, () => {
            if (!link.up) return
            const m = this.node(end.to).manager
            if (signal === 'prepare_destroy') m.gotPrepareDestroy(end.peerArc); else m.gotDestroy(end.peerArc)
          })
        }
      },
      requestFullEtp: async (arcId: string, request: FullEtpRequest): Promise<unknown> => {
        const end = this.#arcs.get(arcId)
        if (end === undefined || end.from !== name || !end.link.up) throw new SimLinkDownError(arcId)
        const link = end.link
        const reqText = JSON.stringify(request)
        this.traffic.fullEtpRequests++
        return await new Promise((resolve, reject) => {
          this.#schedule(link.latencyMs, reqText.length, () => {
            if (!link.up) { reject(new SimLinkDownError(arcId)); return }
            this.#needsDrain = true
            this.#pendingAnswers++
            this.node(end.to).manager.getFullEtp(end.peerArc, JSON.parse(reqText)).then(answer => {
              this.#pendingAnswers--
              const text = JSON.stringify(answer)
              this.traffic.fullEtpResponses++
              this.#schedule(link.latencyMs, text.length, () => {
                this.#needsDrain = true
                if (link.up) resolve(JSON.parse(text)); else reject(new SimLinkDownError(arcId))
              })
            }, (e: unknown) => {
              this.#pendingAnswers--
              this.#schedule(link.latencyMs, 64, () => { this.#needsDrain = true; reject(e) })
            })
          })
        })
      }
    }
  }
}
