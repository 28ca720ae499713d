import { DEAD, type HCoord } from './types'
import type { Fingerprint } from './fingerprint'

/*
 * QSPN wire messages (§4.3). Plain JSON objects, positions and lists level 0 first. Every message is validated
 * by `validateEtp` before it touches a map: the wire is never trusted.
 */

export interface EtpPath {
  /** g-nodes relative to the sender, the last one is the destination. */
  readonly hops: readonly HCoord[]
  /** arcs[k] = QSPN arc id of the arc entering hops[k]; arcs[0] joins the sender to hops[0]. */
  readonly arcs: readonly number[]
  /** Microseconds from the sender, or DEAD (-1) for a removed path. */
  readonly cost: number
  readonly fingerprint: Fingerprint
  readonly nodesInside: number
  /** ignoreOutside[i] (i >= 1): receivers outside the sender's level-i g-node drop this path. [0] is unused. */
  readonly ignoreOutside: readonly boolean[]
}

export interface EtpMessage {
  readonly kind: 'etp'
  readonly nodeAddress: readonly number[]
  /** Fingerprint and nodes-inside of the sender's g-node of each level 0..levels-1. */
  readonly fingerprints: readonly Fingerprint[]
  readonly nodesInside: readonly number[]
  /** g-nodes (relative to the sender) this ETP already traversed. */
  readonly hops: readonly HCoord[]
  readonly paths: readonly EtpPath[]
}

/** Explicit request for a full ETP over an arc (`get_full_etp`). */
export interface FullEtpRequest {
  readonly kind: 'get_full_etp'
  readonly requesterAddress: readonly number[]
}

export type QspnMessage = EtpMessage | FullEtpRequest

export class EtpValidationError extends Error {
  constructor (readonly where: string, readonly reason: string) {
    super(`invalid ETP at ${where}: ${reason}`)
    this.name = 'EtpValidationError'
  }
}

/** Bounds that keep a hostile ETP from costing memory or CPU. */
export interface EtpLimits {
  readonly maxHops: number
  readonly maxPaths: number
  readonly maxPosition: number
}

export function etpLimitsFor (gsizes: readonly number[]): EtpLimits {
  const sum = gsizes.reduce((a, b) => a + b, 0)
  // Virtual positions are >= gsize; allow generous room but keep them bounded.
  return { maxHops: 2 * sum + 8, maxPaths: 64 * sum + 64, maxPosition: 0x7fffffff }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v)

class Checker {
  constructor (readonly levels: number, readonly limits: EtpLimits) {}

  fail (where: string, reason: string): never { throw new EtpValidationError(where, reason) }

  int (v: unknown, where: string, min: number, max: number): number {
    if (!isInt(v) || v < min || v > max) this.fail(where, `expected an integer in ${min}..${max}, got ${short(v)}`)
    return v
  }

  array (v: unknown, where: string, maxLen: number, exactLen?: number): unknown[] {
    if (!Array.isArray(v)) this.fail(where, `expected an array, got ${short(v)}`)
    if (exactLen !== undefined && v.length !== exactLen) this.fail(where, `expected ${exactLen} entries, got ${v.length}`)
    if (v.length > maxLen) this.fail(where, `too many entries (${v.length} > ${maxLen})`)
    return v
  }

  positions (v: unknown, where: string): number[] {
    return this.array(v, where, this.levels, this.levels).map((p, k) => this.int(p, `${where}[${k}]`, 0, this.limits.maxPosition))
  }

  hcoord (v: unknown, where: string): HCoord {
    if (!isObj(v)) this.fail(where, `expected {lvl, pos}, got ${short(v)}`)
    return { lvl: this.int(v.lvl, `${where}.lvl`, 0, this.levels - 1), pos: this.int(v.pos, `${where}.pos`, 0, this.limits.maxPosition) }
  }

  fingerprint (v: unknown, where: string, level?: number): Fingerprint {
    if (!isObj(v)) this.fail(where, `expected a fingerprint object, got ${short(v)}`)
    const lvl = this.int(v.level, `${where}.level`, 0, this.levels)
    if (level !== undefined && lvl !== level) this.fail(`${where}.level`, `expected level ${level}, got ${lvl}`)
    const elderships = this.array(v.elderships, `${where}.elderships`, this.levels, this.levels - lvl)
      .map((e, k) => this.int(e, `${where}.elderships[${k}]`, -1, this.limits.maxPosition))
    const eldershipsSeed = this.array(v.eldershipsSeed, `${where}.eldershipsSeed`, this.levels, lvl)
      .map((e, k) => this.int(e, `${where}.eldershipsSeed[${k}]`, -1, this.limits.maxPosition))
    return { id: this.int(v.id, `${where}.id`, 0, Number.MAX_SAFE_INTEGER), level: lvl, elderships, eldershipsSeed }
  }

  path (v: unknown, where: string): EtpPath {
    if (!isObj(v)) this.fail(where, `expected a path object, got ${short(v)}`)
    const hops = this.array(v.hops, `${where}.hops`, this.limits.maxHops).map((h, k) => this.hcoord(h, `${where}.hops[${k}]`))
    if (hops.length === 0) this.fail(`${where}.hops`, 'a path needs at least its destination')
    const arcs = this.array(v.arcs, `${where}.arcs`, this.limits.maxHops, hops.length)
      .map((a, k) => this.int(a, `${where}.arcs[${k}]`, 0, Number.MAX_SAFE_INTEGER))
    const cost = v.cost === DEAD ? DEAD : this.int(v.cost, `${where}.cost`, 0, Number.MAX_SAFE_INTEGER)
    const dest = hops[hops.length - 1]
    const fingerprint = this.fingerprint(v.fingerprint, `${where}.fingerprint`, dest.lvl)
    const nodesInside = this.int(v.nodesInside, `${where}.nodesInside`, 0, Number.MAX_SAFE_INTEGER)
    const ignoreOutside = this.array(v.ignoreOutside, `${where}.ignoreOutside`, this.levels, this.levels).map((b, k) => {
      if (typeof b !== 'boolean') this.fail(`${where}.ignoreOutside[${k}]`, `expected a boolean, got ${short(b)}`)
      return b
    })
    const seen = new Set<string>()
    for (const h of hops) {
      const key = `${h.lvl}:${h.pos}`
      if (seen.has(key)) this.fail(`${where}.hops`, `g-node ${key} appears twice`)
      seen.add(key)
    }
    return { hops, arcs, cost, fingerprint, nodesInside, ignoreOutside }
  }
}

function short (v: unknown): string {
  if (v === undefined) return 'nothing'
  const s = JSON.stringify(v) ?? String(v)
  return s.length > 40 ? `${s.slice(0, 37)}...` : s
}

/**
 * Checks an untrusted object against the ETP schema for a network of `gsizes` (level 0 first) and returns a
 * typed copy holding only known fields. Throws EtpValidationError naming the offending field.
 */
export function validateEtp (obj: unknown, gsizes: readonly number[], limits: EtpLimits = etpLimitsFor(gsizes)): EtpMessage {
  const c: Checker = new Checker(gsizes.length, limits)
  if (!isObj(obj)) c.fail('$', `expected an object, got ${short(obj)}`)
  if (obj.kind !== 'etp') c.fail('$.kind', `unknown message kind ${short(obj.kind)}`)
  const levels = gsizes.length
  const nodeAddress = c.positions(obj.nodeAddress, '$.nodeAddress')
  const fingerprints = c.array(obj.fingerprints, '$.fingerprints', levels, levels).map((f, k) => c.fingerprint(f, `$.fingerprints[${k}]`, k))
  const nodesInside = c.array(obj.nodesInside, '$.nodesInside', levels, levels).map((n, k) => c.int(n, `$.nodesInside[${k}]`, 0, Number.MAX_SAFE_INTEGER))
  const hops = c.array(obj.hops, '$.hops', limits.maxHops).map((h, k) => c.hcoord(h, `$.hops[${k}]`))
  const paths = c.array(obj.paths, '$.paths', limits.maxPaths).map((p, k) => c.path(p, `$.paths[${k}]`))
  return { kind: 'etp', nodeAddress, fingerprints, nodesInside, hops, paths }
}

/** Checks an untrusted `get_full_etp` request. */
export function validateFullEtpRequest (obj: unknown, gsizes: readonly number[]): FullEtpRequest {
  const c: Checker = new Checker(gsizes.length, etpLimitsFor(gsizes))
  if (!isObj(obj)) c.fail('$', `expected an object, got ${short(obj)}`)
  if (obj.kind !== 'get_full_etp') c.fail('$.kind', `unknown message kind ${short(obj.kind)}`)
  return { kind: 'get_full_etp', requesterAddress: c.positions(obj.requesterAddress, '$.requesterAddress') }
}

/** Decodes JSON text from the wire; truncated or non-JSON text is a validation error, not a crash. */
export function decodeEtp (text: string, gsizes: readonly number[]): EtpMessage {
  let obj: unknown
  try {
    obj = JSON.parse(text)
  } catch (e) {
    throw new EtpValidationError('$', `not JSON (${(e as Error).message})`)
  }
  return validateEtp(obj, gsizes)
}
