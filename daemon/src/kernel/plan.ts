import {
  type AddressItem, type KernelState, type MarkItem, type NamespaceState, type NatItem, type PseudoInterface,
  type RouteItem, type RuleItem, SYSTEM_NS, TABLE_MAIN, emptyNamespace, keyOf, normalizeMac, sameRoute
} from './state'

/** Why an op is there: the one word logged per kernel decision (as BIRD's krt does). */
export type Why = 'missing' | 'differs' | 'unwanted'

export type Op =
  | { kind: 'netns'; op: 'add' | 'del'; ns: string; why: Why }
  | { kind: 'pseudo'; op: 'add' | 'replace' | 'del'; ns: string; item: PseudoInterface; why: Why }
  | { kind: 'sysctl'; op: 'set'; ns: string; key: string; value: string; why: Why }
  | { kind: 'link-up'; op: 'set'; ns: string; dev: string; why: Why }
  | { kind: 'address'; op: 'add' | 'del'; ns: string; item: AddressItem; why: Why }
  | { kind: 'route'; op: 'add' | 'replace' | 'del'; ns: string; item: RouteItem; why: Why }
  | { kind: 'rule'; op: 'add' | 'del'; ns: string; item: RuleItem; why: Why }
  | { kind: 'mark'; op: 'add' | 'del'; ns: string; item: MarkItem; why: Why }
  | { kind: 'nat'; op: 'add' | 'del'; ns: string; item: NatItem; why: Why }

/**
 * Phases of an apply. The order is forced by the kernel: a route with `src` needs the address first; a route `via`
 * a link-local needs the host route in main first; deleting an address flushes routes using it as prefsrc, so
 * addresses go last; iptables rules and ip rules of a table go before its routes are removed.
 */
function phaseOf (o: Op): number {
  switch (o.kind) {
    case 'netns': return o.op === 'add' ? 0 : 9
    case 'pseudo': return 1
    case 'sysctl': case 'link-up': return 2
    case 'nat': case 'mark': return o.op === 'del' ? 3 : 8
    case 'rule': return o.op === 'del' ? 3 : 7
    case 'route':
      if (o.op === 'del') return o.item.table === TABLE_MAIN ? 4.5 : 4
      return o.item.table === TABLE_MAIN ? 5 : 6
    case 'address': return o.op === 'add' ? 4.8 : 8.5
  }
}

/**
 * The ops that turn `actual` into `desired`. Both states hold only what the daemon owns (the reader filters), so
 * every actual item not desired is deleted. Sysctls and links-up are only ever set, never reverted.
 * Pure: LinuxKernel renders the ops as commands, InMemoryKernel applies them to its model.
 */
export function plan (desired: KernelState, actual: KernelState, o: PlanOptions = {}): Op[] {
  const ops: Op[] = []
  for (const [ns, want] of desired.namespaces) {
    const have = actual.namespaces.get(ns)
    if (have === undefined && ns !== SYSTEM_NS) ops.push({ kind: 'netns', op: 'add', ns, why: 'missing' })
    diffNamespace(ns, want, have ?? emptyNamespace(), ops, have === undefined ? undefined : o.actualRoutes?.(ns))
  }
  for (const ns of actual.namespaces.keys()) {
    // a nested namespace goes with everything in it; the system's own namespace is never deleted
    if (!desired.namespaces.has(ns) && ns !== SYSTEM_NS) ops.push({ kind: 'netns', op: 'del', ns, why: 'unwanted' })
    if (!desired.namespaces.has(ns) && ns === SYSTEM_NS) diffNamespace(ns, emptyNamespace(), actual.namespaces.get(ns) ?? emptyNamespace(), ops, o.actualRoutes?.(ns))
  }
  return ops.map((o, i) => ({ o, i })).sort((a, b) => phaseOf(a.o) - phaseOf(b.o) || a.i - b.i).map(x => x.o)
}

export interface PlanOptions {
  /**
   * The actual routes of a namespace already indexed (by table, then destination), holding exactly the routes of
   * `actual`: a kernel that keeps its routes so (InMemoryKernel) spares the plan indexing them again.
   */
  readonly actualRoutes?: (ns: string) => RouteIndex | undefined
}

function diffNamespace (ns: string, want: NamespaceState, have: NamespaceState, ops: Op[], haveIndex?: RouteIndex): void {
  const havePseudo = byKey(have.pseudoInterfaces, keyOf.pseudo)
  for (const p of want.pseudoInterfaces) {
    const h = havePseudo.get(keyOf.pseudo(p))
    if (h === undefined) ops.push({ kind: 'pseudo', op: 'add', ns, item: p, why: 'missing' })
    else if (normalizeMac(h.mac) !== normalizeMac(p.mac)) ops.push({ kind: 'pseudo', op: 'replace', ns, item: p, why: 'differs' })
  }
  const wantPseudo = byKey(want.pseudoInterfaces, keyOf.pseudo)
  for (const [k, p] of havePseudo) if (!wantPseudo.has(k)) ops.push({ kind: 'pseudo', op: 'del', ns, item: p, why: 'unwanted' })

  for (const [key, value] of want.sysctls) {
    const h = have.sysctls.get(key)
    if (h !== value) ops.push({ kind: 'sysctl', op: 'set', ns, key, value, why: h === undefined ? 'missing' : 'differs' })
  }
  const up = new Set(have.linksUp)
  for (const dev of want.linksUp) if (!up.has(dev)) ops.push({ kind: 'link-up', op: 'set', ns, dev, why: 'missing' })

  diffSet(ns, 'address', want.addresses, have.addresses, keyOf.address, ops)
  diffSet(ns, 'rule', want.rules, have.rules, keyOf.rule, ops)
  diffSet(ns, 'nat', want.nat, have.nat, keyOf.nat, ops)
  const haveMarks = byKey(have.marks, keyOf.mark)
  for (const m of want.marks) {
    const h = haveMarks.get(keyOf.mark(m))
    if (h === undefined) ops.push({ kind: 'mark', op: 'add', ns, item: m, why: 'missing' })
    else if (h.markOf !== m.markOf) {
      ops.push({ kind: 'mark', op: 'del', ns, item: h, why: 'differs' })
      ops.push({ kind: 'mark', op: 'add', ns, item: m, why: 'differs' })
    }
  }
  const wantMarks = byKey(want.marks, keyOf.mark)
  for (const [k, m] of haveMarks) if (!wantMarks.has(k)) ops.push({ kind: 'mark', op: 'del', ns, item: m, why: 'unwanted' })

  const haveRoutes = haveIndex ?? routeIndex(have.routes)
  const wantRoutes = routeIndex(want.routes)
  for (const r of want.routes) {
    const h = haveRoutes.get(r.table)?.get(r.dst)
    if (h === undefined) ops.push({ kind: 'route', op: 'add', ns, item: r, why: 'missing' })
    else if (h !== r && !sameRoute(h, r)) ops.push({ kind: 'route', op: 'replace', ns, item: r, why: 'differs' })
  }
  for (const [table, routes] of haveRoutes) {
    const w = wantRoutes.get(table)
    for (const [dst, r] of routes) if (w?.has(dst) !== true) ops.push({ kind: 'route', op: 'del', ns, item: r, why: 'unwanted' })
  }
}

/**
 * Routes by table, then by destination. Tens of thousands of routes are planned on every change, so the index
 * avoids building a composite string key per route, and is kept per routes array: the state a kernel applied
 * last is the `actual` of its next plan, and its index is then already there.
 */
export type RouteIndex = ReadonlyMap<string, ReadonlyMap<string, RouteItem>>
const routeIndexes = new WeakMap<readonly RouteItem[], RouteIndex>()
export function routeIndex (routes: readonly RouteItem[]): RouteIndex {
  let idx = routeIndexes.get(routes)
  if (idx !== undefined) return idx
  const built = new Map<string, Map<string, RouteItem>>()
  for (const r of routes) {
    let t = built.get(r.table)
    if (t === undefined) { t = new Map(); built.set(r.table, t) }
    t.set(r.dst, r)
  }
  routeIndexes.set(routes, built)
  return built
}

function diffSet<K extends 'address' | 'rule' | 'nat', T extends AddressItem | RuleItem | NatItem> (
  ns: string, kind: K, want: readonly T[], have: readonly T[], key: (x: T) => string, ops: Op[]
): void {
  const h = byKey(have, key)
  const w = byKey(want, key)
  for (const [k, item] of w) if (!h.has(k)) ops.push({ kind, op: 'add', ns, item, why: 'missing' } as unknown as Op)
  for (const [k, item] of h) if (!w.has(k)) ops.push({ kind, op: 'del', ns, item, why: 'unwanted' } as unknown as Op)
}

function byKey<T> (xs: readonly T[], key: (x: T) => string): Map<string, T> {
  const m = new Map<string, T>()
  for (const x of xs) m.set(key(x), x)
  return m
}

/** One line per op, for logs and error messages. */
export function describeOp (o: Op): string {
  const where = o.ns === SYSTEM_NS ? '' : ` [${o.ns}]`
  switch (o.kind) {
    case 'netns': return `${o.op} netns ${o.ns} (${o.why})`
    case 'pseudo': return `${o.op} pseudo-interface ${o.item.name} ${o.item.mac} on ${o.item.parent}${where} (${o.why})`
    case 'sysctl': return `sysctl ${o.key}=${o.value}${where} (${o.why})`
    case 'link-up': return `link ${o.dev} up${where} (${o.why})`
    case 'address': return `${o.op} address ${o.item.ip} dev ${o.item.dev}${where} (${o.why})`
    case 'route': return `${o.op} route ${describeRoute(o.item)}${where} (${o.why})`
    case 'rule': return `${o.op} rule ${o.item.fwmarkOf !== undefined ? `fwmark <${o.item.fwmarkOf}> ` : ''}table ${o.item.table}${where} (${o.why})`
    case 'mark': return `${o.op} mark ${o.item.mac} -> <${o.item.markOf}>${where} (${o.why})`
    case 'nat': return `${o.op} nat ${o.item.chain}${o.item.src !== undefined ? ` -s ${o.item.src}` : ''} -d ${o.item.dst} ${o.item.target} ${o.item.to}${where} (${o.why})`
  }
}

export function describeRoute (r: RouteItem): string {
  const head = r.type === 'unicast' ? r.dst : `${r.type} ${r.dst}`
  return `${head}${r.via !== undefined ? ` via ${r.via}` : ''}${r.dev !== undefined ? ` dev ${r.dev}` : ''}${r.src !== undefined ? ` src ${r.src}` : ''} table ${r.table}`
}
