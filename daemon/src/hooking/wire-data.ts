import type { EnterOrder } from './entry'
import type { EvaluateEnterData } from './evaluation'
import type { HookingRefused, RefusalReason } from './messages'

// Hooking's data as it travels (refusals, addresses as operators read them) and the checks of the data that comes
// through the Coordinator (propagations and requests carry it as opaque JSON).

export function refused (reason: RefusalReason, message: string): HookingRefused {
  return { v: 1, kind: 'hooking_refused', reason, message }
}

export const dotted = (n: readonly number[]): string => [...n].reverse().join('.')

const isInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0

export function evaluateData (raw: unknown): EvaluateEnterData | null {
  const o = raw as Record<string, unknown> | null
  if (o === null || typeof o !== 'object' || !isInt(o.networkId) || !isInt(o.minLevel) || !isInt(o.evaluateEnterId) || !Array.isArray(o.neighbourNaddr) || !o.neighbourNaddr.every(isInt)) return null
  return { networkId: o.networkId, minLevel: o.minLevel, evaluateEnterId: o.evaluateEnterId, neighbourNaddr: o.neighbourNaddr as number[] }
}

export function enterOrder (raw: unknown): EnterOrder | null {
  const o = raw as Record<string, unknown> | null
  const e = o?.entry as Record<string, unknown> | undefined
  if (o === null || typeof o !== 'object' || !isInt(o.enterId) || !isInt(o.guestLevel) || e === undefined || e === null || typeof e !== 'object') return null
  if (!isInt(e.networkId) || !isInt(e.hostLevel) || !Array.isArray(e.positions) || !e.positions.every(isInt) || !Array.isArray(e.elderships) || !e.elderships.every(isInt)) return null
  return { enterId: o.enterId, guestLevel: o.guestLevel, entry: { networkId: e.networkId, hostLevel: e.hostLevel, positions: e.positions as number[], elderships: e.elderships as number[] } }
}
