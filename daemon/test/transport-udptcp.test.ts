import test, { type TestFn } from 'ava'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { NICS, transportCompliance, type NodeName, type TransportHarness } from './transport-compliance'
import { firstMissing, missingRoot, missingTools, runnableIf } from './helpers/requires'
import type { WireMessage } from '../src/wire'

/**
 * UdpTcpTransport on real sockets in three namespaces ntktr-<rand>-a/b/c, veths a1-b1 and b2-c1, link-locals as
 * /32 with host routes `<peer-ll> dev <nic> src <my-ll>` exactly as the daemon programs them (spec §1.6).
 */
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
const missing = firstMissing(missingRoot(), missingTools('ip'))

class Child {
  readonly #pending = new Map<number, (r: { ok: boolean, value?: unknown, error?: string }) => void>()
  #next = 1
  readonly ready: Promise<void>
  constructor (readonly proc: ChildProcess) {
    let onReady!: () => void
    this.ready = new Promise<void>((resolve, reject) => {
      onReady = resolve
      proc.once('exit', code => reject(new Error(`child exited with ${String(code)} before ready`)))
    })
    createInterface({ input: proc.stdout! }).on('line', line => {
      const r = JSON.parse(line) as { id: number, ok: boolean, value?: unknown, error?: string }
      if (r.id === 0) { onReady(); return }
      this.#pending.get(r.id)?.(r)
      this.#pending.delete(r.id)
    })
  }

  async call<T> (op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++
    const r = await new Promise<{ ok: boolean, value?: unknown, error?: string }>(resolve => {
      this.#pending.set(id, resolve)
      this.proc.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`)
    })
    if (!r.ok) throw new Error(`child ${op}: ${r.error ?? '?'}`)
    return r.value as T
  }
}

type NetnsHarness = TransportHarness & {
  /** A unicast from `node` whose event loop is then held for blockMs, blockAfterMs after the request left. */
  unicastBlocked: (node: NodeName, peer: { nic: string, linklocal: string }, message: WireMessage, o: { timeoutMs: number, blockAfterMs: number, blockMs: number }) => Promise<unknown>
}

async function netnsHarness (): Promise<NetnsHarness> {
  const prefix = `ntktr-${randomBytes(3).toString('hex')}`
  const ns = (n: NodeName): string => `${prefix}-${n}`
  const children = new Map<NodeName, Child>()
  const teardown = async (): Promise<void> => {
    for (const c of children.values()) {
      try { await Promise.race([c.call('close'), new Promise(resolve => setTimeout(resolve, 1000))]) } catch {}
      if (c.proc.exitCode === null && c.proc.pid !== undefined) c.proc.kill('SIGKILL')
    }
    for (const n of ['a', 'b', 'c'] as NodeName[]) { try { ip('netns', 'del', ns(n)) } catch {} }
  }
  try {
    for (const n of ['a', 'b', 'c'] as NodeName[]) {
      ip('netns', 'add', ns(n))
      ip('-n', ns(n), 'link', 'set', 'lo', 'up')
      // fe80 usable at once: no DAD wait before the first broadcast
      execFileSync('ip', ['netns', 'exec', ns(n), 'sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0'])
    }
    ip('link', 'add', 'a1', 'netns', ns('a'), 'type', 'veth', 'peer', 'name', 'b1', 'netns', ns('b'))
    ip('link', 'add', 'b2', 'netns', ns('b'), 'type', 'veth', 'peer', 'name', 'c1', 'netns', ns('c'))
    const peerOf: Record<string, [NodeName, string]> = { a1: ['b', 'b1'], b1: ['a', 'a1'], b2: ['c', 'c1'], c1: ['b', 'b2'] }
    for (const n of ['a', 'b', 'c'] as NodeName[]) {
      for (const [nic, ll] of Object.entries(NICS[n])) {
        ip('-n', ns(n), 'address', 'add', ll, 'dev', nic)
        ip('-n', ns(n), 'link', 'set', nic, 'up')
        const [pn, pnic] = peerOf[nic]
        ip('-n', ns(n), 'route', 'add', NICS[pn][pnic], 'dev', nic, 'src', ll)
      }
    }
    const script = join(__dirname, 'transport-netns-child.ts')
    for (const n of ['a', 'b', 'c'] as NodeName[]) {
      const proc = spawn('ip', ['netns', 'exec', ns(n), process.execPath, '-r', 'ts-node/register/transpile-only', script,
        JSON.stringify({ name: n, port: 60269, nics: NICS[n] })], { stdio: ['pipe', 'pipe', 'inherit'], cwd: join(__dirname, '..', '..') })
      children.set(n, new Child(proc))
    }
    await Promise.all([...children.values()].map(c => c.ready))
  } catch (e) {
    await teardown()
    throw e
  }
  const child = (n: NodeName): Child => children.get(n)!
  return {
    broadcast: async (node, nic, message) => { await child(node).call('broadcast', { nic, message }) },
    unicast: async (node, peer, message, timeoutMs) => await child(node).call('unicast', { peer, message, timeoutMs }),
    inbox: async node => await child(node).call('inbox'),
    setMode: async (node, mode) => { await child(node).call('mode', { mode }) },
    raw: async (node, nic, to, bytes) => { await child(node).call('raw', { nic, to, bytes: bytes.toString('base64') }) },
    counters: async node => await child(node).call('counters'),
    settle: async ms => await new Promise(resolve => setTimeout(resolve, ms)),
    unicastBlocked: async (node, peer, message, o) => await child(node).call('unicastBlocked', { peer, message, ...o }),
    close: teardown
  }
}

// Every compliance test is registered; without root each is skipped saying so (a failure under NTK_REQUIRE_BACKENDS=1).
transportCompliance(missing === undefined ? test : { serial: runnableIf(test.serial, missing) } as unknown as TestFn, 'UdpTcpTransport in namespaces', netnsHarness)

test('a protocol port held by another socket is waited for, with a log line per try, then refused with a clear error', async t => {
  // The loopback NIC stands in for a managed one: only the bind is under test.
  const { createSocket } = await import('node:dgram')
  const { WireCodec, MessageRegistry } = await import('../src/wire')
  const { UdpTcpTransport, PortBindError } = await import('../src/transport/udp-tcp-transport')
  const blocker = createSocket({ type: 'udp6' })
  await new Promise<void>(resolve => blocker.bind({ port: 0, address: '::' }, resolve))
  const port = blocker.address().port
  const lines: string[] = []
  const held = new UdpTcpTransport({ codec: new WireCodec({ registry: new MessageRegistry() }), port, bindRetryMs: 1500, log: l => lines.push(l) })
  await held.start()
  const err = await t.throwsAsync(held.attachNic({ name: 'lo', linklocal: '127.0.0.1' }))
  t.true(err instanceof PortBindError)
  t.regex(err?.message ?? '', new RegExp(`cannot bind UDP \\[ff02::1%lo\\]:${port}: .*EADDRINUSE.* \\(still taken after 2 s\\)`))
  t.true(lines.length >= 1 && lines.every(l => l.includes('is taken by another socket (EADDRINUSE); trying again in 1 s')), lines.join('\n'))
  await held.close()

  // freed while the daemon waits: the bind goes through
  const later = new UdpTcpTransport({ codec: new WireCodec({ registry: new MessageRegistry() }), port, bindRetryMs: 5000 })
  await later.start()
  setTimeout(() => blocker.close(), 300)
  await t.notThrowsAsync(later.attachNic({ name: 'lo', linklocal: '127.0.0.1' }))
  await later.close()
})

runnableIf(test.serial, missing)('a reply that arrived while the event loop was held past the deadline is read before the timeout is decided', async t => {
  const h = await netnsHarness()
  t.teardown(h.close)
  // b answers at once; a's loop is held as soon as the request left, for 1.2 s (deadline 500 ms): the pong waits in
  // a's socket while the expired timer is due first. Without the extra turn of I/O a's own timeout won.
  const r = await h.unicastBlocked('a', { nic: 'a1', linklocal: NICS.b.b1 }, { v: 1, kind: 'ping', seq: 41 }, { timeoutMs: 500, blockAfterMs: 0, blockMs: 1200 })
  t.deepEqual(r, { reply: { v: 1, kind: 'pong', seq: 41, by: 'b:b1' } })
  // a peer that does not answer still times out
  await h.setMode('b', 'silent')
  const silent = await h.unicastBlocked('a', { nic: 'a1', linklocal: NICS.b.b1 }, { v: 1, kind: 'ping', seq: 42 }, { timeoutMs: 300, blockAfterMs: 50, blockMs: 600 }) as { error?: string }
  t.regex(silent.error ?? '', /UnicastTimeoutError/)
})
