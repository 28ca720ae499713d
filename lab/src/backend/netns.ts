import { spawn } from 'node:child_process'
import { promises as fs, openSync, closeSync } from 'node:fs'
import path from 'node:path'
import type { ResolvedLab } from '../topology/model'
import { run, ipBatch, type RunResult } from '../util/exec'
import { mapBounded } from '../util/pool'
import { processesInNetns, killAndWait, netnsId, isAlive } from '../util/proc'
import { startHolders } from './netns/holder-server'
import { type Backend, type ExecOptions, type NodeHandle, BackendUnavailableError, nodeNetnsName } from './backend'

/** Host directory holding per-node files of the netns backend (private /etc/iproute2 copies). */
export const NETNS_STATE_ROOT = '/run/ntklab/netns'

/**
 * Light nodes: a network namespace plus a private mount namespace per node, held by one `sleep`
 * process. Inside, /run/netns is a private tmpfs (so `ip netns add` by the daemon stays inside the
 * node) and /etc/iproute2 is the node's own copy (ntkd rewrites rt_tables), and /sys is remounted
 * so it shows the node's interfaces. The network namespace is attached on the host as
 * `ntklab-<lab>-<node>` so `ip -n` and the wiring reach it by name; that name is also the label a
 * sweep finds leftovers by.
 */
export class NetnsBackend implements Backend {
  readonly name = 'netns' as const
  #python: Promise<boolean> | undefined

  /** The fast holder needs python3 with ctypes; without it each node gets the shell holder. */
  private async hasPython (): Promise<boolean> {
    this.#python ??= run(['python3', '-c', 'import ctypes'], { check: false }).then(r => r.code === 0, () => false)
    return await this.#python
  }

  async check (): Promise<void> {
    if (process.getuid?.() !== 0) throw new BackendUnavailableError('netns', 'it needs root (run as root or with sudo)')
    for (const tool of ['unshare', 'nsenter', 'ip']) {
      const r = await run(['sh', '-c', `command -v ${tool}`], { check: false })
      if (r.code !== 0) throw new BackendUnavailableError('netns', `${tool} is not installed (apt-get install util-linux iproute2)`)
    }
  }

  async createNodes (lab: ResolvedLab, o: { signal?: AbortSignal, progress?: (done: number, total: number) => void } = {}): Promise<NodeHandle[]> {
    await fs.mkdir('/run/netns', { recursive: true })
    const created: NodeHandle[] = []
    try {
      // State directories first: removeLab finds a crashed run's nodes through them.
      const requests = await mapBounded(lab.nodes, 16, async (node) => {
        const dir = path.join(NETNS_STATE_ROOT, lab.name, node.name)
        await fs.rm(dir, { recursive: true, force: true })
        await fs.mkdir(dir, { recursive: true })
        await fs.cp('/etc/iproute2', path.join(dir, 'iproute2'), { recursive: true })
        return { name: node.name, iproute2: path.join(dir, 'iproute2') }
      })
      const kindOf = new Map(lab.nodes.map(n => [n.name, n.kind]))
      if (await this.hasPython()) {
        const results = await startHolders(requests, o.signal)
        for (const r of results) if (r.error === null) created.push({ name: r.name, kind: kindOf.get(r.name) ?? '', netns: nodeNetnsName(lab.name, r.name), pid: r.pid })
        const failed = results.filter(r => r.error !== null)
        if (failed.length > 0) throw new Error(failed.map(r => `node ${r.name}: ${String(r.error)}`).join('; '))
        o.progress?.(lab.nodes.length, lab.nodes.length)
      } else {
        let done = 0
        await mapBounded(requests, 16, async (req) => {
          const pid = await startHolder(req.iproute2, o.signal)
          created.push({ name: req.name, kind: kindOf.get(req.name) ?? '', netns: nodeNetnsName(lab.name, req.name), pid })
          o.progress?.(++done, lab.nodes.length)
        })
      }
      // One batch attaches every node's namespace under a host-visible name.
      await ipBatch(created.map(n => `netns attach ${n.netns} ${n.pid}`), { signal: o.signal })
    } catch (err) {
      await this.removeLab(lab.name).catch(() => {})
      for (const n of created) await killAndWait(n.pid, { graceMs: 0 }).catch(() => {})
      throw err
    }
    const order = new Map(lab.nodes.map((n, i) => [n.name, i]))
    return created.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0))
  }

  async exec (node: NodeHandle, argv: string[], o: ExecOptions = {}): Promise<RunResult> {
    return await run(['nsenter', '-t', String(node.pid), '--net', '--mount', '--', ...argv], {
      input: o.input, signal: o.signal, check: o.check, env: o.env === undefined ? undefined : { ...process.env, ...o.env }
    })
  }

  async spawnDetached (node: NodeHandle, argv: string[], o: { env?: Record<string, string>, logFile: string }): Promise<{ pid: number, logFile: string }> {
    await fs.mkdir(path.dirname(o.logFile), { recursive: true })
    const fd = openSync(o.logFile, 'a')
    try {
      // nsenter execs the command in place for net+mnt, so the child's PID is the workload's.
      const child = spawn('nsenter', ['-t', String(node.pid), '--net', '--mount', '--', ...argv], {
        detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...o.env }
      })
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('error', reject)
        child.once('spawn', () => { resolve(child.pid as number) })
      })
      child.unref()
      await waitInNetns(pid, node.pid)
      return { pid, logFile: o.logFile }
    } finally {
      closeSync(fd)
    }
  }

  async removeLab (labName: string): Promise<void> {
    const names = await labNetnsNames(labName)
    // Every process living in a node's namespace belongs to the lab: holder, workload, execs.
    await Promise.all(names.map(async (name) => {
      const pids = await processesInNetns(`/run/netns/${name}`)
      await Promise.all(pids.map(async pid => await killAndWait(pid, { graceMs: 2000 })))
    }))
    await ipBatch(names.map(n => `netns delete ${n}`), { force: true })
    await fs.rm(path.join(NETNS_STATE_ROOT, labName), { recursive: true, force: true })
  }

  async listLabs (): Promise<string[]> {
    return (await fs.readdir(NETNS_STATE_ROOT).catch(() => [] as string[])).sort()
  }
}

/**
 * Host netns names of a lab's nodes. The state directory (written before any namespace exists)
 * is the authority: a bare prefix match would take lab "a-b"'s nodes for lab "a"'s.
 */
async function labNetnsNames (labName: string): Promise<string[]> {
  const nodes = await fs.readdir(path.join(NETNS_STATE_ROOT, labName)).catch(() => [] as string[])
  const present = new Set(await fs.readdir('/run/netns').catch(() => [] as string[]))
  return nodes.map(n => nodeNetnsName(labName, n)).filter(n => present.has(n))
}

/** Starts the process that holds a node's namespaces and waits until its mounts are in place. */
async function startHolder (iproute2Dir: string, signal?: AbortSignal): Promise<number> {
  const script = [
    'set -e',
    'mount -t tmpfs -o size=4m,mode=755 ntklab-netns /run/netns',
    `mount --bind '${iproute2Dir}' /etc/iproute2`,
    'mount -t sysfs ntklab-sysfs /sys',
    'echo ready',
    'exec sleep infinity'
  ].join('\n')
  const child = spawn('unshare', ['--net', '--mount', '--propagation', 'private', '--', 'sh', '-c', script], {
    detached: true, stdio: ['ignore', 'pipe', 'pipe'], signal
  })
  return await new Promise<number>((resolve, reject) => {
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
      if (out.includes('ready\n')) {
        child.stdout.destroy()
        child.stderr.destroy()
        child.unref()
        resolve(child.pid as number)
      }
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
    child.once('error', reject)
    child.once('exit', (code) => { reject(new Error(`node holder exited ${String(code)} before it was ready: ${err.trim()}`)) })
  })
}

/**
 * nsenter enters the namespaces right after exec; until then the child is still in ours. Callers
 * (and PID-reuse guards) need the workload inside the node, so wait for it, with a budget.
 */
async function waitInNetns (pid: number, holderPid: number): Promise<void> {
  const want = await netnsId(`/proc/${holderPid}/ns/net`)
  const deadline = Date.now() + 5000
  for (;;) {
    if (await netnsId(`/proc/${pid}/ns/net`) === want) return
    if (!await isAlive(pid)) throw new Error(`workload process ${pid} exited before it entered the node`)
    if (Date.now() > deadline) throw new Error(`workload process ${pid} did not enter the node's namespace within 5 s`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

