import { promises as fs } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import Docker from 'dockerode'
import type { NodeSpec, ResolvedLab } from '../topology/model'
import { run, ipBatch, type RunResult } from '../util/exec'
import { NodeImageBuilder, findProjectRoot } from '../image/build'
import { type Backend, type ExecOptions, type NodeHandle, BackendUnavailableError, nodeNetnsName } from './backend'
import { settleBounded } from './docker/bounded'
import { envList, execInContainer, shellQuote } from './docker/exec'

export const DOCKER_SOCKET = '/var/run/docker.sock'
/** Host directory with one file per attached node netns name, per lab: what a sweep may delete. */
export const DOCKER_STATE_ROOT = '/run/ntklab/docker'
/** netns-backend state (see netns.ts); its labs' names are never ours to delete. */
const NETNS_STATE_ROOT = '/run/ntklab/netns'

export const LABEL_LAB = 'ntklab.lab'
export const LABEL_NODE = 'ntklab.node'
export const LABEL_KIND = 'ntklab.kind'
export const LABEL_RUN = 'ntklab.run'

/**
 * PID 1 of every node: dash waiting on a long sleep. As PID 1 it gets no default signal
 * actions, so the trap is what makes `docker stop` (SIGTERM) end it at once; `wait` returns
 * when the trapped signal arrives. About 3 MB RSS for dash + sleep, against ~39 MB for a node
 * process doing the same.
 * Docker mounts /proc/sys read-only; the holder (CAP_SYS_ADMIN) re-mounts only /proc/sys/net
 * writable, so the node's daemons set their own per-namespace net sysctls (ip_forward,
 * rp_filter) while kernel.* and vm.* of the host stay out of reach.
 */
export const HOLDER_CMD = ['/bin/sh', '-c', [
  'mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net || echo "ntklab: /proc/sys/net stays read-only" >&2',
  'trap "exit 0" TERM INT',
  'while :; do sleep 2147483647 & wait $!; done'
].join('; ')]

export class DockerNodesError extends Error {
  constructor (readonly lab: string, readonly failures: Array<{ node: string, error: unknown }>) {
    super(`cannot create nodes of lab ${lab}: ${failures.map(f => `${f.node}: ${f.error instanceof Error ? f.error.message : String(f.error)}`).join('; ')}`)
    this.name = 'DockerNodesError'
  }
}

export class NodeImageMissingError extends Error {
  constructor (readonly node: string, readonly image: string) {
    super(`node ${node}: image ${image} is not present in the local engine and no registry is reachable; build or load it first`)
    this.name = 'NodeImageMissingError'
  }
}

export interface DockerBackendOptions {
  docker?: Docker
  /** A fixed image tag for nodes without `image`, or the builder of the lab's own image (default). */
  image?: NodeImageBuilder | string
  /** Containers created and started at once (default 8). */
  concurrency?: number
}

/**
 * Nodes as containers with no Docker network (NetworkMode none): each container's network
 * namespace is attached on the host as `ntklab-<lab>-<node>`, so wiring and observation use
 * `ip -n` exactly as with the netns backend. The container gives the private mount namespace:
 * tmpfs /run (its own /run/netns for nested `ip netns add`) and a writable /etc/iproute2 in the
 * container's layer. Containers carry labels ntklab.lab/node/kind/run; destroy finds them by label.
 */
export class DockerBackend implements Backend {
  readonly name = 'docker' as const
  readonly docker: Docker
  readonly #concurrency: number
  #image: NodeImageBuilder | string | undefined

  constructor (o: DockerBackendOptions = {}) {
    this.docker = o.docker ?? new Docker({ socketPath: DOCKER_SOCKET })
    this.#image = o.image
    this.#concurrency = o.concurrency ?? 8
  }

  async check (o: { signal?: AbortSignal } = {}): Promise<void> {
    const signals = [AbortSignal.timeout(5000)]
    if (o.signal !== undefined) signals.push(o.signal)
    try {
      // dockerode 5 takes { abortSignal } on ping; its types (v4) do not say so.
      await (this.docker.ping as (o: { abortSignal: AbortSignal }) => Promise<unknown>).call(this.docker, { abortSignal: AbortSignal.any(signals) })
    } catch {
      o.signal?.throwIfAborted()
      throw new BackendUnavailableError('docker', `no Docker engine answers on ${DOCKER_SOCKET}: install docker.io and start dockerd`)
    }
    if (process.getuid?.() !== 0) throw new BackendUnavailableError('docker', 'it needs root to attach container namespaces on the host (run as root or with sudo)')
    const ip = await run(['sh', '-c', 'command -v ip'], { check: false })
    if (ip.code !== 0) throw new BackendUnavailableError('docker', 'ip is not installed on the host (apt-get install iproute2)')
  }

  /** Tag of the image for nodes without their own: the lab image, built on first use. */
  async labImage (o: { signal?: AbortSignal } = {}): Promise<string> {
    if (typeof this.#image === 'string') return this.#image
    this.#image ??= new NodeImageBuilder(this.docker, { projectRoot: await findProjectRoot() })
    return (await this.#image.ensure({ signal: o.signal })).tag
  }

  async createNodes (lab: ResolvedLab, o: { signal?: AbortSignal, progress?: (done: number, total: number) => void } = {}): Promise<NodeHandle[]> {
    const runId = randomBytes(6).toString('hex')
    const labImage = lab.nodes.some(n => n.image === undefined) ? await this.labImage({ signal: o.signal }) : undefined
    const stateDir = path.join(DOCKER_STATE_ROOT, lab.name)
    await fs.mkdir('/run/netns', { recursive: true })
    await fs.mkdir(stateDir, { recursive: true })
    const createdContainers: string[] = []
    const attached: string[] = []
    let done = 0
    const { results, failures } = await settleBounded(lab.nodes, this.#concurrency, async (node): Promise<NodeHandle> => {
      const image = node.image ?? labImage as string
      if (node.image !== undefined && await this.docker.getImage(image).inspect().then(() => false, () => true)) {
        throw new NodeImageMissingError(node.name, image)
      }
      const netns = nodeNetnsName(lab.name, node.name)
      const container = await this.docker.createContainer({ ...containerSpec(lab, node, image, runId), abortSignal: o.signal } as Docker.ContainerCreateOptions)
      createdContainers.push(container.id)
      await container.start({ abortSignal: o.signal })
      const info = await container.inspect()
      const pid = info.State.Pid
      if (!info.State.Running || pid <= 0) throw new Error(`container ${info.Name} is not running after start (status ${info.State.Status})`)
      await holderReady(pid, o.signal)
      // Recorded before the attach, so a crash in between still leaves a name a sweep can find.
      await fs.writeFile(path.join(stateDir, netns), container.id + '\n')
      await run(['ip', 'netns', 'attach', netns, String(pid)], { signal: o.signal })
      attached.push(netns)
      o.progress?.(++done, lab.nodes.length)
      return { name: node.name, kind: node.kind, netns, pid, containerId: container.id }
    }, o.signal)
    if (failures.length > 0 || o.signal?.aborted === true) {
      await this.#removeContainers(createdContainers)
      await ipBatch(attached.map(n => `netns delete ${n}`), { force: true })
      await Promise.all(lab.nodes.map(async n => await fs.rm(path.join(stateDir, nodeNetnsName(lab.name, n.name)), { force: true })))
      await fs.rmdir(stateDir).catch(() => {})
      o.signal?.throwIfAborted()
      throw new DockerNodesError(lab.name, failures.map(f => ({ node: f.item.name, error: f.error })))
    }
    return results as NodeHandle[]
  }

  async exec (node: NodeHandle, argv: string[], o: ExecOptions = {}): Promise<RunResult> {
    return await execInContainer(this.docker, containerIdOf(node), argv, o)
  }

  async spawnDetached (node: NodeHandle, argv: string[], o: { env?: Record<string, string>, logFile: string }): Promise<{ pid: number, logFile: string }> {
    const inner = path.posix.join('/var/log', path.basename(o.logFile))
    // `exec "$@"` replaces the shell, so the exec's PID is the workload's.
    const exec = await this.docker.getContainer(containerIdOf(node)).exec({
      Cmd: ['/bin/sh', '-c', `exec "$@" >>${shellQuote(inner)} 2>&1`, 'sh', ...argv],
      Env: envList(o.env), AttachStdout: false, AttachStderr: false, AttachStdin: false, Tty: false
    })
    const started = await exec.start({ Detach: true, Tty: false }) as unknown
    if (started !== null && typeof started === 'object' && 'resume' in started) (started as NodeJS.ReadableStream).resume()
    const hostLog = `/proc/${node.pid}/root${inner}`
    for (let i = 0; i < 500; i++) {
      const info = await exec.inspect()
      if (info.Pid > 0 && info.Running) return { pid: info.Pid, logFile: hostLog }
      if (!info.Running && info.ExitCode !== null) {
        if (info.ExitCode === 0) return { pid: info.Pid, logFile: hostLog }
        const log = await fs.readFile(hostLog, 'utf8').catch(() => '')
        throw new Error(`node ${node.name}: ${argv.join(' ')} exited ${info.ExitCode} at once: ${log.trim().split('\n').slice(-5).join(' / ')}`)
      }
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    throw new Error(`node ${node.name}: ${argv.join(' ')} did not start within 5 s`)
  }

  async removeLab (labName: string, o: { signal?: AbortSignal } = {}): Promise<void> {
    const containers = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL_LAB}=${labName}`] }, abortSignal: o.signal } as Docker.ContainerListOptions)
    await this.#removeContainers(containers.map(c => c.Id))
    const names = new Set(containers.map(c => nodeNetnsName(labName, c.Labels[LABEL_NODE] ?? '')))
    const stateDir = path.join(DOCKER_STATE_ROOT, labName)
    for (const n of await fs.readdir(stateDir).catch(() => [] as string[])) names.add(n)
    // Names left by a run that crashed before writing its state: the prefix, unless a lab with a
    // longer name that also matches ("a" vs "a-b") owns them.
    const prefix = nodeNetnsName(labName, '')
    const others = (await this.#knownLabs()).filter(l => l !== labName && nodeNetnsName(l, '').startsWith(prefix))
    for (const n of await fs.readdir('/run/netns').catch(() => [] as string[])) {
      if (n.startsWith(prefix) && !others.some(l => n.startsWith(nodeNetnsName(l, '')))) names.add(n)
    }
    const present = new Set(await fs.readdir('/run/netns').catch(() => [] as string[]))
    await ipBatch([...names].filter(n => present.has(n)).map(n => `netns delete ${n}`), { force: true, signal: o.signal })
    await fs.rm(stateDir, { recursive: true, force: true })
  }

  async listLabs (): Promise<string[]> {
    const labs = new Set(await this.#containerLabs())
    for (const lab of await fs.readdir(DOCKER_STATE_ROOT).catch(() => [] as string[])) {
      // A state dir outlives its containers only when a run crashed: its netns names dangle.
      const names = await fs.readdir(path.join(DOCKER_STATE_ROOT, lab)).catch(() => [] as string[])
      const present = await Promise.all(names.map(async n => await fs.lstat(path.join('/run/netns', n)).then(() => true, () => false)))
      if (present.some(Boolean)) labs.add(lab)
    }
    return [...labs].sort()
  }

  async #containerLabs (): Promise<string[]> {
    const containers = await this.docker.listContainers({ all: true, filters: { label: [LABEL_LAB] } })
    return [...new Set(containers.map(c => c.Labels[LABEL_LAB]).filter((l): l is string => l !== undefined))]
  }

  async #knownLabs (): Promise<string[]> {
    const fromDirs = async (dir: string): Promise<string[]> => await fs.readdir(dir).catch(() => [] as string[])
    return [...new Set([...await this.#containerLabs(), ...await fromDirs(DOCKER_STATE_ROOT), ...await fromDirs(NETNS_STATE_ROOT)])]
  }

  async #removeContainers (ids: string[]): Promise<void> {
    const { failures } = await settleBounded(ids, this.#concurrency, async (id) => {
      await this.docker.getContainer(id).remove({ force: true, v: true }).catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 404) throw err
      })
    })
    if (failures.length > 0) {
      throw new Error(`cannot remove containers: ${failures.map(f => `${f.item.slice(0, 12)}: ${(f.error as Error).message}`).join('; ')}`)
    }
  }
}

/** The holder is ready (its mounts done) once it has started its sleep. */
async function holderReady (pid: number, signal?: AbortSignal): Promise<void> {
  for (let i = 0; i < 500; i++) {
    signal?.throwIfAborted()
    const children = await fs.readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => undefined)
    if (children === undefined) throw new Error(`node holder ${pid} exited during start`)
    if (children.trim() !== '') return
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  throw new Error(`node holder ${pid} did not get ready within 5 s`)
}

function containerIdOf (node: NodeHandle): string {
  if (node.containerId === undefined) throw new Error(`node ${node.name} has no container (not made by the docker backend)`)
  return node.containerId
}

function containerSpec (lab: ResolvedLab, node: NodeSpec, image: string, runId: string): Docker.ContainerCreateOptions {
  const labels: Record<string, string> = {
    [LABEL_LAB]: lab.name, [LABEL_NODE]: node.name, [LABEL_KIND]: node.kind, [LABEL_RUN]: runId
  }
  if (lab.file !== undefined) labels['ntklab.topology'] = lab.file
  return {
    name: nodeNetnsName(lab.name, node.name),
    Hostname: node.name,
    Image: image,
    Cmd: HOLDER_CMD,
    Env: envList(node.env),
    Labels: labels,
    StopSignal: 'SIGTERM',
    HostConfig: {
      NetworkMode: 'none',
      ...(node.privileged ? { Privileged: true } : { CapAdd: ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN'] }),
      Sysctls: { 'net.ipv6.conf.all.disable_ipv6': '0', 'net.ipv6.conf.default.disable_ipv6': '0' },
      // /run private and writable: the node's own /run/netns for nested namespaces.
      Tmpfs: { '/run': 'rw,nosuid,nodev,mode=755,size=16m', '/tmp': 'rw,nosuid,nodev,mode=1777,size=64m' },
      Init: false,
      RestartPolicy: { Name: 'no' }
    }
  }
}
