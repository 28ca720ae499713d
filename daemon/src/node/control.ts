import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { mkdir, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { RunningNode } from './node'
import { runControlCommand, type ControlHooks } from './control-commands'

export { CONTROL_COMMANDS, CONTROL_USAGE, argumentCounts, type ControlHooks } from './control-commands'

/* The control socket: one JSON object per line, {"cmd": "status"} or {"cmd": "map", "args": ["1"]}. */

/** One reply line: {"ok": true, "result": ...} or {"ok": false, "error": "..."}. */
export type ControlReply = { ok: true, result: unknown } | { ok: false, error: string }

export class ControlError extends Error {
  constructor (message: string) { super(message); this.name = 'ControlError' }
}

/** Answers one request line for a running node. Never throws: errors become `{ok: false}`. */
export async function answerControl (node: RunningNode, line: string, hooks: ControlHooks = {}): Promise<ControlReply> {
  let req: unknown
  try { req = JSON.parse(line) } catch { return { ok: false, error: `not JSON: ${line.slice(0, 80)}` } }
  const cmd = typeof req === 'object' && req !== null ? (req as { cmd?: unknown }).cmd : undefined
  const args = typeof req === 'object' && req !== null ? (req as { args?: unknown }).args ?? [] : []
  if (typeof cmd !== 'string') return { ok: false, error: `no command in ${line.slice(0, 80)}` }
  if (!Array.isArray(args) || !args.every(a => typeof a === 'string')) return { ok: false, error: `${cmd}: args must be a list of strings` }
  try {
    return { ok: true, result: await runControlCommand(node, cmd, args as string[], hooks) }
  } catch (e) {
    return { ok: false, error: (e as Error).message }
  }
}

/** The unix control socket of ntkd; returns a function that closes it and removes the socket file. */
export async function startControlServer (path: string, node: RunningNode, hooks: ControlHooks = {}): Promise<() => Promise<void>> {
  await mkdir(dirname(path), { recursive: true })
  await rm(path, { force: true })
  const sockets = new Set<Socket>()
  const server: Server = createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buf = ''
    socket.on('data', chunk => {
      buf += chunk.toString('utf8')
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim()
        buf = buf.slice(nl + 1)
        if (line === '') continue
        void answerControl(node, line, hooks).then(r => { if (!socket.destroyed) socket.write(JSON.stringify(r) + '\n') })
      }
      if (buf.length > 65536) socket.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(path, resolve) })
  return async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
    await rm(path, { force: true })
  }
}

/** Sends one command to a daemon's control socket and returns its result (ntkctl, tests). */
export async function controlRequest (path: string, cmd: string, o: { timeoutMs?: number, args?: readonly string[] } = {}): Promise<unknown> {
  return await new Promise<unknown>((resolve, reject) => {
    const socket = createConnection(path)
    let buf = ''
    const timeoutMs = o.timeoutMs ?? 30_000
    const timer = setTimeout(() => { socket.destroy(); reject(new ControlError(`no answer from ${path} to ${cmd} within ${timeoutMs} ms`)) }, timeoutMs)
    socket.on('error', e => { clearTimeout(timer); reject(new ControlError(`cannot talk to ntkd at ${path}: ${e.message}`)) })
    socket.on('connect', () => socket.write(JSON.stringify(o.args === undefined || o.args.length === 0 ? { cmd } : { cmd, args: o.args }) + '\n'))
    socket.on('data', chunk => {
      buf += chunk.toString('utf8')
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      clearTimeout(timer)
      socket.end()
      let reply: ControlReply
      try { reply = JSON.parse(buf.slice(0, nl)) as ControlReply } catch { reject(new ControlError(`bad answer from ${path}`)); return }
      if (reply.ok) resolve(reply.result)
      else reject(new ControlError(`ntkd ${cmd}: ${reply.error}`))
    })
  })
}
