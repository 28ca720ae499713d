import type { HCoord } from '../addressing/naddr'

/*
 * The key space of PeerServices (§5.2, §5.3): tuples of positions (level 0 first), the distance that orders them,
 * H_t over what an identity knows, and g-node tuples used to exclude parts of the network from a search.
 */

/**
 * dist(x̄, x) of §5.3: the number of steps from x̄ up to x in the mixed-radix space of the tuples' levels, where each
 * level wraps around (x_j − x̄_j, plus gsize_j when negative). Both tuples have the same length w ≤ levels.
 */
export function dist (gsizes: readonly number[], xbar: readonly number[], x: readonly number[]): number {
  if (xbar.length !== x.length) throw new RangeError(`dist: tuples of ${xbar.length} and ${x.length} positions`)
  let d = 0
  for (let j = x.length - 1; j >= 0; j--) {
    d = d * gsizes[j] + x[j] - xbar[j]
    if (xbar[j] > x[j]) d += gsizes[j]
  }
  return d
}

/** 64-bit FNV-1 hash of a text's UTF-8 bytes (the original's fnv_64: multiply by the FNV prime as shifts and adds, then xor). */
export function fnv64 (text: string): bigint {
  const mask = (1n << 64n) - 1n
  let h = 0xcbf29ce484222325n
  for (const c of Buffer.from(text, 'utf8')) {
    h = (h + (h << 1n) + (h << 4n) + (h << 5n) + (h << 7n) + (h << 8n) + (h << 40n)) & mask
    h ^= BigInt(c)
  }
  return h
}

/** Number of addresses of the topology (Π gsizes). */
export const addressSpace = (gsizes: readonly number[]): number => gsizes.reduce((a, b) => a * b, 1)

/**
 * The default h_p (`PeerClient.perfect_tuple`, §5.2): a hash in [0, Π gsizes) spread over the levels, level 0
 * first (tuple[i] = hash % gsize_i; hash /= gsize_i).
 */
export function perfectTuple (gsizes: readonly number[], hash: number): number[] {
  if (!Number.isInteger(hash) || hash < 0) throw new RangeError(`perfectTuple: hash ${hash} is not a non-negative integer`)
  const out: number[] = []
  let h = hash % addressSpace(gsizes)
  for (const g of gsizes) { out.push(h % g); h = Math.floor(h / g) }
  return out
}

/** The Coordinator-style hash of a key's text: fnv64 modulo the address space. */
export function hashOfKeyText (gsizes: readonly number[], text: string): number {
  return Number(fnv64(text) % BigInt(addressSpace(gsizes)))
}

/**
 * A g-node inside the search domain of a request: positions from `level` up to top − 1 (level first), where
 * top = level + positions.length is the level of the g-node that holds the whole search. A node is a tuple of level 0.
 */
export interface GnodeTuple {
  readonly level: number
  readonly positions: readonly number[]
}

export const tupleTop = (t: GnodeTuple): number => t.level + t.positions.length

/**
 * Where a g-node tuple lies for an identity with address `naddr` (`convert_tuple_gnode`): 'mine' when it is one of
 * my own g-nodes (hc = my g-node at t.level), 'visible' when it is a g-node of my map (hc), 'inside' when it lies
 * within the g-node hc of my map, deeper than I can see.
 */
export function classifyTuple (naddr: readonly number[], t: GnodeTuple): { kind: 'mine' | 'visible' | 'inside', hc: HCoord } {
  for (let lvl = tupleTop(t) - 1; lvl >= t.level; lvl--) {
    const p = t.positions[lvl - t.level]
    if (naddr[lvl] !== p) return { kind: lvl === t.level ? 'visible' : 'inside', hc: { lvl, pos: p } }
  }
  return { kind: 'mine', hc: { lvl: t.level, pos: t.positions[0] } }
}

/** The same g-node with a larger top: my positions fill the levels between. */
export function rebaseTuple (naddr: readonly number[], t: GnodeTuple, newTop: number): GnodeTuple {
  const top = tupleTop(t)
  if (newTop < top) throw new RangeError(`rebaseTuple: top ${newTop} below ${top}`)
  return { level: t.level, positions: [...t.positions, ...naddr.slice(top, newTop)] }
}

/** The g-node hc of my map (or one of mine) as a tuple with top `top`. */
export function tupleOfHc (naddr: readonly number[], hc: HCoord, top: number): GnodeTuple {
  return { level: hc.lvl, positions: [hc.pos, ...naddr.slice(hc.lvl + 1, top)] }
}

/** My own node as a tuple with top `top` (positions 0..top-1). */
export const tupleOfMe = (naddr: readonly number[], top: number): GnodeTuple => ({ level: 0, positions: naddr.slice(0, top) })

export const sameTuple = (a: GnodeTuple, b: GnodeTuple): boolean =>
  a.level === b.level && a.positions.length === b.positions.length && a.positions.every((p, k) => p === b.positions[k])

/** Does g-node `outer` contain g-node `inner` (same top)? A g-node contains itself. */
export function tupleContains (outer: GnodeTuple, inner: GnodeTuple): boolean {
  if (tupleTop(outer) !== tupleTop(inner) || inner.level > outer.level) return false
  for (let lvl = outer.level; lvl < tupleTop(outer); lvl++) if (outer.positions[lvl - outer.level] !== inner.positions[lvl - inner.level]) return false
  return true
}

/** What an identity knows when it picks the nearest participant (§5.4). */
export interface SearchView {
  readonly gsizes: readonly number[]
  readonly naddr: readonly number[]
  /**
   * Lowest level whose g-nodes may be chosen: 0 for an all-real address; for an identity with virtual positions, the
   * highest virtual level (g-nodes below it would be inside its virtual g-node).
   */
  readonly lowestLevel: number
  /** The identity itself may serve (main identity taking part in the service). */
  readonly selfEligible: boolean
  /** Positions at `lvl` of g-nodes of my map that exist and may take part. */
  candidates (lvl: number): Iterable<number>
}

/**
 * H_t as one identity sees it (`approximate`): among the g-nodes of its map and itself, the one nearest to x̄ by
 * dist, restricted to the identity's g-node of level x̄.length. The answer is an HCoord; {lvl: 0, pos: naddr[0]}
 * means the identity itself. Null when nobody is left. Positions below a candidate's level do not matter: a higher
 * level's step always outweighs every lower one, so the g-node with the nearest position wins at its level.
 */
export function approximate (view: SearchView, xbar: readonly number[], excluded: (lvl: number, pos: number) => boolean): HCoord | null {
  const { gsizes, naddr } = view
  const w = xbar.length
  const me: HCoord = { lvl: 0, pos: naddr[0] }
  const meOk = view.selfEligible && !excluded(0, naddr[0])
  if (w === 0) return meOk ? me : null
  let best: HCoord | null = null
  let bestDist = Number.POSITIVE_INFINITY
  for (let l = Math.max(0, view.lowestLevel); l < w; l++) {
    for (const p of view.candidates(l)) {
      if (p === naddr[l] || excluded(l, p)) continue
      // tuple: 0 below l, p at l, my positions above
      let d = 0
      for (let j = w - 1; j >= 0; j--) {
        const x = j > l ? naddr[j] : j === l ? p : 0
        d = d * gsizes[j] + x - xbar[j]
        if (xbar[j] > x) d += gsizes[j]
      }
      if (d < bestDist) { bestDist = d; best = { lvl: l, pos: p } }
    }
  }
  if (meOk && dist(gsizes, xbar, naddr.slice(0, w)) < bestDist) return me
  return best
}
