/**
 * The lab's own reading of the Netsukuku addressing rules, written from the spec and sharing no code with the
 * daemon (so that a bug in daemon/src/addressing or daemon/src/routes shows as a difference in the lab):
 * §1.5 the IPv4 mapping into 10.0.0.0/8, §2.3 the local addresses of a main identity, §2.4 its destination
 * g-nodes with their CIDRs, §2.5 the `src` of each CIDR in `ntk`.
 *
 * Positions are kept level 0 first (the reverse of the written "3·1·0·1"), gsizes likewise.
 */

export interface NtkAddress {
  /** Positions per level, level 0 first. */
  readonly gsizes: readonly number[]
  /** The node's positions, level 0 first; all real. */
  readonly naddr: readonly number[]
}

/** One destination g-node (HCoord lvl, pos) and its CIDRs in spec order, each with the src ntkd gives it. */
export interface NtkDestination {
  readonly lvl: number
  readonly pos: number
  readonly cidrs: ReadonlyArray<{ readonly cidr: string, readonly src: string }>
}

const TYPE_GLOBAL = 0
const TYPE_INTERNAL = 1
const TYPE_ANONYMIZING = 2

/** Reads `topology` (bits per level, top first) and `address` ("3.1.0.1", top first) of an ntkd node's config. */
export function ntkAddress (bitsTopFirst: readonly number[], addressTopFirst: string): NtkAddress {
  const where = `topology [${bitsTopFirst.join(', ')}], address ${addressTopFirst}`
  if (bitsTopFirst.length === 0 || !bitsTopFirst.every(b => Number.isInteger(b) && b >= 1)) throw new Error(`${where}: bits per level must be whole numbers >= 1`)
  const gsizes = [...bitsTopFirst].reverse().map(b => 2 ** b)
  // §1.1: at most 22 address bits (24 host bits of 10/8 minus 2 type bits); the top gsize holds a level number
  if (bitsTopFirst.reduce((a, b) => a + b, 0) > 22) throw new Error(`${where}: more than 22 address bits`)
  if (gsizes[gsizes.length - 1] < gsizes.length) throw new Error(`${where}: the top gsize is smaller than the number of levels`)
  const parts = addressTopFirst.split('.')
  if (parts.length !== gsizes.length || !parts.every(p => /^\d+$/.test(p))) throw new Error(`${where}: expected ${gsizes.length} positions`)
  const naddr = parts.map(Number).reverse()
  naddr.forEach((p, c) => { if (p >= gsizes[c]) throw new Error(`${where}: position ${p} at level ${c} is not below ${gsizes[c]}`) })
  return { gsizes, naddr }
}

/** §1.5: v = type; for c from l-1 down to 0: v = (v << g_exp[c]) + field[c]; the address is 10.0.0.0 + v. */
function encode (gsizes: readonly number[], type: number, field: (c: number) => number): string {
  let v = type
  for (let c = gsizes.length - 1; c >= 0; c--) v = v * gsizes[c] + field(c)
  const ip = 10 * 2 ** 24 + v
  return [24, 16, 8, 0].map(s => Math.floor(ip / 2 ** s) % 256).join('.')
}

/** §1.5: the CIDR of a g-node of level i has prefix 32 - sum(g_exp[0..i-1]). */
function prefixOf (gsizes: readonly number[], i: number): number {
  return 32 - gsizes.slice(0, i).reduce((bits, g) => bits + Math.log2(g), 0)
}

export function ntkGlobal (a: NtkAddress): string {
  return encode(a.gsizes, TYPE_GLOBAL, c => a.naddr[c])
}

export function ntkAnonymizing (a: NtkAddress): string {
  return encode(a.gsizes, TYPE_ANONYMIZING, c => a.naddr[c])
}

/** Internal address inside the node's g-node of level k (0 <= k < l): field[l-1] = k, fields below k = positions, rest 0. */
export function ntkInternal (a: NtkAddress, k: number): string {
  const l = a.gsizes.length
  if (!Number.isInteger(k) || k < 0 || k > l - 1) throw new Error(`internal level ${k} is not in 0..${l - 1}`)
  return encode(a.gsizes, TYPE_INTERNAL, c => c === l - 1 ? k : c < k ? a.naddr[c] : 0)
}

/** §2.3: global, anonymizing (only with serveAnonymous), internal[l-1] … internal[1] on each NIC; internal[0] on lo. */
export function ntkLocalAddresses (a: NtkAddress, o: { serveAnonymous?: boolean } = {}): { onNic: string[], lo: string } {
  const internal = Array.from({ length: a.gsizes.length - 1 }, (_, x) => ntkInternal(a, a.gsizes.length - 1 - x))
  return { onNic: [ntkGlobal(a), ...(o.serveAnonymous === true ? [ntkAnonymizing(a)] : []), ...internal], lo: ntkInternal(a, 0) }
}

/**
 * §2.4 and §2.5 for a main identity: for i from l-1 down to the subnet level, every j != n[i] at level i is a
 * destination; its CIDRs are global and anonymizing (src: the global address) and internal[k] for k = l-1 down to
 * i+1 (src: internal[k]). g-node (i, j) = the node's positions above i, j at i, zeros below.
 */
export function ntkDestinations (a: NtkAddress, o: { subnetLevel?: number } = {}): NtkDestination[] {
  const l = a.gsizes.length
  const global = ntkGlobal(a)
  const out: NtkDestination[] = []
  for (let i = l - 1; i >= (o.subnetLevel ?? 0); i--) {
    const prefix = prefixOf(a.gsizes, i)
    for (let j = 0; j < a.gsizes[i]; j++) {
      if (j === a.naddr[i]) continue
      const g = (c: number): number => c === i ? j : c > i ? a.naddr[c] : 0
      const cidrs = [
        { cidr: `${encode(a.gsizes, TYPE_GLOBAL, g)}/${prefix}`, src: global },
        { cidr: `${encode(a.gsizes, TYPE_ANONYMIZING, g)}/${prefix}`, src: global }
      ]
      for (let k = l - 1; k > i; k--) {
        cidrs.push({ cidr: `${encode(a.gsizes, TYPE_INTERNAL, c => c === l - 1 ? k : c >= i && c < k ? g(c) : 0)}/${prefix}`, src: ntkInternal(a, k) })
      }
      out.push({ lvl: i, pos: j, cidrs })
    }
  }
  return out
}

/** §1.2: the HCoord of m's maximum distinct g-node seen from n (the highest level where they differ); null if equal. */
export function ntkMaxDistinct (n: readonly number[], m: readonly number[]): { lvl: number, pos: number } | null {
  for (let i = n.length - 1; i >= 0; i--) if (n[i] !== m[i]) return { lvl: i, pos: m[i] }
  return null
}

/** The written form of g-node (lvl, pos) seen from n: "3·1·" (its positions from the top down to lvl). */
export function ntkGnodeName (n: readonly number[], lvl: number, pos: number): string {
  const p = [...n]
  p[lvl] = pos
  return p.slice(lvl).reverse().join('·') + '·'
}
