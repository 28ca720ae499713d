import { defineMessage, type FieldSchema, type MessageRegistry, type WireMessage } from '../wire'
import { IDENTITY_ADDRESS_FIELDS } from '../identities/messages'

/*
 * Coordinator messages between neighbours: the propagation of a decision to every node of a g-node (§6.2). The
 * Coordinator's service requests travel inside PeerServices' messages.
 */

export const PROPAGATION_KINDS = ['prepare_migration', 'finish_migration', 'prepare_enter', 'finish_enter', 'we_have_splitted'] as const
export type PropagationKind = typeof PROPAGATION_KINDS[number]

/** A propagation inside the g-node of level `lvl` whose positions from lvl up are `gnode` and whose fingerprint is `fpId`. */
export interface CoordPropagate extends WireMessage {
  kind: 'coord_propagate'
  id: number
  what: PropagationKind
  lvl: number
  gnode: number[]
  fpId: number
  /** The sender waits until the receiver's whole part of the g-node has run it ("with return"). */
  withReturn: boolean
  data: unknown
}

/** done: run here (and below, with return); duplicate: already had it; outside: not a member of that g-node. */
export interface CoordPropagateDone extends WireMessage { kind: 'coord_propagate_done', status: 'done' | 'duplicate' | 'outside' }

const int31: FieldSchema = { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 }
export const coordPropagate = defineMessage<CoordPropagate>('coord_propagate', {
  properties: {
    ...IDENTITY_ADDRESS_FIELDS,
    id: int31,
    what: { enum: [...PROPAGATION_KINDS] },
    lvl: { type: 'integer', minimum: 1, maximum: 32 },
    gnode: { type: 'array', items: int31, maxItems: 32 },
    fpId: { type: 'integer', minimum: -1, maximum: 2 ** 53 },
    withReturn: { type: 'boolean' },
    data: {}
  },
  required: ['src', 'dst', 'id', 'what', 'lvl', 'gnode', 'fpId', 'withReturn', 'data']
})
export const coordPropagateDone = defineMessage<CoordPropagateDone>('coord_propagate_done', {
  properties: { status: { enum: ['done', 'duplicate', 'outside'] } }, required: ['status']
})

/** Registers every Coordinator message kind with its schema. */
export function registerCoordinatorMessages (registry: MessageRegistry): void {
  for (const d of [coordPropagate, coordPropagateDone]) registry.register(d)
}
