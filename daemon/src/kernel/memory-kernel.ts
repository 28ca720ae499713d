import { cidrContains } from '../addressing'
import { KernelApplyError } from './errors'
import type { ApplyOptions, ApplyStats, Kernel } from './kernel'
import { type KernelHop, PrefixIndex } from './memory-lookup'
import { type Op, describeOp, plan } from './plan'
import {
  type AddressItem, type KernelState, type MarkItem, type NamespaceState, type NatItem, type PseudoInterface,
  type RouteItem, type RuleItem, SYSTEM_NS, TABLE_MAIN, TABLE_NTK, keyOf, macOfNtkFromTable, tablesOf
} from './state'
import type { TableAllocator } from './table-allocator'
import { elapsedMs } from '../util/clock'

interface MutableNamespace {
  /** devices that exist (real NICs, lo, pseudo-interfaces) */
  devices: Set<string>
  up: Set<string>
  sysctls: Map<string, string>
  pseudo: Map<string, PseudoInterface>
  addresses: Map<string, AddressItem>
  routes: RouteStore
  rules: Map<string, RuleItem>
  marks: Map<string, MarkItem>
  nat: Map<string, NatItem>
}

/**
 * Routes by table, then destination: the shape plan() indexes routes in, so it can use this one as it is; and each
 * table's longest-prefix index, kept in step (nextHop).
 */
class RouteStore {
  readonly byTable = new Map<string, Map<string, RouteItem>>()
  readonly #prefixes = new Map<string, PrefixIndex>()

  get (table: string, dst: string): RouteItem | undefined { return this.byTable.get(table)?.get(dst) }
  set (r: RouteItem): void {
    let t = this.byTable.get(r.table)
    if (t === undefined) { t = new Map(); this.byTable.set(r.table, t); this.#prefixes.set(r.table, new PrefixIndex()) }
    t.set(r.dst, r)
    this.#prefixes.get(r.table)?.set(r)
  }

  delete (table: string, dst: string): boolean {
    const t = this.byTable.get(table)
    if (t === undefined || !t.delete(dst)) return false
    this.#prefixes.get(table)?.delete(dst)
    if (t.size === 0) { this.byTable.delete(table); this.#prefixes.delete(table) }
    return true
  }

  /** The longest-prefix route of `table` containing `ip`. */
  longest (table: string, ip: string): RouteItem | undefined { return this.#prefixes.get(table)?.longest(ip) }

  * values (): IterableIterator<RouteItem> { for (const t of this.byTable.values()) yield * t.values() }
  deleteWhere (pred: (r: RouteItem) => boolean): void {
    for (const r of [...this.values()]) if (pred(r)) this.delete(r.table, r.dst)
  }
}

export interface InMemoryKernelOptions {
  readonly allocator: TableAllocator
  /** Devices of the system namespace, besides lo (e.g. ['eth1']). */
  readonly devices: readonly string[]
  /** Holder name prefix for the allocator (distinguishes systems sharing an allocator in tests). */
  readonly holder?: string
}

/**
 * An exact in-memory kernel: the oracle of unit and in-process tests. It refuses what Linux refuses (adding what
 * exists, deleting what does not, a route on a missing device, a `src` that is not a local address, a gateway not
 * on-link through main, a table without an id) and flushes routes whose `src` disappears, as Linux does.
 */
export class InMemoryKernel implements Kernel {
  readonly #namespaces = new Map<string, MutableNamespace>()
  readonly #allocator: TableAllocator
  readonly #holder: string
  #last: ApplyStats | undefined

  constructor (o: InMemoryKernelOptions) {
    this.#allocator = o.allocator
    this.#holder = o.holder ?? 'memory'
    this.#namespaces.set(SYSTEM_NS, newNamespace(['lo', ...o.devices]))
  }

  get lastApplyStats (): ApplyStats | undefined { return this.#last }

  async read (hint?: KernelState): Promise<KernelState> { return this.#read(hint, true) }

  /** The state; without `routes` each namespace's routes read as none (plan takes them from the store's index). */
  #read (hint: KernelState | undefined, routes: boolean): KernelState {
    const namespaces = new Map<string, NamespaceState>()
    for (const [name, n] of this.#namespaces) {
      const h = hint?.namespaces.get(name)
      const sysctls = new Map<string, string>()
      for (const k of h?.sysctls.keys() ?? []) sysctls.set(k, n.sysctls.get(k) ?? '0')
      namespaces.set(name, {
        sysctls,
        linksUp: (h?.linksUp ?? []).filter(d => n.up.has(d)),
        pseudoInterfaces: [...n.pseudo.values()],
        addresses: [...n.addresses.values()],
        routes: routes ? [...n.routes.values()] : [],
        rules: [...n.rules.values()],
        marks: [...n.marks.values()],
        nat: [...n.nat.values()]
      })
    }
    return { namespaces }
  }

  async plan (desired: KernelState): Promise<Op[]> {
    // the actual routes come indexed from the store: copying them into the state read would be garbage only
    const actual = this.#read(desired, false)
    return plan(desired, actual, { actualRoutes: ns => this.#namespaces.get(ns)?.routes.byTable })
  }

  async apply (desired: KernelState, o?: ApplyOptions): Promise<ApplyStats> {
    const t0 = elapsedMs()
    for (const [ns, n] of desired.namespaces) {
      for (const t of tablesOf(n)) {
        const mac = macOfNtkFromTable(t)
        if (mac !== null) this.#allocator.acquire(this.#holderOf(ns), mac)
      }
    }
    const seen = [...this.#namespaces.keys()]
    const ops = await this.plan(desired)
    for (const op of ops) this.#applyOp(op)
    this.#releaseUnused(desired, seen)
    this.#last = { ops: ops.length, commands: 0, reads: 0, ms: elapsedMs() - t0, ...(o?.rescan === true ? { changes: ops.map(describeOp) } : {}) }
    return this.#last
  }

  async close (): Promise<void> {}

  /** Simulates what the administrator or a crash could leave: applies raw ops without planning. */
  applyOps (ops: readonly Op[]): void { for (const op of ops) this.#applyOp(op) }

  /**
   * The next hop of a packet to `ip` as these tables route it (spec §2.3): sent by the system itself (no `arrival`),
   * in its default namespace by table ntk; forwarded, in the namespace of the NIC it came in on (a
   * pseudo-interface's nested namespace, or the default one) by the table the previous hop's MAC selects (its mark,
   * then the fwmark rule), else by table ntk where a rule sends everything there. 'local' for an address of that
   * namespace, null for no route or an unreachable one. The in-process network forwards routed unicasts by it.
   */
  nextHop (ip: string, arrival?: { nic: string, fromMac?: string }): KernelHop {
    let s = this.#namespaces.get(SYSTEM_NS)
    if (arrival !== undefined) for (const n of this.#namespaces.values()) if (n.pseudo.has(arrival.nic)) s = n
    if (s === undefined) return null
    for (const a of s.addresses.values()) {
      const slash = a.ip.indexOf('/')
      if ((slash < 0 ? a.ip : a.ip.slice(0, slash)) === ip) return 'local'
    }
    let table: string | undefined
    const fromMac = arrival?.fromMac?.toUpperCase()
    let mark: string | undefined
    if (fromMac !== undefined) for (const m of s.marks.values()) if (m.mac.toUpperCase() === fromMac) { mark = m.markOf; break }
    if (mark !== undefined) for (const r of s.rules.values()) if (r.fwmarkOf === mark) { table = r.table; break }
    if (table === undefined && someOf(s.rules.values(), r => r.table === TABLE_NTK && r.fwmarkOf === undefined)) table = TABLE_NTK
    if (table === undefined) return null
    const best = s.routes.longest(table, ip)
    if (best === undefined || best.type !== 'unicast' || best.via === undefined || best.dev === undefined) return null
    return { nic: best.dev, via: best.via, ...(best.src === undefined ? {} : { src: best.src }) }
  }

  /** The MAC of a pseudo-interface (in any namespace), or undefined. */
  pseudoMac (name: string): string | undefined {
    for (const n of this.#namespaces.values()) { const p = n.pseudo.get(name); if (p !== undefined) return p.mac }
    return undefined
  }

  /** Devices existing in a namespace (for tests). */
  devices (ns = SYSTEM_NS): string[] { return [...(this.#namespaces.get(ns)?.devices ?? [])] }

  #holderOf (ns: string): string { return `${this.#holder}/${ns}` }

  #releaseUnused (desired: KernelState, seen: string[]): void {
    const known = new Set([...seen, ...desired.namespaces.keys()])
    for (const ns of known) {
      const want = new Set<string>()
      const d = desired.namespaces.get(ns)
      if (d !== undefined) for (const t of tablesOf(d)) { const m = macOfNtkFromTable(t); if (m !== null) want.add(m) }
      for (const mac of this.#allocator.heldBy(this.#holderOf(ns))) if (!want.has(mac)) this.#allocator.release(this.#holderOf(ns), mac)
    }
  }

  #ns (op: Op): MutableNamespace {
    const n = this.#namespaces.get(op.ns)
    if (n === undefined) throw new KernelApplyError(`netns ${op.ns}`, 'no such namespace', op)
    return n
  }

  #applyOp (op: Op): void {
    const fail = (detail: string): never => { throw new KernelApplyError(op.ns === SYSTEM_NS ? 'system netns' : `netns ${op.ns}`, detail, op) }
    switch (op.kind) {
      case 'netns':
        if (op.op === 'add') {
          if (this.#namespaces.has(op.ns)) fail('File exists')
          this.#namespaces.set(op.ns, newNamespace(['lo']))
        } else {
          if (!this.#namespaces.delete(op.ns)) fail('No such file or directory')
        }
        return
      case 'pseudo': {
        const n = this.#ns(op)
        if (op.op === 'add') {
          if (!(this.#namespaces.get(SYSTEM_NS)?.devices.has(op.item.parent) ?? false)) fail(`parent device ${op.item.parent} does not exist`)
          if (n.devices.has(op.item.name)) fail('File exists')
          n.devices.add(op.item.name)
          n.pseudo.set(op.item.name, op.item)
        } else if (op.op === 'replace') {
          if (!n.pseudo.has(op.item.name)) fail('Cannot find device')
          n.pseudo.set(op.item.name, op.item)
        } else {
          if (!n.pseudo.delete(op.item.name)) fail('Cannot find device')
          n.devices.delete(op.item.name)
          n.up.delete(op.item.name)
          for (const [k, a] of n.addresses) if (a.dev === op.item.name) n.addresses.delete(k)
          n.routes.deleteWhere(r => r.dev === op.item.name)
        }
        return
      }
      case 'sysctl': {
        const n = this.#ns(op)
        const dev = /^net\.ipv4\.conf\.([^.]+)\./.exec(op.key)?.[1]
        if (dev !== undefined && dev !== 'all' && dev !== 'default' && !n.devices.has(dev)) fail(`sysctl ${op.key}: No such file or directory`)
        n.sysctls.set(op.key, op.value)
        return
      }
      case 'link-up': {
        const n = this.#ns(op)
        if (!n.devices.has(op.dev)) fail(`Cannot find device "${op.dev}"`)
        n.up.add(op.dev)
        return
      }
      case 'address': {
        const n = this.#ns(op)
        const k = keyOf.address(op.item)
        if (op.op === 'add') {
          if (!n.devices.has(op.item.dev)) fail(`Cannot find device "${op.item.dev}"`)
          if (n.addresses.has(k)) fail('RTNETLINK answers: File exists')
          n.addresses.set(k, op.item)
        } else {
          if (!n.addresses.delete(k)) fail('RTNETLINK answers: Cannot assign requested address')
          // Linux flushes the routes that use a vanished address as prefsrc
          const stillLocal = new Set([...n.addresses.values()].map(a => a.ip))
          n.routes.deleteWhere(r => r.src === op.item.ip && !stillLocal.has(r.src))
        }
        return
      }
      case 'route': {
        const n = this.#ns(op)
        if (op.op === 'del') {
          if (!n.routes.delete(op.item.table, op.item.dst)) fail('RTNETLINK answers: No such process')
          return
        }
        if (op.op === 'add' && n.routes.get(op.item.table, op.item.dst) !== undefined) fail('RTNETLINK answers: File exists')
        this.#checkRoute(n, op.item, fail)
        n.routes.set(op.item)
        return
      }
      case 'rule': {
        const n = this.#ns(op)
        const k = keyOf.rule(op.item)
        if (op.op === 'add') {
          for (const t of [op.item.table, op.item.fwmarkOf]) if (t !== undefined && this.#allocator.idOf(t) === undefined) fail(`table ${t} has no id`)
          if (n.rules.has(k)) fail('RTNETLINK answers: File exists')
          n.rules.set(k, op.item)
        } else if (!n.rules.delete(k)) fail('RTNETLINK answers: No such file or directory')
        return
      }
      case 'mark': {
        const n = this.#ns(op)
        const k = keyOf.mark(op.item)
        if (op.op === 'add') {
          if (this.#allocator.idOf(op.item.markOf) === undefined) fail(`table ${op.item.markOf} has no id`)
          if (n.marks.has(k)) fail('duplicate MARK rule')
          n.marks.set(k, op.item)
        } else if (!n.marks.delete(k)) fail('iptables: Bad rule (does a matching rule exist in that chain?)')
        return
      }
      case 'nat': {
        const n = this.#ns(op)
        const k = keyOf.nat(op.item)
        if (op.op === 'add') {
          if (n.nat.has(k)) fail('duplicate nat rule')
          n.nat.set(k, op.item)
        } else if (!n.nat.delete(k)) fail('iptables: Bad rule (does a matching rule exist in that chain?)')
      }
    }
  }

  #checkRoute (n: MutableNamespace, r: RouteItem, fail: (d: string) => never): void {
    if (r.table !== TABLE_MAIN && this.#allocator.idOf(r.table) === undefined) fail(`table ${r.table} has no id`)
    if (r.type !== 'unicast') return
    if (r.dev === undefined || !n.devices.has(r.dev)) fail(`Cannot find device "${r.dev ?? ''}"`)
    if (r.src !== undefined && !someOf(n.addresses.values(), a => a.ip === r.src)) fail('Error: Invalid prefsrc address.')
    if (r.via !== undefined) {
      const connected = (m: RouteItem | undefined): boolean => m !== undefined && m.table === TABLE_MAIN && m.type === 'unicast' && m.via === undefined && m.dev === r.dev && cidrContains(m.dst, r.via as string)
      // the usual case first: a host route to the gateway (ntkd's route to a neighbour's link-local)
      const onLink = connected(n.routes.get(TABLE_MAIN, `${r.via}/32`)) || someOf(n.routes.values(), connected)
      if (!onLink) fail('Error: Nexthop has invalid gateway.')
    }
  }
}

/** `some` over an iterator, without copying it into an array first (checked for every route op). */
function someOf<T> (it: Iterable<T>, pred: (x: T) => boolean): boolean {
  for (const x of it) if (pred(x)) return true
  return false
}

function newNamespace (devices: string[]): MutableNamespace {
  return {
    devices: new Set(devices),
    up: new Set(['lo']),
    sysctls: new Map(),
    pseudo: new Map(),
    addresses: new Map(),
    routes: new RouteStore(),
    rules: new Map(),
    marks: new Map(),
    nat: new Map()
  }
}
