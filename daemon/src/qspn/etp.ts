import { DEAD, hcNum, type HCoord } from './types'
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
const inRange = (v: unknown, min: number, max: number): v is number => isInt(v) && v >= min && v <= max

/**
 * Where a field is: a string, or a function giving it. Names are only formatted when a check fails: an ETP holds
 * hundreds of fields, and formatting each one's name made validation the largest source of garbage.
 */
type Where = string | (() => string)
const at = (w: Where, suffix = ''): string => (typeof w === 'string' ? w : w()) + suffix

class Checker {
  constructor (readonly levels: number, readonly limits: EtpLimits) {}

  fail (where: Where, reason: string): never { throw new EtpValidationError(at(where), reason) }

  /** An integer in min..max at `where` + `suffix`. */
  int (v: unknown, where: Where, suffix: string, min: number, max: number): number {
    if (!inRange(v, min, max)) this.fail(at(where, suffix), `expected an integer in ${min}..${max}, got ${short(v)}`)
    return v
  }

  array (v: unknown, where: Where, suffix: string, maxLen: number, exactLen?: number): unknown[] {
    if (!Array.isArray(v)) this.fail(at(where, suffix), `expected an array, got ${short(v)}`)
    if (exactLen !== undefined && v.length !== exactLen) this.fail(at(where, suffix), `expected ${exactLen} entries, got ${v.length}`)
    if (v.length > maxLen) this.fail(at(where, suffix), `too many entries (${v.length} > ${maxLen})`)
    return v
  }

  /** A copy of an array of integers in min..max. */
  ints (v: unknown, where: Where, suffix: string, min: number, max: number, maxLen: number, exactLen?: number): number[] {
    const a = this.array(v, where, suffix, maxLen, exactLen)
    const out = new Array<number>(a.length)
    for (let k = 0; k < a.length; k++) {
      const x = a[k]
      if (!inRange(x, min, max)) this.fail(`${at(where, suffix)}[${k}]`, `expected an integer in ${min}..${max}, got ${short(x)}`)
      out[k] = x
    }
    return out
  }

  positions (v: unknown, where: string): number[] {
    return this.ints(v, where, '', 0, this.limits.maxPosition, this.levels, this.levels)
  }

  hcoord (v: unknown, where: Where, suffix: string, k: number): HCoord {
    if (isObj(v) && inRange(v.lvl, 0, this.levels - 1) && inRange(v.pos, 0, this.limits.maxPosition)) return { lvl: v.lvl, pos: v.pos }
    const w = `${at(where, suffix)}[${k}]`
    if (!isObj(v)) this.fail(w, `expected {lvl, pos}, got ${short(v)}`)
    this.int(v.lvl, w, '.lvl', 0, this.levels - 1)
    this.int(v.pos, w, '.pos', 0, this.limits.maxPosition)
    throw new Error('unreachable: one of the checks above failed')
  }

  hcoords (v: unknown, where: Where, suffix: string, maxLen: number): HCoord[] {
    const a = this.array(v, where, suffix, maxLen)
    const out = new Array<HCoord>(a.length)
    for (let k = 0; k < a.length; k++) out[k] = this.hcoord(a[k], where, suffix, k)
    return out
  }

  fingerprint (v: unknown, where: Where, level?: number): Fingerprint {
    if (!isObj(v)) this.fail(where, `expected a fingerprint object, got ${short(v)}`)
    const lvl = this.int(v.level, where, '.level', 0, this.levels)
    if (level !== undefined && lvl !== level) this.fail(at(where, '.level'), `expected level ${level}, got ${lvl}`)
    const elderships = this.ints(v.elderships, where, '.elderships', -1, this.limits.maxPosition, this.levels, this.levels - lvl)
    const eldershipsSeed = this.ints(v.eldershipsSeed, where, '.eldershipsSeed', -1, this.limits.maxPosition, this.levels, lvl)
    return { id: this.int(v.id, where, '.id', 0, Number.MAX_SAFE_INTEGER), level: lvl, elderships, eldershipsSeed }
  }

  path (v: unknown, where: Where): EtpPath {
    if (!isObj(v)) this.fail(where, `expected a path object, got ${short(v)}`)
    const hops = this.hcoords(v.hops, where, '.hops', this.limits.maxHops)
    if (hops.length === 0) this.fail(at(where, '.hops'), 'a path needs at least its destination')
    const arcs = this.ints(v.arcs, where, '.arcs', 0, Number.MAX_SAFE_INTEGER, this.limits.maxHops, hops.length)
    const cost = v.cost === DEAD ? DEAD : this.int(v.cost, where, '.cost', 0, Number.MAX_SAFE_INTEGER)
    const dest = hops[hops.length - 1]
    const fingerprint = this.fingerprint(v.fingerprint, (): string => at(where, '.fingerprint'), dest.lvl)
    const nodesInside = this.int(v.nodesInside, where, '.nodesInside', 0, Number.MAX_SAFE_INTEGER)
    const flags = this.array(v.ignoreOutside, where, '.ignoreOutside', this.levels, this.levels)
    const ignoreOutside = new Array<boolean>(flags.length)
    for (let k = 0; k < flags.length; k++) {
      const b = flags[k]
      if (typeof b !== 'boolean') this.fail(`${at(where, '.ignoreOutside')}[${k}]`, `expected a boolean, got ${short(b)}`)
      ignoreOutside[k] = b
    }
    // a g-node twice in a path (real paths are short: compare pairwise; long ones through a set)
    const twice = (h: HCoord): never => this.fail(at(where, '.hops'), `g-node ${h.lvl}:${h.pos} appears twice`)
    if (hops.length <= 16) {
      for (let k = 1; k < hops.length; k++) for (let j = 0; j < k; j++) if (hops[j].lvl === hops[k].lvl && hops[j].pos === hops[k].pos) twice(hops[k])
    } else {
      const seen = new Set<number>()
      for (const h of hops) {
        const key = hcNum(h)
        if (seen.has(key)) twice(h)
        seen.add(key)
      }
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
  const fps = c.array(obj.fingerprints, '$.fingerprints', '', levels, levels)
  const fingerprints = new Array<Fingerprint>(fps.length)
  for (let k = 0; k < fps.length; k++) fingerprints[k] = c.fingerprint(fps[k], `$.fingerprints[${k}]`, k)
  const nodesInside = c.ints(obj.nodesInside, '$.nodesInside', '', 0, Number.MAX_SAFE_INTEGER, levels, levels)
  const hops = c.hcoords(obj.hops, '$.hops', '', limits.maxHops)
  const ps = c.array(obj.paths, '$.paths', '', limits.maxPaths)
  const paths = new Array<EtpPath>(ps.length)
  for (let k = 0; k < ps.length; k++) paths[k] = c.path(ps[k], (): string => `$.paths[${k}]`)
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
