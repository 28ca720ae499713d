import { defineMessage, type FieldSchema, type MessageRegistry, type MessageSchema, type WireMessage } from '../wire'
import type { PeerAddress, Transport } from '../transport'
import { IDENTITY_ADDRESS_FIELDS } from '../identities/messages'
import type { EtpMessage, FullEtpRequest } from './etp'
import { QspnBootstrapInProgressError, QspnNotAcceptedError } from './errors'
import type { QspnMessenger, QspnSignal } from './messenger'

// QSPN on the wire: the envelope (with the source and destination identity) is checked by the registry's schema;
// the ETP inside is checked by QSPN's own validator (validateEtp / validateFullEtpRequest), which knows the
// topology's bounds. Replies travel on the request's connection and carry no identities.
type Json = Record<string, unknown>
export interface QspnEtpMessage extends WireMessage { kind: 'qspn_etp', src: string, dst: string, etp: Json, full: boolean }
export interface QspnGetFullEtp extends WireMessage { kind: 'qspn_get_full_etp', src: string, dst: string, request: Json }
export interface QspnSignalMessage extends WireMessage { kind: 'qspn_signal', src: string, dst: string, signal: QspnSignal }
export interface QspnFullEtp extends WireMessage { kind: 'qspn_full_etp', etp: Json }
export interface QspnRefused extends WireMessage { kind: 'qspn_refused', reason: 'bootstrap' | 'not-accepted' }

const object = { type: 'object' }
const addressed = (properties: Record<string, FieldSchema>, required: string[]): MessageSchema =>
  ({ properties: { ...IDENTITY_ADDRESS_FIELDS, ...properties }, required: ['src', 'dst', ...required] })
export const qspnEtp = defineMessage<QspnEtpMessage>('qspn_etp', addressed({ etp: object, full: { type: 'boolean' } }, ['etp', 'full']))
export const qspnGetFullEtp = defineMessage<QspnGetFullEtp>('qspn_get_full_etp', addressed({ request: object }, ['request']))
export const qspnSignal = defineMessage<QspnSignalMessage>('qspn_signal', addressed({ signal: { enum: ['prepare_destroy', 'destroy'] } }, ['signal']))
export const qspnFullEtp = defineMessage<QspnFullEtp>('qspn_full_etp', { properties: { etp: object }, required: ['etp'] })
export const qspnRefused = defineMessage<QspnRefused>('qspn_refused', { properties: { reason: { enum: ['bootstrap', 'not-accepted'] } }, required: ['reason'] })

export function registerQspnMessages (registry: MessageRegistry): void {
  for (const d of [qspnEtp, qspnGetFullEtp, qspnSignal, qspnFullEtp, qspnRefused]) registry.register(d)
}

/** The receiving side of QSPN, as a QspnManager offers it. */
export interface QspnReceiver {
  receiveEtp: (arcId: string, obj: unknown, isFull: boolean) => void
  getFullEtp: (arcId: string, request: unknown) => Promise<EtpMessage>
  gotPrepareDestroy: (arcId: string) => void
  gotDestroy: (arcId: string) => void
}

export interface TransportMessengerStats {
  /** ETPs and signals that could not be sent (peer unreachable, timeout, arc unknown). */
  sendFailures: number
}

/** Where the messages over one of my identity's arcs go: the peer identity and its address from my NIC. */
export interface MessengerArc { readonly peer: PeerAddress, readonly peerId: string }

/**
 * Carries one identity's QSPN over the Transport: ETPs and signals as unicasts to the identity-arc's peer, full-ETP
 * requests as request/reply, each addressed from this identity to the peer identity. Incoming messages reach
 * `handle` through the system's identity demultiplexer, already tied to an arc.
 */
export class TransportQspnMessenger implements QspnMessenger {
  readonly stats: TransportMessengerStats = { sendFailures: 0 }
  #receiver: QspnReceiver | undefined
  /** While held, outgoing messages wait (the identity is moving to other NICs): resolved by `release`. */
  #held: { promise: Promise<void>, release: () => void } | undefined

  /** `arcOf(arcId)`: where that arc leads now (it follows identity_arc_changed), or undefined. */
  constructor (
    private readonly transport: Transport,
    private readonly myId: () => string,
    private readonly arcOf: (arcId: string) => MessengerArc | undefined,
    private readonly o: { timeoutMs?: number } = {}
  ) {}

  attach (receiver: QspnReceiver): void { this.#receiver = receiver }

  /** Outgoing messages wait from now on (the identity moves: its NICs, link-locals and routes are being made). */
  hold (): void {
    if (this.#held !== undefined) return
    let release = (): void => {}
    const promise = new Promise<void>(resolve => { release = resolve })
    this.#held = { promise, release }
  }

  /** Lets the waiting messages go, over the arcs as they are now. */
  release (): void {
    const h = this.#held
    this.#held = undefined
    h?.release()
  }

  sendEtp (arcIds: readonly string[], etp: EtpMessage, isFull: boolean, failed?: (arcId: string) => void): void {
    void this.#afterHold(() => {
      for (const id of arcIds) {
        const a = this.arcOf(id)
        if (a === undefined) { this.stats.sendFailures++; failed?.(id); continue }
        const msg: QspnEtpMessage = { v: 1, kind: 'qspn_etp', src: this.myId(), dst: a.peerId, etp: etp as unknown as Json, full: isFull }
        // No reply is awaited by QSPN, but one that never came means the neighbour may have missed the ETP: QSPN
        // sends it a full ETP then (see Forwarder), so a lost change does not wait for the periodic full ETP.
        this.transport.unicast(a.peer, msg, { timeoutMs: this.o.timeoutMs }).catch(() => { this.stats.sendFailures++; failed?.(id) })
      }
    })
  }

  sendSignal (arcIds: readonly string[], signal: QspnSignal): void {
    void this.#afterHold(() => {
      for (const id of arcIds) {
        const a = this.arcOf(id)
        if (a === undefined) { this.stats.sendFailures++; continue }
        const msg: QspnSignalMessage = { v: 1, kind: 'qspn_signal', src: this.myId(), dst: a.peerId, signal }
        this.transport.unicast(a.peer, msg, { timeoutMs: this.o.timeoutMs }).catch(() => { this.stats.sendFailures++ })
      }
    })
  }

  async #afterHold (f: () => void): Promise<void> {
    const h = this.#held
    if (h === undefined) { f(); return }
    await h.promise
    f()
  }

  async requestFullEtp (arcId: string, request: FullEtpRequest, o: { signal?: AbortSignal } = {}): Promise<unknown> {
    if (this.#held !== undefined) await this.#held.promise
    const a = this.arcOf(arcId)
    if (a === undefined) throw new QspnNotAcceptedError(arcId)
    const msg: QspnGetFullEtp = { v: 1, kind: 'qspn_get_full_etp', src: this.myId(), dst: a.peerId, request: request as unknown as Json }
    const reply = await this.transport.unicast(a.peer, msg, { timeoutMs: this.o.timeoutMs, signal: o.signal })
    if (reply !== undefined && qspnFullEtp.is(reply)) return reply.etp
    if (reply !== undefined && qspnRefused.is(reply)) {
      throw reply.reason === 'bootstrap' ? new QspnBootstrapInProgressError(`peer on arc ${arcId}`) : new QspnNotAcceptedError(arcId)
    }
    throw new QspnNotAcceptedError(arcId)
  }

  /** A QSPN message for this identity over `arcId` (from the demultiplexer); the reply of a request. */
  async handle (arcId: string, m: WireMessage): Promise<WireMessage | undefined> {
    const receiver = this.#receiver
    if (receiver === undefined) return qspnGetFullEtp.is(m) ? refused('not-accepted') : undefined
    if (qspnEtp.is(m)) { receiver.receiveEtp(arcId, m.etp, m.full); return undefined }
    if (qspnSignal.is(m)) {
      if (m.signal === 'prepare_destroy') receiver.gotPrepareDestroy(arcId); else receiver.gotDestroy(arcId)
      return undefined
    }
    if (!qspnGetFullEtp.is(m)) return undefined
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
