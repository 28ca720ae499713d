import { run } from '../util/exec'
import { nameOf, type RouteNames } from './rtnames'
import type { AddressObservation, LinkObservation, NexthopObservation, RouteObservation, RuleObservation } from './types'

/** Reading a node's kernel state failed (its namespace is gone, ip failed). */
export class ObserveError extends Error {
  constructor (readonly where: string, message: string) {
    super(`observing ${where}: ${message}`)
    this.name = 'ObserveError'
  }
}

/** How to run `ip` in one network namespace: `ip -n <name>` or `nsenter --net=<path> ip`. */
export type IpCommand = string[]

export interface NetState {
  links: LinkObservation[]
  addresses: AddressObservation[]
  routes: RouteObservation[]
  rules: RuleObservation[]
}

// rtnetlink.h RTN_* and RT_SCOPE_*: `ip -N` prints these as numbers.
const ROUTE_TYPES = ['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve']
const SCOPES: Record<string, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' }

/**
 * Reads links, addresses, routes of every table and rules of both families, in parallel. `-N`
 * makes ip print table and protocol ids as numbers, so they are named from the node's own files
 * rather than the host's.
 */
export async function readNetState (ip: IpCommand, where: string, names: RouteNames, o: { includeLocal?: boolean, signal?: AbortSignal } = {}): Promise<NetState> {
  const ip4 = ['-N', '-4']
  const ip6 = ['-N', '-6']
  // Three processes: per family one `ip -batch` for routes and rules (one JSON array per line).
  const [[addr], [routes4, rules4], [routes6, rules6]] = await Promise.all([
    ipJson(ip, [], ['addr show'], where, o.signal),
    ipJson(ip, ip4, ['route show table all', 'rule show'], where, o.signal),
    // A kernel booted with ipv6.disable=1 refuses the family: no IPv6 routes or rules then.
    ipJson(ip, ip6, ['route show table all', 'rule show'], where, o.signal).catch((err: unknown) => {
      if (err instanceof ObserveError && /family not supported/i.test(err.message)) return [[], []]
      throw err
    })
  ])
  const { links, addresses } = parseAddr(addr as IpAddrJson[])
  const routes = [
    ...parseRoutes(routes4 as IpRouteJson[], 'inet', names),
    ...parseRoutes(routes6 as IpRouteJson[], 'inet6', names)
  ].filter(r => o.includeLocal === true || r.table !== nameOf(names.tables, 255, 'local'))
  const rules = [...parseRules(rules4 as IpRuleJson[], 'inet', names), ...parseRules(rules6 as IpRuleJson[], 'inet6', names)]
  return { links, addresses, routes, rules }
}

async function ipJson (ip: IpCommand, opts: string[], commands: string[], where: string, signal?: AbortSignal): Promise<unknown[][]> {
  const argv = [...ip, '-j', ...opts, '-batch', '-']
  const r = await run(argv, { input: commands.join('\n') + '\n', signal, check: false })
  if (r.code !== 0) throw new ObserveError(where, `ip ${opts.join(' ')} (${commands.join('; ')}) failed: ${r.stderr.trim()}`)
  const values = splitJsonValues(r.stdout)
  if (values.length !== commands.length) throw new ObserveError(where, `ip ${opts.join(' ')} (${commands.join('; ')}) printed ${values.length} JSON values for ${commands.length} commands`)
  return values.map(v => JSON.parse(v) as unknown[])
}

/** Splits concatenated top-level JSON values (what `ip -j -batch` prints) without assuming line breaks. */
export function splitJsonValues (text: string): string[] {
  const out: string[] = []
  let depth = 0
  let start = -1
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
      continue
    }
    if (c === '"') inString = true
    else if (c === '[' || c === '{') { if (depth++ === 0) start = i } else if (c === ']' || c === '}') { if (--depth === 0) out.push(text.slice(start, i + 1)) }
  }
  return out
}

interface IpAddrJson {
  ifname: string, address?: string, operstate?: string, mtu?: number, flags?: string[], link_type?: string
  addr_info?: Array<{ family: string, local: string, prefixlen: number, scope: string, tentative?: boolean }>
}

export function parseAddr (entries: IpAddrJson[]): { links: LinkObservation[], addresses: AddressObservation[] } {
  const links: LinkObservation[] = []
  const addresses: AddressObservation[] = []
  for (const e of entries) {
    links.push({ ifname: e.ifname, mac: e.address ?? '', state: e.operstate ?? 'UNKNOWN', mtu: e.mtu ?? 0, flags: e.flags ?? [], linkType: e.link_type ?? '' })
    for (const a of e.addr_info ?? []) {
      if (a.family !== 'inet' && a.family !== 'inet6') continue
      const obs: AddressObservation = { ifname: e.ifname, family: a.family, address: a.local, prefixlen: a.prefixlen, scope: a.scope }
      if (a.tentative === true) obs.tentative = true
      addresses.push(obs)
    }
  }
  return { links, addresses }
}

interface IpRouteJson {
  type?: string, dst: string, gateway?: string, dev?: string, table?: string, protocol?: string, scope?: string
  prefsrc?: string, metric?: number, nexthops?: Array<{ gateway?: string, dev?: string, weight?: number }>
}

export function parseRoutes (entries: IpRouteJson[], family: 'inet' | 'inet6', names: RouteNames): RouteObservation[] {
  return entries.map(e => {
    // ip omits "table" for main and "type" for unicast.
    const r: RouteObservation = { table: nameOf(names.tables, e.table, nameOf(names.tables, 254, 'main')), family, dst: e.dst, type: routeType(e.type) }
    if (e.gateway !== undefined) r.gateway = e.gateway
    if (e.dev !== undefined) r.dev = e.dev
    if (e.prefsrc !== undefined) r.src = e.prefsrc
    if (e.protocol !== undefined) r.protocol = nameOf(names.protocols, e.protocol, '')
    if (e.scope !== undefined) r.scope = SCOPES[e.scope] ?? e.scope
    if (e.metric !== undefined) r.metric = e.metric
    if (e.nexthops !== undefined) {
      r.nexthops = e.nexthops.map(n => {
        const h: NexthopObservation = {}
        if (n.gateway !== undefined) h.gateway = n.gateway
        if (n.dev !== undefined) h.dev = n.dev
        if (n.weight !== undefined) h.weight = n.weight
        return h
      })
    }
    return r
  })
}

function routeType (t: string | undefined): string {
  if (t === undefined) return 'unicast'
  const n = Number(t)
  return Number.isInteger(n) ? (ROUTE_TYPES[n] ?? t) : t
}

type IpRuleJson = Record<string, string | number | boolean | undefined> & { priority: number }

// Keys of `ip -j rule` that are not part of what the rule matches.
const NON_SELECTOR = new Set(['priority', 'table', 'action', 'src', 'srclen', 'dst', 'dstlen', 'fwmark', 'fwmask', 'protocol', 'flags'])

export function parseRules (entries: IpRuleJson[], family: 'inet' | 'inet6', names: RouteNames): RuleObservation[] {
  return entries.map(e => {
    const selector: Record<string, string> = {}
    if (e.src !== undefined && e.src !== 'all') selector.from = e.srclen !== undefined ? `${String(e.src)}/${String(e.srclen)}` : String(e.src)
    if (e.dst !== undefined && e.dst !== 'all') selector.to = e.dstlen !== undefined ? `${String(e.dst)}/${String(e.dstlen)}` : String(e.dst)
    if (e.fwmark !== undefined) selector.fwmark = e.fwmask !== undefined ? `${String(e.fwmark)}/${String(e.fwmask)}` : String(e.fwmark)
    for (const [k, v] of Object.entries(e)) if (!NON_SELECTOR.has(k) && v !== undefined) selector[k] = String(v)
    const r: RuleObservation = { family, priority: e.priority, selector }
    if (e.table !== undefined) r.table = nameOf(names.tables, e.table as string, '')
    if (e.action !== undefined) r.action = String(e.action)
    return r
  })
}
