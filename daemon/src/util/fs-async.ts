import * as fs from 'node:fs'
import { promisify } from 'node:util'

/**
 * The few asynchronous file operations the daemon needs, on node:fs's callbacks. node:fs/promises would load about
 * 30 more of Node's own modules (streams, readline, rimraf, watchers): about 0.6 MiB of a daemon's resident memory.
 */
export const readFile = promisify(fs.readFile)
export const writeFile = promisify(fs.writeFile)
export const readdir = promisify(fs.readdir)
export const mkdir = promisify(fs.mkdir)

/** Removes a file (a socket) if it is there; fs.rm would load rimraf. */
export async function removeFile (path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => fs.unlink(path, e => { if (e === null || e.code === 'ENOENT') resolve(); else reject(e) }))
}
