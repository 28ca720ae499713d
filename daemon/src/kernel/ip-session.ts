import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { CommandError } from './exec'

/**
 * A long-lived `ip [-n ns] -batch -` process. Spawning a process costs 15-40 ms on a loaded 2-core machine, more
 * than the whole budget of a one-route change, so the kernel keeps one per namespace and writes each apply's lines
 * to it. `ip -batch` prints nothing for a successful change and flushes stdout after each command, so after the
 * lines we send `link show dev lo` and wait for its output as the acknowledgement. Without -force, ip exits at
 * the first failing line ("Command failed -:N", N counted over the whole session): the session rejects with that
 * stderr and is dead; the owner opens a new one.
 */
export class IpSession {
  readonly #argv: string[]
  #child: ChildProcessWithoutNullStreams | undefined
  #stdout = ''
  #stderr = ''
  #lines = 0
  #pending: { resolve: () => void; reject: (e: Error) => void; firstLine: number; input: string } | undefined
  #queue: Promise<void> = Promise.resolve()

  constructor (ipArgs: readonly string[]) { this.#argv = ['ip', ...ipArgs, '-batch', '-'] }

  get alive (): boolean { return this.#child !== undefined }

  #start (): ChildProcessWithoutNullStreams {
    const child = spawn(this.#argv[0], this.#argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
    this.#stdout = ''
    this.#stderr = ''
    this.#lines = 0
    child.stdout.on('data', (b: Buffer) => {
      this.#stdout += b.toString()
      if (this.#pending !== undefined && /link\/loopback[^\n]*\n/.test(this.#stdout)) {
        const p = this.#pending
        this.#pending = undefined
        this.#stdout = ''
        p.resolve()
      }
    })
    child.stderr.on('data', (b: Buffer) => { this.#stderr += b.toString() })
    child.stdin.on('error', () => { /* the exit tells */ })
    child.on('error', err => this.#fail(err))
    child.on('close', code => this.#fail(new CommandError(this.#argv, code, this.#stderr)))
    this.#child = child
    this.#hold(child, false)
    return child
  }

  /** An idle session must not keep a finished test or CLI process alive; a running one must. */
  #hold (child: ChildProcessWithoutNullStreams, busy: boolean): void {
    if (busy) child.ref(); else child.unref()
    for (const s of [child.stdin, child.stdout, child.stderr] as unknown as Array<{ ref?: () => void; unref?: () => void }>) {
      if (busy) s.ref?.(); else s.unref?.()
    }
  }

  #fail (err: Error): void {
    this.#child = undefined
    const p = this.#pending
    this.#pending = undefined
    if (p === undefined) return
    if (err instanceof CommandError) {
      // report the failing line of this run, not of the session
      const m = /Command failed -:(\d+)/.exec(err.stderr)
      const line = m === null ? undefined : Number(m[1]) - p.firstLine
      const text = line === undefined ? '' : ` (line ${line}: ${p.input.split('\n')[line - 1] ?? '?'})`
      p.reject(new CommandError(this.#argv, err.code, `${err.stderr.trim()}${text}`))
    } else p.reject(err)
  }

  /** Runs the lines in order; resolves when all succeeded. Calls are serialised. */
  async run (lines: readonly string[]): Promise<void> {
    const next = this.#queue.then(async () => await this.#run(lines))
    this.#queue = next.catch(() => undefined)
    await next
  }

  async #run (lines: readonly string[]): Promise<void> {
    const child = this.#child ?? this.#start()
    const input = lines.join('\n') + '\n'
    this.#hold(child, true)
    try {
      await new Promise<void>((resolve, reject) => {
        this.#pending = { resolve, reject, firstLine: this.#lines, input }
        this.#lines += lines.length + 1
        child.stdin.write(input + 'link show dev lo\n')
      })
    } finally {
      this.#hold(child, false)
    }
  }

  /** Ends the process (it holds a reference to its namespace: close it before `ip netns del`). */
  async close (): Promise<void> {
    const child = this.#child
    if (child === undefined) return
    this.#child = undefined
    this.#hold(child, true)
    await new Promise<void>(resolve => {
      child.once('close', () => resolve())
      child.stdin.end()
    })
  }
}
