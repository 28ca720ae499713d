/**
 * Lab hygiene: what deploy/destroy cycles leave on the host, counted per category. A tracker learns each lab's
 * names, namespaces and processes while it runs (so that it counts only what those labs made, never another
 * session's), then looks for anything of them once they are destroyed. Used by bench/lab-hygiene.ts (hundreds of
 * cycles) and lab/test/lab-hygiene.test.ts (a few).
 */
import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import type { RunningLab } from './lab'
import { labStateRoot, readRunFile } from './lab'
import { defaultKinds, parseTopology } from './topology'
import type { ResolvedLab } from './topology/model'
import { nodeNetnsName } from './backend/backend'
import { run } from './util/exec'
import { ntkctlArgv } from './topology/kinds/ntkd'

export const HYGIENE_CATEGORIES = [
  'network namespaces', 'links in the host namespace', 'host 10/8 and 169.254/16 addresses and routes', 'containers',
  'mounts', 'processes', 'run files and sockets', 'host rt_tables'
] as const
export type HygieneCategory = typeof HYGIENE_CATEGORIES[number]
export type Leftovers = Record<HygieneCategory, string[]>

/** What each category looks at, for the script's table. */
export const HYGIENE_WHAT: Record<HygieneCategory, string> = {
  'network namespaces': '/run/netns/ntklab-<lab>-*',
  'links in the host namespace': 'veths, or links named like the lab\'s interfaces, new in the host namespace',
  'host 10/8 and 169.254/16 addresses and routes': 'new in the host namespace (ip addr, ip route table all)',
  containers: 'label ntklab.lab=<lab>',
  mounts: 'host mountinfo lines naming a lab\'s netns or state directory',
  processes: 'alive in a lab\'s namespace after its destroy (holders, daemons, execs), or recorded PIDs still alive',
  'run files and sockets': '/run/ntklab/{labs,netns,docker}/<lab>, /run/ntkd/ntkd-<netns>.sock',
  'host rt_tables': 'lines naming ntk tables new in the host\'s /etc/iproute2/rt_tables (each node writes its own copy)'
}

/** The hygiene topology: a line of 3 ntkd nodes (4·2·2·2) and a ring of 4 linux nodes, in one lab. */
export function hygieneTopology (name: string): ResolvedLab {
  return parseTopology([
    `name: ${name}`,
    'nodes:',
    '  a: { kind: ntkd, config: { topology: [2, 1, 1, 1], address: "3.1.0.1" } }',
    '  b: { kind: ntkd, config: { topology: [2, 1, 1, 1], address: "3.1.0.0" } }',
    '  c: { kind: ntkd, config: { topology: [2, 1, 1, 1], address: "3.0.1.0" } }',
    '  r1: { kind: linux, interfaces: { eth1: { ipv4: [169.254.40.1/30] } } }',
    '  r2: { kind: linux, interfaces: { eth2: { ipv4: [169.254.40.2/30] } } }',
    '  r3: { kind: linux }',
    '  r4: { kind: linux }',
    'links:',
    '  - endpoints: [a:eth1, b:eth1]',
    '  - endpoints: [b:eth2, c:eth1]',
    '  - endpoints: [r1:eth1, r2:eth2]',
    '  - endpoints: [r2:eth1, r3:eth2]',
    '  - endpoints: [r3:eth1, r4:eth2]',
    '  - endpoints: [r4:eth1, r1:eth2]',
    ''
  ].join('\n'), `${name}.yaml`, defaultKinds())
}

/** Waits (bounded) until every ntkd node's daemon answers on its control socket; returns the nodes whose daemon did not. */
export async function daemonsAnswer (lab: RunningLab, budgetMs: number): Promise<string[]> {
  const deadline = Date.now() + budgetMs
  const pending = new Set(lab.spec.nodes.filter(n => n.kind === 'ntkd').map(n => n.name))
  while (pending.size > 0 && Date.now() < deadline) {
    for (const node of [...pending]) {
      if ((await lab.exec(node, ntkctlArgv(['status']), { check: false })).code === 0) pending.delete(node)
    }
    if (pending.size > 0) await new Promise(resolve => setTimeout(resolve, 100))
  }
  return [...pending]
}

const clockTicks = ((): number => {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { return 100 }
})()

/** Seconds since boot (the clock of /proc/<pid>/stat start times). */
async function uptime (): Promise<number> {
  return Number((await fs.readFile('/proc/uptime', 'utf8')).split(' ')[0])
}

/** A process's start, in seconds since boot; undefined when it is gone. */
async function startedAt (pid: number): Promise<number | undefined> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  if (stat === undefined) return undefined
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined
  return Number(fields[19]) / clockTicks // field 22 of stat; fields[0] is field 3
}

async function netnsInode (pid: number): Promise<string | undefined> {
  const link = await fs.readlink(`/proc/${pid}/ns/net`).catch(() => undefined)
  return link === undefined ? undefined : /^net:\[(\d+)\]$/.exec(link)?.[1]
}

interface HostState { links: Map<string, string>, addresses: Set<string>, routes: Set<string>, rtTables: Set<string> }

const inLabRanges = (ip: string | undefined): boolean => ip !== undefined && (/^10\./.test(ip) || /^169\.254\./.test(ip))

/** Docker's default bridge and the bridges of its user networks. */
export const isDockerBridge = (master: unknown): boolean => typeof master === 'string' && (master === 'docker0' || /^br-[0-9a-f]{12}$/.test(master))

async function hostState (): Promise<HostState> {
  const json = async (args: string[]): Promise<Array<Record<string, unknown>>> => {
    const r = await run(['ip', '-j', ...args], { check: false })
    return r.code === 0 && r.stdout.trim() !== '' ? JSON.parse(r.stdout) as Array<Record<string, unknown>> : []
  }
  const links = new Map<string, string>()
  for (const l of await json(['-d', 'link', 'show'])) {
    // a veth on one of Docker's own bridges belongs to a container with Docker networking (an image build's RUN
    // step, say), never to a lab, whose containers have none (NetworkMode none): other tests running meanwhile
    if (isDockerBridge(l.master)) continue
    links.set(String(l.ifname), String((l.linkinfo as { info_kind?: string } | undefined)?.info_kind ?? ''))
  }
  const addresses = new Set<string>()
  for (const l of await json(['-4', 'addr', 'show'])) {
    for (const a of (l.addr_info as Array<{ local?: string, prefixlen?: number }> | undefined) ?? []) {
      if (inLabRanges(a.local)) addresses.add(`${String(a.local)}/${String(a.prefixlen)} on ${String(l.ifname)}`)
    }
  }
  const routes = new Set<string>()
  for (const r of await json(['-4', 'route', 'show', 'table', 'all'])) {
    const dst = String(r.dst)
    if (inLabRanges(dst) || inLabRanges(r.gateway as string | undefined) || inLabRanges(r.prefsrc as string | undefined)) {
      routes.add(`${dst} table ${String(r.table ?? 'main')} dev ${String(r.dev)}`)
    }
  }
  const rtTables = new Set((await fs.readFile(HOST_RT_TABLES, 'utf8').catch(() => '')).split('\n').filter(l => /\bntk/.test(l)))
  return { links, addresses, routes, rtTables }
}
const HOST_RT_TABLES = '/etc/iproute2/rt_tables'

export class LeftoverTracker {
  /** Lab names the tracker looks after. */
  readonly labs = new Set<string>()
  /** Interface names the labs use (a leftover link in the host namespace would carry one). */
  readonly #ifnames = new Set<string>()
  /** Network namespace inode -> when its lab was destroyed (seconds since boot; Infinity while it runs). */
  readonly #netns = new Map<string, number>()
  readonly #netnsOfLab = new Map<string, string[]>()
  /** Recorded PIDs (holders, workloads) -> start time, so a reused PID is not taken for ours. */
  readonly #pids = new Map<number, number>()
  #usedDocker = false

  private constructor (private readonly before: HostState) {}

  /** Starts tracking: the host's state now is the baseline of the host-namespace categories. */
  static async start (): Promise<LeftoverTracker> {
    return new LeftoverTracker(await hostState())
  }

  /** Records a deployed lab: its names, its nodes' namespaces and processes. */
  async recordDeployed (lab: RunningLab): Promise<void> {
    const name = lab.spec.name
    this.labs.add(name)
    if (lab.backend.name === 'docker') this.#usedDocker = true
    for (const l of lab.spec.links) for (const e of l.endpoints) this.#ifnames.add(e.ifname)
    const rf = await readRunFile(name)
    const inodes: string[] = []
    for (const node of lab.nodes.values()) {
      const ino = await netnsInode(node.pid)
      if (ino !== undefined) { inodes.push(ino); this.#netns.set(ino, Number.POSITIVE_INFINITY) }
      for (const pid of [node.pid, rf?.nodes[node.name]?.workloadPid]) {
        if (pid === undefined) continue
        const t = await startedAt(pid)
        if (t !== undefined) this.#pids.set(pid, t)
      }
    }
    this.#netnsOfLab.set(name, inodes)
  }

  /** Marks a lab destroyed: from now on anything alive in its namespaces is a leftover. */
  async recordDestroyed (name: string): Promise<void> {
    const now = await uptime()
    for (const ino of this.#netnsOfLab.get(name) ?? []) this.#netns.set(ino, now)
  }

  /** Everything of the tracked labs still on the host, per category. */
  async count (): Promise<Leftovers> {
    const labs = [...this.labs]
    const out = Object.fromEntries(HYGIENE_CATEGORIES.map(c => [c, [] as string[]])) as Leftovers
    const netnsNames = await fs.readdir('/run/netns').catch(() => [] as string[])
    out['network namespaces'] = netnsNames.filter(n => labs.some(l => n.startsWith(nodeNetnsName(l, ''))))

    const after = await hostState()
    for (const [ifname, kind] of after.links) {
      if (this.before.links.has(ifname)) continue
      if (kind === 'veth' || this.#ifnames.has(ifname)) out['links in the host namespace'].push(`${ifname} (${kind || 'link'})`)
    }
    for (const a of after.addresses) if (!this.before.addresses.has(a)) out['host 10/8 and 169.254/16 addresses and routes'].push(`address ${a}`)
    for (const r of after.routes) if (!this.before.routes.has(r)) out['host 10/8 and 169.254/16 addresses and routes'].push(`route ${r}`)
    for (const l of after.rtTables) if (!this.before.rtTables.has(l)) out['host rt_tables'].push(l.trim())

    out.containers = await this.#containers()

    const roots = [labStateRoot(), '/run/ntklab/netns', '/run/ntklab/docker']
    const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8')
    out.mounts = mountinfo.split('\n').filter(line => labs.some(l => line.includes(`/${nodeNetnsName(l, '')}`) || roots.some(r => line.includes(`${r}/${l}/`) || line.includes(`${r}/${l} `))))

    out.processes = await this.#processes()

    for (const l of labs) {
      for (const r of roots) {
        const dir = path.join(r, l)
        if (await fs.stat(dir).then(() => true, () => false)) out['run files and sockets'].push(dir)
      }
    }
    for (const ino of this.#netns.keys()) {
      const sock = `/run/ntkd/ntkd-${ino}.sock`
      if (await fs.lstat(sock).then(() => true, () => false)) out['run files and sockets'].push(sock)
    }
    return out
  }

  async #containers (): Promise<string[]> {
    const r = await run(['docker', 'ps', '-a', '--filter', 'label=ntklab.lab', '--format', '{{.ID}} {{.Label "ntklab.lab"}} {{.Names}}'], { check: false })
    if (r.code !== 0) {
      if (this.#usedDocker) throw new Error(`cannot list containers: ${r.stderr.trim()}`)
      return [] // no engine and no docker lab: nothing of ours can be there
    }
    return r.stdout.split('\n').filter(l => l.trim() !== '').filter(l => this.labs.has(l.split(' ')[1])).map(l => l.split(' ')[2] ?? l)
  }

  async #processes (): Promise<string[]> {
    const found = new Map<number, string>()
    for (const entry of await fs.readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      const pid = Number(entry)
      const ino = await netnsInode(pid)
      const destroyedAt = ino === undefined ? undefined : this.#netns.get(ino)
      if (destroyedAt === undefined) continue
      // started before its lab's destroy ended and still in that namespace: the destroy missed it
      // (a namespace inode reused later by someone else holds only processes started after that)
      const started = await startedAt(pid)
      if (started !== undefined && started <= destroyedAt) found.set(pid, await describe(pid, `in lab namespace net:[${ino}]`))
    }
    for (const [pid, started] of this.#pids) {
      if (!found.has(pid) && await startedAt(pid) === started) found.set(pid, await describe(pid, 'recorded by a lab'))
    }
    return [...found.values()]
  }
}

async function describe (pid: number, why: string): Promise<string> {
  const cmd = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim()
  return `${pid} ${cmd.slice(0, 80)} (${why})`
}

/** How many leftovers in all. */
export function leftoverCount (l: Leftovers): number {
  return HYGIENE_CATEGORIES.reduce((n, c) => n + l[c].length, 0)
}
