import { defineMessage, type MessageRegistry, type WireMessage } from '../wire'

/*
 * The Identities protocol (spec §6.1), a node module: requests between two systems over one arc, real NIC to real
 * NIC. Identities are named by their NodeID (16 lowercase hex digits).
 */

export const NODE_ID_PATTERN = '^[0-9a-f]{16}$'
const nodeId = { type: 'string', pattern: NODE_ID_PATTERN }
const mac = { type: 'string', pattern: '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$' }
const linkLocal = { type: 'string', pattern: '^169\\.254\\.([0-9]{1,3})\\.([0-9]{1,3})$' }
const netns = { type: 'string', pattern: '^[A-Za-z0-9_-]{0,15}$' }

/** Which identity is your main one? */
export interface IdentityMainQuery extends WireMessage { kind: 'identity_main' }
export interface IdentityMainReply extends WireMessage { kind: 'identity_main_reply', id: string }

/** Your identities, with the NIC each uses on the NIC this request arrived on. */
export interface IdentityListQuery extends WireMessage { kind: 'identity_list' }
export interface IdentityListReply extends WireMessage {
  kind: 'identity_list_reply'
  identities: Array<{ id: string, netns: string, mac: string, linkLocal: string }>
}

/**
 * My identity `oldId` (which has an identity-arc with your `peerId` over this arc) was just duplicated in migration
 * `migrationId`: `newId` took over its NICs, and `oldId` now answers on `oldMac`/`oldLinkLocal`. Did `peerId`
 * duplicate in the same migration?
 */
export interface IdentityMatchDuplication extends WireMessage {
  kind: 'identity_match_duplication'
  migrationId: number
  oldId: string
  newId: string
  peerId: string
  oldMac: string
  oldLinkLocal: string
}
/**
 * Empty when `peerId` did not duplicate; otherwise its new identity and where the old one answers now. `peerPending`:
 * it takes part in the same migration but has not duplicated yet; it will ask in its turn.
 */
export interface IdentityDuplication extends WireMessage {
  kind: 'identity_duplication'
  peerNewId?: string
  peerOldMac?: string
  peerOldLinkLocal?: string
  peerPending?: boolean
}

/**
 * Add (or remove) the identity-arc between my `fromId` (on `fromMac`/`fromLinkLocal`) and your `toId`; `qspn`: both
 * sides hand it to QSPN (the identities are in the same network).
 */
export interface IdentityAddArc extends WireMessage { kind: 'identity_add_arc', fromId: string, toId: string, fromMac: string, fromLinkLocal: string, qspn?: boolean }
export interface IdentityRemoveArc extends WireMessage { kind: 'identity_remove_arc', fromId: string, toId: string }
export interface IdentityAck extends WireMessage { kind: 'identity_ack', ok: boolean, reason?: string }

export const identityMain = defineMessage<IdentityMainQuery>('identity_main', { properties: {} })
export const identityMainReply = defineMessage<IdentityMainReply>('identity_main_reply', { properties: { id: nodeId }, required: ['id'] })
export const identityList = defineMessage<IdentityListQuery>('identity_list', { properties: {} })
export const identityListReply = defineMessage<IdentityListReply>('identity_list_reply', {
  properties: {
    identities: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        properties: { id: nodeId, netns, mac, linkLocal },
        required: ['id', 'netns', 'mac', 'linkLocal'],
        additionalProperties: false
      }
    }
  },
  required: ['identities']
})
export const identityMatchDuplication = defineMessage<IdentityMatchDuplication>('identity_match_duplication', {
  properties: {
    migrationId: { type: 'integer', minimum: 0, maximum: 2 ** 53 - 1 },
    oldId: nodeId,
    newId: nodeId,
    peerId: nodeId,
    oldMac: mac,
    oldLinkLocal: linkLocal
  },
  required: ['migrationId', 'oldId', 'newId', 'peerId', 'oldMac', 'oldLinkLocal']
})
export const identityDuplication = defineMessage<IdentityDuplication>('identity_duplication', {
  properties: { peerNewId: nodeId, peerOldMac: mac, peerOldLinkLocal: linkLocal, peerPending: { type: 'boolean' } }
})
export const identityAddArc = defineMessage<IdentityAddArc>('identity_add_arc', {
  properties: { fromId: nodeId, toId: nodeId, fromMac: mac, fromLinkLocal: linkLocal, qspn: { type: 'boolean' } },
  required: ['fromId', 'toId', 'fromMac', 'fromLinkLocal']
})
export const identityRemoveArc = defineMessage<IdentityRemoveArc>('identity_remove_arc', {
  properties: { fromId: nodeId, toId: nodeId }, required: ['fromId', 'toId']
})
export const identityAck = defineMessage<IdentityAck>('identity_ack', {
  properties: { ok: { type: 'boolean' }, reason: { type: 'string', maxLength: 200 } }, required: ['ok']
})

export function registerIdentityMessages (registry: MessageRegistry): void {
  for (const d of [identityMain, identityMainReply, identityList, identityListReply, identityMatchDuplication, identityDuplication, identityAddArc, identityRemoveArc, identityAck]) {
    registry.register(d)
  }
}

/** The fields every identity-addressed message carries (QSPN, and later PeerServices, Coordinator, Hooking). */
export const IDENTITY_ADDRESS_FIELDS = { src: nodeId, dst: nodeId } as const
