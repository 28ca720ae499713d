import { parseIpv4 } from '../addressing'
import type { RouteItem } from './state'

/**
 * Where a namespace's routes send a packet: 'local' for one of its addresses, the next hop (our NIC, the gateway,
 * the route's src), or null for no route or one that is not a unicast through a gateway.
 */
export type KernelHop = 'local' | { nic: string, via: string, src?: string } | null

/**
 * The longest-prefix index of one routing table, kept in step with the table's routes (set and delete), so a lookup
 * parses no CIDR and scans no route: one probe per prefix length the table holds, longest first. The simulator
 * forwards every routed unicast hop by hop through it (a scan parsing each route's CIDR per hop was a quarter of a
 * large in-process run).
 *
 * It answers as the scan "the longest `dst` containing the address, the first in the table's order on a tie" did
 * (`cidrContains`, then the length after the slash): a `dst` whose host bits are set is never chosen, nor one
 * without a whole length from 0 to 32 (Linux refuses those; the scan's shift wrapped on them); one whose address does
 * not parse makes a lookup in its table throw that error.
 */
export class PrefixIndex {
  /** len -> network -> the routes of that prefix (one, unless two dst strings write the same prefix), in set order. */
  readonly #byLen = new Map<number, Map<number, RouteItem[]>>()
  /** Prefix lengths present, longest first. */
  #lens: number[] = []
  /** dst -> where it sits (null: never chosen; 'bad': its address does not parse). */
  readonly #where = new Map<string, { len: number, base: number } | null | 'bad'>()
  #bad = 0

  /** Adds a route, or replaces the one of the same dst in its place (as a Map's set keeps the key's order). */
  set (r: RouteItem): void {
    const w = this.#where.get(r.dst)
    if (w !== undefined) {
      if (w !== null && w !== 'bad') {
        const list = this.#byLen.get(w.len)?.get(w.base) as RouteItem[]
        list[list.findIndex(x => x.dst === r.dst)] = r
      }
      return
    }
    const p = parsePrefix(r.dst)
    this.#where.set(r.dst, p)
    if (p === 'bad') { this.#bad++; return }
    if (p === null) return
    let m = this.#byLen.get(p.len)
    if (m === undefined) {
      m = new Map()
      this.#byLen.set(p.len, m)
      this.#lens = [...this.#byLen.keys()].sort((a, b) => b - a)
    }
    const list = m.get(p.base)
    if (list === undefined) m.set(p.base, [r]); else list.push(r)
  }

  delete (dst: string): void {
    const w = this.#where.get(dst)
    if (w === undefined) return
    this.#where.delete(dst)
    if (w === 'bad') { this.#bad--; return }
    if (w === null) return
    const m = this.#byLen.get(w.len) as Map<number, RouteItem[]>
    const list = (m.get(w.base) as RouteItem[]).filter(x => x.dst !== dst)
    if (list.length > 0) { m.set(w.base, list); return }
    m.delete(w.base)
    if (m.size === 0) {
      this.#byLen.delete(w.len)
      this.#lens = this.#lens.filter(l => l !== w.len)
    }
  }

  /** The longest-prefix route containing `ip`, or undefined. */
  longest (ip: string): RouteItem | undefined {
    if (this.#where.size === 0) return undefined
    const v = parseIpv4(ip)
    if (this.#bad > 0) for (const [dst, w] of this.#where) if (w === 'bad') parseIpv4(dst.split('/')[0]) // throws, as the scan did
    for (const len of this.#lens) {
      const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0
      const list = (this.#byLen.get(len) as Map<number, RouteItem[]>).get((v & mask) >>> 0)
      if (list !== undefined) return list[0]
    }
    return undefined
  }
}

/** "a.b.c.d/len" -> its length and network; null when it can never be chosen; 'bad' when its address does not parse. */
function parsePrefix (cidr: string): { len: number, base: number } | null | 'bad' {
  const [addr, lenText] = cidr.split('/')
  let base: number
  try { base = parseIpv4(addr) } catch { return 'bad' }
  const len = Number(lenText)
  if (!Number.isInteger(len) || len < 0 || len > 32) return null
  const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0
  return ((base & mask) >>> 0) === base ? { len, base } : null
}
