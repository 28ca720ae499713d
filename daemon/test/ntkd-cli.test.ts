import test from 'ava'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseNtkdArgs, readNetworkKeyFile, DEFAULT_CONTROL_SOCKET, type NodeConfig } from '../src/node'
import { runBin, startBin } from './helpers/bin'

// The ntkd program's command line: parsing (pure), exit codes and messages of the real program, and
// `ntkd --cleanup` run inside a namespace holding what a crashed daemon leaves behind.

const Topology4222 = '4·2·2·2'

const sh = (...argv: string[]): string => execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' })

test('flags and a configuration file merge, flags win; every mistake names itself', t => {
  const files: Record<string, string> = {
    '/etc/ntkd.yaml': 'topology: [2, 1, 1, 1]\naddress: "3.1.0.1"\ntimers: lab\ncosts: { eth1: 2000 }\n',
    '/etc/typo.yaml': 'topology: [2, 1, 1, 1]\nadress: "3.1.0.1"\n',
    '/etc/list.yaml': '- 1\n- 2\n',
    '/etc/ll.yaml': 'topology: [2, 1, 1, 1]\naddress: "3.1.0.1"\nlinkLocals: 169.254.1.1\n',
    '/etc/two-ways.yaml': 'networkKey: a\nnetworkKeyFile: /etc/ntkd.keys\n',
    '/etc/empty-keys.yaml': 'networkKeys: []\n',
    '/etc/ntkd.keys': '# signing key first\nnew key\n\nold key\n',
    '/etc/no-keys': '# nothing\n\n'
  }
  const read = (p: string): string => { const f = files[p]; if (f === undefined) throw new Error('ENOENT'); return f }
  const cmd = parseNtkdArgs(['-c', '/etc/ntkd.yaml', '-i', 'eth1', '-i', 'eth2', '--address', '3.1.0.0', '--cost', 'eth2=500', '-j', '-s', '2'], read)
  if (cmd.action !== 'run') { t.fail(cmd.action); return }
  t.deepEqual(cmd.config.interfaces, ['eth1', 'eth2'])
  t.deepEqual(cmd.config.naddr, [0, 0, 1, 3], 'the flag\'s address, level 0 first')
  t.deepEqual(cmd.config.costs, { eth1: 2000, eth2: 500 })
  t.deepEqual(cmd.config.linkLocals, {}, 'no fixed link-local: each NIC gets a random one')
  t.like(cmd.config, { anonymize: false, serveAnonymous: false, subnetLevel: 2, timers: 'lab', port: 60269, control: DEFAULT_CONTROL_SOCKET })
  t.is(cmd.config.topology.toString(), Topology4222)

  const bad = (argv: string[], message: RegExp): void => { t.throws(() => parseNtkdArgs(argv, read), { name: 'ConfigError', message }, argv.join(' ')) }
  bad(['--bogus'], /^unknown option --bogus\nusage: ntkd/)
  bad(['-i'], /^option -i needs a value$/)
  bad(['-i', 'eth1', '--topology', '2,1,1,1', '--address', '3.1.0.1', '--cost', 'eth1'], /--cost eth1: expected NIC=MICROSECONDS/)
  bad(['-i', 'eth1', '--topology', '2,1,1,1', '--address', '3.1.0.1', '--link-local', '169.254.1.1'], /--link-local 169\.254\.1\.1: expected NIC=ADDRESS/)
  bad(['-i', 'eth1', '--topology', '2,1,1,1', '--address', '3.1.0.1', '--link-local', 'eth2=169.254.1.1'], /linkLocals: eth2 is not a managed NIC \(eth1\)/)
  bad(['-i', 'eth1', '--topology', '2,1,1,1', '--address', '3.1.0.1', '--link-local', 'eth1=10.0.0.1'], /linkLocals\.eth1: "10\.0\.0\.1" is not an address in 169\.254\.0\.0\/16/)
  bad(['-i', 'eth1', '--topology', '2,1,1,1', '--address', '3.1.0.1', '--link-local', 'eth1=169.254.300.1'], /linkLocals\.eth1: "169\.254\.300\.1" is not an address in 169\.254\.0\.0\/16/)
  bad(['-i', 'eth1', '-i', 'eth2', '--topology', '2,1,1,1', '--address', '3.1.0.1', '--link-local', 'eth1=169.254.1.1', '--link-local', 'eth2=169.254.1.1'], /linkLocals: 169\.254\.1\.1 is given to both eth1 and eth2/)
  bad(['-c', '/etc/ll.yaml', '-i', 'eth1'], /linkLocals: expected a mapping NIC -> link-local address/)
  bad(['-i', 'eth1', '--topology', '2,1,1,1', '--address', '3.1.0.1', '--port', 'http'], /--port: "http" is not a whole number/)
  bad(['-i', 'eth1', '--topology', '2,1,1,1', '--address', '3.1.0.1', '-s', '4'], /subnetLevel: 4 is not a level in 0\.\.3/)
  bad(['-i', 'eth1', '--topology', '2,x', '--address', '3.1'], /topology: .* is not a list of bit counts/)
  bad(['-i', 'eth1', '--address', '3.1.0.1'], /topology: missing/)
  bad(['-c', '/etc/typo.yaml', '-i', 'eth1'], /\/etc\/typo\.yaml: unknown key "adress"/)
  bad(['-c', '/etc/list.yaml', '-i', 'eth1'], /\/etc\/list\.yaml: expected a mapping of options/)
  bad(['-c', '/etc/absent.yaml'], /cannot read configuration \/etc\/absent\.yaml/)
  // link-locals from the file and from flags merge per NIC, flags win
  files['/etc/fixed.yaml'] = 'topology: [2, 1, 1, 1]\naddress: "3.1.0.1"\nlinkLocals: { eth1: 169.254.69.30, eth2: 169.254.1.2 }\n'
  const fixed = parseNtkdArgs(['-c', '/etc/fixed.yaml', '-i', 'eth1', '-i', 'eth2', '--link-local', 'eth2=169.254.96.141'], read)
  if (fixed.action !== 'run') { t.fail(fixed.action); return }
  t.deepEqual(fixed.config.linkLocals, { eth1: '169.254.69.30', eth2: '169.254.96.141' })
  const base = ['-i', 'eth1', '--topology', '2,1,1,1', '--address', '3.1.0.1']
  const run = (argv: string[]): NodeConfig => { const c = parseNtkdArgs(argv, read); if (c.action !== 'run') throw new Error(c.action); return c.config }
  t.deepEqual(run([...base, '--network-key', 'B', '--network-key', 'A']).networkKeys, ['B', 'A'], 'repeated keys: the first signs')
  t.is(run([...base, '--network-key-file', '/etc/ntkd.keys']).networkKeyFile, '/etc/ntkd.keys')
  bad([...base, '-c', '/etc/two-ways.yaml'], /networkKey and networkKeyFile: give the network keys one way only/)
  bad([...base, '-c', '/etc/empty-keys.yaml'], /networkKeys: expected a list of non-empty keys/)
  t.deepEqual(readNetworkKeyFile('/etc/ntkd.keys', read), ['new key', 'old key'])
  t.throws(() => readNetworkKeyFile('/etc/no-keys', read), { name: 'ConfigError', message: 'network key file /etc/no-keys holds no key (one per line, the signing key first)' })
  t.throws(() => readNetworkKeyFile('/etc/absent.keys', read), { name: 'ConfigError', message: /cannot read network key file \/etc\/absent\.keys/ })
  // a configured network's id: its daemons check arcs by Hooking (qspnArcs hooking by default with it)
  t.like(run([...base, '--network-id', '7']), { networkId: 7, qspnArcs: 'hooking' })
  t.like(run(base), { networkId: null, qspnArcs: 'auto' })
  files['/etc/net.yaml'] = 'topology: [2, 1, 1, 1]\naddress: "3.1.0.1"\nnetworkId: 2147483647\n'
  t.like(run(['-c', '/etc/net.yaml', '-i', 'eth1']), { networkId: 2147483647, qspnArcs: 'hooking' })
  bad([...base, '--network-id', 'x'], /--network-id: "x" is not a whole number/)
  bad([...base, '--network-id', '0'], /networkId: 0 is not a whole number from 1 to 2147483647/)
  bad([...base, '--network-id', '2147483648'], /networkId: 2147483648 is not a whole number from 1 to 2147483647/)
  bad(['-i', 'eth1', '--topology', '2,1,1,1', '--network-id', '7'], /networkId 7 needs a configured address \(--address\)/)
  bad([...base, '--network-id', '7', '--qspn-arcs', 'auto'], /qspnArcs: auto with networkId 7: the arcs of a configured network are checked by Hooking/)
  files['/etc/net-str.yaml'] = 'topology: [2, 1, 1, 1]\naddress: "3.1.0.1"\nnetworkId: "7"\n'
  bad(['-c', '/etc/net-str.yaml', '-i', 'eth1'], /networkId: "7" is not a whole number from 1 to 2147483647/)
  t.deepEqual(parseNtkdArgs(['--cleanup', '--rt-tables', '/tmp/rt']), { action: 'cleanup', rtTables: '/tmp/rt' })
  t.deepEqual(parseNtkdArgs(['--help']), { action: 'help' })
})

test('the program exits 2 with the reason on a bad command line or a NIC that does not exist, touching nothing', async t => {
  const unknown = await runBin('ntkd', ['--bogus'])
  t.is(unknown.code, 2)
  t.regex(unknown.stderr, /^ntkd: unknown option --bogus/)
  const ns = `ntkcli${process.pid}`
  sh('ip', 'netns', 'add', ns)
  t.teardown(() => { try { sh('ip', 'netns', 'del', ns) } catch { /* gone */ } })
  const noNic = await runBin('ntkd', ['-i', 'nosuch0', '--topology', '2,1,1,1', '--address', '3.1.0.1', '--control', `/run/ntkd/${ns}.sock`, '--rt-tables', '/nonexistent/rt_tables'], ns)
  t.is(noNic.code, 2)
  t.regex(noNic.stderr, /ntkd: interface nosuch0 does not exist/)
  t.is(sh('ip', '-n', ns, '-4', 'route', 'show', 'table', 'all').trim(), '', 'no route was added')
})

test('ntkd --cleanup removes what a crashed daemon left in its namespace and nothing of the administrator\'s', async t => {
  const ns = `ntkclean${process.pid}`
  const dir = await mkdtemp(join(tmpdir(), 'ntkd-cleanup-'))
  const rtTables = join(dir, 'rt_tables')
  sh('ip', 'netns', 'add', ns)
  t.teardown(async () => { try { sh('ip', 'netns', 'del', ns) } catch { /* gone */ } await rm(dir, { recursive: true, force: true }) })
  await writeFile(rtTables, '255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n251\tntk\n250\tntk_from_02:00:00:00:00:02\n')
  const ip = (line: string): string => sh('ip', '-n', ns, ...line.split(' '))
  ip('link add v0 type veth peer name v1')
  ip('link set v0 up')
  ip('link set v1 up')
  // what a daemon leaves: its addresses, tables, rules, a main route of its protocol, MARK and SNAT rules
  ip('address add 10.0.0.29/32 dev v0')
  ip('address add 169.254.7.7/32 dev v0')
  ip('route add unreachable 10.0.0.0/29 table 251')
  ip('route add 10.0.0.28/32 dev v0 table 250')
  ip('rule add table 251')
  ip('rule add fwmark 250 table 250')
  ip('route add 169.254.9.9/32 dev v0 proto 78')
  sh('ip', 'netns', 'exec', ns, 'iptables', '-t', 'mangle', '-A', 'PREROUTING', '-m', 'mac', '--mac-source', '02:00:00:00:00:02', '-m', 'comment', '--comment', 'ntkd', '-j', 'MARK', '--set-mark', '250')
  sh('ip', 'netns', 'exec', ns, 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-d', '10.0.0.64/27', '-m', 'comment', '--comment', 'ntkd', '-j', 'SNAT', '--to-source', '10.0.0.29')
  // the administrator's: an address and a route of another protocol, a rule to another table
  ip('address add 192.0.2.1/24 dev v1')
  ip('route add 198.51.100.0/24 via 192.0.2.2 dev v1 proto static')
  ip('rule add to 198.51.100.7 table 100')
  sh('ip', 'netns', 'exec', ns, 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-d', '198.51.100.0/24', '-j', 'MASQUERADE')

  const r = await runBin('ntkd', ['--cleanup', '--rt-tables', rtTables], ns)
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /ntkd --cleanup: removed \d+ items\n$/)
  const addresses = ip('-4 -o address show').split('\n').filter(l => l !== '').map(l => l.split(/\s+/)[3])
  t.deepEqual(addresses.filter(a => a.startsWith('10.') || a.startsWith('169.254.')), [], 'the daemon\'s addresses are gone')
  t.true(addresses.includes('192.0.2.1/24'), 'the administrator\'s stays')
  t.is(ip('-4 route show table 251').trim(), '')
  t.is(ip('-4 route show table 250').trim(), '')
  t.is(ip('-4 route show proto 78').trim(), '')
  t.regex(ip('-4 route show'), /198\.51\.100\.0\/24 via 192\.0\.2\.2 dev v1 proto static/)
  const rules = ip('-4 rule show')
  t.notRegex(rules, /lookup (251|250|ntk)/)
  t.regex(rules, /to 198\.51\.100\.7 lookup 100/)
  const ipt = sh('ip', 'netns', 'exec', ns, 'iptables-save')
  t.notRegex(ipt, /ntkd/)
  t.regex(ipt, /-A POSTROUTING -d 198\.51\.100\.0\/24 -j MASQUERADE/)
  const names = await readFile(rtTables, 'utf8')
  t.notRegex(names, /ntk_from_02/, 'the table of the gone neighbour is no longer named')
  t.regex(names, /^250 reserved_ntk_from_250$/m, 'its number is reserved again (spec §2.2)')
})

test('the daemon starts when the kernel would hand its protocol port to an ephemeral socket, and reserves the port while it runs', async t => {
  // Issue: one daemon of 25 died with "bind EADDRINUSE ff02::1%e1:60269": its own sending socket, bound to an
  // ephemeral port, had been given 60269. Here the namespace's ephemeral range is that one port, so any socket of
  // the daemon bound to port 0 takes it for sure.
  const ns = `ntkport${process.pid}`
  sh('ip', 'netns', 'add', ns)
  const sock = `/run/ntkd/${ns}.sock`
  // `ip netns exec` shares the host's /etc: the daemon gets an rt_tables file of its own, never the host's
  const dir = await mkdtemp(join(tmpdir(), 'ntkport-'))
  const hostRtTables = readHostRtTables()
  let daemon: ReturnType<typeof startBin> | undefined
  t.teardown(async () => {
    daemon?.kill('SIGKILL')
    await daemon?.exited
    try { sh('ip', 'netns', 'del', ns) } catch { /* gone */ }
    await rm(dir, { recursive: true, force: true })
  })
  const inNs = (...argv: string[]): string => sh('ip', 'netns', 'exec', ns, ...argv)
  sh('ip', '-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1')
  inNs('sysctl', '-qw', 'net.ipv4.ip_local_port_range=60269 60269')
  daemon = startBin('ntkd', ['-i', 'v0', '--topology', '2,1,1,1', '--address', '3.1.0.1', '--timers', 'lab', '--control', sock, '--rt-tables', join(dir, 'rt_tables')], ns)
  const running = await waitUntil(60_000, async () => /running: address/.test(daemon!.stderr()) || await Promise.race([daemon!.exited.then(() => true), delay(100).then(() => false)]))
  t.true(running && /running: address/.test(daemon.stderr()), `the daemon runs: ${daemon.stderr()}`)
  t.notRegex(daemon.stderr(), /EADDRINUSE/)
  t.is(inNs('cat', '/proc/sys/net/ipv4/ip_local_reserved_ports').trim(), '60269', 'the protocol port is reserved while the daemon runs')
  const status = await runBin('ntkctl', ['--control', sock, 'status', '--json'], ns)
  t.is(status.code, 0, status.stderr)
  daemon.kill('SIGTERM')
  t.is(await daemon.exited, 0, daemon.stderr())
  t.is(inNs('cat', '/proc/sys/net/ipv4/ip_local_reserved_ports').trim(), '', 'and no longer once it stopped')
  t.is(readHostRtTables(), hostRtTables, "the host's rt_tables is untouched")
})

function readHostRtTables (): string {
  try { return readFileSync('/etc/iproute2/rt_tables', 'utf8') } catch { return '' }
}

async function delay (ms: number): Promise<void> { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Polls `cond` every 100 ms until it holds or `budgetMs` passed; returns whether it held. */
async function waitUntil (budgetMs: number, cond: () => Promise<boolean> | boolean): Promise<boolean> {
  const end = Date.now() + budgetMs
  while (Date.now() < end) {
    if (await cond()) return true
    await delay(100)
  }
  return await cond()
}
