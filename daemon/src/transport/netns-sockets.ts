import { spawn, type ChildProcess } from 'node:child_process'
import { extname, join } from 'node:path'
import type { Server, Socket } from 'node:net'

/**
 * Opens TCP listeners and connections inside a nested network namespace through a helper process started in it
 * (`netns-helper`): the sockets belong to that namespace, yet the daemon reads and writes them itself.
 */
export class NetnsSockets {
  readonly #child: ChildProcess
  readonly #waiting = new Map<number, { resolve: (h: Server | Socket) => void, reject: (e: Error) => void }>()
  readonly #ready: Promise<void>
  #nextId = 1
  #closed = false

  /** `hostNs`: the namespace's name under /run/netns. */
  constructor (readonly hostNs: string, o: { log?: (line: string) => void } = {}) {
    const helper = join(__dirname, `netns-helper${extname(__filename)}`)
    this.#child = spawn('ip', ['netns', 'exec', hostNs, process.execPath, ...process.execArgv.filter(a => !a.startsWith('--max-semi-space-size')), helper], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' }
    })
    let settle: { resolve: () => void, reject: (e: Error) => void } | undefined
    this.#ready = new Promise<void>((resolve, reject) => { settle = { resolve, reject } })
    this.#child.on('message', (m: { t: string, id?: number, code?: string, message?: string }, handle: unknown) => {
      if (m.t === 'ready') { settle?.resolve(); return }
      const w = m.id === undefined ? undefined : this.#waiting.get(m.id)
      if (w === undefined || m.id === undefined) return
      this.#waiting.delete(m.id)
      if (m.t === 'ok' && handle !== undefined) w.resolve(handle as Server | Socket)
      else w.reject(Object.assign(new Error(`in netns ${hostNs}: ${m.message ?? 'no handle'}`), { code: m.code }))
    })
    this.#child.on('exit', (code, signal) => {
      const e = new Error(`socket helper of netns ${hostNs} exited (${signal ?? code ?? '?'})`)
      settle?.reject(e)
      for (const w of this.#waiting.values()) w.reject(e)
      this.#waiting.clear()
      if (!this.#closed) o.log?.(e.message)
    })
    this.#child.on('error', e => { settle?.reject(e) })
  }

  /** The PID of the helper (ours: we stop it by it). */
  get pid (): number | undefined { return this.#child.pid }

  async listen (host: string, port: number): Promise<Server> {
    return await this.#request({ t: 'listen', host, port }) as Server
  }

  async connect (host: string, port: number, localAddress: string): Promise<Socket> {
    return await this.#request({ t: 'connect', host, port, localAddress }) as Socket
  }

  close (): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#child.connected) this.#child.disconnect()
    this.#child.kill('SIGTERM')
  }

  async #request (r: Record<string, unknown>): Promise<Server | Socket> {
    await this.#ready
    if (this.#closed) throw new Error(`netns ${this.hostNs}: socket helper closed`)
    const id = this.#nextId++
    return await new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject })
      this.#child.send({ ...r, id })
    })
  }
}
