import type { Ms } from '../util/clock'

/*
 * The shared memory of a g-node (§6.2 `CoordGnodeMemory`) and the reservations in it. Times are absolute on the
 * holder's clock; on the wire they travel as what is left (ttlMs), since clocks of different hosts disagree.
 */

export interface Booking {
  readonly reserveRequestId: number
  readonly newPos: number
  readonly newEldership: number
  expiresAt: number
}

export interface CoordGnodeMemory {
  reserveList: Booking[]
  /** Highest virtual position handed out inside this g-node. */
  maxVirtualPos: number
  /** Highest eldership handed out (higher = younger). */
  maxEldership: number
  /** Last answer to NumberOfNodes (whole-network memory only) and until when it is repeated. */
  nNodes: number | null
  nNodesExpiresAt: number | null
  /** Opaque data of the Hooking module. */
  hookingMemory: unknown
}

export interface BookingWire { reserveRequestId: number, newPos: number, newEldership: number, ttlMs: number }
export interface MemoryWire {
  reserveList: BookingWire[]
  maxVirtualPos: number
  maxEldership: number
  nNodes: number | null
  nNodesTtlMs: number | null
  hookingMemory: unknown
}

/** The memory of a g-node of level lvl that nobody has written yet (`new_coordgnodememory`). */
export function defaultMemory (gsizes: readonly number[], lvl: number): CoordGnodeMemory {
  return { reserveList: [], maxVirtualPos: gsizes[lvl - 1], maxEldership: 0, nNodes: null, nNodesExpiresAt: null, hookingMemory: null }
}

export function memoryToWire (m: CoordGnodeMemory, now: number): MemoryWire {
  return {
    reserveList: m.reserveList.map(b => ({ reserveRequestId: b.reserveRequestId, newPos: b.newPos, newEldership: b.newEldership, ttlMs: Math.max(0, b.expiresAt - now) })),
    maxVirtualPos: m.maxVirtualPos,
    maxEldership: m.maxEldership,
    nNodes: m.nNodes,
    nNodesTtlMs: m.nNodesExpiresAt === null ? null : Math.max(0, m.nNodesExpiresAt - now),
    hookingMemory: m.hookingMemory ?? null
  }
}

const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 31
const isTtl = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 2 ** 40

/** A memory from the wire, checked; null when anything is off. */
export function memoryFromWire (raw: unknown, now: number): CoordGnodeMemory | null {
  if (typeof raw !== 'object' || raw === null) return null
  const o = raw as Record<string, unknown>
  if (!Array.isArray(o.reserveList) || o.reserveList.length > 65536 || !isCount(o.maxVirtualPos) || !isCount(o.maxEldership)) return null
  if (o.nNodes !== null && !isCount(o.nNodes)) return null
  if (o.nNodesTtlMs !== null && !isTtl(o.nNodesTtlMs)) return null
  const list: Booking[] = []
  for (const b of o.reserveList as unknown[]) {
    if (typeof b !== 'object' || b === null) return null
    const x = b as Record<string, unknown>
    if (!isCount(x.reserveRequestId) || !isCount(x.newPos) || !isCount(x.newEldership) || !isTtl(x.ttlMs)) return null
    list.push({ reserveRequestId: x.reserveRequestId, newPos: x.newPos, newEldership: x.newEldership, expiresAt: now + x.ttlMs })
  }
  return {
    reserveList: list,
    maxVirtualPos: o.maxVirtualPos,
    maxEldership: o.maxEldership,
    nNodes: o.nNodes as number | null,
    nNodesExpiresAt: o.nNodesTtlMs === null ? null : now + (o.nNodesTtlMs as number),
    hookingMemory: o.hookingMemory === undefined ? null : o.hookingMemory
  }
}

export interface Reservation { readonly newPos: number, readonly newEldership: number }

/**
 * reserve (§6.2, `ReserveEnterRequest`): expired bookings go; the same id gets its booking again (renewed);
 * otherwise the first free real position (not in the coordinator's map, not booked), else the next virtual one,
 * with the next eldership. Mutates `m`.
 */
export function reserve (m: CoordGnodeMemory, o: { now: number, reserveRequestId: number, freePositions: readonly number[], bookingTimeoutMs: Ms }): Reservation {
  dropExpired(m, o.now)
  const known = m.reserveList.find(b => b.reserveRequestId === o.reserveRequestId)
  if (known !== undefined) {
    known.expiresAt = o.now + o.bookingTimeoutMs
    return { newPos: known.newPos, newEldership: known.newEldership }
  }
  const booked = new Set(m.reserveList.map(b => b.newPos))
  const free = o.freePositions.find(p => !booked.has(p))
  const newPos = free ?? ++m.maxVirtualPos
  const newEldership = ++m.maxEldership
  m.reserveList.push({ reserveRequestId: o.reserveRequestId, newPos, newEldership, expiresAt: o.now + o.bookingTimeoutMs })
  return { newPos, newEldership }
}

/** delete_reserve: the booking with that id goes (nothing happens when there is none). */
export function deleteReserve (m: CoordGnodeMemory, reserveRequestId: number): void {
  m.reserveList = m.reserveList.filter(b => b.reserveRequestId !== reserveRequestId)
}

export function dropExpired (m: CoordGnodeMemory, now: number): void {
  if (m.reserveList.some(b => b.expiresAt <= now)) m.reserveList = m.reserveList.filter(b => b.expiresAt > now)
}
