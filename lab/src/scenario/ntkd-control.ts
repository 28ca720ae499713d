import { promises as fs } from 'node:fs'
import { createConnection } from 'node:net'

/*
 * The lab's own client of an ntkd control socket (one JSON request line, one JSON reply line: the protocol ntkctl
 * speaks). On the netns backend a node's daemon listens on /run/ntkd/ntkd-<inode of its network namespace>.sock in the
 * host's /run, so the lab asks it directly instead of starting an ntkctl process inside the node: 25 statuses take
 * milliseconds instead of seconds, which is what a check of an unaddressed lab costs otherwise.
 */

/** The host path of the control socket of the ntkd running in the network namespace of process `pid`. */
export async function hostControlSocket (pid: number): Promise<string | undefined> {
  const st = await fs.stat(`/proc/${pid}/ns/net`).catch(() => undefined)
  if (st === undefined) return undefined
  const path = `/run/ntkd/ntkd-${st.ino}.sock`
  return await fs.stat(path).then(s => s.isSocket() ? path : undefined, () => undefined)
}

/** One control request; rejects on a refused or failed command, a bad reply, or no reply within `timeoutMs`. */
export async function controlQuery (path: string, cmd: string, timeoutMs = 5000): Promise<unknown> {
  return await new Promise<unknown>((resolve, reject) => {
    const socket = createConnection(path)
    let buf = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer from ${path} to ${cmd} within ${timeoutMs} ms`)) }, timeoutMs)
    socket.on('error', e => { clearTimeout(timer); reject(new Error(`cannot talk to ntkd at ${path}: ${e.message}`)) })
    socket.on('connect', () => socket.write(JSON.stringify({ cmd }) + '\n'))
    socket.on('data', chunk => {
      buf += chunk.toString('utf8')
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      clearTimeout(timer)
      socket.end()
      try {
        const reply = JSON.parse(buf.slice(0, nl)) as { ok: boolean, result?: unknown, error?: string }
        if (reply.ok) resolve(reply.result)
        else reject(new Error(`ntkd ${cmd}: ${reply.error ?? 'refused'}`))
      } catch { reject(new Error(`bad answer from ${path}`)) }
    })
  })
}
