/*
 * The socket opener of a nested network namespace (DESIGN §3: Node.js cannot enter a namespace, so sockets of an
 * identity living in `ntkvN` are opened there by a process started inside it). Started by the daemon as
 * `ip netns exec <ns> node netns-helper.js` with an IPC channel; it opens TCP listeners and connections inside its
 * namespace and hands each one to the daemon (Node's handle passing: the file descriptor moves, the data never goes
 * through here). It imports nothing of the project and exits when the daemon closes the channel.
 *
 * Requests:  { t: 'listen', id, host, port }            -> { t: 'ok', id } + the net.Server handle
 *            { t: 'connect', id, host, port, localAddress } -> { t: 'ok', id } + the connected net.Socket handle
 * Failures:  { t: 'error', id, code, message }
 */
import { connect, createServer, type Server, type Socket } from 'node:net'

interface Request { t: 'listen' | 'connect', id: number, host: string, port: number, localAddress?: string }

const send = (m: object, handle?: Server | Socket): void => {
  if (process.send === undefined) return
  if (handle === undefined) process.send(m)
  else process.send(m, handle as never)
}
const fail = (id: number, e: Error): void => { send({ t: 'error', id, code: (e as NodeJS.ErrnoException).code ?? '', message: e.message }) }

process.on('message', (raw: unknown) => {
  const r = raw as Request
  if (typeof r !== 'object' || r === null || typeof r.id !== 'number') return
  if (r.t === 'listen') {
    const server = createServer()
    server.once('error', e => fail(r.id, e))
    server.listen(r.port, r.host, () => {
      send({ t: 'ok', id: r.id }, server)
      // the daemon holds the listening socket now; this copy goes
      setTimeout(() => server.close(), 100).unref()
    })
  } else if (r.t === 'connect') {
    const sock = connect({ host: r.host, port: r.port, ...(r.localAddress === undefined ? {} : { localAddress: r.localAddress }) })
    sock.once('error', e => fail(r.id, e))
    sock.once('connect', () => {
      sock.removeAllListeners('error')
      sock.on('error', () => {})
      // keepOpen false (the default): the socket is closed here once the daemon has it
      send({ t: 'ok', id: r.id }, sock)
    })
  }
})
process.on('disconnect', () => process.exit(0))
send({ t: 'ready' })
