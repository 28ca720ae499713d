import { readFile, readdir, writeFile } from '../util/fs-async'
import { KernelApplyError } from './errors'
import { CommandError, run } from './exec'
import { IpReader, IpSession } from './ip-session'
import type { ApplyOptions, ApplyStats, Kernel, KernelOptions } from './kernel'
import { type IpView, parseIpBatch, parseIptablesSave, parseSysctl, pseudoInterfacesOf, readProcSysctls } from './linux-read'
import { ipLine, markRule, natRule, pseudoCreateLines } from './linux-render'
import { type Op, describeOp, plan } from './plan'
import { type KernelState, type NamespaceState, SYSTEM_NS, emptyNamespace, macOfNtkFromTable, tablesOf } from './state'
import type { TableAllocator } from './table-allocator'
import { elapsedMs } from '../util/clock'

export interface LinuxKernelOptions {
  readonly allocator: TableAllocator
  /** Target namespace (a name under /run/netns); undefined: the namespace the daemon runs in. */
  readonly netns?: string
  /**
   * Prefix of the host-level names of nested namespaces: nested 'ntkv0' lives at /run/netns/<prefix>ntkv0.
   * '' inside a lab node (private /run/netns); tests from the host use '<test-ns>-'.
   */
  readonly nestedPrefix?: string
  /** rt_tables file kept in step with the allocator (spec §2.2); never the host's /etc/iproute2/rt_tables in tests. */
  readonly rtTablesPath?: string
  /** Devices whose 10/8 and 169.254/16 /32 addresses are the administrator's (e.g. a subnet gateway's private NIC). */
  readonly foreignDevices?: readonly string[]
  /** Directory of named namespaces. */
  readonly netnsDir?: string
}

interface NsRead { state: NamespaceState; raw: ReturnType<typeof parseIptablesSave>['raw'] }

/**
 * The kernel port on Linux: reads the owned state (`ip -N -j -batch`, `iptables-save`, `sysctl`), plans, and
 * applies the difference with one `ip -batch` run, one `iptables-restore --noflush` and one `sysctl -w` per
 * namespace (plus `ip netns add/del` per nested namespace created or removed). Every `ip` command uses numeric
 * table ids, so the kernel never depends on rt_tables; the file is kept only for people reading `ip route`.
 *
 * Like BIRD's krt, it scans the kernel on the first apply and whenever asked (`rescan: true`), and between scans
 * trusts that the kernel holds what its last successful apply wrote: an apply that fails drops that view, so the
 * next one re-reads. `ip -batch` runs go to one long-lived `ip` process per namespace (see IpSession), because a
 * process spawn alone costs more than a one-route change may take. Call `close()` when done.
 */
export class LinuxKernel implements Kernel {
  readonly #o: LinuxKernelOptions
  readonly #prefix: string
  readonly #foreign: Set<string>
  #last: ApplyStats | undefined
  /** what the last successful apply left in the kernel; undefined: scan before the next apply */
  #known: KernelState | undefined
  /** Devices of the default namespace (real NICs) an apply brought or found up: never brought up again (see apply) */
  readonly #upOnce = new Set<string>()
  readonly #sessions = new Map<string, IpSession>()
  readonly #readers = new Map<string, IpReader>()
  #reads = 0
  #commands = 0

  constructor (o: LinuxKernelOptions) {
    this.#o = o
    this.#prefix = o.nestedPrefix ?? ''
    this.#foreign = new Set(o.foreignDevices ?? [])
  }

  get lastApplyStats (): ApplyStats | undefined { return this.#last }

  /** The /run/netns name of a state namespace (undefined: the current one). */
  hostNs (ns: string): string | undefined { return ns === SYSTEM_NS ? this.#o.netns : `${this.#prefix}${ns}` }

  #ip (ns: string): string[] { const h = this.hostNs(ns); return h === undefined ? ['ip'] : ['ip', '-n', h] }
  #exec (ns: string, argv: string[]): string[] { const h = this.hostNs(ns); return h === undefined ? argv : ['ip', 'netns', 'exec', h, ...argv] }

  /** Nested namespaces present: /run/netns entries named <prefix>ntkvN, or <prefix><name> for a name the hint wants. */
  async #nestedPresent (hint?: KernelState): Promise<string[]> {
    let entries: string[]
    try { entries = await readdir(this.#o.netnsDir ?? '/run/netns') } catch { return [] }
    const wanted = new Set(hint?.namespaces.keys() ?? [])
    return entries.filter(e => e.startsWith(this.#prefix) && e !== this.#o.netns).map(e => e.slice(this.#prefix.length))
      .filter(n => n !== SYSTEM_NS && (/^ntkv\d+$/.test(n) || wanted.has(n)))
  }

  async read (hint?: KernelState, o?: KernelOptions): Promise<KernelState> {
    return { namespaces: new Map([...(await this.#readAll(hint, o)).entries()].map(([k, v]) => [k, v.state])) }
  }

  async #readAll (hint?: KernelState, o?: KernelOptions): Promise<Map<string, NsRead>> {
    const names = [SYSTEM_NS, ...await this.#nestedPresent(hint)]
    const reads = await Promise.all(names.map(async ns => await this.#readNs(ns, hint?.namespaces.get(ns), o)))
    return new Map(names.map((n, i) => [n, reads[i]]))
  }

  async #readNs (ns: string, hint: NamespaceState | undefined, o?: KernelOptions): Promise<NsRead> {
    const where = ns === SYSTEM_NS ? `netns ${this.#o.netns ?? '(current)'}` : `netns ${this.hostNs(ns) ?? ''}`
    const keys = [...(hint?.sysctls.keys() ?? [])]
    this.#reads += 2
    // The daemon's own namespace reads its sysctls from /proc (no process); `ip` goes to a long-lived reader.
    const here = ns === SYSTEM_NS && this.#o.netns === undefined
    const [ipOut, ntOut] = await Promise.all([
      this.#reader(ns).query(['addr', 'route show table all', 'rule']),
      here
        ? run(['iptables-save'], undefined, o?.signal)
        : run(this.#exec(ns, ['sh', '-c', 'iptables-save && echo @@sysctl@@ && if [ $# -gt 0 ]; then exec sysctl -e "$@"; fi', 'sh', ...keys]), undefined, o?.signal)
    ])
    const ip: IpView = parseIpBatch(where, ipOut, this.#o.allocator, ns === SYSTEM_NS ? this.#foreign : new Set())
    const [ipt, sys] = here ? [ntOut.stdout, await readProcSysctls(keys)] : ntOut.stdout.split('@@sysctl@@\n')
    const nt = parseIptablesSave(where, ipt, this.#o.allocator)
    const parents = new Map((hint?.pseudoInterfaces ?? []).map(p => [p.name, p.parent]))
    return {
      state: {
        sysctls: parseSysctl(sys ?? ''),
        linksUp: (hint?.linksUp ?? []).filter(d => ip.up.has(d)),
        pseudoInterfaces: ns === SYSTEM_NS ? [] : pseudoInterfacesOf(ip.links, n => parents.get(n) ?? ''),
        addresses: ip.addresses,
        routes: ip.routes,
        rules: ip.rules,
        marks: nt.marks,
        nat: nt.nat
      },
      raw: nt.raw
    }
  }

  async plan (desired: KernelState, o?: KernelOptions): Promise<Op[]> {
    await this.#acquire(desired)
    return plan(desired, await this.read(desired, o))
  }

  async apply (desired: KernelState, o?: ApplyOptions): Promise<ApplyStats> {
    const t0 = elapsedMs()
    this.#reads = 0
    this.#commands = 0
    await this.#acquire(desired)
    const actual: Map<string, NsRead> = o?.rescan === true || this.#known === undefined
      ? await this.#readAll(desired, o)
      : new Map([...this.#known.namespaces].map(([k, state]) => [k, { state, raw: new WeakMap() }]))
    // A real NIC is brought up once (spec §2.1, at startup). Found down later, someone set it down on purpose
    // (an administrator, a lab cutting the link): the Neighborhood loses its arcs, the kernel does not fight.
    // (Pseudo-interfaces in nested namespaces are the daemon's own: they are always kept up.)
    const ops = plan(desired, { namespaces: new Map([...actual].map(([k, v]) => [k, v.state])) })
      .filter(op => op.kind !== 'link-up' || op.ns !== SYSTEM_NS || !this.#upOnce.has(op.dev))
    this.#known = undefined
    await this.#execute(ops, actual, o)
    for (const dev of desired.namespaces.get(SYSTEM_NS)?.linksUp ?? []) this.#upOnce.add(dev)
    const after = new Map(desired.namespaces)
    if (!after.has(SYSTEM_NS)) after.set(SYSTEM_NS, emptyNamespace())
    this.#known = { namespaces: after }
    await this.#release(desired, [...actual.keys()])
    this.#last = { ops: ops.length, commands: this.#commands, reads: this.#reads, ms: elapsedMs() - t0, ...(o?.rescan === true ? { changes: ops.map(describeOp) } : {}) }
    return this.#last
  }

  /** The devices of the target namespace (`ip -j link`), read by the long-lived reader. */
  async links (): Promise<Array<{ ifname: string }>> {
    this.#reads++
    return JSON.parse(await this.#reader(SYSTEM_NS).query(['link'])) as Array<{ ifname: string }>
  }

  /** Forget the view of the last apply: the next apply scans the kernel. */
  invalidate (): void { this.#known = undefined }

  /** Ends the `ip -batch` sessions. The kernel stays usable: the next apply opens new ones. */
  async close (): Promise<void> {
    const sessions = [...this.#sessions.values(), ...this.#readers.values()]
    this.#sessions.clear()
    this.#readers.clear()
    await Promise.all(sessions.map(async s => await s.close()))
  }

  async #closeSession (ns: string): Promise<void> {
    // both hold the namespace open: `ip netns del` would only unmount it
    const s = this.#sessions.get(ns)
    const r = this.#readers.get(ns)
    this.#sessions.delete(ns)
    this.#readers.delete(ns)
    await Promise.all([s?.close(), r?.close()])
  }

  #reader (ns: string): IpReader {
    let r = this.#readers.get(ns)
    if (r === undefined) { r = new IpReader(this.#ip(ns).slice(1)); this.#readers.set(ns, r) }
    return r
  }

  async #batch (ns: string, lines: string[], where: string): Promise<void> {
    let s = this.#sessions.get(ns)
    if (s === undefined) { s = new IpSession(this.#ip(ns).slice(1)); this.#sessions.set(ns, s) }
    this.#commands++
    try {
      await s.run(lines)
    } catch (e) {
      if (e instanceof CommandError) throw new KernelApplyError(where, `ip -batch: ${e.stderr.trim()}`)
      throw e
    }
  }

  async #cmd (argv: string[], input: string | undefined, where: string, o?: KernelOptions): Promise<void> {
    this.#commands++
    try {
      await run(argv, input, o?.signal)
    } catch (e) {
      if (e instanceof CommandError) throw new KernelApplyError(where, `${argv.join(' ')}: ${e.stderr.trim()}${input !== undefined ? `\n--- input ---\n${input}` : ''}`)
      throw e
    }
  }

  async #execute (ops: Op[], actual: Map<string, NsRead>, o?: KernelOptions): Promise<void> {
    const ids = (t: string): number | undefined => this.#o.allocator.idOf(t)
    const order: string[] = [SYSTEM_NS]
    const perNs = new Map<string, { sysctl: string[]; ip: string[]; mangle: string[]; nat: string[] }>()
    const bucket = (ns: string): { sysctl: string[]; ip: string[]; mangle: string[]; nat: string[] } => {
      let b = perNs.get(ns)
      if (b === undefined) { b = { sysctl: [], ip: [], mangle: [], nat: [] }; perNs.set(ns, b); if (!order.includes(ns)) order.push(ns) }
      return b
    }
    const adds: string[] = []
    const dels: string[] = []
    for (const op of ops) {
      if (op.kind === 'netns') { (op.op === 'add' ? adds : dels).push(op.ns); continue }
      if (op.kind === 'pseudo' && op.op === 'add') { bucket(SYSTEM_NS).ip.push(...pseudoCreateLines(op, this.hostNs(op.ns) ?? '')); bucket(op.ns); continue }
      const b = bucket(op.ns)
      if (op.kind === 'sysctl') { b.sysctl.push(`${op.key}=${op.value}`); continue }
      if (op.kind === 'mark') {
        const id = ids(op.item.markOf)
        const raw = actual.get(op.ns)?.raw.get(op.item)
        if (op.op === 'del') b.mangle.push(raw !== undefined ? raw.line.replace(/^-A /, '-D ') : `-D ${markRule(op.item, id ?? 0)}`)
        else {
          if (id === undefined) throw new KernelApplyError('render', `table ${op.item.markOf} has no id`, op)
          b.mangle.push(`-A ${markRule(op.item, id)}`)
        }
        continue
      }
      if (op.kind === 'nat') {
        const raw = actual.get(op.ns)?.raw.get(op.item)
        b.nat.push(op.op === 'del' ? (raw !== undefined ? raw.line.replace(/^-A /, '-D ') : `-D ${natRule(op.item)}`) : `-A ${natRule(op.item)}`)
        continue
      }
      const line = ipLine(op, ids)
      if (line !== null) b.ip.push(line)
    }
    for (const ns of adds) await this.#cmd(['ip', 'netns', 'add', this.hostNs(ns) ?? ''], undefined, `netns ${ns}`, o)
    for (const ns of order) {
      const b = perNs.get(ns)
      if (b === undefined) continue
      const where = `netns ${this.hostNs(ns) ?? '(current)'}`
      if (b.sysctl.length > 0) await this.#cmd(this.#exec(ns, ['sysctl', '-q', '-w', ...b.sysctl]), undefined, where, o)
      if (b.ip.length > 0) await this.#batch(ns, b.ip, where)
      if (b.mangle.length + b.nat.length > 0) {
        let input = ''
        if (b.mangle.length > 0) input += `*mangle\n${b.mangle.join('\n')}\nCOMMIT\n`
        if (b.nat.length > 0) input += `*nat\n${b.nat.join('\n')}\nCOMMIT\n`
        await this.#cmd(this.#exec(ns, ['iptables-restore', '--noflush']), input, where, o)
      }
    }
    for (const ns of dels) {
      // as ntkd does (spec §2.7): delete the pseudo-interfaces first. `ip netns del` frees the namespace's devices
      // only later, in the kernel's netns cleanup work, so a new macvlan with the same MAC would fail meanwhile.
      const pseudo = actual.get(ns)?.state.pseudoInterfaces ?? []
      if (pseudo.length > 0) await this.#batch(ns, pseudo.map(p => `link del dev ${p.name}`), `netns ${this.hostNs(ns) ?? ''}`)
      await this.#closeSession(ns)
    }
    for (const ns of dels) await this.#cmd(['ip', 'netns', 'del', this.hostNs(ns) ?? ''], undefined, `netns ${ns}`, o)
  }

  #holderOf (ns: string): string { return this.hostNs(ns) ?? '(current)' }

  async #acquire (desired: KernelState): Promise<void> {
    let changed = false
    for (const [ns, n] of desired.namespaces) {
      for (const t of tablesOf(n)) {
        const mac = macOfNtkFromTable(t)
        if (mac === null) continue
        const before = this.#o.allocator.idOfMac(mac)
        this.#o.allocator.acquire(this.#holderOf(ns), mac)
        if (before === undefined) changed = true
      }
    }
    if (changed) await this.#writeRtTables()
  }

  /** Releases the tables a namespace no longer uses; `seen` are the namespaces present before the apply. */
  async #release (desired: KernelState, seen: string[]): Promise<void> {
    let changed = false
    for (const ns of new Set([SYSTEM_NS, ...seen, ...desired.namespaces.keys()])) {
      const holder = this.#holderOf(ns)
      const want = new Set<string>()
      const d = desired.namespaces.get(ns)
      if (d !== undefined) for (const t of tablesOf(d)) { const m = macOfNtkFromTable(t); if (m !== null) want.add(m) }
      for (const mac of this.#o.allocator.heldBy(holder)) {
        if (!want.has(mac)) { this.#o.allocator.release(holder, mac); changed = changed || this.#o.allocator.idOfMac(mac) === undefined }
      }
    }
    if (changed) await this.#writeRtTables()
  }

  async #writeRtTables (): Promise<void> {
    const path = this.#o.rtTablesPath
    if (path === undefined) return
    let existing = ''
    try { existing = await readFile(path, 'utf8') } catch { /* a new file */ }
    await writeFile(path, this.#o.allocator.renderRtTables(existing))
  }
}

