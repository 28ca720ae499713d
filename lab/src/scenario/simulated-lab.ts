import type { Impairment, LinkSpec, NodeSpec, ResolvedLab } from '../topology/model'
import { linkId } from '../topology/model'
import type { RunResult } from '../util/exec'
import type { Clock } from './clock'
import { copyState, initialState, type LabState } from './lab-state'
import type { NodeObservation, ObservedRoute } from './observation'
import { defaultRouteModels, expectRoutes, type RouteModels } from './route-model'
import type { ScenarioLab } from './scenario-lab'

/**
 * A lab without a kernel: a ScenarioLab whose nodes run a perfect flat routing daemon that takes
 * `convergeMs` (on the injected clock) to follow every change. Used to test the harness itself
 * (timelines, waits, bundles) and to show what the harness reports for a known fault: `keepRoutes`
 * pins routes that the "daemon" never withdraws, `execResults` scripts exec answers.
 */
export interface SimulatedLabOptions {
  clock: Clock
  models?: RouteModels
  convergeMs?: number
  /** node -> destinations whose route stays installed whatever happens (a withdrawal bug). */
  keepRoutes?: Record<string, string[]>
  execResults?: (node: string, argv: string[]) => RunResult | undefined
  /** node -> host path returned by logFile(). */
  logFiles?: Record<string, string>
}

export class SimulatedLab implements ScenarioLab {
  readonly spec: ResolvedLab
  /** Every action taken, e.g. "link a:eth1--b:eth2 down", for assertions on the timeline. */
  readonly actions: Array<{ at: number, action: string }> = []
  readonly #o: SimulatedLabOptions
  readonly #models: RouteModels
  #history: Array<{ at: number, state: LabState }>
  readonly #pinned = new Map<string, ObservedRoute[]>()

  constructor (spec: ResolvedLab, o: SimulatedLabOptions) {
    this.spec = spec
    this.#o = o
    this.#models = o.models ?? defaultRouteModels()
    const s = initialState(spec)
    this.#history = [{ at: Number.NEGATIVE_INFINITY, state: s }]
    // Pinned routes are taken from the converged initial state.
    for (const [node, dsts] of Object.entries(o.keepRoutes ?? {})) {
      const initial = this.#routesIn(s, node)
      this.#pinned.set(node, initial.filter(r => dsts.includes(r.dst)))
    }
  }

  #current (): LabState { return this.#history[this.#history.length - 1].state }

  #change (action: string, f: (s: LabState) => void): void {
    const next = copyState(this.#current())
    f(next)
    this.#history.push({ at: this.#o.clock.now(), state: next })
    this.actions.push({ at: this.#o.clock.now(), action })
  }

  /** The state the simulated daemons have caught up with. */
  #seen (): LabState {
    const cutoff = this.#o.clock.now() - (this.#o.convergeMs ?? 0)
    let s = this.#history[0].state
    for (const h of this.#history) if (h.at <= cutoff) s = h.state
    return s
  }

  #node (name: string): NodeSpec {
    const n = this.spec.nodes.find(x => x.name === name)
    if (n === undefined) throw new Error(`no node ${name} in lab ${this.spec.name}`)
    return n
  }

  #routesIn (s: LabState, node: string): ObservedRoute[] {
    const exp = expectRoutes(this.spec, s, this.#models).get(node)
    if (exp === undefined) return []
    return exp.routes.map(r => ({ table: 'main', dst: r.dst, gateway: `fe80::${r.neighbours[0]}`, dev: r.ifnames[0], protocol: exp.protocol, type: 'unicast' }))
  }

  async setLinkState (id: string, state: 'up' | 'down'): Promise<void> {
    if (!this.spec.links.some(l => l.id === id)) throw new Error(`no link ${id}`)
    this.#change(`link ${id} ${state}`, s => { s.links.set(id, state) })
  }

  async impair (id: string, imp: Impairment | undefined): Promise<void> {
    this.#change(`impair ${id} ${imp === undefined ? 'none' : JSON.stringify(imp)}`, s => { if (imp === undefined) s.impaired.delete(id); else s.impaired.add(id) })
  }

  async stopNode (name: string, o: { signal?: 'SIGTERM' | 'SIGKILL' } = {}): Promise<void> {
    this.#node(name)
    this.#change(`stop ${name} ${o.signal ?? 'SIGTERM'}`, s => { s.stopped.add(name) })
  }

  async startNode (name: string): Promise<void> {
    this.#node(name)
    this.#change(`start ${name}`, s => { s.stopped.delete(name) })
  }

  async observe (name: string): Promise<NodeObservation> {
    const n = this.#node(name)
    const seen = this.#seen()
    const addresses = [{ ifname: 'lo', address: '127.0.0.1', prefixlen: 8 },
      ...(this.#models.get(n.kind)?.destinations(n) ?? []).map(p => ({ ifname: 'lo', address: p.split('/')[0], prefixlen: Number(p.split('/')[1]) }))]
    const routes = seen.stopped.has(name) ? [] : this.#routesIn(seen, name)
    for (const p of this.#pinned.get(name) ?? []) if (!routes.some(r => r.dst === p.dst)) routes.push(p)
    return {
      addresses,
      routes,
      links: Object.keys(n.interfaces).map(i => ({ ifname: i, state: this.spec.links.some(l => l.endpoints.some(e => e.node === name && e.ifname === i) && this.#current().links.get(l.id) === 'up') ? 'UP' : 'DOWN' })),
      rules: [{ priority: 0, table: 'local' }, { priority: 32766, table: 'main' }],
      iptables: '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n',
      namespaces: []
    }
  }

  /** ping follows the routes hop by hop (as the daemons see it); other commands as scripted. */
  async exec (name: string, argv: string[], _o: { check?: boolean } = {}): Promise<RunResult> {
    const scripted = this.#o.execResults?.(name, argv)
    if (scripted !== undefined) return scripted
    if (argv[0] === 'ping') {
      const target = argv[argv.length - 1]
      const ok = await this.#delivers(name, target) && await this.#delivers(this.#ownerOf(target) ?? '', this.#addressOf(name))
      return ok ? { code: 0, stdout: '1 packets transmitted, 1 received', stderr: '' } : { code: 1, stdout: '1 packets transmitted, 0 received', stderr: '' }
    }
    return { code: 0, stdout: '', stderr: '' }
  }

  logFile (name: string): string | undefined { return this.#o.logFiles?.[name] }

  #addressOf (node: string): string {
    return (this.#models.get(this.#node(node).kind)?.destinations(this.#node(node))[0] ?? '').split('/')[0]
  }

  #ownerOf (address: string): string | undefined {
    return this.spec.nodes.find(n => this.#addressOf(n.name) === address)?.name
  }

  async #delivers (from: string, address: string): Promise<boolean> {
    const owner = this.#ownerOf(address)
    const now = this.#current()
    let at = from
    for (let hops = 0; hops < 64; hops++) {
      if (now.stopped.has(at)) return false
      if (at === owner) return true
      const route = (await this.observe(at)).routes.find(r => r.dst === `${address}/32`)
      if (route === undefined) return false
      // the gateway names the neighbour (fe80::<node>): on a radio segment one device reaches several
      const via = route.gateway?.replace(/^fe80::/, '')
      const far = (l: LinkSpec): string => l.endpoints[0].node === at && l.endpoints[0].ifname === route.dev ? l.endpoints[1].node : l.endpoints[0].node
      const onDev = this.spec.links.filter(l => l.endpoints.some(e => e.node === at && e.ifname === route.dev))
      const link = onDev.length === 1 ? onDev[0] : onDev.find(l => far(l) === via)
      if (link === undefined || now.links.get(link.id) !== 'up') return false
      at = far(link)
    }
    return false
  }
}

/** A ring of n nodes of one kind: node i links to i+1 on eth2 -> eth1, addresses 172.31.<i>.1/32. */
export function ringLab (n: number, o: { name?: string, kind?: string, prefix?: string } = {}): ResolvedLab {
  const names = Array.from({ length: n }, (_, i) => `${o.prefix ?? 'r'}${i + 1}`)
  const nodes: NodeSpec[] = names.map((name, i) => ({
    name, kind: o.kind ?? 'babeld', env: {}, config: { address: `172.31.${i + 1}.1/32` },
    interfaces: { eth1: { ipv4: [] }, eth2: { ipv4: [] } }, exec: [], privileged: false
  }))
  const links = names.map((a, i) => {
    const ep = [{ node: a, ifname: 'eth2' }, { node: names[(i + 1) % n], ifname: 'eth1' }] as [{ node: string, ifname: string }, { node: string, ifname: string }]
    return { id: linkId(ep[0], ep[1]), endpoints: ep, state: 'up' as const }
  })
  return { name: o.name ?? `ring${n}`, nodes, links, timeline: [] }
}
