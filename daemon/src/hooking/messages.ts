import { defineMessage, type FieldSchema, type MessageRegistry, type WireMessage } from '../wire'
import { IDENTITY_ADDRESS_FIELDS } from '../identities/messages'

/*
 * Hooking on the wire (§6.3): requests between neighbour identities over an identity-arc (src, dst, through the
 * demultiplexer), answered on the same connection. A main identity asks its neighbour's main identity for its
 * network's data (same network? how big?), and the node elected to enter asks its neighbour in the other network to
 * find and free a place (search_migration_path) and gets the entry data.
 */

const MAX_LEVELS = 32
const int31: FieldSchema = { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 }
const positions: FieldSchema = { type: 'array', items: int31, maxItems: MAX_LEVELS }
const level: FieldSchema = { type: 'integer', minimum: 0, maximum: MAX_LEVELS }
/** Network ids are fingerprint ids (0 .. 2^53). */
const networkId: FieldSchema = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }

export interface HookingGetNetworkData extends WireMessage { kind: 'hooking_get_network_data', src: string, dst: string, askCoordinator: boolean }
/** §6.3 NetworkData, as the neighbour sees its network. */
export interface HookingNetworkData extends WireMessage {
  kind: 'hooking_network_data'
  networkId: number
  /** Positions per level, level 0 first (the topology). */
  gsizes: number[]
  /** Nodes of the whole network: the neighbour's estimate, or its Coordinator's answer when asked for. */
  nNodes: number
  /** The neighbour's address, level 0 first. */
  naddr: number[]
  /** The lowest level the neighbour accepts to enter at (its autonomous subnet). */
  minLevel: number
}
export type RefusalReason = 'not-main' | 'not-ready' | 'busy' | 'no-path' | 'failed' | 'refused'
export interface HookingRefused extends WireMessage { kind: 'hooking_refused', reason: RefusalReason, message: string }

export interface HookingSearchMigrationPath extends WireMessage { kind: 'hooking_search_migration_path', src: string, dst: string, askLevel: number, networkId: number }
/** §6.3 EntryData: where the entering g-node goes (positions and elderships of levels hostLevel-1 .. levels-1). */
export interface HookingEntryData extends WireMessage {
  kind: 'hooking_entry_data'
  networkId: number
  hostLevel: number
  positions: number[]
  elderships: number[]
}

/** A border node tells its neighbour inside a split g-node's island (§6.3 item 9): the island must leave. */
export interface HookingYouHaveSplitted extends WireMessage { kind: 'hooking_you_have_splitted', src: string, dst: string, level: number, fingerprintId: number }
export interface HookingSplitAck extends WireMessage { kind: 'hooking_split_ack' }

export const hookingGetNetworkData = defineMessage<HookingGetNetworkData>('hooking_get_network_data', {
  properties: { ...IDENTITY_ADDRESS_FIELDS, askCoordinator: { type: 'boolean' } }, required: ['src', 'dst', 'askCoordinator']
})
export const hookingNetworkData = defineMessage<HookingNetworkData>('hooking_network_data', {
  properties: { networkId, gsizes: { ...positions, minItems: 1 }, nNodes: int31, naddr: { ...positions, minItems: 1 }, minLevel: level },
  required: ['networkId', 'gsizes', 'nNodes', 'naddr', 'minLevel']
})
export const hookingRefused = defineMessage<HookingRefused>('hooking_refused', {
  properties: { reason: { enum: ['not-main', 'not-ready', 'busy', 'no-path', 'failed', 'refused'] }, message: { type: 'string', maxLength: 500 } },
  required: ['reason', 'message']
})
export const hookingSearchMigrationPath = defineMessage<HookingSearchMigrationPath>('hooking_search_migration_path', {
  properties: { ...IDENTITY_ADDRESS_FIELDS, askLevel: level, networkId }, required: ['src', 'dst', 'askLevel', 'networkId']
})
export const hookingEntryData = defineMessage<HookingEntryData>('hooking_entry_data', {
  properties: { networkId, hostLevel: level, positions: { ...positions, minItems: 1 }, elderships: { ...positions, minItems: 1 } },
  required: ['networkId', 'hostLevel', 'positions', 'elderships']
})

export const hookingYouHaveSplitted = defineMessage<HookingYouHaveSplitted>('hooking_you_have_splitted', {
  properties: { ...IDENTITY_ADDRESS_FIELDS, level: { ...level, minimum: 1 }, fingerprintId: networkId }, required: ['src', 'dst', 'level', 'fingerprintId']
})
export const hookingSplitAck = defineMessage<HookingSplitAck>('hooking_split_ack', { properties: {}, required: [] })

export function registerHookingMessages (registry: MessageRegistry): void {
  for (const d of [hookingGetNetworkData, hookingNetworkData, hookingRefused, hookingSearchMigrationPath, hookingEntryData, hookingYouHaveSplitted, hookingSplitAck]) registry.register(d)
}

/** Requests between neighbour identities (identity-addressed, handed to the identity's Hooking). */
export const HOOKING_NEIGHBOUR_KINDS: ReadonlySet<string> = new Set(['hooking_get_network_data', 'hooking_search_migration_path', 'hooking_you_have_splitted'])
