import { spawnSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import { readRunFile, type RunningLab } from '../../src/lab'
import { ntkctlArgv } from '../../src/topology/kinds/ntkd'
import { adjacency, type LabState } from '../../src/scenario/lab-state'
import { routesCheck } from '../../src/scenario/assertions'
import { defaultRouteModels } from '../../src/scenario/route-model'
import type { Check, Diff } from '../../src/scenario/wait'
import { netnsId } from '../../src/util/proc'

/*
 * Checks of running ntkd daemons in a lab, beyond the route model: what their kernels hold against what they want,
 * their arcs against the links, their memory and their processes.
 */

/** `ntkctl <cmd> --json` inside a node. */
export async function ntkctl (lab: RunningLab, node: string, args: string[]): Promise<unknown> {
  const r = await lab.exec(node, ntkctlArgv([...args, '--json']), { check: false })
  if (r.code !== 0) throw new Error(`${node}: ntkctl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`)
  return JSON.parse(r.stdout)
}

/** `ntkctl kernel`: the desired state of the last apply and what the kernel holds, both as canonicalState writes them. */
interface KernelView { desired: NamespaceView[], actual: NamespaceView[] }
type NamespaceView = Record<string, unknown>

/** Per namespace and kind of item (routes, rules, addresses…), what the kernel holds but the daemon does not want, and what it lacks. */
function kernelDiff (node: string, k: KernelView): string[] {
  const out: string[] = []
  const byName = (xs: NamespaceView[]): Map<string, NamespaceView> => new Map(xs.map(x => [String(x.name), x]))
  const desired = byName(k.desired)
  const actual = byName(k.actual)
  for (const ns of new Set([...desired.keys(), ...actual.keys()])) {
    const d = desired.get(ns) ?? { name: ns }
    const a = actual.get(ns) ?? { name: ns }
    const where = `${node}${ns === '' ? '' : `/${ns}`}`
    for (const kind of new Set([...Object.keys(d), ...Object.keys(a)])) {
      if (kind === 'name' || kind === 'sysctls' || kind === 'linksUp') continue
      const items = (v: unknown): string[] => Array.isArray(v) ? v.map(x => JSON.stringify(x)) : []
      const want = items(d[kind])
      const have = items(a[kind])
      for (const x of have) if (!want.includes(x)) out.push(`${where}: stale ${kind} ${x}`)
      for (const x of want) if (!have.includes(x)) out.push(`${where}: missing ${kind} ${x}`)
    }
  }
  return out
}

interface ArcView { dev: string, peerLinkLocal: string }
interface AddressView { ifname: string, address: string, family: string }

/**
 * No stale entry anywhere: every running daemon's kernel holds exactly what it wants (tables ntk and ntk_from_*, its
 * routes in main, rules, addresses, marks, NAT: `ntkctl kernel`), and its arcs are exactly one per link that is up,
 * each to the link-local the neighbour holds now (an arc or host route to a restarted neighbour's old link-local
 * would be stale).
 */
export function staleCheck (lab: RunningLab, state: () => LabState): Check {
  return async () => {
    const s = state()
    const running = lab.spec.nodes.map(n => n.name).filter(n => !s.stopped.has(n))
    const linkLocals = new Map<string, string>()
    for (const n of running) {
      const o = await lab.observe(n)
      for (const a of o.addresses as AddressView[]) if (a.family === 'inet' && a.address.startsWith('169.254.')) linkLocals.set(`${n}:${a.ifname}`, a.address)
    }
    const lines: string[] = []
    const adj = adjacency(lab.spec, s)
    for (const n of running) {
      lines.push(...kernelDiff(n, await ntkctl(lab, n, ['kernel']) as KernelView))
      const arcs = await ntkctl(lab, n, ['arcs']) as ArcView[]
      const want = (adj.get(n) ?? []).map(x => {
        const far = x.link.endpoints.find(e => e.node === x.neighbour)
        return `${x.ifname} -> ${linkLocals.get(`${x.neighbour}:${far?.ifname ?? ''}`) ?? '?'}`
      }).sort()
      const have = arcs.map(a => `${a.dev} -> ${a.peerLinkLocal}`).sort()
      if (!isDeepStrictEqual(want, have)) lines.push(`${n}: arcs [${have.join(', ')}], links up to [${want.join(', ')}]`)
    }
    return lines.length === 0 ? null : { summary: `${lines.length} stale or missing entries`, lines } satisfies Diff
  }
}

/** Every running node's ntk table equals the ntkd route model of the current link states (the `converged` condition). */
export function convergedCheck (lab: RunningLab, state: () => LabState): Check {
  return routesCheck({ lab, state, models: defaultRouteModels(), concurrency: 4 }, { nextHops: true })
}

/**
 * A node's daemon: its PID and memory, MiB: resident, its peak (VmHWM), and of the resident memory the anonymous part
 * (heap, stacks, malloc) and the file part (node's binary and libraries, shared between daemons).
 */
export interface DaemonProcess { pid: number, rssMb: number, hwmMb: number, anonMb: number, fileMb: number }

/** The daemon the kind runs: its command line's file name (default ntkd) and how errors name it. */
export interface DaemonCommand { readonly runs: RegExp, readonly name: string }
const NTKD: DaemonCommand = { runs: /ntkd(\.js|\.ts)?$/, name: 'ntkd' }

/**
 * PID and memory of every node's daemon: the node's workload process (nsenter, sh and bin/ntkd exec in place, so its
 * PID ends up being the node's), checked to be a process of the node's netns running the daemon; throws when a node
 * runs none.
 */
export async function daemonProcesses (lab: RunningLab, nodes = [...lab.nodes.keys()], daemon: DaemonCommand = NTKD): Promise<Map<string, DaemonProcess>> {
  const rf = await readRunFile(lab.spec.name)
  const out = new Map<string, DaemonProcess>()
  for (const name of nodes) {
    const h = lab.nodes.get(name)
    const pid = rf?.nodes[name]?.workloadPid
    const inNode = pid !== undefined && h !== undefined && await netnsId(`/proc/${pid}/ns/net`) === await netnsId(`/proc/${h.pid}/ns/net`)
    const cmd = inNode ? (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0') : []
    if (pid === undefined || !cmd.some(a => daemon.runs.test(a))) throw new Error(`node ${name}: no ${daemon.name} process (workload ${String(pid)}: ${cmd.join(' ') || 'not running in the node'})`)
    const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
    const mb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024
    out.set(name, { pid, rssMb: mb('VmRSS'), hwmMb: mb('VmHWM'), anonMb: mb('RssAnon'), fileMb: mb('RssFile') })
  }
  return out
}

/** The tail of a node's daemon log (for failure messages). */
export async function logTail (lab: RunningLab, node: string, chars = 3000): Promise<string> {
  return (await fs.readFile(lab.logFile(node) ?? '/dev/null', 'utf8').catch(() => '')).slice(-chars)
}

/**
 * Why the netns backend cannot run here (not root, a tool missing), found synchronously so that a test can be
 * declared skipped with the reason in its title; undefined when it can run.
 */
export function netnsSkipReason (): string | undefined {
  if (process.getuid?.() !== 0) return 'the netns backend needs root'
  for (const tool of ['unshare', 'nsenter', 'ip']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (apt-get install util-linux iproute2)`
  }
  return undefined
}
