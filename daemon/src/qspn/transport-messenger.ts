import { defineMessage, type MessageRegistry, type WireMessage } from '../wire'
import type { CallerInfo, PeerAddress, Transport } from '../transport'
import type { EtpMessage, FullEtpRequest } from './etp'
import { QspnBootstrapInProgressError, QspnNotAcceptedError } from './errors'
import type { QspnMessenger } from './messenger'

// QSPN on the wire: the envelope is checked by the registry's schema; the ETP inside is checked by
// QSPN's own validator (validateEtp / validateFullEtpRequest), which knows the topology's bounds.
type Json = Record<string, unknown>
export interface QspnEtpMessage extends WireMessage { kind: 'qspn_etp', etp: Json, full: boolean }
export interface QspnGetFullEtp extends WireMessage { kind: 'qspn_get_full_etp', request: Json }
export interface QspnFullEtp extends WireMessage { kind: 'qspn_full_etp', etp: Json }
export interface QspnRefused extends WireMessage { kind: 'qspn_refused', reason: 'bootstrap' | 'not-accepted' }

const object = { type: 'object' }
export const qspnEtp = defineMessage<QspnEtpMessage>('qspn_etp', { properties: { etp: object, full: { type: 'boolean' } }, required: ['etp', 'full'] })
export const qspnGetFullEtp = defineMessage<QspnGetFullEtp>('qspn_get_full_etp', { properties: { request: object }, required: ['request'] })
export const qspnFullEtp = defineMessage<QspnFullEtp>('qspn_full_etp', { properties: { etp: object }, required: ['etp'] })
export const qspnRefused = defineMessage<QspnRefused>('qspn_refused', { properties: { reason: { enum: ['bootstrap', 'not-accepted'] } }, required: ['reason'] })

export function registerQspnMessages (registry: MessageRegistry): void {
  for (const d of [qspnEtp, qspnGetFullEtp, qspnFullEtp, qspnRefused]) registry.register(d)
}

/** The receiving side of QSPN, as a QspnManager offers it. */
export interface QspnReceiver {
  receiveEtp: (arcId: string, obj: unknown, isFull: boolean) => void
  getFullEtp: (arcId: string, request: unknown) => Promise<EtpMessage>
}

export interface TransportMessengerStats {
  /** ETPs that could not be sent (peer unreachable, timeout). */
  sendFailures: number
  /** QSPN messages from a (NIC, link-local) that is no arc of ours. */
  fromUnknownArc: number
}

/**
 * Carries one identity's QSPN over the Transport: ETPs as unicasts to the arc's peer, full-ETP
 * requests as request/reply. Arcs are known by the owner's id and map to the peer's link-local on
 * one of our NICs; an incoming message is tied to an arc by the NIC it came in on and its source.
 */
export class TransportQspnMessenger implements QspnMessenger {
  readonly stats: TransportMessengerStats = { sendFailures: 0, fromUnknownArc: 0 }
  readonly #peers = new Map<string, PeerAddress>()
  readonly #arcOf = new Map<string, string>()
  #receiver: QspnReceiver | undefined

  constructor (private readonly transport: Transport, private readonly o: { timeoutMs?: number } = {}) {}

  /** Starts delivering incoming QSPN messages to the receiver; returns the function that stops it. */
  attach (receiver: QspnReceiver): () => void {
    this.#receiver = receiver
    return this.transport.onMessage(async (m, caller) => await this.#handle(m, caller))
  }

  setArc (arcId: string, peer: PeerAddress): void {
    const old = this.#peers.get(arcId)
    if (old !== undefined) this.#arcOf.delete(peerKey(old))
    this.#peers.set(arcId, peer)
    this.#arcOf.set(peerKey(peer), arcId)
  }

  removeArc (arcId: string): void {
    const peer = this.#peers.get(arcId)
    if (peer !== undefined) this.#arcOf.delete(peerKey(peer))
    this.#peers.delete(arcId)
  }

  sendEtp (arcIds: readonly string[], etp: EtpMessage, isFull: boolean): void {
    const msg: QspnEtpMessage = { v: 1, kind: 'qspn_etp', etp: etp as unknown as Json, full: isFull }
    for (const id of arcIds) {
      const peer = this.#peers.get(id)
      if (peer === undefined) { this.stats.sendFailures++; continue }
      // Fire and forget (QSPN's own timers and full-ETP requests recover lost ETPs).
      this.transport.unicast(peer, msg, { timeoutMs: this.o.timeoutMs }).catch(() => { this.stats.sendFailures++ })
    }
  }

  async requestFullEtp (arcId: string, request: FullEtpRequest, o: { signal?: AbortSignal } = {}): Promise<unknown> {
    const peer = this.#peers.get(arcId)
    if (peer === undefined) throw new QspnNotAcceptedError(arcId)
    const reply = await this.transport.unicast(peer, { v: 1, kind: 'qspn_get_full_etp', request: request as unknown as Json }, { timeoutMs: this.o.timeoutMs, signal: o.signal })
    if (reply !== undefined && qspnFullEtp.is(reply)) return reply.etp
    if (reply !== undefined && qspnRefused.is(reply)) {
      throw reply.reason === 'bootstrap' ? new QspnBootstrapInProgressError(`peer on arc ${arcId}`) : new QspnNotAcceptedError(arcId)
    }
    throw new QspnNotAcceptedError(arcId)
  }

  async #handle (m: WireMessage, caller: CallerInfo): Promise<WireMessage | undefined> {
    if (!qspnEtp.is(m) && !qspnGetFullEtp.is(m)) return undefined
    const arcId = this.#arcOf.get(`${caller.nic}|${caller.source}`)
    const receiver = this.#receiver
    if (arcId === undefined || receiver === undefined) {
      this.stats.fromUnknownArc++
      return qspnGetFullEtp.is(m) ? refused('not-accepted') : undefined
    }
    if (qspnEtp.is(m)) {
      receiver.receiveEtp(arcId, m.etp, m.full)
      return undefined
    }
    try {
      const etp = await receiver.getFullEtp(arcId, m.request)
      return { v: 1, kind: 'qspn_full_etp', etp: etp as unknown as Json } satisfies QspnFullEtp
    } catch (err) {
      return refused(err instanceof QspnBootstrapInProgressError ? 'bootstrap' : 'not-accepted')
    }
  }
}

function refused (reason: QspnRefused['reason']): QspnRefused {
  return { v: 1, kind: 'qspn_refused', reason }
}

function peerKey (p: PeerAddress): string {
  return `${p.nic}|${p.linklocal}`
}
