import type { CallerInfo, Transport } from '../transport'
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

  constructor (transport: Transport, private readonly log: (line: string) => void = () => {}) {
    this.#unsubscribe = transport.onMessage(async (m, caller) => await this.#dispatch(m, caller))
  }

  register (identityId: string, endpoint: IdentityEndpoint): () => void {
    this.#endpoints.set(identityId, endpoint)
    return () => { if (this.#endpoints.get(identityId) === endpoint) this.#endpoints.delete(identityId) }
  }

  stop (): void { this.#unsubscribe() }

  async #dispatch (m: WireMessage, caller: CallerInfo): Promise<WireMessage | undefined> {
    const dst = m.dst
    const src = m.src
    if (typeof dst !== 'string' || typeof src !== 'string') return undefined
    const ep = this.#endpoints.get(dst)
    if (ep === undefined) { this.stats.unknownIdentity++; return undefined }
    const arcId = ep.arcFrom(caller.nic, src)
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
