import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { mkdir, removeFile } from '../util/fs-async'
import { dirname } from 'node:path'
import type { RunningNode } from './node'
import { runControlCommand, type ControlHooks } from './control-commands'
import { subscribeMonitor, type MonitorEvent } from './monitor'

export { CONTROL_COMMANDS, CONTROL_USAGE, argumentCounts, type ControlHooks } from './control-commands'

/*
 * The control socket: one JSON object per line, {"cmd": "status"} or {"cmd": "map", "args": ["1"]}, answered by one
 * line. {"cmd": "monitor"} is answered by {"ok": true, "result": {"monitoring": true}}, then by one line per event
 * (see monitor.ts) until the client closes.
 */

/** A monitoring client that reads slower than this many bytes pile up is cut off (the daemon never waits for it). */
export const MONITOR_BUFFER_LIMIT = 1 << 20

/** Closes the control socket; `monitors()`: clients monitoring now. */
export type ControlServerClose = (() => Promise<void>) & { readonly monitors: () => number }

function isMonitorRequest (line: string): boolean {
  try {
    const req = JSON.parse(line) as { cmd?: unknown, args?: unknown }
    return typeof req === 'object' && req !== null && req.cmd === 'monitor' && (req.args === undefined || (Array.isArray(req.args) && req.args.length === 0))
  } catch { return false }
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
export async function startControlServer (path: string, node: RunningNode, hooks: ControlHooks = {}): Promise<ControlServerClose> {
  await mkdir(dirname(path), { recursive: true })
  await removeFile(path)
  const sockets = new Set<Socket>()
  let monitors = 0
  const log = hooks.log
  const monitor = (socket: Socket): (() => void) => {
    socket.write(JSON.stringify({ ok: true, result: { monitoring: true } }) + '\n')
    monitors++
    log?.debug(`monitor: a client subscribed (${monitors} now)`)
    const off = subscribeMonitor(node.system, e => {
      if (socket.destroyed) return
      if (socket.writableLength > MONITOR_BUFFER_LIMIT) {
        log?.warn(`monitor: a client reads too slowly (${socket.writableLength} bytes waiting): cut off`)
        socket.destroy()
        return
      }
      socket.write(JSON.stringify(e) + '\n')
    })
    return () => { off(); monitors--; log?.debug(`monitor: a client left (${monitors} now)`) }
  }
  const server: Server = createServer(socket => {
    sockets.add(socket)
    let unsubscribe: (() => void) | undefined
    socket.on('close', () => { sockets.delete(socket); unsubscribe?.(); unsubscribe = undefined })
    socket.on('error', () => {})
    let buf = ''
    socket.on('data', chunk => {
      buf += chunk.toString('utf8')
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim()
        buf = buf.slice(nl + 1)
        if (line === '') continue
        if (unsubscribe === undefined && !socket.destroyed && isMonitorRequest(line)) { unsubscribe = monitor(socket); continue }
        void answerControl(node, line, hooks).then(r => { if (!socket.destroyed) socket.write(JSON.stringify(r) + '\n') })
      }
      if (buf.length > 65536) socket.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(path, resolve) })
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
    await removeFile(path)
  }
  return Object.assign(close, { monitors: () => monitors })
}

/** A monitoring connection (ntkctl monitor, tests): `done` resolves with the events seen when it ends. */
export interface ControlMonitor {
  /** Resolves when `count` events came, the daemon closed, or `close()` was called; rejects if it cannot start. */
  readonly done: Promise<number>
  close: () => void
}

/**
 * Asks a daemon for its events and hands each to `onEvent` with its line as sent, until `count` came (when given),
 * the daemon goes away or `close()` is called. `timeoutMs` bounds the wait for the daemon's first answer.
 */
export function controlMonitor (path: string, onEvent: (e: MonitorEvent, line: string) => void, o: { count?: number, timeoutMs?: number } = {}): ControlMonitor {
  const socket = createConnection(path)
  let seen = 0
  let started = false
  let close = (): void => {}
  const done = new Promise<number>((resolve, reject) => {
    const timeoutMs = o.timeoutMs ?? 5_000
    const timer = setTimeout(() => { socket.destroy(); reject(new ControlError(`no answer from ${path} to monitor within ${timeoutMs} ms`)) }, timeoutMs)
    const finish = (): void => { clearTimeout(timer); socket.destroy(); resolve(seen) }
    close = finish
    socket.on('error', e => { clearTimeout(timer); reject(new ControlError(`cannot talk to ntkd at ${path}: ${e.message}`)) })
    socket.on('close', () => {
      if (started) finish()
      else { clearTimeout(timer); reject(new ControlError(`ntkd at ${path} closed the connection before answering monitor`)) }
    })
    socket.on('connect', () => socket.write(JSON.stringify({ cmd: 'monitor' }) + '\n'))
    let buf = ''
    socket.on('data', chunk => {
      buf += chunk.toString('utf8')
      for (let nl = buf.indexOf('\n'); nl >= 0 && !socket.destroyed; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        let msg: unknown
        try { msg = JSON.parse(line) } catch { socket.destroy(); clearTimeout(timer); reject(new ControlError(`bad line from ${path}: ${line.slice(0, 80)}`)); return }
        if (!started) {
          const reply = msg as ControlReply
          if (!reply.ok) { socket.destroy(); clearTimeout(timer); reject(new ControlError(`ntkd monitor: ${reply.error}`)); return }
          started = true
          clearTimeout(timer)
          if (o.count === 0) { finish(); return }
          continue
        }
        seen++
        onEvent(msg as MonitorEvent, line)
        if (o.count !== undefined && seen >= o.count) { finish(); return }
      }
    })
  })
  return { done, close: () => { close() } }
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
