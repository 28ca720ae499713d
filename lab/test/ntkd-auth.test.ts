import test, { type ExecutionContext } from 'ava'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { deployLab, type RunningLab } from '../src/lab'
import { defaultKinds, parseTopology } from '../src/topology'
import type { ResolvedLab } from '../src/topology/model'
import { initialState, type LabState } from '../src/scenario/lab-state'
import { realClock } from '../src/scenario/clock'
import { waitFor, type Check } from '../src/scenario/wait'
import { checkedBackend, leftovers, uniqueLabName } from './helpers/lab-fixture'
import { convergedCheck, logTail, netnsSkipReason, ntkctl } from './helpers/ntkd-daemons'

// Network keys on real daemons (netns): an intruder without the key forms no arc and moves no route, and the network
// moves from key A to key B node by node (key files, `ntkctl reload`) without losing an arc.

const skip = netnsSkipReason()
const serial = skip === undefined ? test.serial : test.skip
const skipped = skip === undefined ? '' : ` (skipped: ${skip})`

const topology = (keys: string): string => `name: auth
defaults: { kind: ntkd }
nodes:
  a: { config: { topology: [2, 1, 1, 1], address: "3.1.0.1", costs: { eth1: 1000 }, networkKeyFile: ${keys}/a.keys } }
  b: { config: { topology: [2, 1, 1, 1], address: "3.1.0.0", costs: { eth1: 1000, eth2: 1000 }, networkKeyFile: ${keys}/b.keys } }
  x: { config: { topology: [2, 1, 1, 1], address: "1.0.0.0", costs: { eth1: 1000 }, networkKeyFile: ${keys}/x.keys } }
links:
  - endpoints: [a:eth1, b:eth1]
  - endpoints: [b:eth2, x:eth1]
`

interface Counters { wire: { accepted: number, acceptedWithOlderKey: number, rejected: Record<string, number> } }
interface Route { table: string, dst: string, type?: string, gateway?: string, dev?: string, src?: string, family: string }

/** An unsigned here_i_am sent from inside x on its link (what a node without any key can send). */
const UNSIGNED_HELLO = `
const dgram = require('dgram')
const [dev, ll] = process.argv.slice(1)
const hello = JSON.stringify({ v: 1, kind: 'here_i_am', from: { nodeId: 'intruder', mac: '02:66:66:66:66:66', linklocal: ll } })
const s = dgram.createSocket({ type: 'udp6', reuseAddr: true })
s.bind(0, () => { let n = 0; const go = () => s.send(hello, 60269, 'ff02::1%' + dev, () => { if (++n < 5) setTimeout(go, 100); else s.close() }); go() })
`

serial(`netns: an intruder without the network key forms no arc and adds, changes or withdraws no route; the keys roll over from A to B node by node without losing an arc${skipped}`, async t => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ntkkeys-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const keys = async (node: string, ...ks: string[]): Promise<void> => { await writeFile(path.join(dir, `${node}.keys`), ks.join('\n') + '\n') }
  await keys('a', 'key A')
  await keys('b', 'key A')
  await keys('x', 'not the key')
  const spec: ResolvedLab = { ...parseTopology(topology(dir), 'auth.yaml', defaultKinds()), name: uniqueLabName('ntka') }
  const backend = await checkedBackend('netns')
  let lab: RunningLab | undefined
  t.teardown(async () => { await lab?.destroy().catch(() => {}); await backend.removeLab(spec.name).catch(() => {}) })
  lab = await deployLab(spec, backend)
  const pids = [...lab.nodes.values()].map(n => n.pid)
  const running = lab
  let state: LabState = { ...initialState(spec), stopped: new Set(['x']) }
  const now = (): LabState => state
  const until = async (what: string, check: Check, budget: number, hold = 0): Promise<void> => {
    const c = await waitFor(what, check, { clock: realClock(), budget, interval: 250, hold })
    t.log(`${what}: after ${(c.afterMs / 1000).toFixed(1)} s`)
  }
  const ntkTables = async (): Promise<string> => JSON.stringify(await Promise.all(['a', 'b'].map(async n =>
    ((await running.observe(n)).routes as Route[]).filter(r => r.family === 'inet').map(r => `${r.table} ${r.dst} ${r.type ?? ''} ${r.gateway ?? ''} ${r.dev ?? ''} ${r.src ?? ''}`).sort())))
  const arcRemovals = async (): Promise<number> => {
    let n = 0
    for (const node of ['a', 'b', 'x']) n += ((await readFile(running.logFile(node) ?? '', 'utf8').catch(() => '')).match(/arc removed/g) ?? []).length
    return n
  }
  try {
    // a and b form their network; x holds another key
    await until('a and b converged, x left out', convergedCheck(lab, now), 60_000)
    const tables = await ntkTables()
    const rejected0 = (await ntkctl(lab, 'b', ['counters']) as Counters).wire.rejected.unauthenticated
    // x's daemon keeps saying here_i_am (wrong key) and a node without any key says it too, unsigned
    const x = await lab.observe('x')
    const xll = x.addresses.find(a => a.family === 'inet' && a.ifname === 'eth1' && a.address.startsWith('169.254.'))?.address
    t.truthy(xll, 'x took a link-local')
    await lab.exec('x', ['node', '-e', UNSIGNED_HELLO, 'eth1', xll ?? '169.254.6.6'])
    // for 10 s: no arc with x anywhere, a's and b's tables exactly as they were (no route added, changed or withdrawn)
    const unmoved: Check = async () => {
      const arcs = await Promise.all(['b', 'x'].map(async n => (await ntkctl(running, n, ['arcs']) as unknown[]).length))
      const same = await ntkTables() === tables
      return arcs[0] === 1 && arcs[1] === 0 && same ? null : { summary: `b has ${arcs[0]} arcs, x ${arcs[1]}; tables ${same ? 'unchanged' : 'changed'}`, lines: [] }
    }
    await until('x held out for 10 s', unmoved, 5_000, 10_000)
    const rejected1 = (await ntkctl(lab, 'b', ['counters']) as Counters).wire.rejected.unauthenticated
    t.true(rejected1 - rejected0 >= 10, `b counted x's messages as unauthenticated (${rejected1 - rejected0} in the window)`)

    // the control: given the key, x joins, and routes to it appear on a and b (so the window above would have
    // seen them, had the key not kept x out)
    await keys('x', 'key A')
    const reloaded = await ntkctl(lab, 'x', ['reload']) as { keys: string[] }
    t.is(reloaded.keys.length, 1)
    t.regex(reloaded.keys[0], /^[0-9a-f]{8}$/, 'ntkctl reload shows the key\'s fingerprint, not the key')
    state = { ...state, stopped: new Set() }
    await until('with the key, x joins and a and b route to it', convergedCheck(lab, now), 30_000)
    t.not(await ntkTables(), tables, 'the tables changed')

    // rollover A -> B, node by node: accept B, then sign with B, then drop A
    const removals = await arcRemovals()
    for (const [step, ks] of [['accept B', ['key A', 'key B']], ['sign with B', ['key B', 'key A']], ['drop A', ['key B']]] as const) {
      for (const n of ['b', 'x', 'a']) {
        await keys(n, ...ks)
        const r = await ntkctl(lab, n, ['reload']) as { keys: string[] }
        t.is(r.keys.length, ks.length, `${step}: ${n} holds ${ks.length} keys`)
        await new Promise(resolve => setTimeout(resolve, 2_000))
      }
      await until(`${step}: still converged`, convergedCheck(lab, now), 10_000)
      t.is(await arcRemovals(), removals, `${step}: no arc removed`)
    }
    const arcs = await Promise.all(['a', 'b', 'x'].map(async n => (await ntkctl(running, n, ['arcs']) as unknown[]).length))
    t.deepEqual(arcs, [1, 2, 1], 'every arc is still there')
    const older = (await ntkctl(lab, 'b', ['counters']) as Counters).wire.acceptedWithOlderKey
    t.true(older > 0, 'while keys were mixed, b took messages signed with its second key')
    await new Promise(resolve => setTimeout(resolve, 3_000))
    t.is((await ntkctl(lab, 'b', ['counters']) as Counters).wire.acceptedWithOlderKey, older, 'after the rollover nothing comes with an older key')
  } catch (e) {
    for (const n of ['a', 'b', 'x']) t.log(`--- ${n} log\n${await logTail(running, n)}`)
    throw e
  }
  await lab.destroy()
  lab = undefined
  t.deepEqual(await leftovers(spec.name, pids), [])
})

test('the ntkd kind passes network keys and the rescan period to the daemon, and checks them', t => {
  const spec = parseTopology(topology('/etc/ntk'), 'auth.yaml', defaultKinds())
  t.true(spec.nodes.find(n => n.name === 'a')?.command?.join(' ').includes('--network-key-file /etc/ntk/a.keys'))
  const inline = parseTopology(topology('/etc/ntk').replace('networkKeyFile: /etc/ntk/b.keys', 'networkKeys: [new, old], rescanSeconds: 2'), 'auth.yaml', defaultKinds())
  t.true(inline.nodes.find(n => n.name === 'b')?.command?.join(' ').includes('--network-key new --network-key old --rescan-seconds 2'))
  const bad = (from: string, to: string, message: RegExp): void => { t.throws(() => parseTopology(topology('/etc/ntk').replace(from, to), 'bad.yaml', defaultKinds()), { message }) }
  bad('networkKeyFile: /etc/ntk/a.keys', 'networkKeyFile: /etc/ntk/a.keys, networkKey: k', /give the network keys one way only/)
  bad('networkKeyFile: /etc/ntk/a.keys', 'networkKeyFile: keys/a', /config\.networkKeyFile must be an absolute path/)
  bad('networkKeyFile: /etc/ntk/a.keys', 'networkKeys: []', /config\.networkKeys must be a list of non-empty strings/)
  bad('networkKeyFile: /etc/ntk/a.keys', 'rescanSeconds: -1', /config\.rescanSeconds must be a whole number of seconds/)
})
