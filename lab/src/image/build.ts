import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type Docker from 'dockerode'
import tar from 'tar-fs'
import { RootfsPlan, productionPackages, sharedLibraries } from './rootfs'
import { elfDependencies } from './elf'

/** Repository of the lab's own node image; tags are `<hash>` and `latest`. */
export const NODE_IMAGE_REPO = 'ntklab-node'
/** Where the project (dist/, node_modules/, package.json) and the node binary live in the image. */
export const IMAGE_PROJECT_DIR = '/opt/ntk'
export const IMAGE_NODE_BIN = '/opt/ntk/bin/node'
const BUILD_TIMEOUT_MS = 5 * 60_000
/** Bumped when the layout of the image changes in a way file stats do not show. */
const LAYOUT_VERSION = '1'

export class ImageBuildError extends Error {
  constructor (readonly tag: string, readonly reason: string) {
    super(`building image ${tag} failed: ${reason}`)
    this.name = 'ImageBuildError'
  }
}

export interface BuildEvent { stream?: string, status?: string, error?: string, errorDetail?: { message?: string }, aux?: { ID?: string } }

/**
 * Sends a build context directory (with its Dockerfile) to the engine and waits for the end.
 * The engine answers 200 before building and reports a failed step only as an `error` event in
 * the progress stream, so every event is scanned; the image is also inspected at the end.
 */
export async function buildImageFromContext (docker: Docker, contextDir: string, o: {
  tag: string
  signal?: AbortSignal
  onEvent?: (e: BuildEvent) => void
}): Promise<{ id: string, events: BuildEvent[] }> {
  const signals = [AbortSignal.timeout(BUILD_TIMEOUT_MS)]
  if (o.signal !== undefined) signals.push(o.signal)
  const signal = AbortSignal.any(signals)
  let stream: NodeJS.ReadableStream
  try {
    stream = await docker.buildImage(tar.pack(contextDir) as unknown as NodeJS.ReadableStream, {
      t: o.tag, rm: true, forcerm: true, abortSignal: signal
    } as Docker.ImageBuildOptions)
  } catch (err) {
    throw new ImageBuildError(o.tag, signal.aborted ? `aborted: ${String(signal.reason)}` : (err as Error).message)
  }
  const events = await new Promise<BuildEvent[]>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, out: BuildEvent[]) => {
      if (err !== null) reject(new ImageBuildError(o.tag, signal.aborted ? `aborted: ${String(signal.reason)}` : err.message))
      else resolve(out)
    }, (e: BuildEvent) => o.onEvent?.(e))
  })
  const failed = events.find(e => e.error !== undefined || e.errorDetail !== undefined)
  if (failed !== undefined) {
    throw new ImageBuildError(o.tag, (failed.errorDetail?.message ?? failed.error ?? 'unknown error').trim())
  }
  if (signal.aborted) throw new ImageBuildError(o.tag, `aborted: ${String(signal.reason)}`)
  const info = await docker.getImage(o.tag).inspect().catch(() => undefined)
  if (info === undefined) throw new ImageBuildError(o.tag, 'the engine reported no error but the image does not exist')
  return { id: info.Id, events }
}

export interface NodeImageOptions {
  /** Project root holding package.json, node_modules/ and (once built) dist/. */
  projectRoot: string
  /** Binary to run the project with inside the image (default: this process's node). */
  nodeBinary?: string
  /** Image repository (default ntklab-node). */
  repo?: string
}

export interface NodeImage {
  tag: string
  /** False on the fast path: an image with this content hash already existed. */
  built: boolean
  /** Whether the project's dist/ was included (absent before `tsc` has run). */
  dist: boolean
  ms: number
}

/** Host tools a node needs; the first group is required, the rest optional. */
const REQUIRED_TOOLS = ['/usr/sbin/ip', '/usr/bin/ping', '/usr/sbin/tc', '/usr/sbin/sysctl', '/usr/bin/sleep', '/usr/bin/cat']
const OPTIONAL_TOOLS = ['/usr/bin/nsenter', '/usr/bin/mount', '/usr/bin/umount', '/usr/sbin/babeld', '/usr/sbin/ip6tables', '/usr/sbin/ip6tables-save', '/usr/sbin/ip6tables-restore']
const IPTABLES_TOOLS = ['/usr/sbin/iptables', '/usr/sbin/iptables-save', '/usr/sbin/iptables-restore']
const XTABLES_MODULES = '/usr/lib/x86_64-linux-gnu/xtables'
/** Small data files tools read (protocol names for iptables -p, the iproute2 defaults). */
const OPTIONAL_DATA = ['/etc/protocols', '/etc/services', '/etc/ethertypes']

/**
 * The lab's node image, built offline from the host's own binaries (no registry is reachable):
 * node, iproute2, iptables, ping, tc, sysctl, dash as /bin/sh, sleep, cat, nsenter, babeld when
 * installed, their shared libraries, and the project (dist/ and production node_modules) under
 * /opt/ntk. Builds are serialised per instance; an image whose content hash is already tagged
 * is reused without sending anything to the engine.
 */
export class NodeImageBuilder {
  #queue: Promise<unknown> = Promise.resolve()

  constructor (readonly docker: Docker, readonly options: NodeImageOptions) {}

  async ensure (o: { signal?: AbortSignal, onEvent?: (e: BuildEvent) => void } = {}): Promise<NodeImage> {
    const next = this.#queue.then(async () => await this.#ensure(o))
    this.#queue = next.catch(() => {})
    return await next
  }

  async #ensure (o: { signal?: AbortSignal, onEvent?: (e: BuildEvent) => void }): Promise<NodeImage> {
    const start = performance.now()
    const repo = this.options.repo ?? NODE_IMAGE_REPO
    const { plan, dist } = await this.plan(o.signal)
    const dockerfile = nodeDockerfile({ dist })
    const tag = `${repo}:${plan.hash(LAYOUT_VERSION + '\n' + dockerfile).slice(0, 16)}`
    const existing = await this.docker.getImage(tag).inspect().catch(() => undefined)
    if (existing === undefined) {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ntklab-image-'))
      try {
        await fs.mkdir(path.join(dir, 'rootfs'))
        await plan.materialise(path.join(dir, 'rootfs'))
        await fs.writeFile(path.join(dir, 'Dockerfile'), dockerfile)
        await buildImageFromContext(this.docker, dir, { tag, signal: o.signal, onEvent: o.onEvent })
      } finally {
        await fs.rm(dir, { recursive: true, force: true })
      }
    }
    await this.docker.getImage(tag).tag({ repo, tag: 'latest' })
    if (existing === undefined) await this.#pruneOldTags(repo, tag)
    return { tag, built: existing === undefined, dist, ms: Math.round(performance.now() - start) }
  }

  /** Untags earlier builds; the engine refuses (and we ignore) while a container still uses one. */
  async #pruneOldTags (repo: string, keep: string): Promise<void> {
    const images = await this.docker.listImages({ filters: { reference: [repo], label: ['ntklab=1'] } })
    for (const tag of images.flatMap(i => i.RepoTags ?? [])) {
      if (tag === keep || tag === `${repo}:latest` || !tag.startsWith(`${repo}:`)) continue
      await this.docker.getImage(tag).remove().catch(() => {})
    }
  }

  /** The image's file list, from host paths (stat only, nothing copied). */
  async plan (signal?: AbortSignal): Promise<{ plan: RootfsPlan, dist: boolean }> {
    const plan = new RootfsPlan()
    const exists = async (p: string): Promise<boolean> => await fs.lstat(p).then(() => true, () => false)
    const elves: string[] = []
    const plugins: string[] = []
    const nodeBinary = this.options.nodeBinary ?? process.execPath
    await plan.addHostPath(nodeBinary)
    plan.addSymlink(IMAGE_NODE_BIN, await fs.realpath(nodeBinary))
    elves.push(nodeBinary)
    for (const tool of REQUIRED_TOOLS) { await plan.addHostPath(tool); elves.push(tool) }
    for (const tool of OPTIONAL_TOOLS) if (await exists(tool)) { await plan.addHostPath(tool); elves.push(tool) }
    // Debian's alternatives: iptables -> /etc/alternatives/iptables -> iptables-nft -> xtables-nft-multi;
    // addHostPath keeps the whole chain, so the multi binary sees the name it was called by.
    for (const tool of IPTABLES_TOOLS) { await plan.addHostPath(tool); elves.push(tool) }
    await plan.addHostPath('/usr/bin/dash')
    elves.push('/usr/bin/dash')
    // Merged /usr (Debian 12): /bin, /sbin, /lib64 are symlinks; elsewhere /bin is a directory.
    for (const d of ['/bin', '/sbin', '/lib', '/lib64']) if ((await fs.lstat(d).catch(() => undefined))?.isSymbolicLink() === true) await plan.addHostPath(d)
    if (plan.has('/bin')) plan.addSymlink('/usr/bin/sh', 'dash')
    else plan.addSymlink('/bin/sh', '/usr/bin/dash')
    if (await exists(XTABLES_MODULES)) {
      await plan.addTree(XTABLES_MODULES, XTABLES_MODULES)
      for (const f of await fs.readdir(XTABLES_MODULES)) if (f.endsWith('.so')) plugins.push(path.join(XTABLES_MODULES, f))
    }
    await plan.addTree('/etc/iproute2', '/etc/iproute2')
    for (const f of OPTIONAL_DATA) if (await exists(f)) await plan.addHostPath(f)

    const root = this.options.projectRoot
    await plan.addFileAs(path.join(IMAGE_PROJECT_DIR, 'package.json'), path.join(root, 'package.json'))
    const dist = await exists(path.join(root, 'dist'))
    if (dist) await plan.addTree(path.join(root, 'dist'), path.join(IMAGE_PROJECT_DIR, 'dist'))
    // Nested node_modules are packages of their own, listed (or not) by productionPackages.
    await Promise.all((await productionPackages(root)).map(async rel => {
      await plan.addTree(path.join(root, rel), path.join(IMAGE_PROJECT_DIR, rel), r => r === 'node_modules' || r.startsWith('node_modules/'))
    }))
    for (const e of plan.entries) if (e.type === 'file' && e.path.endsWith('.node') && e.path.startsWith(IMAGE_PROJECT_DIR)) elves.push(e.source)

    for (const lib of await librariesOf(elves, plugins, signal)) await plan.addHostPath(lib)
    for (const d of ['/run/netns', '/var/log', '/proc', '/sys', '/dev', '/etc/iproute2']) plan.addDir(d)
    plan.addDir('/tmp', 0o1777)
    return { plan, dist }
  }
}

/** Directories the loader searches on Debian/Ubuntu x86-64 (for sonames read from plugins). */
const LIB_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib']

/**
 * Libraries of the binaries and plugins: read from their ELF headers and resolved in the
 * loader's directories (120 xtables plugins through ldd cost seconds on every image check);
 * ldd only for what that cannot account for, so a missing library still fails with its name.
 */
async function librariesOf (binaries: string[], plugins: string[], signal?: AbortSignal): Promise<string[]> {
  const { libraries, unresolved } = await elfDependencies([...new Set([...binaries, ...plugins])], LIB_DIRS)
  const libs = new Set(libraries)
  for (const lib of await sharedLibraries(unresolved, signal)) libs.add(lib)
  return [...libs].sort()
}

function nodeDockerfile (o: { dist: boolean }): string {
  // Only one metadata step: the legacy builder commits a container for each (about a second
  // each). No ENV/CMD: every container gets its command from the backend, PATH is the engine's
  // default, and /opt/ntk/dist finds /opt/ntk/node_modules by Node's own resolution.
  return [
    'FROM scratch',
    'COPY rootfs/ /',
    `LABEL ntklab=1 ntklab.dist=${o.dist ? 'present' : 'absent'} ntklab.node=${IMAGE_NODE_BIN}`,
    ''
  ].join('\n')
}

/** Finds the project root (the directory with the project's package.json) above a path. */
export async function findProjectRoot (from: string = __dirname): Promise<string> {
  let dir = path.resolve(from)
  for (;;) {
    const pkg = await fs.readFile(path.join(dir, 'package.json'), 'utf8').catch(() => undefined)
    if (pkg !== undefined && (JSON.parse(pkg) as { name?: string }).name === 'netsukuku-ts') return dir
    if (dir === path.dirname(dir)) throw new Error(`no package.json of netsukuku-ts above ${from}`)
    dir = path.dirname(dir)
  }
}
