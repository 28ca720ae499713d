import type { Endpoint } from '../../../src/transport'
import { MAC_FIELD, MessageAuthenticator, canonicalJson, withoutMac } from '../../../src/wire'
import type { Random } from '../../../src/util/random'
import { copyTree, type Corpus, type Seed } from './corpus'
import type { Placed } from './placement'
import { BYTE_CLASSES, TREE_CLASSES, mutateBytes, mutateTree, serialise, type ByteClass, type Json, type MutationClass, type TreeClass } from './mutate'

/**
 * Kinds a receiver takes only as unicasts over an arc it has, found by NIC and source link-local (the Identities
 * protocol): from any other source they must be refused. Identity-addressed kinds (QSPN, PeerServices, Coordinator,
 * Hooking) are tied to an identity-arc by NIC and source identity instead, which a message from a non-neighbour that
 * names the real neighbour's identity passes: those are judged by the state oracle, not refused by construction.
 */
export const ARC_BOUND_KINDS: ReadonlySet<string> = new Set(['identity_list', 'identity_add_arc', 'identity_remove_arc', 'identity_match_duplication'])

/** One mutated message ready to be fed to a node. */
export interface Mutation {
  readonly kind: string
  readonly cls: MutationClass
  readonly where: string
  readonly bytes: Buffer
  readonly from: Endpoint
  readonly to: Endpoint
  readonly via: 'broadcast' | 'unicast' | 'routed'
  /** For a routed message: the source address it comes from. */
  readonly source?: string
  /** How its seed was put into the fuzzed network (Placement), '' when it goes where it went. */
  readonly placed: string
  /** Refused by construction: the receiver must reject it (a codec or protocol counter must move). */
  readonly mustReject: boolean
}

/** Signs message text as a node holding the key would (over what the receiver will parse). */
export class Signer {
  readonly #auth: MessageAuthenticator
  readonly #wrong = new MessageAuthenticator('not the network key')
  constructor (key: string) { this.#auth = new MessageAuthenticator(key) }

  /** The code of a text's message; undefined when the text is no JSON object (it cannot carry one). */
  macOf (text: string, wrongKey = false): string | undefined {
    const parsed = parseObject(text)
    return parsed === undefined ? undefined : (wrongKey ? this.#wrong : this.#auth).sign(parsed)
  }

  sign (text: string, wrongKey = false): Buffer {
    const mac = this.macOf(text, wrongKey)
    return Buffer.from(mac === undefined ? text : withMac(text, mac), 'utf8')
  }
}

function parseObject (text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{')) return undefined
  try {
    const parsed = JSON.parse(text) as unknown
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed as Record<string, unknown> : undefined
  } catch { return undefined }
}

/** Object text with the code field put first. */
const withMac = (text: string, mac: string): string => text === '{}' ? `{"${MAC_FIELD}":"${mac}"}` : `{"${MAC_FIELD}":"${mac}",${text.slice(1)}`

/** True when two texts are the same message as the receiver's authentication sees it (-0 is 0, 1E2 is 100...). */
function sameCanonical (a: string, b: string): boolean {
  const x = parseObject(a)
  const y = parseObject(b)
  return x !== undefined && y !== undefined && canonicalJson(withoutMac(x)) === canonicalJson(withoutMac(y))
}

export interface MutatorInit {
  readonly corpus: Corpus
  readonly signer: Signer
  readonly rnd: Random
  readonly kinds: readonly string[]
  readonly maxFrameBytes: number
  /** Every NIC of the network's daemons. */
  readonly endpoints: readonly Endpoint[]
  /** The real neighbour of a NIC. */
  readonly peerOf: (e: Endpoint) => Endpoint
  /** Where a seed goes in the fuzzed network (and its text, re-addressed or not). */
  readonly place: (s: Seed) => Placed
}

/** Classes and their weights: 'oversize' builds a megabyte per message, so it is drawn less often. */
const CLASS_WEIGHTS: ReadonlyArray<[MutationClass, number]> = [
  ...TREE_CLASSES.map(c => [c, 3] as [MutationClass, number]),
  ['truncate', 3], ['bitflip', 3], ['oversize', 1], ['replay', 3], ['wrong-sender', 3], ['bad-auth', 3]
]
const TOTAL_WEIGHT = CLASS_WEIGHTS.reduce((s, [, w]) => s + w, 0)

const sameEndpoint = (a: Endpoint, b: Endpoint): boolean => a.node === b.node && a.nic === b.nic

/** Draws seeds and mutates them; each call gives one Mutation of a uniformly drawn kind. */
export class Mutator {
  readonly #i: MutatorInit
  constructor (init: MutatorInit) { this.#i = init }

  /** A seed's message, signed, unchanged. */
  sign (seed: Seed): Buffer { return this.#i.signer.sign(seed.text) }

  drawClass (): MutationClass {
    let r = this.#i.rnd.next() * TOTAL_WEIGHT
    for (const [c, w] of CLASS_WEIGHTS) { r -= w; if (r < 0) return c }
    return 'replay'
  }

  /** A seed of a uniformly drawn kind (every kind gets the same share, however much of it the network sends). */
  drawSeed (p?: (s: Seed) => boolean): Seed | undefined {
    const { rnd, corpus } = this.#i
    const kinds = this.#i.kinds.filter(k => (corpus.byKind.get(k) ?? []).some(s => p?.(s) ?? true))
    if (kinds.length === 0) return undefined
    const seeds = (corpus.byKind.get(kinds[rnd.int(kinds.length)]) ?? []).filter(s => p?.(s) ?? true)
    return seeds[rnd.int(seeds.length)]
  }

  /** The mutated text (or bytes) of a seed under a tree or byte class; undefined when the class does not apply. */
  mutateSeed (seed: Seed, cls: TreeClass | ByteClass): { bytes: Buffer, text?: string, where: string, mustReject: boolean } | undefined {
    const { rnd, signer, corpus } = this.#i
    if ((BYTE_CLASSES as readonly string[]).includes(cls)) {
      // a cut, a flipped bit or padding breaks the JSON or the signed content: refused whatever the schema says
      const signed = signer.sign(seed.text)
      const b = mutateBytes(signed, cls as ByteClass, rnd, this.#i.maxFrameBytes)
      return { bytes: b.bytes, where: b.where, mustReject: !b.bytes.equals(signed) }
    }
    const siblings = corpus.byKind.get(seed.kind) ?? []
    const m = mutateTree(copyTree(seed), cls as TreeClass, {
      rnd, dictionary: corpus.dictionary, kinds: this.#i.kinds, sibling: () => siblings.length > 1 ? copyTree(siblings[rnd.int(siblings.length)]) : undefined
    })
    if (m === undefined) return undefined
    const text = serialise(m.tree)
    // envelope damage the codec checks before anything else: another version, an unknown kind, no object
    const mustReject = cls === 'envelope' && !/another kind/.test(m.where)
    return { bytes: signer.sign(text), text, where: m.where, mustReject }
  }

  /**
   * The next mutation: a seed of a uniformly drawn kind, a class by weight, delivered as the class says. A class that
   * does not apply to the seed draws again within the same kind, so every kind keeps its share (redrawing the kind
   * left the kinds whose small messages most classes skip with fewer mutations than the test asks for).
   */
  next (): Mutation {
    const { rnd, signer } = this.#i
    const first = this.drawSeed()
    if (first === undefined) throw new Error('the corpus is empty')
    const kind = first.kind
    for (let again = false; ; again = true) {
      const drawn = again ? this.drawSeed(s => s.kind === kind) : first
      if (drawn === undefined) throw new Error('the corpus is empty')
      const { seed, placed } = this.#i.place(drawn)
      const cls = this.drawClass()
      const via: Mutation['via'] = seed.via === 'routed' ? 'routed' : seed.via === 'reply' ? (rnd.next() < 0.5 ? 'unicast' : 'broadcast') : seed.via
      const base = { kind: seed.kind, cls, from: seed.from, to: seed.to, via, placed, ...(seed.source === undefined ? {} : { source: seed.source }) }
      if (cls === 'replay') return { ...base, where: 'unchanged', bytes: signer.sign(seed.text), mustReject: false }
      if (cls === 'wrong-sender' && via === 'routed') {
        // to another node than the one it was meant for
        const nodes = [...new Set(this.#i.endpoints.map(e => e.node))].filter(n => n !== seed.to.node)
        const to = { node: nodes[rnd.int(nodes.length)], nic: seed.to.nic }
        return { ...base, to, where: 'routed to another node', bytes: signer.sign(seed.text), mustReject: false }
      }
      if (cls === 'wrong-sender') {
        const others = this.#i.endpoints.filter(e => !sameEndpoint(e, seed.from) && !sameEndpoint(e, this.#i.peerOf(seed.to)))
        if (rnd.next() < 0.5 && others.length > 0) {
          // to its receiver, from a NIC that is not the neighbour on that link
          const from = others[rnd.int(others.length)]
          return { ...base, from, where: 'from a non-neighbour', bytes: signer.sign(seed.text), mustReject: via === 'unicast' && ARC_BOUND_KINDS.has(seed.kind) }
        }
        // to another node, from that node's real neighbour: a message meant for someone else, over a real arc
        const targets = this.#i.endpoints.filter(e => !sameEndpoint(e, seed.to))
        const to = targets[rnd.int(targets.length)]
        return { ...base, to, from: this.#i.peerOf(to), where: 'to another node', bytes: signer.sign(seed.text), mustReject: false }
      }
      if (cls === 'bad-auth') {
        const r = rnd.int(4)
        if (r === 0) return { ...base, where: 'unsigned', bytes: Buffer.from(seed.text, 'utf8'), mustReject: true }
        if (r === 1) return { ...base, where: 'signed with another key', bytes: signer.sign(seed.text, true), mustReject: true }
        if (r === 2) {
          const signed = signer.sign(seed.text).toString('utf8')
          const garbage = rnd.next() < 0.5 ? 'f'.repeat(rnd.int(80)) : Array.from({ length: 64 }, () => '0123456789abcdef'[rnd.int(16)]).join('')
          return { ...base, where: 'code replaced', bytes: Buffer.from(signed.replace(/^\{"mac":"[0-9a-f]*"/, `{"mac":"${garbage}"`), 'utf8'), mustReject: true }
        }
        // the valid code of the original, on a changed message (refused unless the change is no change to the
        // authentication, such as 0 written as -0)
        const m = this.mutateSeed(seed, TREE_CLASSES[rnd.int(TREE_CLASSES.length)])
        const mac = signer.macOf(seed.text)
        if (m?.text === undefined || mac === undefined || !m.text.startsWith('{')) continue
        return { ...base, where: 'tampered after signing', bytes: Buffer.from(withMac(m.text, mac), 'utf8'), mustReject: !sameCanonical(m.text, seed.text) }
      }
      const m = this.mutateSeed(seed, cls)
      if (m === undefined) continue
      return { ...base, ...m }
    }
  }
}

/** The parsed kind of message bytes, for reports. */
export function kindOfBytes (bytes: Buffer): string | undefined {
  try {
    const m = JSON.parse(bytes.toString('utf8')) as Json
    return m !== null && typeof m === 'object' && !Array.isArray(m) && typeof m.kind === 'string' ? m.kind : undefined
  } catch { return undefined }
}
