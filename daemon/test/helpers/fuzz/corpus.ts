import type { Endpoint, WireLeg } from '../../../src/transport'
import { MAC_FIELD } from '../../../src/wire'
import type { Random } from '../../../src/util/random'
import { Dictionary, type Json } from './mutate'

/** A message captured on the in-memory medium: what it was, where it went, how. */
export interface Seed {
  readonly kind: string
  /** The message without its authentication code. */
  readonly tree: Json
  readonly text: string
  readonly from: Endpoint
  readonly to: Endpoint
  readonly via: WireLeg['via']
  /** The capture it came from ('ring': the fuzzed network's own traffic; others: another network's). */
  readonly origin: string
  /** For a reply: the kind of the request it answered. */
  readonly requestKind?: string
  /** For a routed message: the source address of the request. */
  readonly source?: string
}

const endpointKey = (e: Endpoint): string => `${e.node}:${e.nic}`

/**
 * Valid messages captured at run time, per kind: the fuzzer's seeds (never hand-written literals, so they follow
 * whatever shape the daemon's messages have). Duplicates are dropped; each kind keeps at most `perKind` seeds,
 * a uniform sample of all it saw (reservoir sampling).
 */
export class Corpus {
  readonly byKind = new Map<string, Seed[]>()
  readonly dictionary = new Dictionary()
  readonly #seen = new Set<string>()
  readonly #offered = new Map<string, number>()

  constructor (readonly rnd: Random, readonly perKind = 400) {}

  /** Records a leg the medium carried (a WireTap); never changes it. */
  record (leg: WireLeg, origin: string): undefined {
    const tree = parse(leg.bytes)
    if (tree === undefined) return undefined
    const requestKind = leg.request === undefined ? undefined : kindOf(parse(leg.request))
    this.add(tree, leg.from, leg.to, leg.via, origin, requestKind, leg.source)
    return undefined
  }

  add (message: Json, from: Endpoint, to: Endpoint, via: WireLeg['via'], origin: string, requestKind?: string, source?: string): void {
    if (message === null || typeof message !== 'object' || Array.isArray(message)) return
    const { [MAC_FIELD]: _mac, ...body } = message
    const kind = kindOf(body)
    if (kind === undefined) return
    const text = JSON.stringify(body)
    const id = `${kind}|${origin}|${endpointKey(from)}|${endpointKey(to)}|${via}|${text}`
    if (this.#seen.has(id)) return
    this.#seen.add(id)
    this.dictionary.add(body)
    const seed: Seed = { kind, tree: body, text, from, to, via, origin, ...(requestKind === undefined ? {} : { requestKind }), ...(source === undefined ? {} : { source }) }
    const list = this.byKind.get(kind) ?? []
    const n = (this.#offered.get(kind) ?? 0) + 1
    this.#offered.set(kind, n)
    if (list.length < this.perKind) list.push(seed)
    else { const k = this.rnd.int(n); if (k < this.perKind) list[k] = seed }
    this.byKind.set(kind, list)
  }

  kinds (): string[] { return [...this.byKind.keys()].sort() }

  /** Seeds matching a predicate, over all kinds. */
  where (p: (s: Seed) => boolean): Seed[] { return [...this.byKind.values()].flat().filter(p) }

  /** How many distinct messages of each kind were seen (not only kept). */
  seenPerKind (): Record<string, number> { return Object.fromEntries([...this.#offered].sort()) }
}

function parse (bytes: Buffer): Json | undefined {
  try { return JSON.parse(bytes.toString('utf8')) as Json } catch { return undefined }
}

function kindOf (m: Json | undefined): string | undefined {
  return m !== null && typeof m === 'object' && !Array.isArray(m) && typeof m.kind === 'string' ? m.kind : undefined
}

/** A fresh copy of a seed's message to mutate. */
export const copyTree = (s: Seed): Json => JSON.parse(s.text) as Json
