import type { CallerInfo, Transport } from '../transport'
import type { Clock } from '../util/clock'
import type { WireMessage } from '../wire'

/** What an identity offers the demultiplexer: which of its identity-arcs a message came over, and its handler. */
export interface IdentityEndpoint {
  /** The identity-arc (its id) of a message from peer identity `peerId` arriving on my device `dev`, if any. */
  arcFrom (dev: string, peerId: string): string | undefined
  /** Handles one message of an identity module; the reply (for a unicast) or undefined. */
  handle (arcId: string, message: WireMessage): Promise<WireMessage | undefined> | WireMessage | undefined
}

export interface DemuxStats {
  /** Identity messages for an identity this system does not have (any more). */
  unknownIdentity: number
  /** Identity messages from a peer identity with no identity-arc to the addressed one on that device. */
  unknownArc: number
  /** Handlers that threw (logged; the message is dropped). */
  handlerErrors: number
}

/**
 * One demultiplexer per system (spec §3, §6.1): a message of an identity module carries its source and destination
 * identity (`src`, `dst`); it is handed to the destination identity, tied to the identity-arc its source and the
 * device it arrived on name. Anything else is left to the node modules.
 */
export class IdentityDemux {
  readonly stats: DemuxStats = { unknownIdentity: 0, unknownArc: 0, handlerErrors: 0 }
  readonly #endpoints = new Map<string, IdentityEndpoint>()
  readonly #unsubscribe: () => void
  /** Messages waiting for their identity-arc to appear (the arc-detection race, §4.8), per destination identity. */
  readonly #waiting = new Map<string, Set<() => void>>()

  /**
   * `arcWaitMs`: how long a message over an identity-arc not known yet waits for it (both sides add an identity-arc
   * each on its own, and the first message may come before the second side has it).
   */
  constructor (transport: Transport, private readonly clock: Clock, private readonly arcWaitMs: number, private readonly log: (line: string) => void = () => {}) {
    this.#unsubscribe = transport.onMessage(async (m, caller) => await this.#dispatch(m, caller))
  }

  /** An identity-arc of `identityId` appeared: messages waiting for one look again. */
  arcAdded (identityId: string): void {
    for (const wake of [...(this.#waiting.get(identityId) ?? [])]) wake()
  }

  register (identityId: string, endpoint: IdentityEndpoint): () => void {
    this.#endpoints.set(identityId, endpoint)
    return () => { if (this.#endpoints.get(identityId) === endpoint) this.#endpoints.delete(identityId) }
  }

  stop (): void { this.#unsubscribe() }

  /** Messages waiting for their identity-arc now. */
  waiting (): number {
    let n = 0
    for (const set of this.#waiting.values()) n += set.size
    return n
  }

  async #waitForArc (identityId: string, find: () => string | undefined): Promise<string | undefined> {
    if (this.arcWaitMs <= 0) return undefined
    return await new Promise(resolve => {
      const set = this.#waiting.get(identityId) ?? new Set()
      this.#waiting.set(identityId, set)
      const done = (id: string | undefined): void => {
        cancel()
        set.delete(wake)
        if (set.size === 0) this.#waiting.delete(identityId)
        resolve(id)
      }
      const wake = (): void => { const id = find(); if (id !== undefined) done(id) }
      const cancel = this.clock.setTimer(this.arcWaitMs, () => done(find()))
      set.add(wake)
    })
  }

  async #dispatch (m: WireMessage, caller: CallerInfo): Promise<WireMessage | undefined> {
    const dst = m.dst
    const src = m.src
    if (typeof dst !== 'string' || typeof src !== 'string') return undefined
    const ep = this.#endpoints.get(dst)
    if (ep === undefined) { this.stats.unknownIdentity++; return undefined }
    const arcId = ep.arcFrom(caller.nic, src) ?? await this.#waitForArc(dst, () => ep.arcFrom(caller.nic, src))
    if (arcId === undefined) { this.stats.unknownArc++; return undefined }
    try {
      return await ep.handle(arcId, m)
    } catch (e) {
      this.stats.handlerErrors++
      this.log(`identity ${dst}: handler of ${m.kind} over ${arcId} threw: ${(e as Error).stack ?? String(e)}`)
      throw e
    }
  }
}
