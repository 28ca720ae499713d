import { defineMessage, type MessageRegistry, type WireMessage } from '../wire'

/** One end of a (possible) arc: a system's NodeID with one of its NICs (spec §3). */
export interface NicEndpoint { readonly nodeId: string, readonly mac: string, readonly linklocal: string }

export interface HereIAm extends WireMessage { kind: 'here_i_am', from: NicEndpoint }
export interface RequestArc extends WireMessage { kind: 'request_arc', from: NicEndpoint, to: NicEndpoint }
export interface CanYouExport extends WireMessage { kind: 'can_you_export', from: NicEndpoint, to: NicEndpoint, iCanExport: boolean }
export interface CanYouExportReply extends WireMessage { kind: 'can_you_export_reply', accept: boolean }
export interface Nop extends WireMessage { kind: 'nop', from: NicEndpoint, to: NicEndpoint }
export interface RemoveArc extends WireMessage { kind: 'remove_arc', from: NicEndpoint, to: NicEndpoint }

const endpoint = {
  type: 'object',
  properties: {
    nodeId: { type: 'string', minLength: 1, maxLength: 64 },
    mac: { type: 'string', pattern: '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$' },
    linklocal: { type: 'string', pattern: '^169\\.254\\.([0-9]{1,3})\\.([0-9]{1,3})$' }
  },
  required: ['nodeId', 'mac', 'linklocal'],
  additionalProperties: false
}
const pair = { properties: { from: endpoint, to: endpoint }, required: ['from', 'to'] }

export const hereIAm = defineMessage<HereIAm>('here_i_am', { properties: { from: endpoint }, required: ['from'] })
export const requestArc = defineMessage<RequestArc>('request_arc', pair)
export const canYouExport = defineMessage<CanYouExport>('can_you_export', {
  properties: { ...pair.properties, iCanExport: { type: 'boolean' } }, required: [...pair.required, 'iCanExport']
})
export const canYouExportReply = defineMessage<CanYouExportReply>('can_you_export_reply', { properties: { accept: { type: 'boolean' } }, required: ['accept'] })
export const nop = defineMessage<Nop>('nop', pair)
export const removeArc = defineMessage<RemoveArc>('remove_arc', pair)

/** Registers the Neighborhood's message kinds into a node's registry. */
export function registerNeighborhoodMessages (registry: MessageRegistry): void {
  for (const d of [hereIAm, requestArc, canYouExport, canYouExportReply, nop, removeArc]) registry.register(d)
}
