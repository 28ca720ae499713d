import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { CommandError } from './exec'

/** An idle `ip` child must not keep a finished test or CLI process alive; a busy one must. */
function hold (child: ChildProcessWithoutNullStreams, busy: boolean): void {
  if (busy) child.ref(); else child.unref()
  for (const s of [child.stdin, child.stdout, child.stderr] as unknown as Array<{ ref?: () => void; unref?: () => void }>) {
    if (busy) s.ref?.(); else s.unref?.()
  }
}

/** Ends an `ip -batch` child at the end of its input, and waits for it to go. */
async function endChild (child: ChildProcessWithoutNullStreams): Promise<void> {
  hold(child, true)
  await new Promise<void>(resolve => {
    child.once('close', () => resolve())
    child.stdin.end()
  })
}

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
    hold(child, false)
    return child
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
    hold(child, true)
    try {
      await new Promise<void>((resolve, reject) => {
        this.#pending = { resolve, reject, firstLine: this.#lines, input }
        this.#lines += lines.length + 1
        child.stdin.write(input + 'link show dev lo\n')
      })
    } finally {
      hold(child, false)
    }
  }

  /** Ends the process (it holds a reference to its namespace: close it before `ip netns del`). */
  async close (): Promise<void> {
    const child = this.#child
    if (child === undefined) return
    this.#child = undefined
    await endChild(child)
  }
}

/**
 * A long-lived `ip [-n ns] -N -j -batch -` process for the kernel reads of a rescan (every few seconds with lab
 * timers): a spawn from the daemon holds its event loop until the child runs, 150 ms on average and up to 0.5 s
 * measured on the lab's loaded 5x5 grid, longer than a neighbour's probe may wait. With -j each command prints
 * exactly one line of JSON, flushed, so a query of N commands is answered when N lines came. A failed command ends
 * the process (no -force): that query rejects with its stderr and the next one starts a new process.
 */
export class IpReader {
  readonly #argv: string[]
  #child: ChildProcessWithoutNullStreams | undefined
  #stdout = ''
  #stderr = ''
  #pending: { resolve: (out: string) => void; reject: (e: Error) => void; lines: number } | undefined
  #queue: Promise<unknown> = Promise.resolve()

  constructor (ipArgs: readonly string[]) { this.#argv = ['ip', ...ipArgs, '-N', '-j', '-batch', '-'] }

  #start (): ChildProcessWithoutNullStreams {
    const child = spawn(this.#argv[0], this.#argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
    this.#stdout = ''
    this.#stderr = ''
    child.stdout.on('data', (b: Buffer) => {
      this.#stdout += b.toString()
      const p = this.#pending
      if (p === undefined) return
      let end = -1
      for (let i = 0; i < p.lines; i++) { end = this.#stdout.indexOf('\n', end + 1); if (end < 0) return }
      const out = this.#stdout.slice(0, end + 1)
      this.#stdout = this.#stdout.slice(end + 1)
      this.#pending = undefined
      p.resolve(out)
    })
    child.stderr.on('data', (b: Buffer) => { this.#stderr += b.toString() })
    child.stdin.on('error', () => { /* the exit tells */ })
    child.on('error', err => this.#fail(child, err))
    child.on('close', code => this.#fail(child, new CommandError(this.#argv, code, this.#stderr)))
    this.#child = child
    hold(child, false)
    return child
  }

  #fail (child: ChildProcessWithoutNullStreams, err: Error): void {
    if (this.#child !== child) return
    this.#child = undefined
    const p = this.#pending
    this.#pending = undefined
    p?.reject(err)
  }

  /** The output of `commands` (one JSON line each), in order. Calls are serialised. */
  async query (commands: readonly string[]): Promise<string> {
    const next = this.#queue.then(async () => await this.#query(commands))
    this.#queue = next.catch(() => undefined)
    return await next
  }

  async #query (commands: readonly string[]): Promise<string> {
    const child = this.#child ?? this.#start()
    hold(child, true)
    try {
      return await new Promise<string>((resolve, reject) => {
        this.#pending = { resolve, reject, lines: commands.length }
        child.stdin.write(commands.join('\n') + '\n')
      })
    } finally {
      hold(child, false)
    }
  }

  async close (): Promise<void> {
    const child = this.#child
    if (child === undefined) return
    this.#child = undefined
    await endChild(child)
  }
}
