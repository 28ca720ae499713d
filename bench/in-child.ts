import { fork } from 'node:child_process'

/**
 * Runs one size of a bench in a child process of `script` (`--one=<size>` and `flags`), so that the peak resident
 * memory it reports is that size's alone, and returns the table row the child sends back. The child gets a young
 * generation of `semiSpaceMb`: simulations make much short-lived garbage (messages, states), and with the default
 * one the collector spent a quarter of a large run promoting it. A setting of the simulation host only.
 */
export async function rowInChild (script: string, size: number, flags: readonly string[], semiSpaceMb: number): Promise<string> {
  return await new Promise((resolve, reject) => {
    const execArgv = [`--max-semi-space-size=${semiSpaceMb}`, ...(process.execArgv.length > 0 ? process.execArgv : ['-r', 'ts-node/register/transpile-only'])]
    const child = fork(script, [`--one=${size}`, ...flags], { execArgv })
    let row: string | undefined
    child.on('message', m => { row = String(m) })
    child.on('error', reject)
    child.on('exit', code => { if (row !== undefined) resolve(row); else reject(new Error(`size ${size}: child exited with ${String(code)}`)) })
  })
}
