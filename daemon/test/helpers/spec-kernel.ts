/*
 * An independent oracle of what an identity puts in the kernel, written from the spec (netsukuku.md §1.5 IPv4
 * mapping, §2.3 local addresses, §2.4 destinations with the proof's rule for virtual positions, §2.5 routes, §2.6
 * anonymizer, §2.7 connectivity namespaces). It shares no code with daemon/src/addressing or daemon/src/routes, so
 * a bug there shows as a difference. Addresses are given top level first, as the docs write them.
 */

/** gsizes top level first, e.g. [4, 2, 2, 2] for 4·2·2·2. */
export interface SpecTopology { readonly gsizesTop: readonly number[] }

const bitsOf = (g: number): number => Math.log2(g)

/** 10.x.y.z of a value with `type` (0 global, 1 internal, 2 anonymizing) and fields top level first. */
function ip (t: SpecTopology, type: number, fieldsTop: readonly number[]): string {
  let v = type
  fieldsTop.forEach((f, k) => { v = v * 2 ** bitsOf(t.gsizesTop[k]) + f })
  return `10.${(v >> 16) & 255}.${(v >> 8) & 255}.${v & 255}`
}

/** Bits of the levels below `lvl` (level 0 is the last of gsizesTop). */
function bitsBelow (t: SpecTopology, lvl: number): number {
  const l = t.gsizesTop.length
  let b = 0
  for (let c = 0; c < lvl; c++) b += bitsOf(t.gsizesTop[l - 1 - c])
  return b
}

const posAt = (addrTop: readonly number[], lvl: number): number => addrTop[addrTop.length - 1 - lvl]
const real = (t: SpecTopology, addrTop: readonly number[], lvl: number): boolean => posAt(addrTop, lvl) < t.gsizesTop[t.gsizesTop.length - 1 - lvl]
const realFromTo = (t: SpecTopology, a: readonly number[], from: number, to: number): boolean => { for (let c = from; c <= to; c++) if (!real(t, a, c)) return false; return true }

export interface SpecLocal { global: string | null, anonymizing: string | null, internal: Map<number, string>, lo: string }

/** §2.3: the local addresses of a main identity (internal[k] while the positions below k are real). */
export function specLocal (t: SpecTopology, addrTop: readonly number[]): SpecLocal {
  const l = t.gsizesTop.length
  const allReal = realFromTo(t, addrTop, 0, l - 1)
  const internal = new Map<number, string>()
  for (let k = l - 1; k >= 1; k--) {
    if (!realFromTo(t, addrTop, 0, k - 1)) continue
    // type 1, top field k, fields of levels k..l-2 zero, levels below k the address's
    internal.set(k, ip(t, 1, addrTop.map((p, i) => { const lvl = l - 1 - i; return lvl === l - 1 ? k : lvl >= k ? 0 : p })))
  }
  return {
    global: allReal ? ip(t, 0, addrTop) : null,
    anonymizing: allReal ? ip(t, 2, addrTop) : null,
    internal,
    lo: ip(t, 1, addrTop.map((_, i) => (l - 1 - i) === l - 1 ? 0 : 0))
  }
}

export interface SpecCidr { readonly cidr: string, readonly kind: 'global' | 'anonymizing' | number }
export interface SpecDestination { readonly lvl: number, readonly pos: number, readonly cidrs: readonly SpecCidr[] }

/** §2.4 with the proof's rule: every destination (lvl, pos) of an address and the CIDRs that exist for it. */
export function specDestinations (t: SpecTopology, addrTop: readonly number[], subnetLevel = 0): SpecDestination[] {
  const l = t.gsizesTop.length
  const out: SpecDestination[] = []
  for (let i = l - 1; i >= subnetLevel; i--) {
    for (let j = 0; j < t.gsizesTop[l - 1 - i]; j++) {
      if (j === posAt(addrTop, i)) continue
      const prefix = 32 - bitsBelow(t, i)
      // the g-node's positions, top first, zero below i
      const g = addrTop.map((p, k) => { const lvl = l - 1 - k; return lvl > i ? p : lvl === i ? j : 0 })
      const cidrs: SpecCidr[] = []
      if (realFromTo(t, addrTop, i + 1, l - 1)) {
        cidrs.push({ cidr: `${ip(t, 0, g)}/${prefix}`, kind: 'global' })
        cidrs.push({ cidr: `${ip(t, 2, g)}/${prefix}`, kind: 'anonymizing' })
      }
      for (let k = l - 1; k > i; k--) {
        if (!realFromTo(t, addrTop, i + 1, k - 1)) continue
        const f = g.map((p, kk) => { const lvl = l - 1 - kk; return lvl === l - 1 ? k : lvl >= k ? 0 : lvl >= i ? p : 0 })
        cidrs.push({ cidr: `${ip(t, 1, f)}/${prefix}`, kind: k })
      }
      if (cidrs.length > 0) out.push({ lvl: i, pos: j, cidrs })
    }
  }
  return out
}

/** A route as the kernel port lists it. */
export interface SpecRoute { table: string, dst: string, type: 'unicast' | 'unreachable', via?: string, dev?: string, src?: string }

/**
 * The routes of one table for an identity: every destination CIDR, via the gateway `via(lvl, pos)` names (a
 * neighbour's link-local and our NIC) or unreachable; `src` as §2.5 gives it when `withSrc`.
 */
export function specTable (t: SpecTopology, addrTop: readonly number[], table: string, via: (lvl: number, pos: number) => { ll: string, dev: string } | null, withSrc: boolean, subnetLevel = 0): SpecRoute[] {
  const local = specLocal(t, addrTop)
  const out: SpecRoute[] = []
  for (const d of specDestinations(t, addrTop, subnetLevel)) {
    const gw = via(d.lvl, d.pos)
    for (const c of d.cidrs) {
      if (gw === null) { out.push({ table, dst: c.cidr, type: 'unreachable' }); continue }
      const r: SpecRoute = { table, dst: c.cidr, type: 'unicast', via: gw.ll, dev: gw.dev }
      const src = c.kind === 'global' || c.kind === 'anonymizing' ? local.global : local.internal.get(c.kind) ?? null
      if (withSrc && src !== null) r.src = src
      out.push(r)
    }
  }
  return out
}

/** The CIDR of destination (lvl, pos) of kind `kind` for an address, e.g. to name a route in a test. */
export function specCidr (t: SpecTopology, addrTop: readonly number[], lvl: number, pos: number, kind: SpecCidr['kind']): string {
  const d = specDestinations(t, addrTop).find(x => x.lvl === lvl && x.pos === pos)
  const c = d?.cidrs.find(x => x.kind === kind)
  if (c === undefined) throw new Error(`no ${String(kind)} CIDR for (${lvl},${pos}) of ${addrTop.join('·')}`)
  return c.cidr
}

/** A NAT rule as the kernel port lists it. */
export interface SpecNat { chain: 'PREROUTING' | 'POSTROUTING', dst: string, src?: string, target: 'SNAT' | 'NETMAP', to: string }

/** §2.6: the NETMAP rules of the gateway of an autonomous subnet of level S (address `addrTop`, all real). */
export function specNetmap (t: SpecTopology, addrTop: readonly number[], S: number, serveAnonymous: boolean): SpecNat[] {
  const l = t.gsizesTop.length
  const at = (lvl: number): number => addrTop[l - 1 - lvl]
  const fields = (f: (lvl: number) => number): number[] => addrTop.map((_, k) => f(l - 1 - k))
  const cidr = (type: number, f: (lvl: number) => number, prefixLevel: number): string => `${ip(t, type, fields(f))}/${32 - bitsBelow(t, prefixLevel)}`
  const bits = t.gsizesTop.reduce((s, g) => s + bitsOf(g), 0)
  const range1 = cidr(1, lvl => lvl === l - 1 ? S : 0, S)
  const range2 = (i: number): string => cidr(1, lvl => lvl === l - 1 ? i + 1 : lvl >= S && lvl <= i ? at(lvl) : 0, S)
  const range3 = (i: number): string => cidr(1, lvl => lvl === l - 1 ? i + 1 : 0, i + 1)
  const range2Upper = cidr(0, lvl => lvl >= S ? at(lvl) : 0, S)
  const range3Upper = `${ip(t, 0, fields(() => 0))}/${32 - bits}`
  const range4 = cidr(2, lvl => lvl >= S ? at(lvl) : 0, S)
  const anonymizing = `${ip(t, 2, fields(() => 0))}/${32 - bits}`
  const out: SpecNat[] = []
  for (let i = S; i <= l - 2; i++) {
    out.push({ chain: 'PREROUTING', dst: range2(i), target: 'NETMAP', to: range1 })
    out.push({ chain: 'POSTROUTING', dst: range3(i), src: range1, target: 'NETMAP', to: range2(i) })
  }
  out.push({ chain: 'PREROUTING', dst: range2Upper, target: 'NETMAP', to: range1 })
  out.push({ chain: 'POSTROUTING', dst: range3Upper, src: range1, target: 'NETMAP', to: range2Upper })
  if (serveAnonymous) out.push({ chain: 'PREROUTING', dst: range4, target: 'NETMAP', to: range1 })
  out.push({ chain: 'POSTROUTING', dst: anonymizing, src: range1, target: 'NETMAP', to: range2Upper })
  return out
}
