import type { IptablesRule, NamespaceObservation, NodeObservation, RouteObservation, RuleObservation } from '../observe/types'
import { normalizePrefix } from './observation'

/*
 * A node's kernel as the `kernel` expectation reads it: per network namespace ("default" for the node's own, then
 * every namespace it made inside itself, e.g. ntkv0), what a routing daemon owns, in the words of `ip` and
 * `iptables`. Only IPv4.
 */

export interface RouteView { type: string, gateway?: string, dev?: string, src?: string }

export interface NamespaceView {
  /** Interfaces with their MAC (lo left out). */
  links: Record<string, string>
  /** IPv4 addresses per interface, "a.b.c.d/len", sorted. */
  addresses: Record<string, string[]>
  /** Routes per table, by destination prefix. */
  routes: Record<string, Record<string, RouteView>>
  /** Rules other than the kernel's own (local, main, default): "table ntk", "fwmark 250 table ntk_from_<MAC>". */
  rules: string[]
  /** mangle MARK rules: source MAC -> the table whose id the mark is (its name when a rule names it, else the id). */
  marks: Record<string, string>
  /** nat rules as iptables-save writes them after "-A ", without the daemon's comment. */
  nat: string[]
}

/** The default namespace's key. */
export const DEFAULT_NS = 'default'

export function kernelView (o: NodeObservation): Record<string, NamespaceView> {
  const out: Record<string, NamespaceView> = { [DEFAULT_NS]: namespaceView(o) }
  for (const ns of o.namespaces ?? []) out[ns.name] = namespaceView(ns)
  return out
}

function namespaceView (o: Pick<NamespaceObservation, 'links' | 'addresses' | 'routes' | 'rules' | 'iptables'>): NamespaceView {
  const links: Record<string, string> = {}
  for (const l of o.links) if (l.ifname !== 'lo') links[l.ifname] = l.mac.toUpperCase()
  const addresses: Record<string, string[]> = {}
  for (const a of o.addresses) {
    if (a.family !== 'inet' || a.address.startsWith('127.')) continue
    ;(addresses[a.ifname] ??= []).push(`${a.address}/${a.prefixlen}`)
  }
  for (const list of Object.values(addresses)) list.sort()
  const routes: Record<string, Record<string, RouteView>> = {}
  for (const r of o.routes) {
    if (r.family !== 'inet' || r.table === 'local') continue
    if (r.table === 'main' && r.protocol === 'kernel') continue // the kernel's own connected routes
    ;(routes[r.table] ??= {})[normalizePrefix(r.dst)] ??= routeView(r)
  }
  // the id each table's fwmark rule marks with, to name the MARK rules by table
  const tableOfMark = new Map<number, string>()
  const rules: string[] = []
  for (const r of o.rules) {
    if (r.family !== 'inet' || isKernelRule(r)) continue
    const mark = r.selector.fwmark === undefined ? undefined : Number(r.selector.fwmark.split('/')[0])
    if (mark !== undefined && r.table !== undefined) tableOfMark.set(mark, r.table)
    const sel = Object.entries(r.selector).map(([k, v]) => `${k} ${k === 'fwmark' && mark !== undefined ? String(mark) : v}`).join(' ')
    rules.push([sel, r.table === undefined ? r.action ?? '' : `table ${r.table}`].filter(x => x !== '').join(' '))
  }
  rules.sort()
  const marks: Record<string, string> = {}
  const nat: string[] = []
  for (const r of o.iptables?.rules ?? []) {
    if (r.table === 'mangle') { const m = markOf(r); if (m !== null) marks[m.mac] = tableOfMark.get(m.mark) ?? String(m.mark) }
    if (r.table === 'nat') nat.push(`${r.chain} ${r.spec.replace(/ -m comment --comment "?ntkd"?/, '')}`)
  }
  nat.sort()
  return { links, addresses, routes, rules, marks, nat }
}

function routeView (r: RouteObservation): RouteView {
  const v: RouteView = { type: r.type }
  if (r.gateway !== undefined) v.gateway = r.gateway
  if (r.dev !== undefined) v.dev = r.dev
  if (r.src !== undefined) v.src = r.src
  return v
}

/** The rules every namespace starts with: lookup local, main and default. */
function isKernelRule (r: RuleObservation): boolean {
  return Object.keys(r.selector).length === 0 && (r.table === 'local' || r.table === 'main' || r.table === 'default') &&
    (r.priority === 0 || r.priority === 32766 || r.priority === 32767)
}

/** "-m mac --mac-source 00:16:3E:… … -j MARK --set-xmark 0xfa/0xffffffff" -> MAC and mark. */
function markOf (r: IptablesRule): { mac: string, mark: number } | null {
  if (r.chain !== 'PREROUTING') return null
  const mac = /--mac-source (\S+)/.exec(r.spec)
  const mark = /--set-(?:x)?mark (0x[0-9a-f]+|\d+)/i.exec(r.spec)
  if (mac === null || mark === null) return null
  return { mac: mac[1].toUpperCase(), mark: Number(mark[1]) }
}
