import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { mkdir, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { RunningNode } from './node'

/** Commands of the control socket (one JSON object per line: {"cmd": "status"}). */
export const CONTROL_COMMANDS = ['status', 'arcs', 'identities', 'map', 'kernel', 'counters', 'reload', 'memory'] as const
export type ControlCommand = typeof CONTROL_COMMANDS[number]

/** What the program running the node adds to the control socket. */
export interface ControlHooks {
  /** `reload`: re-reads what can change at run time (the network keys); resolves with what it now holds. */
  readonly reload?: () => Promise<unknown>
  /** Counters of the program beside the node's own (`ntkctl counters`): the process's memory, say. */
  readonly counters?: () => Record<string, unknown>
  /** `memory`: the process's memory after a full garbage collection (what it holds, not what it has not freed yet). */
  readonly memory?: () => unknown
}

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
  try {
    switch (cmd) {
      case 'status': return { ok: true, result: node.status() }
      case 'arcs': return { ok: true, result: node.arcs() }
      case 'identities': return { ok: true, result: node.identities() }
      case 'map': return { ok: true, result: node.map() }
      case 'kernel': return { ok: true, result: await node.kernel() }
      case 'counters': return { ok: true, result: { ...node.counters(), ...hooks.counters?.() } }
      case 'memory':
        if (hooks.memory === undefined) return { ok: false, error: 'this daemon does not report its memory' }
        return { ok: true, result: hooks.memory() }
      case 'reload':
        if (hooks.reload === undefined) return { ok: false, error: 'this daemon has nothing to reload' }
        return { ok: true, result: await hooks.reload() }
      default: return { ok: false, error: `unknown command ${JSON.stringify(cmd)} (known: ${CONTROL_COMMANDS.join(', ')})` }
    }
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
export async function controlRequest (path: string, cmd: string, o: { timeoutMs?: number } = {}): Promise<unknown> {
  return await new Promise<unknown>((resolve, reject) => {
    const socket = createConnection(path)
    let buf = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new ControlError(`no answer from ${path} to ${cmd} within ${o.timeoutMs ?? 5000} ms`)) }, o.timeoutMs ?? 5000)
    socket.on('error', e => { clearTimeout(timer); reject(new ControlError(`cannot talk to ntkd at ${path}: ${e.message}`)) })
    socket.on('connect', () => socket.write(JSON.stringify({ cmd }) + '\n'))
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
