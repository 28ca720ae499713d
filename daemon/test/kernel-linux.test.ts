import test, { type ExecutionContext } from 'ava'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Topology, parseNaddr } from '../src/addressing'
import {
  LinuxKernel, SYSTEM_NS, TableAllocator, canonicalState, emptyNamespace, sweepDaemonState, withoutNamespace,
  type KernelState, type NamespaceState
} from '../src/kernel'
import { hcKey, mainIdentityState, systemSysctls } from '../src/routes'
import { firstMissing, missingRoot, missingTools, runnableIf } from './helpers/requires'

const rootTest = runnableIf(test.serial, firstMissing(missingRoot(), missingTools('ip', 'iptables')))

const topo = Topology.fromBits([2, 1, 1, 1])
const delta = parseNaddr('3·1·0·1')
const nic = { name: 'eth1', mac: '00:16:3E:1A:C4:45', linkLocal: '169.254.253.216' }
const mu = { dev: 'eth1', peerMac: '00:16:3E:2D:8D:DE', peerLinkLocal: '169.254.119.176', peerNaddr: parseNaddr('3·1·0·0') }
const TABLE_MU = 'ntk_from_00:16:3E:2D:8D:DE'

const startup = (): KernelState => ({ namespaces: new Map([[SYSTEM_NS, mainIdentityState({ topology: topo, naddr: delta, nics: [nic], serveAnonymous: true })]]) })
const withMu = (): KernelState => ({
  namespaces: new Map([[SYSTEM_NS, mainIdentityState({
    topology: topo, naddr: delta, nics: [nic], serveAnonymous: true, arcs: [mu],
    paths: new Map([[hcKey({ lvl: 0, pos: 0 }), [{ viaMac: mu.peerMac, hops: [{ lvl: 0, pos: 0 }] }]]])
  })]])
})

const sh = (...argv: string[]): string => execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' })

interface Fixture { ns: string; rtTables: string; kernel: LinuxKernel; allocator: TableAllocator }

/** A fresh namespace `ntkt-<random>` with eth1 (δ's MAC, up) veth'd to peer1, both inside it; removed in teardown. */
function fixture (t: ExecutionContext): Fixture {
  const ns = `ntkt-${randomBytes(3).toString('hex')}`
  const dir = mkdtempSync(join(tmpdir(), 'ntkt-rt-'))
  const allocator = new TableAllocator()
  const kernel = new LinuxKernel({ allocator, netns: ns, nestedPrefix: `${ns}-`, rtTablesPath: join(dir, 'rt_tables') })
  t.teardown(async () => {
    await kernel.close()
    for (const n of sh('ip', 'netns', 'list').split('\n').map(l => l.split(' ')[0]).filter(n => n === ns || n.startsWith(`${ns}-`))) {
      try { sh('ip', 'netns', 'del', n) } catch { /* already gone */ }
    }
    rmSync(dir, { recursive: true, force: true })
  })
  sh('ip', 'netns', 'add', ns)
  sh('ip', '-n', ns, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'peer1')
  sh('ip', '-n', ns, 'link', 'set', 'eth1', 'address', nic.mac)
  sh('ip', '-n', ns, 'link', 'set', 'eth1', 'up')
  sh('ip', '-n', ns, 'link', 'set', 'peer1', 'up')
  sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
  return { ns, rtTables: join(dir, 'rt_tables'), allocator, kernel }
}

/** The IPv4 state of a namespace (addresses, routes of every table, rules, iptables rules), for "left as it was". */
function snapshot (ns: string): string {
  const ipt = sh('ip', 'netns', 'exec', ns, 'iptables-save').split('\n').filter(l => l.startsWith('-A ')).join('\n')
  return [sh('ip', '-n', ns, '-4', '-o', 'addr'), sh('ip', '-n', ns, '-4', 'route', 'show', 'table', 'all'), sh('ip', '-n', ns, '-4', 'rule'), ipt].join('\n')
}

rootTest('δ startup, then μ arrival, read back exactly; repeated applies run no command; the sweep restores the namespace', async t => {
  const f = fixture(t)
  const pristine = snapshot(f.ns)
  const s1 = startup()
  const first = await f.kernel.apply(s1)
  t.true(first.commands <= 3, `first apply ran ${first.commands} commands`)
  t.deepEqual(canonicalState(await f.kernel.read(s1)), canonicalState(s1))
  const ntk = sh('ip', '-n', f.ns, 'route', 'show', 'table', '251')
  t.is(ntk.trim().split('\n').filter(l => l.startsWith('unreachable')).length, 18)
  t.regex(sh('ip', '-n', f.ns, 'addr', 'show', 'dev', 'lo'), /inet 10\.0\.0\.32\/32/)
  t.regex(sh('ip', 'netns', 'exec', f.ns, 'iptables-save', '-t', 'nat'), /-A POSTROUTING -d 10\.0\.0\.64\/27 .*-j SNAT --to-source 10\.0\.0\.29/)
  // numeric (-N): the host's rt_tables may name table 251, the test must not depend on it
  t.regex(sh('ip', '-N', '-n', f.ns, 'rule'), /from all lookup 251/)
  t.is((await f.kernel.apply(s1)).commands, 0)

  const s2 = withMu()
  const second = await f.kernel.apply(s2)
  t.true(second.commands <= 2, `μ's arrival ran ${second.commands} commands`)
  t.deepEqual(canonicalState(await f.kernel.read(s2)), canonicalState(s2))
  t.regex(sh('ip', '-n', f.ns, 'route', 'show', 'table', 'main'), /169\.254\.119\.176 dev eth1 proto 78 scope link src 169\.254\.253\.216/)
  const ntk2 = sh('ip', '-n', f.ns, 'route', 'show', 'table', '251')
  t.regex(ntk2, /10\.0\.0\.28 via 169\.254\.119\.176 dev eth1 proto 78 src 10\.0\.0\.29/)
  t.regex(ntk2, /10\.0\.0\.40 via 169\.254\.119\.176 dev eth1 proto 78 src 10\.0\.0\.41/)
  t.is(sh('ip', '-n', f.ns, 'route', 'show', 'table', '250').trim().split('\n').filter(l => l.startsWith('unreachable')).length, 18)
  t.regex(sh('ip', '-n', f.ns, 'rule'), /from all fwmark 0xfa lookup 250/)
  t.regex(sh('ip', 'netns', 'exec', f.ns, 'iptables-save', '-t', 'mangle'), /--mac-source 00:16:3[Ee]:2[Dd]:8[Dd]:[Dd][Ee] .*MARK --set-xmark 0xfa/)
  t.regex(readFileSync(f.rtTables, 'utf8'), /^250 ntk_from_00:16:3E:2D:8D:DE$/m)
  t.regex(readFileSync(f.rtTables, 'utf8'), /^249 reserved_ntk_from_249$/m)
  t.is((await f.kernel.apply(s2)).commands, 0)
  const oneScan = (await f.kernel.apply(s2, { rescan: true })).reads

  const report = await sweepDaemonState({ netns: f.ns, nestedPrefix: `${f.ns}-`, rtTablesPath: f.rtTables })
  t.true(report.removed.length > 0)
  // one scan of the kernel (and one `ip link` for stray pseudo-interfaces), not a plan's scan and then the apply's
  t.is(report.reads, oneScan + 1)
  t.is(snapshot(f.ns), pristine)
  t.regex(readFileSync(f.rtTables, 'utf8'), /^250 reserved_ntk_from_250$/m)
})

rootTest('ntkd start: the sweep with the daemon\'s own kernel, whose first apply then reads nothing and still puts in exactly its state', async t => {
  const f = fixture(t)
  await f.kernel.apply(withMu()) // what a run killed with -9 left
  const allocator = new TableAllocator()
  const kernel = new LinuxKernel({ allocator, netns: f.ns, nestedPrefix: `${f.ns}-`, rtTablesPath: f.rtTables })
  t.teardown(async () => { await kernel.close() })
  const report = await sweepDaemonState({ netns: f.ns, nestedPrefix: `${f.ns}-`, rtTablesPath: f.rtTables, with: { kernel, allocator } })
  t.true(report.removed.some(l => /ntk_from_00:16:3E:2D:8D:DE|169\.254\.119\.176/.test(l)), report.removed.join('\n'))
  const s1 = startup()
  const first = await kernel.apply(s1)
  t.is(first.reads, 0, 'the sweep\'s read stands for the first apply\'s')
  t.deepEqual(canonicalState(await kernel.read(s1)), canonicalState(s1))
  t.notRegex(sh('ip', '-n', f.ns, 'route', 'show', 'table', 'main'), /169\.254\.119\.176/)
  t.is((await kernel.apply(s1, { rescan: true })).ops, 0, 'a scan finds nothing to change')
})

rootTest("applying over a half-applied and tampered state converges, and never touches the administrator's items", async t => {
  const f = fixture(t)
  const s2 = withMu()
  await f.kernel.apply(s2)
  // the administrator's own things: a route in main without our protocol, an address with a real prefix
  sh('ip', '-n', f.ns, 'addr', 'add', '10.9.0.1/24', 'dev', 'peer1')
  sh('ip', '-n', f.ns, 'route', 'add', '10.77.0.0/16', 'via', '10.9.0.2')
  // damage: lose routes, an address, the mark; add strays in our tables; change a route
  sh('ip', '-n', f.ns, 'route', 'del', '10.0.0.0/29', 'table', '251')
  sh('ip', '-n', f.ns, 'route', 'replace', '10.0.0.28/32', 'via', '169.254.119.176', 'dev', 'eth1', 'table', '251')
  sh('ip', '-n', f.ns, 'route', 'add', 'blackhole', '10.0.0.99/32', 'table', '250')
  sh('ip', '-n', f.ns, 'route', 'add', 'unreachable', '10.0.0.1/32', 'table', '230')
  sh('ip', '-n', f.ns, 'rule', 'add', 'fwmark', '230', 'table', '230')
  sh('ip', '-n', f.ns, 'addr', 'del', '10.0.0.49/32', 'dev', 'eth1')
  sh('ip', 'netns', 'exec', f.ns, 'iptables', '-t', 'mangle', '-F', 'PREROUTING')
  sh('ip', 'netns', 'exec', f.ns, 'iptables', '-t', 'mangle', '-A', 'PREROUTING', '-m', 'mac', '--mac-source', '00:16:3E:00:00:01', '-j', 'MARK', '--set-mark', '230')
  // without a scan the kernel trusts its last apply: nothing to do
  t.is((await f.kernel.apply(s2)).commands, 0)
  const fix = await f.kernel.apply(s2, { rescan: true })
  t.true(fix.ops >= 8, `only ${fix.ops} ops`)
  t.deepEqual(canonicalState(await f.kernel.read(s2)), canonicalState(s2))
  t.is((await f.kernel.apply(s2, { rescan: true })).commands, 0)
  // a kernel that never applied here (a restarted daemon) scans first and converges too
  sh('ip', '-n', f.ns, 'route', 'del', '10.0.0.8/29', 'table', '250')
  const restarted = new LinuxKernel({ allocator: f.allocator, netns: f.ns, nestedPrefix: `${f.ns}-` })
  t.teardown(async () => { await restarted.close() })
  t.is((await restarted.apply(s2)).ops, 1)
  t.deepEqual(canonicalState(await f.kernel.read(s2)), canonicalState(s2))
  t.is((await f.kernel.apply(s2)).commands, 0)
  t.regex(sh('ip', '-n', f.ns, 'route', 'show', 'table', 'main'), /10\.77\.0\.0\/16 via 10\.9\.0\.2/)
  t.regex(sh('ip', '-n', f.ns, 'addr', 'show', 'dev', 'peer1'), /10\.9\.0\.1\/24/)
  t.notRegex(sh('ip', 'netns', 'exec', f.ns, 'iptables-save', '-t', 'mangle'), /0xe6/)
  // sweep: the administrator's items survive it too
  await sweepDaemonState({ netns: f.ns, nestedPrefix: `${f.ns}-` })
  t.regex(sh('ip', '-n', f.ns, 'route', 'show', 'table', 'main'), /10\.77\.0\.0\/16 via 10\.9\.0\.2/)
  t.is(sh('ip', '-n', f.ns, 'route', 'show', 'table', '251').trim(), '')
  t.is(sh('ip', '-n', f.ns, 'rule').split('\n').filter(l => /lookup (25[01]|230)/.test(l)).length, 0)
})

rootTest('nested namespace of a connectivity identity: macvlan pseudo-interface, shared table, removal', async t => {
  const f = fixture(t)
  const nested: NamespaceState = {
    ...emptyNamespace(),
    sysctls: systemSysctls(['ntkv0_eth1']),
    linksUp: ['lo', 'ntkv0_eth1'],
    pseudoInterfaces: [{ name: 'ntkv0_eth1', parent: 'eth1', mac: '4E:01:02:03:04:05' }],
    addresses: [{ dev: 'ntkv0_eth1', ip: '169.254.7.7' }],
    routes: [
      { table: 'main', dst: '169.254.119.176/32', type: 'unicast', dev: 'ntkv0_eth1', src: '169.254.7.7' },
      { table: TABLE_MU, dst: '10.0.0.0/29', type: 'unicast', via: '169.254.119.176', dev: 'ntkv0_eth1' },
      { table: TABLE_MU, dst: '10.0.0.8/29', type: 'unreachable' }
    ],
    rules: [{ table: TABLE_MU, fwmarkOf: TABLE_MU }],
    marks: [{ mac: mu.peerMac, markOf: TABLE_MU }]
  }
  const both: KernelState = { namespaces: new Map([...withMu().namespaces, ['ntkv0', nested]]) }
  await f.kernel.apply(both)
  t.true(sh('ip', 'netns', 'list').includes(`${f.ns}-ntkv0`))
  t.deepEqual(canonicalState(await f.kernel.read(both)), canonicalState(both))
  t.regex(sh('ip', '-n', `${f.ns}-ntkv0`, 'link', 'show', 'ntkv0_eth1'), /4e:01:02:03:04:05/)
  t.is(f.allocator.refcount(mu.peerMac), 2)
  t.is((await f.kernel.apply(both)).commands, 0)
  const back = withoutNamespace(both, 'ntkv0')
  const stats = await f.kernel.apply(back)
  t.is(stats.commands, 2) // link del of the pseudo-interface, then ip netns del
  t.false(sh('ip', 'netns', 'list').includes(`${f.ns}-ntkv0`))
  t.is(f.allocator.refcount(mu.peerMac), 1)
  // a leftover nested namespace is found and removed by the sweep
  await f.kernel.apply(both)
  await sweepDaemonState({ netns: f.ns, nestedPrefix: `${f.ns}-` })
  t.false(sh('ip', 'netns', 'list').includes(`${f.ns}-ntkv0`))
})

rootTest('a refused apply raises KernelApplyError naming the line, and the next apply rescans and converges', async t => {
  const f = fixture(t)
  await f.kernel.apply(startup())
  // a route via a gateway that is not on-link: Linux refuses it
  const bad = startup()
  const n = bad.namespaces.get(SYSTEM_NS) as NamespaceState
  const broken: KernelState = { namespaces: new Map([[SYSTEM_NS, { ...n, routes: [...n.routes.slice(1), { table: 'ntk', dst: n.routes[0].dst, type: 'unicast', via: '192.0.2.1', dev: 'eth1' }] }]]) }
  const err = await t.throwsAsync(f.kernel.apply(broken), { name: 'KernelApplyError' })
  t.regex(err?.message ?? '', /10\.0\.0\.0\/29 via 192\.0\.2\.1/)
  const s2 = withMu()
  const fixed = await f.kernel.apply(s2)
  t.true(fixed.reads > 0, 'the apply after a failure re-reads the kernel')
  t.deepEqual(canonicalState(await f.kernel.read(s2)), canonicalState(s2))
})
