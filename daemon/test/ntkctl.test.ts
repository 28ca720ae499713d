import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InMemoryNetwork } from '../src/transport'
import { WireCodec, WireCounters } from '../src/wire'
import { VirtualClock } from '../src/sim/virtual-clock'
import { SeededRandom } from '../src/util/random'
import { InMemoryKernel, TableAllocator } from '../src/kernel'
import { answerControl, startControlServer, startNode, ntkdMessageRegistry, validateConfig, type RunningNode } from '../src/node'
import { formatReply } from '../src/cli/ntkctl-format'

// ntkctl against a real daemon core: two in-process nodes (a = 3.1.0.1, b = 3.1.0.0) converged over the
// in-memory network; the control protocol, the human formats, and the ntkctl program over a unix socket.

const ROOT = join(__dirname, '..', '..')

async function flush (): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>(resolve => setImmediate(resolve))
}

async function pair (): Promise<{ a: RunningNode, b: RunningNode, aKernel: InMemoryKernel }> {
  const clock = new VirtualClock()
  const net = new InMemoryNetwork(clock, new SeededRandom(3))
  const start = async (name: string, address: string, k: number): Promise<{ node: RunningNode, kernel: InMemoryKernel }> => {
    const counters = new WireCounters()
    const kernel = new InMemoryKernel({ allocator: new TableAllocator(), devices: ['eth1'] })
    const transport = net.transport(name, new WireCodec({ registry: ntkdMessageRegistry(), counters }))
    const config = validateConfig({ interfaces: ['eth1'], topology: [2, 1, 1, 1], address, timers: 'lab', costs: { eth1: 1000 } })
    const started = startNode(config, { transport, kernel, clock, random: new SeededRandom(k), wireCounters: counters, macOf: () => `02:00:00:00:00:0${k}` })
    await flush()
    return { node: await started, kernel }
  }
  const a = await start('a', '3.1.0.1', 1)
  const b = await start('b', '3.1.0.0', 2)
  net.link({ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' }, { latencyMs: 1 })
  const until = clock.now() + 10_000
  while ((clock.nextAt() ?? Infinity) <= until && clock.step()) await flush()
  await a.node.syncKernel()
  await b.node.syncKernel()
  return { a: a.node, b: b.node, aKernel: a.kernel }
}

function ntkctl (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile(join(ROOT, 'bin', 'ntkctl'), args, { env: { ...process.env, NTK_FROM_SOURCE: '1' }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

test('control commands answer with the node\'s state, and the human formats show it', async t => {
  const { a, b } = await pair()
  t.teardown(async () => { await a.stop(); await b.stop() })

  const status = await answerControl(a, '{"cmd":"status"}')
  t.like(status, { ok: true, result: { address: '3.1.0.1', global: '10.0.0.29', arcs: 1, bootstrapComplete: true } })
  t.regex(formatReply('status', (status as { result: unknown }).result), /^address 3\.1\.0\.1 \(10\.0\.0\.29\) topology .* bootstrap complete\nidentity main main 3\.1\.0\.1 netns default/)

  const ids = await answerControl(a, '{"cmd":"identities"}')
  t.true(ids.ok)
  const idText = formatReply('identities', (ids as { result: unknown }).result)
  t.regex(idText, /^main main 3\.1\.0\.1 netns default fingerprint \d+ elderships 0,0,0,0\n {2}arc eth1\/02:00:00:00:00:02 dev eth1 peer 169\.254\.\d+\.\d+ 3\.1\.0\.0 cost 1000us$/i)

  const map = await answerControl(a, '{"cmd":"map"}')
  t.regex(formatReply('map', (map as { result: unknown }).result), /^\(0,0\) 10\.0\.0\.28\/32\n {2}via eth1\/\S+ cost 1000us hops \(0,0\)$/im)

  const kernel = await answerControl(a, '{"cmd":"kernel"}')
  const kText = formatReply('kernel', (kernel as { result: unknown }).result)
  t.regex(kText, / {2}route unicast 10\.0\.0\.28\/32 table ntk via 169\.254\.\d+\.\d+ dev eth1 src 10\.0\.0\.29/)
  t.regex(kText, / {2}route unreachable 10\.0\.0\.0\/29 table ntk/)
  t.regex(kText, / {2}address 10\.0\.0\.29 dev eth1/)
  t.regex(kText, /\n\d+ wanted, 0 missing from the kernel, 0 in the kernel but not wanted$/)

  const counters = await answerControl(a, '{"cmd":"counters"}')
  const cText = formatReply('counters', (counters as { result: unknown }).result)
  t.regex(cText, /^wire\.accepted [1-9]\d*$/m)
  t.regex(cText, /^kernel\.applyErrors 0$/m)

  t.deepEqual(await answerControl(a, '{"cmd":"reboot"}'), { ok: false, error: 'unknown command "reboot" (known: status, arcs, identities, map, kernel, counters)' })
  t.like(await answerControl(a, 'status'), { ok: false, error: 'not JSON: status' })
})

test('kernel: a route removed behind the daemon\'s back shows as missing', async t => {
  const { a, b, aKernel } = await pair()
  t.teardown(async () => { await a.stop(); await b.stop() })
  const state = await aKernel.read()
  const ns = state.namespaces.get('')
  if (ns === undefined) { t.fail('no system namespace'); return }
  await aKernel.apply({ namespaces: new Map([['', { ...ns, routes: ns.routes.filter(r => r.dst !== '10.0.0.28/32') }]]) })
  const kernel = await answerControl(a, '{"cmd":"kernel"}')
  const text = formatReply('kernel', (kernel as { result: unknown }).result)
  t.regex(text, /^\+ route unicast 10\.0\.0\.28\/32 table ntk via/m)
  t.regex(text, /^\+ route unreachable 10\.0\.0\.28\/32 table ntk_from_02:00:00:00:00:02$/m, 'from b, b itself is never routed back')
  t.regex(text, / 2 missing from the kernel, 0 in the kernel but not wanted$/)
})

test('the ntkctl program: human and JSON output over the socket, exit 2 on usage errors, 1 when no daemon answers', async t => {
  const { a, b } = await pair()
  const dir = await mkdtemp(join(tmpdir(), 'ntkctl-'))
  const sock = join(dir, 'ntkd.sock')
  const close = await startControlServer(sock, a)
  t.teardown(async () => { await close(); await a.stop(); await b.stop(); await rm(dir, { recursive: true, force: true }) })

  const human = await ntkctl(['--control', sock, 'status'])
  t.is(human.code, 0, human.stderr)
  t.regex(human.stdout, /^address 3\.1\.0\.1 \(10\.0\.0\.29\)/)
  const json = await ntkctl(['--control', sock, '--json', 'arcs'])
  t.is(json.code, 0, json.stderr)
  t.like((JSON.parse(json.stdout) as unknown[])[0], { dev: 'eth1', cost: 1000, peerAddress: '3.1.0.0' })

  const usage = await ntkctl(['--control', sock, 'reboot'])
  t.is(usage.code, 2)
  t.regex(usage.stderr, /ntkctl: unknown command reboot\nusage: ntkctl/)
  const none = await ntkctl(['--control', join(dir, 'absent.sock'), 'status'])
  t.is(none.code, 1)
  t.regex(none.stderr, /ntkctl: cannot talk to ntkd at .*absent\.sock/)
})
