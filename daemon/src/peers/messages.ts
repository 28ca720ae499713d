import { defineMessage, type FieldSchema, type MessageDef, type MessageRegistry, type WireMessage } from '../wire'
import type { GnodeTuple } from './distance'
import { IDENTITY_ADDRESS_FIELDS } from '../identities/messages'

/*
 * PeerServices on the wire (§5.4). Messages between neighbours carry the source and destination identity (src, dst:
 * the system's demultiplexer hands them to the identity over the right identity-arc; the identity's port adds them
 * and strips them); messages routed back to a client go to the system's addresses and carry none. Requests and responses of the services are opaque JSON here; each
 * service validates its own.
 */

const MAX_LEVELS = 32
const position: FieldSchema = { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 }
const positions: FieldSchema = { type: 'array', items: position, maxItems: MAX_LEVELS }
const level: FieldSchema = { type: 'integer', minimum: 0, maximum: MAX_LEVELS }
const msgId: FieldSchema = { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 }
const pId: FieldSchema = { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 }
export const gnodeSchema: FieldSchema = {
  type: 'object',
  properties: { level, positions: { ...positions, minItems: 1 } },
  required: ['level', 'positions'],
  additionalProperties: false
}
const any: FieldSchema = {}

/** m' of §5.4: a request on its way to the servant of (lvl, pos) relative to the common g-node of level lvl+1. */
export interface PeersForward extends WireMessage {
  kind: 'peers_forward'
  pId: number
  msgId: number
  /** Level of the g-node the search is restricted to (w, the length of x̄ at the client). */
  insideLevel: number
  /** The client's positions n_0..n_j: its address inside the g-node of level j+1 it shares with the target (j ≥ lvl). */
  client: number[]
  lvl: number
  pos: number
  /** x̄_0..x̄_{lvl-1}: where to aim inside the target g-node. */
  xbar: number[]
  /** g-nodes inside the target excluded by the client (top = lvl). */
  exclude: GnodeTuple[]
  /** Some g-node was excluded only for not answering in time (ExecInfo.degraded). */
  degraded?: boolean
  /** Hops travelled so far (a bound against loops of inconsistent maps). */
  hops: number
  /**
   * Any node will do inside the g-node aimed at (ContactOptions.serveAtLevel): the first main identity reached inside
   * a target of this level or lower serves.
   */
  serveAtLevel?: number
}

/** Servant to client: "I am the servant of msgId, give me the request." */
export interface PeersGetRequest extends WireMessage { kind: 'peers_get_request', msgId: number, respondant: number[] }
/** Client to servant: the request (the answer to peers_get_request). */
export interface PeersRequestBody extends WireMessage { kind: 'peers_request', request: unknown, timeoutExecMs: number }
/** Client to servant: no such request is waiting (already answered, given up, or not for you). */
export interface PeersUnknownMessage extends WireMessage { kind: 'peers_unknown_message', reason: string }
export interface PeersSetResponse extends WireMessage { kind: 'peers_set_response', msgId: number, respondant: number[], response: unknown }
/** The servant refused (not exhaustive, out of memory, …): the client excludes its g-node of `level`. */
export interface PeersSetRefuse extends WireMessage { kind: 'peers_set_refuse', msgId: number, respondant: number[], message: string, level: number }
/** The servant asks the client to start the whole request again (records moving, §5.5). */
export interface PeersSetRedo extends WireMessage { kind: 'peers_set_redo', msgId: number, respondant: number[] }
/** A forwarder inside the target re-targeted the request to a smaller g-node (the client waits for that one). */
export interface PeersSetNext extends WireMessage { kind: 'peers_set_next', msgId: number, gnode: GnodeTuple }
/** Nobody inside that g-node can take the request. */
export interface PeersSetFailure extends WireMessage { kind: 'peers_set_failure', msgId: number, gnode: GnodeTuple }
/** That g-node does not take part in the (optional) service. */
export interface PeersSetNonParticipant extends WireMessage { kind: 'peers_set_non_participant', msgId: number, gnode: GnodeTuple }

/** A participant of optional service pId lives in this g-node (top = levels). Flooded between neighbours. */
export interface PeersParticipant extends WireMessage { kind: 'peers_participant', pId: number, gnode: GnodeTuple }
export interface PeersAskParticipants extends WireMessage { kind: 'peers_ask_participants' }
/** A neighbour's participant maps: g-nodes relative to its address `naddr`. */
export interface PeersParticipants extends WireMessage {
  kind: 'peers_participants'
  naddr: number[]
  sets: Array<{ pId: number, gnodes: Array<{ lvl: number, pos: number }> }>
}

const tuples: FieldSchema = { type: 'array', items: gnodeSchema, maxItems: 4096 }

export const peersForward = defineMessage<PeersForward>('peers_forward', {
  properties: { ...IDENTITY_ADDRESS_FIELDS, pId, msgId, insideLevel: level, client: { ...positions, minItems: 1 }, lvl: level, pos: position, xbar: positions, exclude: tuples, degraded: { type: 'boolean' }, hops: { type: 'integer', minimum: 0, maximum: 1024 }, serveAtLevel: level },
  required: ['src', 'dst', 'pId', 'msgId', 'insideLevel', 'client', 'lvl', 'pos', 'xbar', 'exclude', 'hops']
})
export const peersGetRequest = defineMessage<PeersGetRequest>('peers_get_request', { properties: { msgId, respondant: positions }, required: ['msgId', 'respondant'] })
export const peersRequestBody = defineMessage<PeersRequestBody>('peers_request', {
  properties: { request: any, timeoutExecMs: { type: 'integer', minimum: 0, maximum: 3_600_000 } }, required: ['request', 'timeoutExecMs']
})
export const peersUnknownMessage = defineMessage<PeersUnknownMessage>('peers_unknown_message', { properties: { reason: { type: 'string', maxLength: 200 } }, required: ['reason'] })
export const peersSetResponse = defineMessage<PeersSetResponse>('peers_set_response', { properties: { msgId, respondant: positions, response: any }, required: ['msgId', 'respondant', 'response'] })
export const peersSetRefuse = defineMessage<PeersSetRefuse>('peers_set_refuse', {
  properties: { msgId, respondant: positions, message: { type: 'string', maxLength: 1000 }, level }, required: ['msgId', 'respondant', 'message', 'level']
})
export const peersSetRedo = defineMessage<PeersSetRedo>('peers_set_redo', { properties: { msgId, respondant: positions }, required: ['msgId', 'respondant'] })
export const peersSetNext = defineMessage<PeersSetNext>('peers_set_next', { properties: { msgId, gnode: gnodeSchema }, required: ['msgId', 'gnode'] })
export const peersSetFailure = defineMessage<PeersSetFailure>('peers_set_failure', { properties: { msgId, gnode: gnodeSchema }, required: ['msgId', 'gnode'] })
export const peersSetNonParticipant = defineMessage<PeersSetNonParticipant>('peers_set_non_participant', { properties: { msgId, gnode: gnodeSchema }, required: ['msgId', 'gnode'] })
export const peersParticipant = defineMessage<PeersParticipant>('peers_participant', { properties: { ...IDENTITY_ADDRESS_FIELDS, pId, gnode: gnodeSchema }, required: ['src', 'dst', 'pId', 'gnode'] })
export const peersAskParticipants = defineMessage<PeersAskParticipants>('peers_ask_participants', { properties: { ...IDENTITY_ADDRESS_FIELDS }, required: ['src', 'dst'] })
export const peersParticipants = defineMessage<PeersParticipants>('peers_participants', {
  properties: {
    naddr: positions,
    sets: {
      type: 'array',
      maxItems: 1024,
      items: {
        type: 'object',
        properties: {
          pId,
          gnodes: { type: 'array', maxItems: 65536, items: { type: 'object', properties: { lvl: level, pos: position }, required: ['lvl', 'pos'], additionalProperties: false } }
        },
        required: ['pId', 'gnodes'],
        additionalProperties: false
      }
    }
  },
  required: ['naddr', 'sets']
})

export const PEERS_MESSAGES: ReadonlyArray<MessageDef<any>> = [
  peersForward, peersGetRequest, peersRequestBody, peersUnknownMessage, peersSetResponse, peersSetRefuse, peersSetRedo,
  peersSetNext, peersSetFailure, peersSetNonParticipant, peersParticipant, peersAskParticipants, peersParticipants
]

/** Registers every PeerServices message kind with its schema. */
export function registerPeersMessages (registry: MessageRegistry): void {
  for (const d of PEERS_MESSAGES) registry.register(d)
}

/** Messages between neighbour identities over qspn-arcs (they carry src and dst on the wire). */
export const NEIGHBOUR_KINDS: ReadonlySet<string> = new Set(['peers_forward', 'peers_participant', 'peers_ask_participants'])

/** Messages that travel back to the client over the routed channel. */
export const CONTACT_KINDS: ReadonlySet<string> = new Set([
  'peers_get_request', 'peers_set_response', 'peers_set_refuse', 'peers_set_redo', 'peers_set_next', 'peers_set_failure', 'peers_set_non_participant'
])
