import test from 'ava'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { observeLab, observeNode, parseIdNames, parseIptablesSave, readRouteNames } from '../src/observe'
import { wireLinks } from '../src/wiring/veth'
import { firstMissing, missingRoot, missingTools, runnableIf } from '../../daemon/test/helpers/requires'
import { inNode, lineLab, makeTestNodes } from './wiring-fixture'

const rootTest = runnableIf(test, firstMissing(missingRoot(), missingTools('ip', 'nsenter', 'unshare')))

async function tempIproute2 (t: { teardown: (fn: () => Promise<void>) => void }, files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ntkwt-iproute2-'))
  t.teardown(async () => { await fs.rm(dir, { recursive: true, force: true }) })
  for (const [name, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true })
    await fs.writeFile(path.join(dir, name), text)
  }
  return dir
}

test('parseIdNames reads ids (decimal and hex) and skips comments', t => {
  t.deepEqual([...parseIdNames('# reserved\n255\tlocal\n0xfb ntk # the daemon\n\n  210 ntk_from_02:00:00:00:00:01\nbogus line\n')],
    [[255, 'local'], [251, 'ntk'], [210, 'ntk_from_02:00:00:00:00:01']])
})

test('readRouteNames: the node root\'s rt_tables, then rt_tables.d/*.conf, over the builtin names', async t => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'ntkwt-root-'))
  t.teardown(async () => { await fs.rm(root, { recursive: true, force: true }) })
  await fs.mkdir(path.join(root, 'etc/iproute2/rt_tables.d'), { recursive: true })
  await fs.writeFile(path.join(root, 'etc/iproute2/rt_tables'), '251 ntk\n200 old\n')
  await fs.writeFile(path.join(root, 'etc/iproute2/rt_tables.d/ntk.conf'), '200 ntk_from_02:00:00:00:00:01\n')
  await fs.writeFile(path.join(root, 'etc/iproute2/rt_tables.d/ignored.txt'), '201 not_read\n')
  const names = await readRouteNames(root)
  t.is(names.tables.get(251), 'ntk')
  t.is(names.tables.get(200), 'ntk_from_02:00:00:00:00:01')
  t.false(names.tables.has(201))
  t.is(names.tables.get(254), 'main')
  t.is(names.protocols.get(15), 'ntk')
})

test('parseIptablesSave splits tables and lists rules', t => {
  const text = '# Generated\n*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -i eth1 -m mac --mac-source 02:00:00:00:00:01 -j MARK --set-xmark 0xc9/0xffffffff\nCOMMIT\n# Completed\n*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -d 10.0.0.0/8 -j SNAT --to-source 10.1.2.3\nCOMMIT\n'
  const p = parseIptablesSave(text)
  t.is(p.filter, '')
  t.true(p.mangle.startsWith('*mangle\n') && p.mangle.endsWith('COMMIT\n'))
  t.deepEqual(p.rules.map(r => `${r.table} ${r.chain}`), ['mangle PREROUTING', 'nat POSTROUTING'])
  t.is(p.rules[1].spec, '-d 10.0.0.0/8 -j SNAT --to-source 10.1.2.3')
})

rootTest('observeNode names tables and protocols from the node\'s own rt_tables, reads rules and iptables', async t => {
  const dir = await tempIproute2(t, { rt_tables: '255 local\n254 main\n253 default\n251 ntk\n', 'rt_tables.d/ntk.conf': '250 ntk_from_02:00:00:0b:00:01\n' })
  const nodes = await makeTestNodes(t, ['a', 'b', 'c'], { iproute2Dir: dir })
  await wireLinks(lineLab(), nodes)
  const a = nodes.get('a')
  await inNode(a, ['ip', '-batch', '-'], true)
  for (const line of [
    'route add unreachable 169.254.99.0/24 table 251',
    'route add 169.254.98.0/24 via 169.254.10.2 dev eth1 src 169.254.10.1 table 251 proto 15 metric 7',
    'route add 169.254.97.0/24 via 169.254.10.2 table 250',
    'route add 169.254.96.0/24 via 169.254.10.2 table 1234',
    'rule add fwmark 0xc9 table 250 pref 100',
    'rule add from 169.254.10.1 iif eth1 table 251 pref 101'
  ]) await inNode(a, ['ip', ...line.split(' ')], true)
  await inNode(a, ['iptables', '-t', 'mangle', '-A', 'PREROUTING', '-i', 'eth1', '-j', 'MARK', '--set-mark', '0xc9'], true)

  const obs = await observeNode(a!)
  t.deepEqual(obs.routes.find(r => r.dst === '169.254.99.0/24'), { table: 'ntk', family: 'inet', dst: '169.254.99.0/24', type: 'unreachable' })
  t.like(obs.routes.find(r => r.dst === '169.254.98.0/24'), { table: 'ntk', type: 'unicast', gateway: '169.254.10.2', dev: 'eth1', src: '169.254.10.1', protocol: 'ntk', metric: 7 })
  t.is(obs.routes.find(r => r.dst === '169.254.97.0/24')?.table, 'ntk_from_02:00:00:0b:00:01')
  t.is(obs.routes.find(r => r.dst === '169.254.96.0/24')?.table, '1234', 'an unnamed table is its number')
  t.like(obs.rules.find(r => r.priority === 100), { family: 'inet', table: 'ntk_from_02:00:00:0b:00:01', selector: { fwmark: '0xc9' } })
  t.like(obs.rules.find(r => r.priority === 101), { table: 'ntk', selector: { from: '169.254.10.1', iif: 'eth1' } })
  t.like(obs.rules.find(r => r.priority === 32766 && r.family === 'inet'), { table: 'main', selector: {} })
  t.true(obs.rules.some(r => r.family === 'inet6' && r.table === 'main'))
  t.truthy(obs.iptables.rules.find(r => r.table === 'mangle' && r.chain === 'PREROUTING' && /-i eth1 -j MARK --set-xmark 0xc9/.test(r.spec)))
  t.regex(obs.iptables.mangle, /^\*mangle\n/)
  t.is(obs.iptables.error, undefined)

  const withLocal = await observeNode(a!, { includeLocal: true })
  t.truthy(withLocal.routes.find(r => r.table === 'local' && r.type === 'local' && r.dst === '169.254.10.1'))
  t.truthy(withLocal.routes.find(r => r.table === 'local' && r.type === 'broadcast' && r.dst === '169.254.10.3'))
  // The other nodes read the same private file but have nothing in those tables.
  t.false((await observeNode(nodes.get('b')!)).routes.some(r => r.table === 'ntk'))
})

rootTest('observeNode lists the namespaces a node made inside itself, with their routes', async t => {
  const dir = await tempIproute2(t, { rt_tables: '251 ntk\n' })
  const setup = [
    'ip netns add ntkv0',
    'ip -n ntkv0 link set lo up',
    'ip -n ntkv0 link add ntkv0_eth1 type veth peer name p1',
    'ip -n ntkv0 address add 169.254.50.1/24 dev ntkv0_eth1',
    'ip -n ntkv0 link set ntkv0_eth1 up',
    'ip -n ntkv0 route add unreachable 169.254.51.0/24 table ntk',
    'ip -n ntkv0 rule add table ntk pref 50',
    'ip netns add ntkv1'
  ].join('\n')
  const nodes = await makeTestNodes(t, ['n'], { iproute2Dir: dir, setup })
  const obs = await observeNode(nodes.get('n')!)
  t.deepEqual(obs.namespaces.map(n => n.name), ['ntkv0', 'ntkv1'])
  const v0 = obs.namespaces[0]
  t.is(v0.error, undefined)
  t.truthy(v0.addresses.find(a => a.ifname === 'ntkv0_eth1' && a.address === '169.254.50.1' && a.prefixlen === 24))
  t.deepEqual(v0.routes.find(r => r.dst === '169.254.51.0/24'), { table: 'ntk', family: 'inet', dst: '169.254.51.0/24', type: 'unreachable' })
  t.truthy(v0.rules.find(r => r.priority === 50 && r.table === 'ntk'))
  t.deepEqual(obs.namespaces[1].routes, [], 'an empty namespace has no routes')
  // The node's own namespace does not see the nested one's interfaces.
  t.false(obs.links.some(l => l.ifname === 'ntkv0_eth1'))
})

rootTest('observing one node and 25 nodes (timing)', async t => {
  const names = Array.from({ length: 25 }, (_, i) => `n${i}`)
  const nodes = await makeTestNodes(t, names)
  const t1 = Date.now()
  const one = await observeNode(nodes.get('n0')!)
  const oneMs = Date.now() - t1
  const t25 = Date.now()
  const all = await observeLab(nodes)
  const allMs = Date.now() - t25
  t.log(`observeNode: ${oneMs} ms for one node; observeLab: ${allMs} ms for 25 nodes (concurrency 8)`)
  t.deepEqual(Object.keys(all).sort(), [...names].sort())
  t.is(one.links[0]?.ifname, 'lo')
  t.true(Object.values(all).every(o => o.links.length === 1 && o.namespaces.length === 0))
})
