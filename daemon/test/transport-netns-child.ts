/**
 * One node of the UdpTcpTransport compliance test, run inside a network namespace
 * (`ip netns exec <ns> node -r ts-node/register/transpile-only transport-netns-child.ts '<json>'`, since Node cannot
 * setns). Speaks JSON lines: requests `{id, op, ...}` on stdin, answers `{id, ok, value | error}` on stdout.
 */
import { connect } from 'node:net'
import { createInterface } from 'node:readline'
import { UdpTcpTransport } from '../src/transport'
import { complianceCodec, NodeAgent, type ResponderMode } from './transport-compliance'

interface Config { name: string, port: number, nics: Record<string, string> }
const config = JSON.parse(process.argv[2]) as Config
const codec = complianceCodec()
const transport = new UdpTcpTransport({ codec, port: config.port })

async function main (): Promise<void> {
  await transport.start()
  for (const [name, linklocal] of Object.entries(config.nics)) await transport.attachNic({ name, linklocal })
  const agent = new NodeAgent(config.name, transport)
  const out = (o: unknown): void => { process.stdout.write(`${JSON.stringify(o)}\n`) }
  out({ id: 0, ok: true, value: 'ready' })
  const rl = createInterface({ input: process.stdin })
  rl.on('line', line => {
    const req = JSON.parse(line) as Record<string, any>
    void (async (): Promise<unknown> => {
      switch (req.op) {
        case 'broadcast': await transport.broadcast(req.nic, req.message); return null
        case 'unicast':
          try {
            const reply = await transport.unicast(req.peer, req.message, { timeoutMs: req.timeoutMs })
            return { reply: reply ?? null }
          } catch (e) { return { error: `${(e as Error).name}: ${(e as Error).message}` } }
        case 'unicastBlocked': {
          // the event loop held for blockMs, blockAfterMs after the request left (a spawn or a starved CPU)
          const reply = transport.unicast(req.peer, req.message, { timeoutMs: req.timeoutMs })
            .then(r => ({ reply: r ?? null }), (e: Error) => ({ error: `${e.name}: ${e.message}` }))
          // held in the check phase (as after an I/O callback): the next turn of the loop runs expired timers first
          setTimeout(() => setImmediate(() => { const until = Date.now() + (req.blockMs as number); while (Date.now() < until) { /* held */ } }), req.blockAfterMs)
          return await reply
        }
        case 'routed':
          try {
            const reply = await transport.routedUnicast(req.ip, req.message, { timeoutMs: req.timeoutMs })
            return { reply: reply ?? null }
          } catch (e) { return { error: `${(e as Error).name}: ${(e as Error).message}` } }
        case 'inbox': return agent.inbox
        case 'mode': agent.mode = req.mode as ResponderMode; return null
        case 'counters': return codec.counters.snapshot()
        case 'raw':
          await new Promise<void>(resolve => {
            const s = connect({ host: req.to, port: config.port, localAddress: config.nics[req.nic] }, () => s.end(Buffer.from(req.bytes, 'base64')))
            s.on('error', () => resolve())
            s.on('close', () => resolve())
            s.resume()
          })
          return null
        case 'close': await transport.close(); setImmediate(() => process.exit(0)); return null
        default: throw new Error(`unknown op ${String(req.op)}`)
      }
    })().then(value => out({ id: req.id, ok: true, value }), (e: Error) => out({ id: req.id, ok: false, error: `${e.name}: ${e.message}` }))
  })
  rl.on('close', () => { void transport.close().then(() => process.exit(0)) })
}
main().catch(e => { process.stderr.write(`${String((e as Error).stack)}\n`); process.exit(1) })
