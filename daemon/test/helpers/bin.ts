import { execFile, spawn } from 'node:child_process'
import { join } from 'node:path'

const ROOT = join(__dirname, '..', '..', '..')

export interface BinResult { readonly code: number, readonly stdout: string, readonly stderr: string }

/**
 * Runs this checkout's bin/ntkd or bin/ntkctl from the sources (no build needed), inside `netns` when given;
 * resolves with the exit code and output, never rejects.
 */
export async function runBin (tool: 'ntkd' | 'ntkctl', args: readonly string[], netns?: string): Promise<BinResult> {
  const bin = join(ROOT, 'bin', tool)
  const [cmd, argv] = netns === undefined ? [bin, [...args]] : ['ip', ['netns', 'exec', netns, bin, ...args]]
  return await new Promise(resolve => {
    execFile(cmd, argv, { env: { ...process.env, NTK_FROM_SOURCE: '1' }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

export interface RunningBin {
  /** Everything the program wrote to stderr so far. */
  stderr (): string
  /** Resolves with the exit code (or 1 when killed by a signal). */
  readonly exited: Promise<number>
  /** Sends a signal to the program (its PID: the one we started). */
  kill (signal?: NodeJS.Signals): void
}

/** Starts bin/ntkd or bin/ntkctl from the sources inside `netns` (when given) and returns at once; `onStdout` reads its output. */
export function startBin (tool: 'ntkd' | 'ntkctl', args: readonly string[], netns?: string, onStdout?: (chunk: string) => void): RunningBin {
  const bin = join(ROOT, 'bin', tool)
  const [cmd, argv] = netns === undefined ? [bin, [...args]] : ['ip', ['netns', 'exec', netns, bin, ...args]]
  const child = spawn(cmd, argv, { env: { ...process.env, NTK_FROM_SOURCE: '1' }, stdio: ['ignore', onStdout === undefined ? 'ignore' : 'pipe', 'pipe'] })
  child.stdout?.on('data', (c: Buffer) => { onStdout?.(c.toString('utf8')) })
  let err = ''
  child.stderr?.on('data', (c: Buffer) => { err += c.toString('utf8') })
  const exited = new Promise<number>(resolve => child.on('exit', code => resolve(code ?? 1)))
  return { stderr: () => err, exited, kill: (signal = 'SIGTERM') => { if (child.exitCode === null) child.kill(signal) } }
}
