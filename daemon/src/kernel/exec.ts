import { spawn } from 'node:child_process'

export class CommandError extends Error {
  constructor (readonly argv: readonly string[], readonly code: number | null, readonly stderr: string) {
    super(`${argv.join(' ')} exited with ${code ?? 'a signal'}: ${stderr.trim()}`)
    this.name = 'CommandError'
  }
}

export interface RunResult { stdout: string; stderr: string }

/** Runs a command without a shell, feeding `input` on stdin; rejects with CommandError on a non-zero exit. */
export async function run (argv: readonly string[], input?: string, signal?: AbortSignal): Promise<RunResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], signal })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', code => {
      const stdout = Buffer.concat(out).toString()
      const stderr = Buffer.concat(err).toString()
      if (code === 0) resolve({ stdout, stderr })
      else reject(new CommandError(argv, code, stderr))
    })
    child.stdin.on('error', () => { /* the exit code tells */ })
    child.stdin.end(input ?? '')
  })
}
