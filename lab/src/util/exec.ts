import { spawn } from 'node:child_process'

export interface RunOptions {
  /** Text written to the child's stdin (e.g. an `ip -batch -` file). */
  input?: string
  signal?: AbortSignal
  /** Reject when the exit code is not 0 (default true). */
  check?: boolean
  env?: NodeJS.ProcessEnv
}

export interface RunResult { code: number; stdout: string; stderr: string }

export class CommandError extends Error {
  static readonly errorName = 'CommandError'
  constructor (readonly argv: string[], readonly result: RunResult) {
    super(`${argv.join(' ')} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`)
    this.name = 'CommandError'
  }
}

/** Runs a program without a shell and collects its output. */
export async function run (argv: string[], o: RunOptions = {}): Promise<RunResult> {
  return await new Promise<RunResult>((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], signal: o.signal, env: o.env })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    child.on('error', reject)
    child.on('close', (code) => {
      const result = { code: code ?? -1, stdout, stderr }
      if ((o.check ?? true) && result.code !== 0) reject(new CommandError(argv, result))
      else resolve(result)
    })
    child.stdin.on('error', () => { /* child may exit before reading all input */ })
    child.stdin.end(o.input ?? '')
  })
}

/** Runs `ip -batch -` with the given lines (no-op for an empty list). `-force` keeps going past
 * a failing line; the caller decides whether a non-zero exit is fatal. */
export async function ipBatch (lines: string[], o: { netns?: string, force?: boolean, signal?: AbortSignal } = {}): Promise<RunResult> {
  if (lines.length === 0) return { code: 0, stdout: '', stderr: '' }
  const argv = ['ip']
  if (o.netns !== undefined) argv.push('-n', o.netns)
  if (o.force === true) argv.push('-force')
  argv.push('-batch', '-')
  return await run(argv, { input: lines.join('\n') + '\n', signal: o.signal, check: o.force !== true })
}
