import { InMemoryNetwork, type Endpoint } from '../../src/transport'
import { WireCodec, WireCounters, type WireMessage } from '../../src/wire'
import { VirtualClock } from '../../src/sim/virtual-clock'
import type { TopologySpec } from '../../src/sim/topologies'
import { SeededRandom } from '../../src/util/random'
import { InMemoryKernel, TableAllocator, SYSTEM_NS, TABLE_NTK, type RouteItem } from '../../src/kernel'
import type { Naddr, Topology } from '../../src/addressing'
import { startNode, ntkdMessageRegistry, validateConfig, type NodeConfig, type RunningNode } from '../../src/node'
import type { ComponentLog, LogComponent } from '../../src/util/logger'

// Whole daemons (startNode: Neighborhood + QSPN over the wire codec + kernel sync) in one process, over an
// in-memory network with a virtual clock and in-memory kernels.

/** Lets pending promise chains (kernel applies, handlers) run; the virtual clock never advances by itself. */
export async function flush (): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>(resolve => setImmediate(resolve))
}

/**
 * Runs every timer due in the next `ms` of virtual time. Timers due at the same instant run together, then pending
 * promises settle (once per instant, not per timer: large networks have many events per instant).
 */
export async function runFor (clock: VirtualClock, ms: number): Promise<void> {
  const until = clock.now() + ms
  await flush()
  for (let at = clock.nextAt(); at !== undefined && at <= until; at = clock.nextAt()) {
    while (clock.nextAt() === at) clock.step()
    await flush()
  }
  clock.advanceTo(until)
  await flush()
}

/**
 * Runs the clock in steps of `stepMs` until `done()` holds, for at most `budgetMs` of virtual time. Returns the
 * virtual ms it took, or null when the budget ran out (the caller reports what is still wrong).
 */
export async function runUntil (clock: VirtualClock, done: () => boolean | Promise<boolean>, o: { budgetMs: number, stepMs?: number }): Promise<number | null> {
  const start = clock.now()
  for (;;) {
    if (await done()) return clock.now() - start
    if (clock.now() - start >= o.budgetMs) return null
    await runFor(clock, o.stepMs ?? 100)
  }
}

/** A codec that also counts what it encodes: every message a node sends (a broadcast counts once). */
export class CountingCodec extends WireCodec {
  readonly sent = { messages: 0, bytes: 0 }
  override encode (message: WireMessage): Buffer {
    const bytes = super.encode(message)
    this.sent.messages++
    this.sent.bytes += bytes.length
    return bytes
  }
}

/** One daemon of the network: address (top level first), managed NICs, fixed costs (µs) per NIC. */
export interface DaemonPlan {
  /** Omitted: the daemon founds a network at random positions and merges by Hooking. */
  readonly address?: string
  readonly nics: readonly string[]
  readonly costs?: Readonly<Record<string, number>>
  /** Options of the daemon's configuration (NodeConfig keys as in a config file). */
  readonly config?: Readonly<Record<string, unknown>>
  /** MAC of each NIC (default: 02:00:<daemon number>:<NIC number>). */
  readonly macs?: Readonly<Record<string, string>>
}

export interface Daemon {
  readonly name: string
  /** The main identity's address now (level 0 first). */
  readonly naddr: Naddr
  readonly config: NodeConfig
  readonly node: RunningNode
  readonly kernel: InMemoryKernel
  /** The system's ntk_from table ids (reference-counted per MAC across its namespaces). */
  readonly allocator: TableAllocator
  readonly codec: CountingCodec
  readonly counters: WireCounters
  /** MAC of each managed (real) NIC. */
  readonly macOf: (nic: string) => string
}

export interface DaemonNetworkOptions {
  /** Bits per level, top level first ([2,1,1,1] is 4·2·2·2). */
  readonly topologyBits: readonly number[]
  readonly seed?: number
  /** Shared network key of every node's codec. */
  readonly networkKey?: string
  /** KernelSync coalescing window of every node. */
  readonly kernelIntervalMs?: number
  /** The daemons' log lines (default: dropped). */
  readonly log?: (node: string, line: string) => void
  /** Each daemon's per-component logs (as ntkd's Logger gives them); replaces `log` for the daemons' own lines. */
  readonly logger?: (node: string) => (component: LogComponent) => ComponentLog
}

/** A peer's NIC as seen from one NIC: who is at the other end of a link. */
export interface LinkEnd { readonly node: string, readonly nic: string }

/** Daemons over one InMemoryNetwork and one VirtualClock. */
export class DaemonNetwork {
  readonly clock = new VirtualClock()
  readonly net: InMemoryNetwork
  readonly daemons = new Map<string, Daemon>()
  readonly #peers = new Map<string, LinkEnd>()
  /** One registry for all nodes: it is immutable once built, and compiling its schemas per node costs ~1 MB each. */
  readonly #registry = ntkdMessageRegistry()
  #started = 0

  constructor (readonly o: DaemonNetworkOptions) {
    this.net = new InMemoryNetwork(this.clock, new SeededRandom(o.seed ?? 7))
    // routed unicasts (PeerServices' contact back) follow each node's in-memory kernel, as packets would
    this.net.router = (node, ip, arrival) => {
      const from = arrival === undefined ? undefined : this.daemons.get(arrival.fromNode)
      const fromMac = from === undefined || arrival === undefined ? undefined : nicMac(from, arrival.fromNic)
      return this.daemons.get(node)?.kernel.nextHop(ip, arrival === undefined ? undefined : { nic: arrival.nic, fromMac }) ?? null
    }
  }

  get topology (): Topology { return this.get([...this.daemons.keys()][0]).config.topology }

  get (name: string): Daemon {
    const d = this.daemons.get(name)
    if (d === undefined) throw new Error(`no daemon ${name}`)
    return d
  }

  list (): Daemon[] { return [...this.daemons.values()] }

  async start (name: string, p: DaemonPlan): Promise<Daemon> {
    const k = ++this.#started
    const counters = new WireCounters()
    const codec = new CountingCodec({ registry: this.#registry, counters, ...(this.o.networkKey === undefined ? {} : { networkKey: this.o.networkKey }) })
    const transport = this.net.transport(name, codec)
    const allocator = new TableAllocator()
    const kernel = new InMemoryKernel({ allocator, devices: p.nics })
    const config = validateConfig({ interfaces: [...p.nics], topology: [...this.o.topologyBits], address: p.address, timers: 'lab', costs: { ...p.costs }, ...p.config })
    const hex = (n: number): string => n.toString(16).padStart(2, '0')
    const macOf = (nic: string): string => p.macs?.[nic] ?? `02:00:${hex(k >> 8)}:${hex(k & 255)}:${hex(p.nics.indexOf(nic) >> 8)}:${hex(p.nics.indexOf(nic) & 255)}`
    const started = startNode(config, {
      transport, kernel, clock: this.clock, random: new SeededRandom((this.o.seed ?? 7) * 100_003 + k), wireCounters: counters,
      // NTK_TEST_LOG=<daemon name>,... prints those daemons' logs (with the virtual time) while debugging a test
      ...((process.env.NTK_TEST_LOG ?? '').split(',').includes(name)
        ? { log: (line: string) => { process.stderr.write(`[${this.clock.now()} ${name}] ${line}\n`); this.o.log?.(name, line) } }
        : this.o.log === undefined ? {} : { log: (line: string) => this.o.log?.(name, line) }),
      ...(this.o.logger === undefined ? {} : { logger: this.o.logger(name) }),
      macOf
    }, this.o.kernelIntervalMs === undefined ? {} : { kernelIntervalMs: this.o.kernelIntervalMs })
    await flush()
    const node = await started
    // the main identity's address as of now (an entry or migration changes it)
    const d: Daemon = { name, get naddr () { return node.system.main.naddr }, config, node, kernel, allocator, codec, counters, macOf }
    this.daemons.set(name, d)
    return d
  }

  link (a: Endpoint, b: Endpoint, latencyMs = 1): void {
    this.net.link(a, b, { latencyMs })
    this.#peers.set(`${a.node}:${a.nic}`, b)
    this.#peers.set(`${b.node}:${b.nic}`, a)
  }

  /** Takes a link down or up (both NICs stay configured: the arcs die by their liveness checks). */
  setLinkUp (a: Endpoint, b: Endpoint, up: boolean): void { this.net.setLink(a, b, { up }) }

  setLatency (a: Endpoint, b: Endpoint, latencyMs: number): void { this.net.setLink(a, b, { latencyMs }) }

  /** Who is at the other end of `node`'s NIC. */
  peerOf (node: string, nic: string): LinkEnd {
    const p = this.#peers.get(`${node}:${nic}`)
    if (p === undefined) throw new Error(`${node}:${nic} is not linked`)
    return p
  }

  /** Applies what each running node has pending, so kernels reflect the maps of now. */
  async syncKernels (): Promise<void> {
    for (const d of this.daemons.values()) await d.node.syncKernel()
  }

  async stop (name: string): Promise<void> {
    await this.get(name).node.stop()
    this.daemons.delete(name)
  }

  async stopAll (): Promise<void> {
    for (const d of this.daemons.values()) await d.node.stop()
  }
}

/** Starts the daemons of a plan (in the plan's order). */
export async function startDaemons (plan: Record<string, DaemonPlan>, o: DaemonNetworkOptions): Promise<DaemonNetwork> {
  const dn = new DaemonNetwork(o)
  for (const [name, p] of Object.entries(plan)) await dn.start(name, p)
  return dn
}

/** NIC of `node` for its k-th link in a spec: e0, e1, … */
export const specNic = (k: number): string => `e${k}`

/** Address of a spec node as ntkd's configuration writes it, top level first. */
export const specAddress = (naddr: readonly number[]): string => [...naddr].reverse().join('.')

/** Bits per level, top level first, of a spec's gsizes (level 0 first). */
export const specBits = (gsizes: readonly number[]): number[] => [...gsizes].reverse().map(g => Math.log2(g))

export interface SpecOptions {
  readonly seed?: number
  readonly networkKey?: string
  readonly kernelIntervalMs?: number
  readonly log?: (node: string, line: string) => void
  /**
   * Links whose cost is measured (RTT on the virtual clock: latency = cost/2000 ms) instead of configured. The
   * others get the spec's cost as fixed cost on both NICs and 1 ms latency.
   */
  readonly measured?: (link: TopologySpec['links'][number]) => boolean
}

/**
 * One daemon per spec node (a NIC per link, e0… in the spec's link order) and one in-memory link per spec link.
 * Returns with all nodes started and linked; the network then forms as the clock runs.
 */
export async function startSpec (spec: TopologySpec, o: SpecOptions = {}): Promise<DaemonNetwork> {
  const nics = new Map<string, string[]>(spec.nodes.map(n => [n.name, []]))
  const costs = new Map<string, Record<string, number>>(spec.nodes.map(n => [n.name, {}]))
  const ends = spec.links.map(l => {
    const measured = o.measured?.(l) ?? false
    const end = (node: string): Endpoint => {
      const list = nics.get(node) as string[]
      const nic = specNic(list.length)
      list.push(nic)
      if (!measured) (costs.get(node) as Record<string, number>)[nic] = l.cost
      return { node, nic }
    }
    return { a: end(l.a), b: end(l.b), latencyMs: measured ? l.cost / 2000 : 1 }
  })
  const dn = new DaemonNetwork({ topologyBits: specBits(spec.gsizes), ...o })
  for (const n of spec.nodes) {
    await dn.start(n.name, { address: specAddress(n.naddr), nics: nics.get(n.name) as string[], costs: costs.get(n.name) })
  }
  for (const e of ends) dn.link(e.a, e.b, e.latencyMs)
  return dn
}

/** The ntk table of a kernel, by destination. */
export async function ntkRoutes (k: InMemoryKernel): Promise<Map<string, RouteItem>> {
  const s = (await k.read()).namespaces.get(SYSTEM_NS)
  return new Map((s?.routes ?? []).filter(r => r.table === TABLE_NTK).map(r => [r.dst, r]))
}

/** Link-local of a daemon's NIC (what its neighbours' routes use as gateway). */
export function linkLocalOf (d: Daemon, nic: string): string {
  const ll = d.node.status().nics.find(x => x.name === nic)?.linkLocal
  if (ll == null) throw new Error(`${d.name} has no link-local on ${nic}`)
  return ll
}

/** True when node m lies inside the g-node `hc` as seen from n (same positions above hc.lvl, pos at hc.lvl). */
export function inside (n: Naddr, hc: { lvl: number, pos: number }, m: Naddr): boolean {
  if (m[hc.lvl] !== hc.pos) return false
  for (let l = hc.lvl + 1; l < n.length; l++) if (m[l] !== n[l]) return false
  return true
}

/** The MAC of a daemon's NIC: a pseudo-interface's from its kernel state, a real NIC's as configured. */
function nicMac (d: Daemon, nic: string): string {
  return d.kernel.pseudoMac(nic) ?? d.macOf(nic)
}
