import { execFile } from 'node:child_process'
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
