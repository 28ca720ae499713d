/**
 * Parsers of `ip -N -j …` and `iptables-save` output into the owned part of a NamespaceState (pure), and the
 * reading of sysctls from /proc for the daemon's own namespace.
 *
 * Ownership rules (what the reader reports, hence what plan() may delete):
 * - routes in tables 251 (ntk) and 200..250 (ntk_from_*), whatever their protocol: those tables are wholly ours;
 * - routes in main only with protocol ROUTE_PROTO (78 = 0x4e, 'N'): the host routes to neighbours' link-locals that
 *   the daemon adds; the administrator's routes in main never carry it;
 * - rules whose table is 251 or 200..250;
 * - /32 addresses in 10.0.0.0/8 or 169.254.0.0/16 on any device except `foreignDevices`: an administrator's
 *   address normally has a shorter prefix (a subnet gateway's private NIC, e.g. 10.0.0.40/31), and spec §2.9 requires
 *   managed NICs to be free of such addresses at start;
 * - mangle PREROUTING MARK rules tagged with the comment `ntkd` or setting a mark in 200..251;
 * - nat rules tagged with the comment `ntkd`.
 */
import { readFile } from '../util/fs-async'
import { KernelReadError } from './errors'
import {
  type AddressItem, type MarkItem, type NatItem, type PseudoInterface, type RouteItem, type RouteType, type RuleItem,
  MAIN_TABLE_ID, normalizeMac
} from './state'
import { type TableAllocator, isOurId } from './table-allocator'

/** Route protocol of the routes the daemon adds to shared tables (main): 0x4e, 'N' for Netsukuku. */
export const ROUTE_PROTO = 78
/** Comment carried by every iptables rule the daemon adds (xt_comment). */
export const RULE_COMMENT = 'ntkd'

export interface IpLink { ifname: string; flags?: string[]; address?: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }
interface IpRoute { type?: string; dst: string; gateway?: string; dev?: string; table?: string; protocol?: string; prefsrc?: string }
interface IpRule { table: string; fwmark?: string; priority?: number; src?: string }

export interface IpView {
  addresses: AddressItem[]
  up: Set<string>
  links: IpLink[]
  routes: RouteItem[]
  rules: RuleItem[]
}

const ROUTE_TYPES: Record<string, RouteType> = { 1: 'unicast', unicast: 'unicast', 6: 'blackhole', blackhole: 'blackhole', 7: 'unreachable', unreachable: 'unreachable' }

export function isOurAddress (ip: string, prefixlen: number): boolean {
  return prefixlen === 32 && (ip.startsWith('10.') || ip.startsWith('169.254.'))
}

/** Parses the three JSON arrays of `ip -N -j -batch` with "addr", "route show table all", "rule". */
export function parseIpBatch (where: string, stdout: string, tables: TableAllocator, foreignDevices: ReadonlySet<string> = new Set()): IpView {
  const parts = stdout.split('\n').filter(l => l.trim() !== '')
  if (parts.length !== 3) throw new KernelReadError(where, `expected 3 JSON arrays from ip -batch, got ${parts.length}`)
  let links: IpLink[], routes: IpRoute[], rules: IpRule[]
  try {
    links = JSON.parse(parts[0]) as IpLink[]
    routes = JSON.parse(parts[1]) as IpRoute[]
    rules = JSON.parse(parts[2]) as IpRule[]
  } catch (e) {
    throw new KernelReadError(where, `ip -j output is not JSON: ${(e as Error).message}`)
  }
  const view: IpView = { addresses: [], up: new Set(), links, routes: [], rules: [] }
  for (const l of links) {
    if (l.flags?.includes('UP') === true) view.up.add(l.ifname)
    if (foreignDevices.has(l.ifname)) continue
    for (const a of l.addr_info ?? []) {
      if (a.family === 'inet' && isOurAddress(a.local, a.prefixlen)) view.addresses.push({ dev: l.ifname, ip: a.local })
    }
  }
  for (const r of routes) {
    if (r.dst.includes(':')) continue
    const table = r.table === undefined ? MAIN_TABLE_ID : Number(r.table)
    const ours = isOurId(table) || (table === MAIN_TABLE_ID && Number(r.protocol) === ROUTE_PROTO)
    if (!ours) continue
    const type = ROUTE_TYPES[r.type ?? '1']
    if (type === undefined) throw new KernelReadError(where, `route ${r.dst} in table ${table} has type ${r.type ?? '?'} the daemon never writes`)
    view.routes.push(compact({
      table: tables.nameOf(table),
      dst: r.dst.includes('/') ? r.dst : `${r.dst}/32`,
      type,
      via: r.gateway,
      dev: type === 'unicast' ? r.dev : undefined,
      src: r.prefsrc
    }))
  }
  for (const r of rules) {
    const table = Number(r.table)
    if (!Number.isInteger(table) || !isOurId(table)) continue
    view.rules.push(compact({ table: tables.nameOf(table), fwmarkOf: r.fwmark !== undefined ? tables.nameOf(Number(r.fwmark)) : undefined }))
  }
  return view
}

export interface IptablesView {
  marks: MarkItem[]
  nat: NatItem[]
  /** the iptables-save line of each item read, to delete it exactly as it was written */
  raw: WeakMap<object, { table: 'mangle' | 'nat'; line: string }>
}

export function parseIptablesSave (where: string, text: string, tables: TableAllocator): IptablesView {
  const view: IptablesView = { marks: [], nat: [], raw: new WeakMap() }
  let table = ''
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) { table = line.slice(1).trim(); continue }
    if (!line.startsWith('-A ')) continue
    const t = tokens(line)
    const chain = t[1]
    const opt = (name: string): string | undefined => { const i = t.indexOf(name); return i < 0 ? undefined : t[i + 1] }
    const tagged = opt('--comment') === RULE_COMMENT
    const target = opt('-j')
    if (table === 'mangle' && chain === 'PREROUTING' && target === 'MARK') {
      const mac = opt('--mac-source')
      const markText = opt('--set-mark') ?? opt('--set-xmark')
      if (mac === undefined || markText === undefined) continue
      const mark = Number(markText.split('/')[0])
      if (!tagged && !(mark >= 200 && mark <= 251)) continue
      const item: MarkItem = { mac: normalizeMac(mac), markOf: tables.nameOf(mark) }
      view.marks.push(item)
      view.raw.set(item, { table: 'mangle', line })
    } else if (table === 'nat' && tagged && (chain === 'PREROUTING' || chain === 'POSTROUTING') && (target === 'SNAT' || target === 'NETMAP')) {
      const dst = opt('-d')
      const to = target === 'SNAT' ? opt('--to-source') : opt('--to')
      if (dst === undefined || to === undefined) throw new KernelReadError(where, `cannot read nat rule "${line}"`)
      const item: NatItem = compact({ chain, dst: withPrefix(dst), src: optionalPrefix(opt('-s')), target, to: target === 'NETMAP' ? withPrefix(to) : to })
      view.nat.push(item)
      view.raw.set(item, { table: 'nat', line })
    }
  }
  return view
}

/** `sysctl -e k1 k2 …` output ("key = value" lines). */
export function parseSysctl (text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s*=\s*(.*)$/.exec(line)
    if (m !== null) out.set(m[1], m[2].trim())
  }
  return out
}

/** The pseudo-interfaces of a nested namespace: every device but lo (the namespace is wholly ours). */
export function pseudoInterfacesOf (links: IpLink[], parentOf: (name: string) => string): PseudoInterface[] {
  return links.filter(l => l.ifname !== 'lo').map(l => ({ name: l.ifname, parent: parentOf(l.ifname), mac: normalizeMac(l.address ?? '') }))
}

function withPrefix (c: string): string { return c.includes('/') ? c : `${c}/32` }
function optionalPrefix (c: string | undefined): string | undefined { return c === undefined ? undefined : withPrefix(c) }

function tokens (line: string): string[] {
  const out: string[] = []
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g
  let m: RegExpExecArray | null
  while ((m = re.exec(line)) !== null) out.push(m[1] ?? m[2])
  return out
}

function compact<T extends object> (o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k]
  return o
}

/** `sysctl -e` output for keys of the current namespace, read from /proc/sys (a key that does not exist is left out). */
export async function readProcSysctls (keys: readonly string[]): Promise<string> {
  const lines = await Promise.all(keys.map(async k => {
    try { return `${k} = ${(await readFile(`/proc/sys/${k.replace(/\./g, '/')}`, 'utf8')).trim()}` } catch { return '' }
  }))
  return lines.filter(l => l !== '').join('\n') + '\n'
}
