/**
 * The compliance suite every Transport implementation passes (STYLE §5), parameterised by a harness that drives
 * three nodes on the line a.a1 — b.b1 · b.b2 — c.c1 (b has two NICs). The harness is asynchronous so the real
 * implementation can run each node in its own network namespace (a child process) and the in-memory one in-process.
 */
import type { ExecutionContext, TestFn } from 'ava'
import {
  defineMessage, frame, MessageRegistry, WireCodec, type WireCountersSnapshot, type WireMessage
} from '../src/wire'
import type { CallerInfo, Transport } from '../src/transport'

export type NodeName = 'a' | 'b' | 'c'
export const NICS: Record<NodeName, Record<string, string>> = {
  a: { a1: '169.254.10.1' },
  b: { b1: '169.254.20.1', b2: '169.254.20.2' },
  c: { c1: '169.254.30.1' }
}

interface Ping extends WireMessage { kind: 'ping', seq: number }
interface Pong extends WireMessage { kind: 'pong', seq: number, by: string }
interface Note extends WireMessage { kind: 'note', text: string }
export const ping = defineMessage<Ping>('ping', { properties: { seq: { type: 'integer' } }, required: ['seq'] })
export const pong = defineMessage<Pong>('pong', { properties: { seq: { type: 'integer' }, by: { type: 'string' } }, required: ['seq', 'by'] })
export const note = defineMessage<Note>('note', { properties: { text: { type: 'string' } }, required: ['text'] })

export function complianceCodec (): WireCodec {
  const registry = new MessageRegistry()
  for (const d of [ping, pong, note]) registry.register(d)
  return new WireCodec({ registry })
}

export interface Received { message: WireMessage, caller: CallerInfo }
export type ResponderMode = 'echo' | 'silent' | 'throw'

/** What runs on each node: records what arrives and answers pings according to its mode. */
export class NodeAgent {
  readonly inbox: Received[] = []
  mode: ResponderMode = 'echo'
  constructor (readonly name: string, readonly transport: Transport) {
    transport.onMessage((message, caller) => {
      this.inbox.push({ message, caller })
      if (!ping.is(message) || caller.via === 'broadcast') return undefined
      if (this.mode === 'silent') return new Promise<undefined>(() => {})
      if (this.mode === 'throw') throw new Error('handler failure')
      return { v: 1, kind: 'pong', seq: message.seq, by: caller.via === 'routed' ? `${name}:routed from ${caller.source}` : `${name}:${caller.nic}` }
    })
  }
}

export type UnicastOutcome = { reply: WireMessage | null } | { error: string }

export interface TransportHarness {
  broadcast (node: NodeName, nic: string, message: WireMessage): Promise<void>
  unicast (node: NodeName, peer: { nic: string, linklocal: string }, message: WireMessage, timeoutMs: number): Promise<UnicastOutcome>
  inbox (node: NodeName): Promise<Received[]>
  setMode (node: NodeName, mode: ResponderMode): Promise<void>
  /** Writes raw bytes on a unicast channel from `node`'s NIC to a link-local. */
  raw (node: NodeName, nic: string, to: string, bytes: Buffer): Promise<void>
  counters (node: NodeName): Promise<WireCountersSnapshot>
  /** Lets `ms` of the harness's time pass (virtual or real). */
  settle (ms: number): Promise<void>
  close (): Promise<void>
}

export function transportCompliance (test: TestFn, name: string, make: () => Promise<TransportHarness>): void {
  const withHarness = (title: string, body: (h: TransportHarness, t: ExecutionContext) => Promise<void>): void => {
    test.serial(`${name}: ${title}`, async t => {
      const h = await make()
      try { await body(h, t) } finally { await h.close() }
    })
  }

  withHarness('a broadcast reaches the neighbours on that NIC only, with the arrival NIC', async (h, t) => {
    await h.broadcast('b', 'b2', { v: 1, kind: 'note', text: 'hello c' })
    await h.broadcast('a', 'a1', { v: 1, kind: 'note', text: 'hello b' })
    await h.settle(500)
    const c = (await h.inbox('c')).map(r => [r.message, r.caller.nic, r.caller.via])
    const a = (await h.inbox('a')).map(r => [r.message, r.caller.nic, r.caller.via])
    const b = (await h.inbox('b')).map(r => [r.message, r.caller.nic, r.caller.via])
    t.deepEqual(c, [[{ v: 1, kind: 'note', text: 'hello c' }, 'c1', 'broadcast']])
    t.deepEqual(a, [], 'b broadcast on b2 must not leave through b1, and a does not hear itself')
    t.deepEqual(b, [[{ v: 1, kind: 'note', text: 'hello b' }, 'b1', 'broadcast']])
  })

  withHarness('unicast request/response over each of b\'s NICs, caller info on the server side', async (h, t) => {
    t.deepEqual(await h.unicast('a', { nic: 'a1', linklocal: NICS.b.b1 }, { v: 1, kind: 'ping', seq: 1 }, 3000),
      { reply: { v: 1, kind: 'pong', seq: 1, by: 'b:b1' } })
    t.deepEqual(await h.unicast('c', { nic: 'c1', linklocal: NICS.b.b2 }, { v: 1, kind: 'ping', seq: 2 }, 3000),
      { reply: { v: 1, kind: 'pong', seq: 2, by: 'b:b2' } })
    t.deepEqual(await h.unicast('b', { nic: 'b2', linklocal: NICS.c.c1 }, { v: 1, kind: 'note', text: 'x' }, 3000),
      { reply: null }, 'a handler with nothing to say gives an empty reply')
    const b = (await h.inbox('b')).filter(r => r.caller.via === 'unicast')
    t.deepEqual(b.map(r => [r.caller.nic, r.caller.source]), [['b1', NICS.a.a1], ['b2', NICS.c.c1]])
  })

  withHarness('a unicast to a silent peer times out; a throwing handler fails the request, not the server', async (h, t) => {
    await h.setMode('c', 'silent')
    const silent = await h.unicast('b', { nic: 'b2', linklocal: NICS.c.c1 }, { v: 1, kind: 'ping', seq: 3 }, 300)
    t.regex('error' in silent ? silent.error : '', /^UnicastTimeoutError/)
    await h.setMode('c', 'throw')
    const thrown = await h.unicast('b', { nic: 'b2', linklocal: NICS.c.c1 }, { v: 1, kind: 'ping', seq: 4 }, 3000)
    t.regex('error' in thrown ? thrown.error : '', /^UnicastFailedError/)
    const nobody = await h.unicast('b', { nic: 'b2', linklocal: '169.254.99.99' }, { v: 1, kind: 'ping', seq: 5 }, 300)
    t.regex('error' in nobody ? nobody.error : '', /^Unicast(Timeout|Failed)Error/)
    await h.setMode('c', 'echo')
    t.deepEqual(await h.unicast('b', { nic: 'b2', linklocal: NICS.c.c1 }, { v: 1, kind: 'ping', seq: 6 }, 3000),
      { reply: { v: 1, kind: 'pong', seq: 6, by: 'c:c1' } })
  })

  withHarness('bad frames and bad datagrams are counted and dropped; the server keeps serving', async (h, t) => {
    await h.raw('a', 'a1', NICS.b.b1, Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]))
    await h.raw('a', 'a1', NICS.b.b1, Buffer.concat([Buffer.from([0, 0, 0, 5]), Buffer.from('{"v":')]))
    await h.raw('a', 'a1', NICS.b.b1, frame(Buffer.from('{"v":1,"kind":7}')))
    await h.settle(300)
    t.deepEqual(await h.unicast('a', { nic: 'a1', linklocal: NICS.b.b1 }, { v: 1, kind: 'ping', seq: 7 }, 3000),
      { reply: { v: 1, kind: 'pong', seq: 7, by: 'b:b1' } })
    const snap = await h.counters('b')
    t.is(snap.rejected.oversized, 1)
    t.is(snap.rejected['bad-json'], 1)
    t.is(snap.rejected.invalid, 1)
    t.deepEqual((await h.inbox('b')).map(r => r.message.kind), ['ping'])
  })
}
