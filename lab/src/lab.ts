import { promises as fs } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Impairment, LinkSpec, NodeSpec, ResolvedLab } from './topology/model'
import type { Backend, NodeHandle } from './backend/backend'
import type { RunResult } from './util/exec'
import { mapBounded } from './util/pool'
import { isAlive, killAndWait, netnsId } from './util/proc'
import { wireLinks } from './wiring/veth'
import { setLinkState as wireSetLinkState } from './wiring/links'
import { applyImpairment } from './wiring/impair'
import { removeSegments } from './wiring/radio'
import { observeNode, type NodeObservation } from './observe'
import { ntkctlArgv } from './topology/kinds/ntkd'
import { setTimeout as sleep } from 'node:timers/promises'

/** Where running labs are recorded, one directory per lab (run file and workload logs). */
export function labStateRoot (): string {
  return process.env.NTKLAB_STATE_DIR ?? '/run/ntklab/labs'
}

export interface NodeRecord extends NodeHandle {
  /** Host PID of the node's workload (its `command`), when one runs. */
  workloadPid?: number
  logFile?: string
}

/** What `deploy` leaves on disk so later `ntklab` invocations can operate on the lab. */
export interface RunFile {
  version: 1
  backend: Backend['name']
  createdAt: string
  spec: ResolvedLab
  nodes: Record<string, NodeRecord>
  links: Record<string, { state: 'up' | 'down', impairment?: Impairment }>
}

export interface RunningLab {
  readonly spec: ResolvedLab
  readonly backend: Backend
  readonly nodes: Map<string, NodeHandle>
  setLinkState (linkId: string, state: 'up' | 'down'): Promise<void>
  impair (linkId: string, imp: Impairment | undefined): Promise<void>
  /** Stops the node's workload; the node keeps its namespaces and links ("cables stay plugged"). */
  stopNode (name: string, o?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>
  startNode (name: string): Promise<void>
  exec (name: string, argv: string[], o?: { check?: boolean, input?: string }): Promise<RunResult>
  observe (name: string): Promise<NodeObservation>
  logFile (name: string): string | undefined
  workloadRunning (name: string): Promise<boolean>
  linkState (linkId: string): { state: 'up' | 'down', impairment?: Impairment }
  destroy (): Promise<void>
  [Symbol.asyncDispose] (): Promise<void>
}

export class LabError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'LabError'
  }
}

export interface DeployOptions { signal?: AbortSignal, progress?: (msg: string) => void }

/**
 * Brings a resolved lab up: nodes, veths, addresses, impairments, per-node exec, workloads. On any
 * failure everything created is removed before the error is rethrown (no half-started labs).
 */
export async function deployLab (lab: ResolvedLab, backend: Backend, o: DeployOptions = {}): Promise<RunningLab> {
  const say = o.progress ?? (() => {})
  await backend.check({ signal: o.signal })
  const existing = await readRunFile(lab.name)
  if (existing !== undefined && await runFileAlive(existing)) {
    throw new LabError(`lab ${lab.name} is already running on backend ${existing.backend}; destroy it first (ntklab destroy ${lab.name})`)
  }
  // Leftovers of a crashed run of the same lab are swept before anything new is made.
  await backend.removeLab(lab.name)
  await removeSegments(lab.name)
  await fs.rm(labDir(lab.name), { recursive: true, force: true })
  await fs.mkdir(path.join(labDir(lab.name), 'logs'), { recursive: true })

  const started = Date.now()
  const runFile: RunFile = {
    version: 1, backend: backend.name, createdAt: new Date().toISOString(), spec: lab, nodes: {},
    links: Object.fromEntries(lab.links.map(l => [l.id, { state: l.state, impairment: l.impairment }]))
  }
  try {
    say(`creating ${lab.nodes.length} nodes on ${backend.name}`)
    const handles = await backend.createNodes(lab, {
      signal: o.signal,
      progress: (done, total) => { if (done === total || done % 10 === 0) say(`nodes ${done}/${total}`) }
    })
    for (const h of handles) runFile.nodes[h.name] = { ...h }
    await writeRunFile(runFile)
    const nodes = new Map(handles.map(h => [h.name, h as NodeHandle]))
    const segments = lab.segments ?? []
    say(`wiring ${lab.links.filter(l => l.segment === undefined).length} links${segments.length > 0 ? ` and ${segments.length} radio segment${segments.length === 1 ? '' : 's'}` : ''}`)
    // Both backends create nodes with IPv6 enabled (docker through Sysctls), so wiring skips it.
    await wireLinks(lab, nodes, { signal: o.signal, enableIpv6: false })
    for (const link of lab.links) {
      if (link.impairment !== undefined) await applyImpairment(lab, nodes, link.id, link.impairment)
    }
    const running = new LabRuntime(backend, runFile)
    await mapBounded(lab.nodes, 8, async (node) => { await running.runExecList(node) })
    const withCommand = lab.nodes.filter(n => n.command !== undefined)
    if (withCommand.length > 0) say(`starting ${withCommand.length} workloads`)
    await mapBounded(withCommand, 8, async (node) => { await running.startNode(node.name) })
    await keepDeclaredDownLinksDown(lab, running, o.signal)
    await writeRunFile(runFile)
    say(`lab ${lab.name} up in ${Date.now() - started} ms`)
    return running
  } catch (err) {
    await destroyLab(lab.name, backend).catch(() => {})
    throw err
  }
}

/**
 * A daemon may bring its interfaces up when it starts (ntkd does, spec §2.1, unless --no-link-up, which the ntkd kind
 * passes): a link declared down is set down again once the daemons at its ends are running (ntkd: its control socket
 * answers, so its first apply is done; it never brings an interface up again after that).
 */
async function keepDeclaredDownLinksDown (lab: ResolvedLab, running: LabRuntime, signal?: AbortSignal): Promise<void> {
  const down = lab.links.filter(l => l.segment === undefined && l.state === 'down')
  const ntkd = new Set(lab.nodes.filter(n => n.kind === 'ntkd' && n.command !== undefined && !n.command.includes('--no-link-up')).map(n => n.name))
  const ends = new Set(down.flatMap(l => l.endpoints.map(e => e.node)).filter(n => ntkd.has(n)))
  if (ends.size === 0) return
  await mapBounded([...ends], 8, async name => {
    const deadline = Date.now() + 30_000
    while ((await running.exec(name, ntkctlArgv(['status']), { check: false })).code !== 0) {
      if (Date.now() > deadline) throw new LabError(`node ${name}: ntkd did not answer on its control socket within 30 s`)
      await sleep(100, undefined, { signal })
    }
  })
  for (const l of down) if (l.endpoints.some(e => ends.has(e.node))) await wireSetLinkState(lab, running.nodes, l.id, 'down')
}

/** Opens a lab deployed earlier (possibly by another process) from its run file. */
export async function openLab (name: string, backendFor: (name: string) => Backend): Promise<RunningLab> {
  const rf = await readRunFile(name)
  if (rf === undefined) throw new LabError(`no lab named ${name} is running (ntklab inspect lists the running labs)`)
  return new LabRuntime(backendFor(rf.backend), rf)
}

/** Removes a lab: workloads, nodes, namespaces, veths, radio segments, run file. Idempotent. */
export async function destroyLab (name: string, backend: Backend): Promise<void> {
  const rf = await readRunFile(name)
  if (rf !== undefined) {
    await Promise.all(Object.values(rf.nodes).map(async (n) => {
      if (n.workloadPid !== undefined && await belongsToNode(n.workloadPid, n)) await killAndWait(n.workloadPid, { graceMs: 3000 })
    }))
  }
  await backend.removeLab(name)
  await removeSegments(name)
  await fs.rm(labDir(name), { recursive: true, force: true })
}

/** Whether anything of lab `name` is there to destroy: its run directory, or leftovers a backend finds. */
export async function labExists (name: string, backends: Backend[]): Promise<boolean> {
  if (await fs.stat(labDir(name)).then(() => true, () => false)) return true
  for (const b of backends) if ((await b.listLabs()).includes(name)) return true
  return false
}

export async function listRunFiles (): Promise<RunFile[]> {
  const names = await fs.readdir(labStateRoot()).catch(() => [] as string[])
  const files = await Promise.all(names.map(async n => await readRunFile(n)))
  return files.filter((f): f is RunFile => f !== undefined)
}

export async function readRunFile (name: string): Promise<RunFile | undefined> {
  const text = await fs.readFile(path.join(labDir(name), 'lab.json'), 'utf8').catch(() => undefined)
  if (text === undefined) return undefined
  return JSON.parse(text) as RunFile
}

/** A run file is alive when every node's namespace-holding process still exists. */
export async function runFileAlive (rf: RunFile): Promise<boolean> {
  const checks = await Promise.all(Object.values(rf.nodes).map(async n => await isAlive(n.pid)))
  return checks.length > 0 && checks.every(Boolean)
}

function labDir (name: string): string {
  return path.join(labStateRoot(), name)
}

async function writeRunFile (rf: RunFile): Promise<void> {
  const file = path.join(labDir(rf.spec.name), 'lab.json')
  // A temp name per write: workloads start in parallel and each records itself (atomic rename).
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  await fs.writeFile(tmp, JSON.stringify(rf, null, 2))
  await fs.rename(tmp, file)
}

/** Guards against PID reuse: a PID is the node's only while it lives in the node's namespace. */
async function belongsToNode (pid: number, node: NodeHandle): Promise<boolean> {
  const [a, b] = await Promise.all([netnsId(`/proc/${pid}/ns/net`), netnsId(`/proc/${node.pid}/ns/net`)])
  return a !== undefined && a === b
}

class LabRuntime implements RunningLab {
  readonly spec: ResolvedLab
  readonly nodes: Map<string, NodeHandle>

  constructor (readonly backend: Backend, private readonly rf: RunFile) {
    this.spec = rf.spec
    this.nodes = new Map(Object.values(rf.nodes).map(n => [n.name, n]))
  }

  private record (name: string): NodeRecord {
    const r = this.rf.nodes[name]
    if (r === undefined) throw new LabError(`lab ${this.spec.name} has no node ${name} (nodes: ${Object.keys(this.rf.nodes).join(', ')})`)
    return r
  }

  private nodeSpec (name: string): NodeSpec {
    const spec = this.spec.nodes.find(n => n.name === name)
    if (spec === undefined) throw new LabError(`lab ${this.spec.name} has no node ${name}`)
    return spec
  }

  private link (linkId: string): LinkSpec {
    const link = this.spec.links.find(l => l.id === linkId)
    if (link === undefined) throw new LabError(`lab ${this.spec.name} has no link ${linkId} (links: ${this.spec.links.map(l => l.id).join(', ')})`)
    return link
  }

  async runExecList (node: NodeSpec): Promise<void> {
    const handle = this.record(node.name)
    for (const cmd of node.exec) {
      const r = await this.backend.exec(handle, ['sh', '-c', cmd], { check: false })
      if (r.code !== 0) throw new LabError(`node ${node.name}: exec "${cmd}" exited ${r.code}: ${(r.stderr || r.stdout).trim()}`)
    }
  }

  async setLinkState (linkId: string, state: 'up' | 'down'): Promise<void> {
    this.link(linkId)
    await wireSetLinkState(this.spec, this.nodes, linkId, state)
    this.rf.links[linkId] = { ...this.rf.links[linkId], state }
    await writeRunFile(this.rf)
  }

  async impair (linkId: string, imp: Impairment | undefined): Promise<void> {
    this.link(linkId)
    await applyImpairment(this.spec, this.nodes, linkId, imp)
    this.rf.links[linkId] = { ...this.rf.links[linkId], impairment: imp }
    await writeRunFile(this.rf)
  }

  async workloadRunning (name: string): Promise<boolean> {
    const r = this.record(name)
    return r.workloadPid !== undefined && await isAlive(r.workloadPid) && await belongsToNode(r.workloadPid, r)
  }

  async stopNode (name: string, o: { signal?: 'SIGTERM' | 'SIGKILL' } = {}): Promise<void> {
    const r = this.record(name)
    if (r.workloadPid !== undefined && await this.workloadRunning(name)) {
      await killAndWait(r.workloadPid, { signal: o.signal ?? 'SIGTERM', graceMs: 5000 })
    }
    r.workloadPid = undefined
    await writeRunFile(this.rf)
  }

  async startNode (name: string): Promise<void> {
    const spec = this.nodeSpec(name)
    const r = this.record(name)
    if (spec.command === undefined) throw new LabError(`node ${name} has no command to start (kind ${spec.kind})`)
    if (await this.workloadRunning(name)) throw new LabError(`node ${name} is already running (pid ${String(r.workloadPid)})`)
    const { pid, logFile } = await this.backend.spawnDetached(r, spec.command, {
      env: spec.env, logFile: path.join(labDir(this.spec.name), 'logs', `${name}.log`)
    })
    r.workloadPid = pid
    r.logFile = logFile
    await writeRunFile(this.rf)
  }

  async exec (name: string, argv: string[], o: { check?: boolean, input?: string } = {}): Promise<RunResult> {
    return await this.backend.exec(this.record(name), argv, o)
  }

  async observe (name: string): Promise<NodeObservation> {
    return await observeNode(this.record(name))
  }

  logFile (name: string): string | undefined {
    return this.record(name).logFile
  }

  linkState (linkId: string): { state: 'up' | 'down', impairment?: Impairment } {
    this.link(linkId)
    return this.rf.links[linkId]
  }

  async destroy (): Promise<void> {
    await destroyLab(this.spec.name, this.backend)
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    await this.destroy()
  }
}
