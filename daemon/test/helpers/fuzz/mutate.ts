import type { Random } from '../../../src/util/random'

/*
 * Structure-aware mutations of JSON messages, generic over the JSON tree: nothing here knows a message kind or a
 * field name. Tree mutations work on a parsed copy of a captured message; byte mutations (truncate, bitflip,
 * oversize) on its serialised, possibly signed, text. Numbers JSON cannot write (Infinity, -0, huge literals) travel
 * as raw tokens spliced into the text after serialisation.
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

/** Mutation classes, as counted in the report. */
export const TREE_CLASSES = ['remove-field', 'add-field', 'retype', 'out-of-range', 'swap-value', 'splice', 'reorder', 'duplicate', 'envelope'] as const
export const BYTE_CLASSES = ['truncate', 'bitflip', 'oversize'] as const
export const DELIVERY_CLASSES = ['replay', 'wrong-sender', 'bad-auth'] as const
export type TreeClass = typeof TREE_CLASSES[number]
export type ByteClass = typeof BYTE_CLASSES[number]
export type MutationClass = TreeClass | ByteClass | typeof DELIVERY_CLASSES[number]

/** A place in a tree: the container and the key (object) or index (array) of the value; root has no parent. */
interface Site { parent: Json[] | { [k: string]: Json } | null, key: string | number, value: Json, depth: number, path: string }

const RAW = '\u0000raw:'
/** A number token JSON.stringify cannot produce; `serialise` writes it verbatim. */
const raw = (token: string): string => `${RAW}${token}\u0000`

const isObj = (v: Json): v is { [k: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Every site of a tree, root first (depth-first). */
export function sites (root: Json): Site[] {
  const out: Site[] = [{ parent: null, key: '', value: root, depth: 0, path: '' }]
  const walk = (v: Json, depth: number, path: string): void => {
    if (Array.isArray(v)) v.forEach((x, i) => { out.push({ parent: v, key: i, value: x, depth, path: `${path}[]` }); walk(x, depth + 1, `${path}[]`) })
    else if (isObj(v)) for (const [k, x] of Object.entries(v)) { out.push({ parent: v, key: k, value: x, depth, path: `${path}.${k}` }); walk(x, depth + 1, `${path}.${k}`) }
  }
  walk(root, 1, '$')
  return out
}

/** Values seen under each key name across a corpus (the pool 'swap-value' draws from: other nodes' ids, addresses…). */
export class Dictionary {
  readonly #byKey = new Map<string, string[]>()
  readonly #seen = new Set<string>()

  add (tree: Json): void {
    for (const s of sites(tree)) {
      if (typeof s.key !== 'string' || s.parent === null) continue
      const text = JSON.stringify(s.value)
      if (text.length > 4096) continue
      const id = `${s.key}\u0000${text}`
      if (this.#seen.has(id)) continue
      this.#seen.add(id)
      const list = this.#byKey.get(s.key) ?? []
      list.push(text)
      this.#byKey.set(s.key, list)
    }
  }

  /** A value seen under `key` other than `current`, or undefined. */
  other (key: string, current: Json, rnd: Random): Json | undefined {
    const list = this.#byKey.get(key)
    if (list === undefined) return undefined
    const cur = JSON.stringify(current)
    const choices = list.filter(t => t !== cur)
    return choices.length === 0 ? undefined : JSON.parse(choices[rnd.int(choices.length)]) as Json
  }
}

const pick = <T>(rnd: Random, xs: readonly T[]): T => xs[rnd.int(xs.length)]

const NUMBERS: Json[] = [-1, -2, 0, 1, 0.5, -0.5, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 31), -(2 ** 53), 1e300, -1e300, 1e-300,
  raw('-0'), raw('1e999'), raw('-1e999'), raw('123456789012345678901234567890'), raw('1E2'), raw('0.0000000000000000001')]
const STRINGS: Json[] = ['', ' ', '0', '-1', 'null', 'true', '169.254.0.0', '255.255.255.255', '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff',
  '__proto__', 'constructor', '\u0000', '\ud800', '💥', 'a'.repeat(65), 'é'.repeat(300), '%s%s%n', '../../../../etc/passwd']
const KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'x', '', 'mac', 'v', 'kind', 'extra']

/** A value of another JSON type than `v`. */
function otherType (v: Json, rnd: Random): Json {
  const all: Json[] = [null, true, false, 0, -1, 1.5, '', 'x', [], [v], {}, { v }]
  const t = (x: Json): string => x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x
  const choices = all.filter(x => t(x) !== t(v))
  return pick(rnd, choices)
}

/** A value at or past the edges of `v`'s type. */
function edgeOf (v: Json, rnd: Random): Json {
  if (typeof v === 'number') return pick(rnd, NUMBERS)
  if (typeof v === 'string') {
    const r = rnd.int(4)
    if (r === 0) return v.slice(0, rnd.int(v.length + 1))
    if (r === 1) return v + pick(rnd, ['0', '.1', ':00', 'x', v])
    return pick(rnd, STRINGS)
  }
  if (typeof v === 'boolean') return pick(rnd, [!v, 0, 1, 'true', null])
  if (Array.isArray(v)) {
    const r = rnd.int(3)
    if (r === 0) return []
    if (r === 1) return v.slice(0, rnd.int(v.length + 1))
    return [...v, ...v.slice(0, 1 + rnd.int(Math.max(1, v.length))), ...(v.length === 0 ? [0] : [])]
  }
  if (isObj(v)) return {}
  return pick(rnd, [0, '', false, [], {}])
}

/** Picks a site: half the time by a random walk from the root (shallow fields), half uniformly (deep ones). */
function pickSite (all: Site[], rnd: Random, o: { withRoot?: boolean, filter?: (s: Site) => boolean } = {}): Site | undefined {
  const candidates = all.filter(s => (o.withRoot === true || s.parent !== null) && (o.filter?.(s) ?? true))
  if (candidates.length === 0) return undefined
  if (rnd.next() < 0.5) return pick(rnd, candidates)
  const shallow = candidates.filter(s => s.depth <= 1 + rnd.int(3))
  return pick(rnd, shallow.length > 0 ? shallow : candidates)
}

function replaceAt (root: Json, s: Site, value: Json): Json {
  if (s.parent === null) return value
  ;(s.parent as Record<string | number, Json>)[s.key] = value
  return root
}

export interface TreeMutationContext {
  readonly rnd: Random
  readonly dictionary: Dictionary
  /** Another captured message of the same kind (for 'splice'). */
  readonly sibling: () => Json | undefined
  /** Kinds the registry knows (for 'envelope': kind confusion). */
  readonly kinds: readonly string[]
}

/**
 * Applies one tree mutation of class `cls` to `tree` (a private copy: it is modified). Returns the new root and a
 * short description (class and JSON path with indices dropped), or undefined when the class does not apply.
 */
export function mutateTree (tree: Json, cls: TreeClass, c: TreeMutationContext): { tree: Json, where: string } | undefined {
  const { rnd } = c
  const all = sites(tree)
  switch (cls) {
    case 'remove-field': {
      const s = pickSite(all, rnd, { filter: x => typeof x.key === 'string' })
      if (s === undefined) return undefined
      delete (s.parent as Record<string, Json>)[s.key as string]
      return { tree, where: s.path }
    }
    case 'add-field': {
      const s = pickSite(all, rnd, { withRoot: true, filter: x => isObj(x.value) })
      if (s === undefined || !isObj(s.value)) return undefined
      const key = rnd.next() < 0.5 ? pick(rnd, KEYS) : `f${rnd.int(1000)}`
      Object.defineProperty(s.value, key, { value: otherType(null, rnd), enumerable: true, writable: true, configurable: true })
      return { tree, where: `${s.path}.+${key}` }
    }
    case 'retype': {
      const s = pickSite(all, rnd, { withRoot: true })
      if (s === undefined) return undefined
      return { tree: replaceAt(tree, s, otherType(s.value, rnd)), where: s.path || '$' }
    }
    case 'out-of-range': {
      const s = pickSite(all, rnd)
      if (s === undefined) return undefined
      return { tree: replaceAt(tree, s, edgeOf(s.value, rnd)), where: s.path }
    }
    case 'swap-value': {
      const named = all.filter(x => typeof x.key === 'string' && x.parent !== null)
      for (let tries = 0; tries < 8 && named.length > 0; tries++) {
        const s = pick(rnd, named)
        const v = c.dictionary.other(s.key as string, s.value, rnd)
        if (v !== undefined) return { tree: replaceAt(tree, s, v), where: s.path }
      }
      return undefined
    }
    case 'splice': {
      const other = c.sibling()
      if (other === undefined) return undefined
      const theirs = new Map(sites(other).filter(x => x.parent !== null).map(x => [x.path, x.value]))
      const mine = all.filter(x => x.parent !== null && theirs.has(x.path) && JSON.stringify(theirs.get(x.path)) !== JSON.stringify(x.value))
      if (mine.length === 0) return undefined
      const s = pick(rnd, mine)
      return { tree: replaceAt(tree, s, JSON.parse(JSON.stringify(theirs.get(s.path))) as Json), where: s.path }
    }
    case 'reorder': {
      const s = pickSite(all, rnd, { withRoot: true, filter: x => Array.isArray(x.value) && x.value.length > 1 })
      if (s === undefined || !Array.isArray(s.value)) return undefined
      const a = s.value
      if (rnd.next() < 0.5) a.reverse()
      else { const i = rnd.int(a.length); const j = rnd.int(a.length); [a[i], a[j]] = [a[j], a[i]] }
      return { tree, where: s.path || '$' }
    }
    case 'duplicate': {
      const s = pickSite(all, rnd, { withRoot: true, filter: x => Array.isArray(x.value) && x.value.length > 0 })
      if (s === undefined || !Array.isArray(s.value)) return undefined
      const a = s.value
      const k = rnd.int(a.length)
      a.splice(k, 0, JSON.parse(JSON.stringify(a[k])) as Json)
      return { tree, where: s.path || '$' }
    }
    case 'envelope': {
      if (!isObj(tree)) return undefined
      const r = rnd.int(5)
      if (r === 0) { tree.v = pick(rnd, [0, 2, -1, '1', 1.5, null, raw('1e999')]); return { tree, where: '$.v' } }
      if (r === 1) { tree.kind = pick(rnd, c.kinds); return { tree, where: '$.kind (another kind)' } }
      if (r === 2) { tree.kind = pick(rnd, ['', 'etp', 'qspn_teleport', 'HERE_I_AM', 'void ', '__proto__']); return { tree, where: '$.kind (unknown)' } }
      if (r === 3) return { tree: pick(rnd, [[tree], null, 1, 'message', []]), where: '$ (not an object)' }
      delete tree[pick(rnd, ['v', 'kind'])]
      return { tree, where: '$ (envelope field removed)' }
    }
  }
}

/** JSON text of a mutated tree, raw number tokens written verbatim. */
export function serialise (tree: Json): string {
  const text = JSON.stringify(tree) ?? 'null'
  return text.includes(RAW) ? text.replace(/"\\u0000raw:([^\\]*)\\u0000"/g, '$1') : text
}

let padding = Buffer.alloc(0)
/** n spaces (one buffer shared by all calls: oversized messages are built often). */
function spaces (n: number): Buffer {
  if (padding.length < n) padding = Buffer.alloc(n + 65536, 0x20)
  return padding.subarray(0, n)
}

/** Byte-level mutations of a serialised (signed) message. `maxFrameBytes` is the receiver's limit. */
export function mutateBytes (bytes: Buffer, cls: ByteClass, rnd: Random, maxFrameBytes: number): { bytes: Buffer, where: string } {
  switch (cls) {
    case 'truncate': {
      const cut = rnd.int(bytes.length)
      return { bytes: bytes.subarray(0, cut), where: `cut at ${cut > bytes.length / 2 ? 'second' : 'first'} half` }
    }
    case 'bitflip': {
      const out = Buffer.from(bytes)
      const n = 1 + rnd.int(4)
      for (let k = 0; k < n; k++) out[rnd.int(out.length)] ^= 1 << rnd.int(8)
      return { bytes: out, where: `${n} bits` }
    }
    case 'oversize': {
      // past the limit (refused before parsing), or now and then just under it: a message as large as the receiver
      // reads (parsing and checking a megabyte costs ~10 ms, so these are kept rare)
      const over = rnd.next() < 0.9
      const target = over ? maxFrameBytes + 1 + rnd.int(1024) : maxFrameBytes - 64 - rnd.int(4096)
      const text = bytes.toString('utf8')
      if (over || !text.startsWith('{') || bytes.length >= target) return { bytes: Buffer.concat([bytes, spaces(Math.max(0, target - bytes.length))]), where: over ? 'over the limit' : 'padded to the limit' }
      // a long string field: still well-formed JSON, so only the size can refuse it
      const pad = `"pad${rnd.int(1000)}":"${'x'.repeat(target - bytes.length - 12)}",`
      return { bytes: Buffer.from(`{${pad}${text.slice(1)}`, 'utf8'), where: over ? 'over the limit' : 'just under the limit' }
    }
  }
}
