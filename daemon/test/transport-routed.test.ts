import test from 'ava'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { NICS, type NodeName } from './transport-compliance'

/**
 * The routed unicast of UdpTcpTransport (PeerServices' contact back, §5.4) on real sockets: namespaces a - b - c as
 * in the compliance test, each with a 10.99.0.x address; a and c route the other's 10.x through b (forwarding),
 * as table ntk does. a's routed unicast to c's 10.x crosses b; c sees it arrive as 'routed' from a's 10.x, never
 * as a neighbour's unicast; b, which only forwards, sees nothing.
 */
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
const canRun = process.getuid?.() === 0
const TEN: Record<NodeName, string> = { a: '10.99.0.1', b: '10.99.0.2', c: '10.99.0.3' }

interface Outcome { reply?: { kind: string, by: string } | null, error?: string }

function child (proc: ChildProcess): { ready: Promise<void>, call: <T>(op: string, args?: Record<string, unknown>) => Promise<T> } {
  const pending = new Map<number, (r: { ok: boolean, value?: unknown, error?: string }) => void>()
  let next = 1
  let onReady!: () => void
  const ready = new Promise<void>((resolve, reject) => { onReady = resolve; proc.once('exit', code => reject(new Error(`child exited with ${String(code)}`))) })
  createInterface({ input: proc.stdout! }).on('line', line => {
    const r = JSON.parse(line) as { id: number, ok: boolean, value?: unknown, error?: string }
    if (r.id === 0) { onReady(); return }
    pending.get(r.id)?.(r)
    pending.delete(r.id)
  })
  return {
    ready,
    call: async <T>(op: string, args: Record<string, unknown> = {}): Promise<T> => {
      const id = next++
      const r = await new Promise<{ ok: boolean, value?: unknown, error?: string }>(resolve => { pending.set(id, resolve); proc.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`) })
      if (!r.ok) throw new Error(`child ${op}: ${r.error ?? '?'}`)
      return r.value as T
    }
  }
}

if (!canRun) test.skip('UdpTcpTransport routed unicast in namespaces (skipped: needs root)', () => {})
else {
  test('UdpTcpTransport: a routed unicast reaches a 10.x address two hops away through the kernel routes and arrives as routed', async t => {
    const prefix = `ntkrt-${randomBytes(3).toString('hex')}`
    const ns = (n: NodeName): string => `${prefix}-${n}`
    const procs: ChildProcess[] = []
    t.teardown(() => {
      for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL')
      for (const n of ['a', 'b', 'c'] as NodeName[]) { try { ip('netns', 'del', ns(n)) } catch {} }
    })
    for (const n of ['a', 'b', 'c'] as NodeName[]) {
      ip('netns', 'add', ns(n))
      ip('-n', ns(n), 'link', 'set', 'lo', 'up')
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
    // 10.x as the daemon assigns them (/32 on the NIC), routes toward the far 10.x with src, b forwarding
    ip('-n', ns('a'), 'address', 'add', TEN.a, 'dev', 'a1')
    ip('-n', ns('c'), 'address', 'add', TEN.c, 'dev', 'c1')
    ip('-n', ns('a'), 'route', 'add', TEN.c, 'via', NICS.b.b1, 'dev', 'a1', 'src', TEN.a)
    ip('-n', ns('c'), 'route', 'add', TEN.a, 'via', NICS.b.b2, 'dev', 'c1', 'src', TEN.c)
    ip('-n', ns('b'), 'route', 'add', TEN.a, 'via', NICS.a.a1, 'dev', 'b1')
    ip('-n', ns('b'), 'route', 'add', TEN.c, 'via', NICS.c.c1, 'dev', 'b2')
    for (const k of ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0']) execFileSync('ip', ['netns', 'exec', ns('b'), 'sysctl', '-qw', k])
    const script = join(__dirname, 'transport-netns-child.ts')
    const children = new Map<NodeName, ReturnType<typeof child>>()
    for (const n of ['a', 'b', 'c'] as NodeName[]) {
      const proc = spawn('ip', ['netns', 'exec', ns(n), process.execPath, '-r', 'ts-node/register/transpile-only', script,
        JSON.stringify({ name: n, port: 60269, nics: NICS[n] })], { stdio: ['pipe', 'pipe', 'inherit'], cwd: join(__dirname, '..', '..') })
      procs.push(proc)
      children.set(n, child(proc))
    }
    await Promise.all([...children.values()].map(async c => await c.ready))
    const [a, b, c] = (['a', 'b', 'c'] as NodeName[]).map(n => children.get(n)!)

    const r = await a.call<Outcome>('routed', { ip: TEN.c, message: { v: 1, kind: 'ping', seq: 1 }, timeoutMs: 5000 })
    t.deepEqual(r, { reply: { v: 1, kind: 'pong', seq: 1, by: `c:routed from ${TEN.a}` } }, 'c answered, seeing a\'s 10.x as source')
    const inboxC = await c.call<Array<{ caller: { via: string, nic: string } }>>('inbox')
    t.deepEqual(inboxC.map(x => x.caller), [{ nic: '', via: 'routed', source: TEN.a }])
    t.deepEqual(await b.call('inbox'), [], 'b only forwarded')
    // nobody at that address: refused quickly, not a hang
    const none = await a.call<Outcome>('routed', { ip: '10.99.0.9', message: { v: 1, kind: 'ping', seq: 2 }, timeoutMs: 3000 })
    t.regex(none.error ?? '', /UnicastFailedError|UnicastTimeoutError/)
    for (const x of [a, b, c]) await x.call('close').catch(() => {})
  })
}
