import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { InMemoryKernel } from '../src/kernel'
import { answerControl, startControlServer, type RunningNode } from '../src/node'
import { formatReply } from '../src/cli/ntkctl-format'
import { runBin } from './helpers/bin'
import { type DaemonNetwork, runFor, startDaemons } from './helpers/inprocess-network'

// ntkctl against a real daemon core: two in-process nodes (a = 3.1.0.1, b = 3.1.0.0) converged over the
// in-memory network; the control protocol, the human formats, and the ntkctl program over a unix socket.

async function pair (): Promise<{ dn: DaemonNetwork, a: RunningNode, aKernel: InMemoryKernel }> {
  const nic = { nics: ['eth1'], costs: { eth1: 1000 } }
  const dn = await startDaemons({ a: { address: '3.1.0.1', ...nic }, b: { address: '3.1.0.0', ...nic } }, { topologyBits: [2, 1, 1, 1], seed: 3 })
  dn.link({ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' })
  await runFor(dn.clock, 10_000)
  await dn.syncKernels()
  return { dn, a: dn.get('a').node, aKernel: dn.get('a').kernel }
}

test('control commands answer with the node\'s state, and the human formats show it', async t => {
  const { dn, a } = await pair()
  t.teardown(async () => { await dn.stopAll() })

  const status = await answerControl(a, '{"cmd":"status"}')
  t.like(status, { ok: true, result: { address: '3.1.0.1', global: '10.0.0.29', arcs: 1, bootstrapComplete: true } })
  t.regex(formatReply('status', (status as { result: unknown }).result), /^address 3\.1\.0\.1 \(10\.0\.0\.29\) topology .* bootstrap complete network \d+\nidentity 0 [0-9a-f]{16} main 3\.1\.0\.1 netns default/)

  const ids = await answerControl(a, '{"cmd":"identities"}')
  t.true(ids.ok)
  const idText = formatReply('identities', (ids as { result: unknown }).result)
  t.regex(idText, /^0 [0-9a-f]{16} main 3\.1\.0\.1 netns default fingerprint \d+ elderships 0,0,0,0\n {2}arc 0 eth1\/02:00:00:02:00:00#[0-9a-f]{16} dev eth1 peer 02:00:00:02:00:00 169\.254\.\d+\.\d+ qspn 3\.1\.0\.0 cost 1000us$/i)

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

  t.like(await answerControl(a, '{"cmd":"reboot"}'), { ok: false, error: 'unknown command "reboot" (known: status, arcs, identities, map, kernel, counters, memory, reload, peers, coordinator, hooking, events, monitor, prepare-enter-net, enter-net-phase-1, enter-net-phase-2, prepare-migrate, migrate-phase-1, migrate-phase-2, add-qspn-arc, add-identity-arc, remove-outer-arcs, check-connectivity, remove-identity)' })
  t.like(await answerControl(a, '{"cmd":"enter-net-phase-1","args":["0"]}'), { ok: false, error: 'enter-net-phase-1 takes <id> <op_id>; got 0' })
  t.like(await answerControl(a, '{"cmd":"enter-net-phase-1","args":["0","7"]}'), { ok: false, error: 'no enter_net operation 7 prepared for identity 0' })
  t.like(await answerControl(a, '{"cmd":"remove-identity","args":["0"]}'), { ok: false, error: 'identity 0 is the main identity: it cannot be removed' })
  t.like(await answerControl(a, '{"cmd":"map","args":["9"]}'), { ok: false, error: 'no identity 9 (give its index, NodeID or namespace)' })
  t.like(await answerControl(a, '{"cmd":"prepare-migrate","args":["0","0","1","3.0.1","0.0.0","2","1","1","1","1","1","5","null"]}'), { ok: false, error: 'prepare migrate: connectivity position 1 at level 0 is not virtual (gsize 2)' })
  t.like(await answerControl(a, '{"cmd":"status","args":["x"]}'), { ok: false, error: 'status takes no arguments; got x' })
  t.like(await answerControl(a, '{"cmd":"coordinator","args":["reserve","9"]}'), { ok: false, error: 'coordinator takes [reserve|delete-reserve <level> <id>]; got reserve 9' })
  const badLevel = await answerControl(a, '{"cmd":"coordinator","args":["reserve","9","1"]}')
  t.false(badLevel.ok)
  t.regex((badLevel as { error: string }).error, /expected "reserve LEVEL ID" or "delete-reserve LEVEL ID" with LEVEL in 1\.\.4/)
  t.like(await answerControl(a, 'status'), { ok: false, error: 'not JSON: status' })
  // reload and memory belong to the program running the node (ntkd): without it they say so
  t.deepEqual(await answerControl(a, '{"cmd":"reload"}'), { ok: false, error: 'this daemon has nothing to reload' })
  t.deepEqual(await answerControl(a, '{"cmd":"memory"}'), { ok: false, error: 'this daemon does not report its memory' })
  const hooks = { reload: async () => ({ keys: ['0123abcd'] }), counters: () => ({ memory: { rssMb: 60 } }), memory: () => ({ rssMb: 59 }) }
  t.deepEqual(await answerControl(a, '{"cmd":"reload"}', hooks), { ok: true, result: { keys: ['0123abcd'] } })
  t.like(await answerControl(a, '{"cmd":"counters"}', hooks), { ok: true, result: { memory: { rssMb: 60 } } })
  t.regex(formatReply('memory', (await answerControl(a, '{"cmd":"memory"}', hooks) as { result: unknown }).result), /^rssMb 59$/)
})

test('kernel: a route removed behind the daemon\'s back shows as missing', async t => {
  const { dn, a, aKernel } = await pair()
  t.teardown(async () => { await dn.stopAll() })
  const state = await aKernel.read()
  const ns = state.namespaces.get('')
  if (ns === undefined) { t.fail('no system namespace'); return }
  await aKernel.apply({ namespaces: new Map([['', { ...ns, routes: ns.routes.filter(r => r.dst !== '10.0.0.28/32') }]]) })
  const kernel = await answerControl(a, '{"cmd":"kernel"}')
  const text = formatReply('kernel', (kernel as { result: unknown }).result)
  t.regex(text, /^\+ route unicast 10\.0\.0\.28\/32 table ntk via/m)
  t.regex(text, /^\+ route unreachable 10\.0\.0\.28\/32 table ntk_from_02:00:00:02:00:00$/m, 'from b, b itself is never routed back')
  t.regex(text, / 2 missing from the kernel, 0 in the kernel but not wanted$/)
})

test('the ntkctl program: human and JSON output over the socket, exit 2 on usage errors, 1 when no daemon answers', async t => {
  const { dn, a } = await pair()
  const dir = await mkdtemp(join(tmpdir(), 'ntkctl-'))
  const sock = join(dir, 'ntkd.sock')
  const close = await startControlServer(sock, a)
  t.teardown(async () => { await close(); await dn.stopAll(); await rm(dir, { recursive: true, force: true }) })

  const human = await runBin('ntkctl', ['--control', sock, 'status'])
  t.is(human.code, 0, human.stderr)
  t.regex(human.stdout, /^address 3\.1\.0\.1 \(10\.0\.0\.29\)/)
  const json = await runBin('ntkctl', ['--control', sock, '--json', 'arcs'])
  t.is(json.code, 0, json.stderr)
  t.like((JSON.parse(json.stdout) as unknown[])[0], { dev: 'eth1', cost: 1000, peerAddress: '3.1.0.0' })

  const usage = await runBin('ntkctl', ['--control', sock, 'reboot'])
  t.is(usage.code, 2)
  t.regex(usage.stderr, /ntkctl: unknown command reboot\nusage: ntkctl/)
  const none = await runBin('ntkctl', ['--control', join(dir, 'absent.sock'), 'status'])
  t.is(none.code, 1)
  t.regex(none.stderr, /ntkctl: cannot talk to ntkd at .*absent\.sock/)
})

test('ntkctl coordinator: b (3.1.0.0) coordinates every g-node of a; a reservation made with the program shows in the memory', async t => {
  const { dn, a } = await pair()
  const dir = await mkdtemp(join(tmpdir(), 'ntkctl-'))
  const sock = join(dir, 'ntkd.sock')
  const close = await startControlServer(sock, a)
  // the daemons run on the virtual clock: let it run (about as fast as real time) while the program talks to a
  let driving = true
  const driver = (async () => { while (driving) { await runFor(dn.clock, 10); await new Promise(resolve => setTimeout(resolve, 10)) } })()
  t.teardown(async () => { driving = false; await driver; await close(); await dn.stopAll(); await rm(dir, { recursive: true, force: true }) })

  const reserve = await runBin('ntkctl', ['--control', sock, 'coordinator', 'reserve', '1', '5'])
  t.is(reserve.code, 0, reserve.stderr)
  t.is(reserve.stdout.trim(), 'reserved position 3 eldership 1', 'level 1 of 3·1·0·: 0 and 1 are taken, max_virtual_pos starts at gsize 2: the first virtual is 3')
  const bad = await runBin('ntkctl', ['--control', sock, 'coordinator', 'book', '1'])
  t.is(bad.code, 2)
  t.regex(bad.stderr, /coordinator takes \[reserve\|delete-reserve <level> <id>\]/)
  const badVerb = await runBin('ntkctl', ['--control', sock, 'coordinator', 'book', '1', '2'])
  t.is(badVerb.code, 2)
  t.regex(badVerb.stderr, /coordinator takes \[reserve\|delete-reserve <level> <id>\]; got book 1 2/)
  driving = false
  await driver

  const view = async (cmd: string): Promise<unknown> => {
    const p = answerControl(a, JSON.stringify({ cmd }))
    let done = false
    void p.then(() => { done = true })
    for (let k = 0; k < 200 && !done; k++) await runFor(dn.clock, 50)
    const r = await p
    if (!r.ok) throw new Error(r.error)
    return r.result
  }
  const coord = await view('coordinator')
  const human = formatReply('coordinator', coord)
  t.regex(human, /^address 3\.1\.0\.1\n/)
  t.regex(human, /^level 4 \(the network\): servant 3\.1\.0\.0 nodes 2 /m)
  t.regex(human, /^level 1 \(g-node 3·1·0·\): servant 3\.1\.0\.0 nodes 2 max_virtual_pos 3 max_eldership 1 copy here\n {2}reservation 5: pos 3 eldership 1 expires in [1-5]\d(\.\d)? s$/m)
  const v = coord as { levels: Array<{ lvl: number, servant: string, servantIsMe: boolean }> }
  t.deepEqual(v.levels.map(l => [l.lvl, l.servant, l.servantIsMe]), [[1, '3.1.0.0', false], [2, '3.1.0.0', false], [3, '3.1.0.0', false], [4, '3.1.0.0', false]])
  t.regex(formatReply('peers', await view('peers')), /^service 1 participating: requests 5 answered 5 failed 0 served \d+ refused 0 latency avg/m)
})
