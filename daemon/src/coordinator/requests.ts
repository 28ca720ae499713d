import { PeersInvalidRequestError } from '../peers/errors'

/** p_id of the Coordinator service (§6.2). */
export const COORDINATOR_PID = 1

/** Requests of the Coordinator service (§6.2 and the Coordinator page): JSON objects with a `type`. */
export type CoordRequest =
  | { type: 'number_of_nodes' }
  | { type: 'evaluate_enter' | 'begin_enter' | 'completed_enter' | 'abort_enter', lvl: number, data: unknown }
  | { type: 'get_hooking_memory', lvl: number }
  | { type: 'set_hooking_memory', lvl: number, data: unknown }
  | { type: 'reserve', lvl: number, reserveRequestId: number }
  | { type: 'delete_reserve', lvl: number, reserveRequestId: number }
  /** The whole memory, the servant's address and its count of the g-node's nodes (ntkctl coordinator). */
  | { type: 'get_memory', lvl: number }

export const PROXY_TYPES = ['evaluate_enter', 'begin_enter', 'completed_enter', 'abort_enter'] as const
export type ProxyType = typeof PROXY_TYPES[number]

/** A Coordinator request from the wire, checked against the topology's levels. */
export function parseCoordRequest (raw: unknown, levels: number): CoordRequest {
  const bad = (why: string): never => { throw new PeersInvalidRequestError(1, why) }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('not an object')
  const o = raw as Record<string, unknown>
  const lvl = (): number => {
    if (!Number.isInteger(o.lvl) || (o.lvl as number) < 1 || (o.lvl as number) > levels) bad(`level ${JSON.stringify(o.lvl)} outside 1..${levels}`)
    return o.lvl as number
  }
  const id = (): number => {
    if (!Number.isInteger(o.reserveRequestId) || (o.reserveRequestId as number) < 0 || (o.reserveRequestId as number) >= 2 ** 31) bad('reserveRequestId is not an integer in [0, 2^31)')
    return o.reserveRequestId as number
  }
  switch (o.type) {
    case 'number_of_nodes': return { type: 'number_of_nodes' }
    case 'evaluate_enter': case 'begin_enter': case 'completed_enter': case 'abort_enter':
      return { type: o.type, lvl: lvl(), data: o.data ?? null }
    case 'get_hooking_memory': return { type: 'get_hooking_memory', lvl: lvl() }
    case 'set_hooking_memory': return { type: 'set_hooking_memory', lvl: lvl(), data: o.data ?? null }
    case 'reserve': return { type: 'reserve', lvl: lvl(), reserveRequestId: id() }
    case 'delete_reserve': return { type: 'delete_reserve', lvl: lvl(), reserveRequestId: id() }
    case 'get_memory': return { type: 'get_memory', lvl: lvl() }
    default: return bad(`unknown request type ${JSON.stringify(o.type)}`)
  }
}

/** The g-node a request is about: its key (the level); NumberOfNodes asks the whole network. */
export const keyOfCoordRequest = (r: CoordRequest, levels: number): number => r.type === 'number_of_nodes' ? levels : r.lvl

/** Errors a Coordinator answer may carry. */
export type CoordErrorCode = 'handling-impossible' | 'not-coordinator-node' | 'reserve-refused'
export interface CoordErrorResponse { error: CoordErrorCode, message: string }

export const isCoordError = (r: unknown): r is CoordErrorResponse =>
  typeof r === 'object' && r !== null && typeof (r as Record<string, unknown>).error === 'string'
