/**
 * The desired (or actual) kernel state of a system, as plain data (DESIGN §3 "kernel intent").
 * Only what the daemon owns is modelled: reading a kernel returns the owned subset, never the administrator's items.
 *
 * Tables are named symbolically: 'main', 'ntk', 'ntk_from_<MAC>' (upper-case MAC with colons); a kernel resolves
 * names to numeric ids through its TableAllocator. A table id the kernel found but cannot name reads as '#<id>'.
 */

import { compareStrings } from '../util/compare'

export type TableName = string
export const TABLE_MAIN = 'main'
export const TABLE_NTK = 'ntk'
export const NTK_TABLE_ID = 251
export const MAIN_TABLE_ID = 254
/** ids reserved for ntk_from_<MAC> tables, allocated from the top (spec §2.2) */
export const NTK_FROM_FIRST_ID = 250
export const NTK_FROM_LAST_ID = 200

export function ntkFromTable (mac: string): TableName { return `ntk_from_${normalizeMac(mac)}` }
export function macOfNtkFromTable (t: TableName): string | null {
  return t.startsWith('ntk_from_') ? t.slice('ntk_from_'.length) : null
}
export function normalizeMac (mac: string): string { return mac.toUpperCase() }

/** A /32 address on a device (spec §2.3: `ip address add <ip> dev <dev>`, no prefix). */
export interface AddressItem { readonly dev: string; readonly ip: string }

export type RouteType = 'unicast' | 'unreachable' | 'blackhole'
/** A route; `dst` is always a CIDR ("10.0.0.28/32"). One route per (table, dst). */
export interface RouteItem {
  readonly table: TableName
  readonly dst: string
  readonly type: RouteType
  readonly via?: string
  readonly dev?: string
  readonly src?: string
}

/** `ip rule add [fwmark <id of fwmarkOf>] table <table>`; the daemon's fwmark rules mark with the table's own id. */
export interface RuleItem { readonly table: TableName; readonly fwmarkOf?: TableName }

/** `iptables -t mangle -A PREROUTING -m mac --mac-source <mac> -j MARK --set-mark <id of markOf>` (spec §2.5). */
export interface MarkItem { readonly mac: string; readonly markOf: TableName }

/** nat rules of the anonymizer (SNAT) and of a subnet gateway (NETMAP), spec §2.6. */
export interface NatItem {
  readonly chain: 'PREROUTING' | 'POSTROUTING'
  readonly dst: string
  readonly src?: string
  readonly target: 'SNAT' | 'NETMAP'
  /** SNAT: an address; NETMAP: a CIDR */
  readonly to: string
}

/** A macvlan pseudo-interface of a nested namespace (spec §2.7): name `<ns>_<dev>`. */
export interface PseudoInterface { readonly name: string; readonly parent: string; readonly mac: string }

export interface NamespaceState {
  /** sysctl key (dotted, e.g. net.ipv4.conf.eth1.rp_filter) -> value */
  readonly sysctls: ReadonlyMap<string, string>
  /** Devices to bring up (managed NICs; pseudo-interfaces of a nested namespace). */
  readonly linksUp: readonly string[]
  /** Only in nested namespaces: created in the system's namespace from `parent`, then moved here. */
  readonly pseudoInterfaces: readonly PseudoInterface[]
  readonly addresses: readonly AddressItem[]
  readonly routes: readonly RouteItem[]
  readonly rules: readonly RuleItem[]
  readonly marks: readonly MarkItem[]
  readonly nat: readonly NatItem[]
}

/** The namespace of the system itself (the default netns of a node, or the netns a LinuxKernel targets). */
export const SYSTEM_NS = ''

/** A system's kernel state: SYSTEM_NS plus nested namespaces (`ntkv0`, …) of connectivity identities. */
export interface KernelState { readonly namespaces: ReadonlyMap<string, NamespaceState> }

export function emptyNamespace (): NamespaceState {
  return { sysctls: new Map(), linksUp: [], pseudoInterfaces: [], addresses: [], routes: [], rules: [], marks: [], nat: [] }
}

// ---- identity of items: two items with the same key are the same kernel object; `same` compares the rest

export const keyOf = {
  address: (a: AddressItem): string => `${a.dev} ${a.ip}`,
  route: (r: RouteItem): string => `${r.table} ${r.dst}`,
  rule: (r: RuleItem): string => `${r.fwmarkOf ?? '*'} ${r.table}`,
  mark: (m: MarkItem): string => normalizeMac(m.mac),
  nat: (n: NatItem): string => `${n.chain} ${n.src ?? '*'} ${n.dst} ${n.target} ${n.to}`,
  pseudo: (p: PseudoInterface): string => p.name
}

export function sameRoute (a: RouteItem, b: RouteItem): boolean {
  return a.type === b.type && a.via === b.via && a.dev === b.dev && a.src === b.src
}

/** A canonical, order-independent copy: for comparing states in tests and logs. */
export function canonicalState (s: KernelState): unknown {
  const ns = [...s.namespaces].sort(([a], [b]) => compareStrings(a, b))
  const sortBy = <T>(xs: readonly T[], key: (x: T) => string): T[] => [...xs].sort((x, y) => compareStrings(key(x), key(y)))
  return ns.map(([name, n]) => ({
    name,
    sysctls: [...n.sysctls].sort(([a], [b]) => compareStrings(a, b)),
    linksUp: [...n.linksUp].sort(),
    pseudoInterfaces: sortBy(n.pseudoInterfaces, keyOf.pseudo).map(p => ({ ...p, mac: normalizeMac(p.mac) })),
    addresses: sortBy(n.addresses, keyOf.address),
    routes: sortBy(n.routes, keyOf.route).map(r => stripUndefined(r)),
    rules: sortBy(n.rules, keyOf.rule).map(r => stripUndefined(r)),
    marks: sortBy(n.marks, keyOf.mark).map(m => ({ mac: normalizeMac(m.mac), markOf: m.markOf })),
    nat: sortBy(n.nat, keyOf.nat).map(r => stripUndefined(r))
  }))
}

function stripUndefined<T extends object> (o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}

/** Tables named by a namespace's routes, rules and marks, other than main. */
export function tablesOf (n: NamespaceState): Set<TableName> {
  const out = new Set<TableName>()
  for (const r of n.routes) if (r.table !== TABLE_MAIN) out.add(r.table)
  for (const r of n.rules) { out.add(r.table); if (r.fwmarkOf !== undefined) out.add(r.fwmarkOf) }
  for (const m of n.marks) out.add(m.markOf)
  return out
}
