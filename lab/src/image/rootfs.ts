import { promises as fs } from 'node:fs'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { run } from '../util/exec'

/** One entry of the image's root file system, with where it comes from on the host. */
export type RootfsEntry =
  | { type: 'dir', path: string, mode: number }
  | { type: 'symlink', path: string, target: string }
  | { type: 'file', path: string, source: string, mode: number, size: number, mtimeMs: number }

export class RootfsPlanError extends Error {
  constructor (readonly what: string, readonly reason: string) {
    super(`cannot add ${what} to the node image: ${reason}`)
    this.name = 'RootfsPlanError'
  }
}

/**
 * The file list of an image root, planned from host paths before anything is copied, so the
 * content hash (and the fast path "image already built") costs only stat calls.
 *
 * Host paths keep their place: every symlink met on the way (/lib -> usr/lib, the Debian
 * alternatives chain /usr/sbin/iptables -> /etc/alternatives/iptables -> ...) is recreated,
 * so binaries find their loader and libraries exactly where ldd saw them.
 */
export class RootfsPlan {
  readonly #entries = new Map<string, RootfsEntry>()

  get entries (): RootfsEntry[] {
    return [...this.#entries.values()].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
  }

  has (p: string): boolean { return this.#entries.has(p) }

  addDir (p: string, mode = 0o755): void {
    const parts = p.split('/').filter(Boolean)
    for (let i = 1; i <= parts.length; i++) {
      const d = '/' + parts.slice(0, i).join('/')
      if (!this.#entries.has(d)) this.#entries.set(d, { type: 'dir', path: d, mode: i === parts.length ? mode : 0o755 })
    }
  }

  addSymlink (p: string, target: string): void {
    this.addDir(path.dirname(p))
    this.#entries.set(p, { type: 'symlink', path: p, target })
  }

  /** Adds a host file under another path in the image (dest's parents become plain dirs). */
  async addFileAs (dest: string, source: string): Promise<void> {
    const st = await fs.stat(source).catch((e: Error) => { throw new RootfsPlanError(source, e.message) })
    if (!st.isFile()) throw new RootfsPlanError(source, 'not a regular file')
    this.addDir(path.dirname(dest))
    this.#entries.set(dest, { type: 'file', path: dest, source, mode: st.mode & 0o7777, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) })
  }

  /**
   * Adds a host path at the same place, following and recreating symlinks component by
   * component (a directory's contents are not added; see addTree).
   */
  async addHostPath (hostPath: string, depth = 0): Promise<void> {
    if (depth > 40) throw new RootfsPlanError(hostPath, 'too many levels of symbolic links')
    const parts = path.resolve(hostPath).split('/').filter(Boolean)
    let cur = ''
    for (let i = 0; i < parts.length; i++) {
      cur += '/' + parts[i]
      const st = await fs.lstat(cur).catch((e: Error) => { throw new RootfsPlanError(hostPath, e.message) })
      if (st.isSymbolicLink()) {
        const target = await fs.readlink(cur)
        this.addSymlink(cur, target)
        const rest = parts.slice(i + 1).join('/')
        const resolved = path.resolve(path.dirname(cur), target)
        await this.addHostPath(rest === '' ? resolved : path.join(resolved, rest), depth + 1)
        return
      }
      if (st.isDirectory()) {
        if (!this.#entries.has(cur)) this.#entries.set(cur, { type: 'dir', path: cur, mode: st.mode & 0o7777 })
      } else if (st.isFile() && i === parts.length - 1) {
        this.#entries.set(cur, { type: 'file', path: cur, source: cur, mode: st.mode & 0o7777, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) })
      } else {
        throw new RootfsPlanError(hostPath, `${cur} is neither a directory, a regular file nor a symlink`)
      }
    }
  }

  /** Copies a host directory tree to dest (symlinks inside are kept as they are). */
  async addTree (source: string, dest: string, skip: (rel: string) => boolean = () => false): Promise<void> {
    const st = await fs.stat(source).catch((e: Error) => { throw new RootfsPlanError(source, e.message) })
    this.addDir(dest, st.mode & 0o7777)
    const walk = async (rel: string): Promise<void> => {
      for (const ent of await fs.readdir(path.join(source, rel), { withFileTypes: true })) {
        const r = path.join(rel, ent.name)
        if (skip(r)) continue
        const src = path.join(source, r)
        const dst = path.join(dest, r)
        if (ent.isSymbolicLink()) this.addSymlink(dst, await fs.readlink(src))
        else if (ent.isDirectory()) {
          this.addDir(dst, (await fs.stat(src)).mode & 0o7777)
          await walk(r)
        } else if (ent.isFile()) await this.addFileAs(dst, src)
      }
    }
    await walk('')
  }

  /**
   * Content hash of the plan: paths, types, modes, link targets, and size + mtime of each file
   * (hashing 100 MB of node binary on every `up` would cost more than it protects against).
   */
  hash (extra: string): string {
    const h = createHash('sha256')
    h.update(extra)
    for (const e of this.entries) {
      if (e.type === 'file') h.update(`f ${e.path} ${e.mode} ${e.size} ${e.mtimeMs}\n`)
      else if (e.type === 'dir') h.update(`d ${e.path} ${e.mode}\n`)
      else h.update(`l ${e.path} ${e.target}\n`)
    }
    return h.digest('hex')
  }

  /** Writes the planned tree under dir (which must exist and be empty). */
  async materialise (dir: string): Promise<void> {
    for (const e of this.entries) {
      const dst = path.join(dir, e.path)
      if (e.type === 'dir') {
        await fs.mkdir(dst, { recursive: true })
      } else if (e.type === 'symlink') {
        await fs.mkdir(path.dirname(dst), { recursive: true })
        await fs.symlink(e.target, dst)
      } else {
        await fs.mkdir(path.dirname(dst), { recursive: true })
        await fs.copyFile(e.source, dst)
        await fs.chmod(dst, e.mode)
      }
    }
    // Directory modes last: a read-only mode set early would block writing its children.
    for (const e of this.entries) if (e.type === 'dir') await fs.chmod(path.join(dir, e.path), e.mode)
  }
}

/** Shared libraries (and the dynamic loader) the given ELF files need, as ldd resolves them. */
export async function sharedLibraries (files: string[], signal?: AbortSignal): Promise<string[]> {
  if (files.length === 0) return []
  const r = await run(['ldd', ...files], { check: false, signal })
  const libs = new Set<string>()
  for (const line of r.stdout.split('\n')) {
    if (/=>\s*not found/.test(line)) {
      throw new RootfsPlanError(line.trim().split(/\s/)[0], 'ldd cannot find this shared library')
    }
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line)
    if (m !== null) libs.add(m[1])
  }
  return [...libs].sort()
}

/**
 * The installed packages a production install needs: the `dependencies` (and present
 * `optionalDependencies`) of package.json, transitively, resolved the way Node resolves them
 * (nearest node_modules up the tree). Returns directories relative to projectRoot.
 */
export async function productionPackages (projectRoot: string): Promise<string[]> {
  const found = new Set<string>()
  const readDeps = async (pkgDir: string): Promise<{ required: string[], optional: string[] }> => {
    const pkg = JSON.parse(await fs.readFile(path.join(pkgDir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>, optionalDependencies?: Record<string, string>
    }
    const optional = Object.keys(pkg.optionalDependencies ?? {})
    return { required: Object.keys(pkg.dependencies ?? {}).filter(d => !optional.includes(d)), optional }
  }
  const resolveFrom = async (fromDir: string, name: string): Promise<string | undefined> => {
    let dir = fromDir
    for (;;) {
      const candidate = path.join(dir, 'node_modules', name)
      if (await fs.stat(path.join(candidate, 'package.json')).then(() => true, () => false)) return candidate
      if (path.relative(projectRoot, dir) === '' || dir === path.dirname(dir)) return undefined
      dir = path.dirname(dir)
    }
  }
  const visit = async (pkgDir: string): Promise<void> => {
    const { required, optional } = await readDeps(pkgDir)
    for (const [name, isOptional] of [...required.map(n => [n, false] as const), ...optional.map(n => [n, true] as const)]) {
      const dir = await resolveFrom(pkgDir, name)
      if (dir === undefined) {
        if (isOptional) continue
        throw new RootfsPlanError(`package ${name}`, `required by ${path.relative(projectRoot, pkgDir) || 'package.json'} but not installed under ${projectRoot}/node_modules`)
      }
      const rel = path.relative(projectRoot, dir)
      if (found.has(rel)) continue
      found.add(rel)
      await visit(dir)
    }
  }
  await visit(projectRoot)
  return [...found].sort()
}
