/**
 * The part of lab/src/observe's NodeObservation the scenario harness reads (declared here, as the
 * consumer, so scenario code and its tests do not depend on how observation is gathered).
 */
export interface ObservedAddress { ifname: string, address: string, prefixlen: number }

export interface ObservedRoute {
  table?: string | number
  dst: string
  gateway?: string
  dev?: string
  src?: string
  protocol?: string
  type?: string
}

export interface NodeObservation {
  addresses: ObservedAddress[]
  routes: ObservedRoute[]
  links?: unknown
  rules?: unknown
  iptables?: unknown
  namespaces?: unknown
}

/** "172.31.2.1" -> "172.31.2.1/32"; "default" -> "0.0.0.0/0"; prefixes unchanged. */
export function normalizePrefix (dst: string): string {
  if (dst === 'default') return '0.0.0.0/0'
  if (dst.includes('/')) return dst
  return dst.includes(':') ? `${dst}/128` : `${dst}/32`
}

export function tableName (t: string | number | undefined): string {
  if (t === undefined || t === 254 || t === '254') return 'main'
  if (t === 255 || t === '255') return 'local'
  return String(t)
}

/** Routes as an object keyed by table then destination, for json subset expectations. */
export function routesByTable (routes: readonly ObservedRoute[]): Record<string, Record<string, ObservedRoute>> {
  const out: Record<string, Record<string, ObservedRoute>> = {}
  for (const r of routes) {
    const t = tableName(r.table)
    const byDst = (out[t] ??= {})
    const key = normalizePrefix(r.dst)
    byDst[key] ??= r // the first one listed wins (lowest metric comes first in `ip route` output)
  }
  return out
}
