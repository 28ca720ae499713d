import test from 'ava'
import { readFile } from 'node:fs/promises'
import { deployLab, type RunningLab } from '../src/lab'
import { defaultKinds, parseTopology } from '../src/topology'
import { ntkctlArgv } from '../src/topology/kinds/ntkd'
import type { NodeSpec, ResolvedLab } from '../src/topology/model'
import { addressFromDaemon } from '../src/scenario/ntkd-taken'
import type { NodeObservation } from '../src/observe'
import { backendMissing, checkedBackend, firstMissing, leftovers, missingTools, pings, pingsWithin, runnableIf, uniqueLabName } from './helpers/lab-fixture'

// Four real ntkd daemons in a line on the netns backend, 4·2·2·2 with addresses spanning every level:
// a = 3.1.0.1 (10.0.0.29), b = 3.1.0.0 (.28), c = 3.0.1.0 (.26), d = 1.0.0.0 (.8).
const GLOBAL: Record<string, string> = { a: '10.0.0.29', b: '10.0.0.28', c: '10.0.0.26', d: '10.0.0.8' }

const TOPOLOGY = `name: line4
defaults: { kind: ntkd }
nodes:
  a: { config: { topology: [2, 1, 1, 1], address: "3.1.0.1" } }
  b: { config: { topology: [2, 1, 1, 1], address: "3.1.0.0" } }
  c: { config: { topology: [2, 1, 1, 1], address: "3.0.1.0" } }
  d: { config: { topology: [2, 1, 1, 1], address: "1.0.0.0", serveAnonymous: true } }
links:
  - endpoints: [a:eth1, b:eth1]
  - endpoints: [b:eth2, c:eth1]
  - endpoints: [c:eth2, d:eth1]
`

const ntkRoutes = (o: NodeObservation): NodeObservation['routes'] => o.routes.filter(r => r.family === 'inet' && (r.table === 'ntk' || r.table === '251'))

async function allPairsPing (lab: RunningLab, budgetMs: number): Promise<string[]> {
  const deadline = Date.now() + budgetMs
  let failing: string[] = []
  for (;;) {
    failing = []
    for (const from of Object.keys(GLOBAL)) {
      for (const [to, ip] of Object.entries(GLOBAL)) if (from !== to && !await pings(lab, from, ip)) failing.push(`${from}->${to}`)
    }
    if (failing.length === 0 || Date.now() >= deadline) return failing
  }
}

const netnsSerial = runnableIf(test.serial, firstMissing(backendMissing('netns'), missingTools('ping', 'iptables')))

netnsSerial('netns: a line of 4 ntkd converges, every node pings every global address; a stopped daemon removes its kernel state', async t => {
  const backend = await checkedBackend('netns')
  const spec: ResolvedLab = { ...parseTopology(TOPOLOGY, 'line4.yaml', defaultKinds()), name: uniqueLabName('ntkdl') }
  let lab: RunningLab | undefined
  const pids: number[] = []
  t.teardown(async () => {
    await lab?.destroy().catch(() => {})
    await backend.removeLab(spec.name).catch(() => {})
  })
  lab = await deployLab(spec, backend)
  for (const n of lab.nodes.values()) pids.push(n.pid)
  try {
    const started = Date.now()
    const failing = await allPairsPing(lab, 90_000)
    t.deepEqual(failing, [], 'every node pings every other node\'s global address')
    t.log(`all 12 pairs ping after ${Date.now() - started} ms`)

    // a's ntk table: b's level-0 g-node via b with src .29, d's level-3 g-node via b, absent g-nodes unreachable
    const a = await lab.observe('a')
    const bLinkLocal = (await lab.observe('b')).addresses.find(x => x.ifname === 'eth1' && x.family === 'inet' && x.address.startsWith('169.254.'))?.address
    const ntk = new Map(ntkRoutes(a).map(r => [r.dst, r]))
    t.is(ntk.size, 18, 'every destination CIDR of 4·2·2·2 is in ntk')
    for (const [dst, src] of [['10.0.0.28', '10.0.0.29'], ['10.0.0.8/29', '10.0.0.29'], ['10.0.0.24/30', '10.0.0.29'], ['10.0.0.40', '10.0.0.41'], ['10.0.0.56/30', '10.0.0.61']]) {
      const r = ntk.get(dst)
      t.is(r?.gateway, bLinkLocal, `${dst} via b`)
      t.is(r?.dev, 'eth1', `${dst} dev`)
      t.is(r?.src, src, `${dst} src`)
    }
    for (const dst of ['10.0.0.0/29', '10.0.0.16/29', '10.0.0.30/31']) t.is(ntk.get(dst)?.type, 'unreachable', dst)
    t.true(a.rules.some(r => r.family === 'inet' && (r.table === 'ntk' || r.table === '251') && Object.keys(r.selector).length === 0), 'ip rule table ntk')

    // the control socket answers
    const st = await lab.exec('a', ['env', 'NTK_FROM_SOURCE=1', ...ntkctlArgv(['status', '--json'])])
    const status = JSON.parse(st.stdout) as { address: string, global: string, arcs: number }
    t.like(status, { address: '3.1.0.1', global: '10.0.0.29', arcs: 1 })

    // anonymizer (spec §2.6): d serves its anonymizing address 10.0.0.72; a request to it is SNATed on every hop,
    // so d sees it coming from its neighbour c (10.0.0.26), never from a (10.0.0.29). Counting rules in d tell.
    await lab.exec('d', ['iptables', '-I', 'INPUT', '-p', 'icmp', '-s', '10.0.0.29', '-d', '10.0.0.72'])
    await lab.exec('d', ['iptables', '-I', 'INPUT', '-p', 'icmp', '-s', '10.0.0.26', '-d', '10.0.0.72'])
    t.true(await pingsWithin(lab, 'a', '10.0.0.72', 10_000), 'a reaches d\'s anonymizing address')
    const counted = (await lab.exec('d', ['iptables', '-L', 'INPUT', '-v', '-x', '-n'])).stdout
    const packets = (src: string): number => Number(counted.split('\n').find(l => l.includes(` ${src} `) && l.includes('10.0.0.72'))?.trim().split(/\s+/)[0] ?? NaN)
    t.true(packets('10.0.0.26') >= 1, `d saw the request from c's global address\n${counted}`)
    t.is(packets('10.0.0.29'), 0, 'never from a\'s own address')
    t.false(await pings(lab, 'a', '10.0.0.90'), 'c does not serve its anonymizing address (no -k)')

    // graceful stop: nothing of the daemon is left in d
    await lab.stopNode('d')
    const d = await lab.observe('d')
    t.deepEqual(ntkRoutes(d), [], 'no routes in table ntk')
    t.deepEqual(d.routes.filter(r => r.family === 'inet' && r.protocol === '78'), [], 'no daemon routes in main')
    t.false(d.rules.some(r => r.table === 'ntk' || r.table === '251' || (r.table ?? '').startsWith('ntk_from')), 'no ntk rules')
    t.deepEqual(d.addresses.filter(x => x.family === 'inet' && (x.address.startsWith('10.') || x.address.startsWith('169.254.'))).map(x => x.address), [], 'no 10.x or link-local addresses')
    t.notRegex(d.iptables.mangle + d.iptables.nat, /ntkd/, 'no MARK or NAT rules')
    const log = await readFile(lab.logFile('d') ?? '', 'utf8')
    t.regex(log, /SIGTERM: removing kernel state/)
  } catch (e) {
    for (const n of ['a', 'b', 'c', 'd']) t.log(`--- ${n} log\n${(await readFile(lab.logFile(n) ?? '/dev/null', 'utf8').catch(() => '')).slice(-3000)}`)
    throw e
  }
  await lab.destroy()
  lab = undefined
  t.deepEqual(await leftovers(spec.name, pids), [])
})

test('the ntkd kind runs the daemon on every link interface with the node\'s config, and checks it', t => {
  const spec = parseTopology(TOPOLOGY.replace('serveAnonymous: true }', 'serveAnonymous: true, costs: { eth1: 5000 }, anonymize: false, subnetLevel: 1 }'), 'line4.yaml', defaultKinds())
  const c = spec.nodes.find(n => n.name === 'c')
  t.deepEqual(c?.command?.slice(-11), ['--topology', '2,1,1,1', '--address', '3.0.1.0', '--timers', 'lab', '--no-link-up', '-i', 'eth1', '-i', 'eth2'])
  t.true(c?.exec.includes('echo 0 > /proc/sys/net/ipv6/conf/eth2/accept_dad && echo 0 > /proc/sys/net/ipv6/conf/eth2/disable_ipv6'))
  const d = spec.nodes.find(n => n.name === 'd')
  t.true(d?.command?.join(' ').includes('--no-anonymize --serve-anonymous --subnet-level 1 --cost eth1=5000 -i eth1'))
  t.throws(() => parseTopology(TOPOLOGY.replace('serveAnonymous: true', 'subnetLevel: 4'), 'bad.yaml', defaultKinds()), { message: /config\.subnetLevel must be a level of the topology \(0\.\.3\)/ })
  t.throws(() => parseTopology(TOPOLOGY.replace('"1.0.0.0"', '"4.0.0.0"'), 'bad.yaml', defaultKinds()), { message: /bad\.yaml:\d+: nodes\.d: kind ntkd: config\.address 4\.0\.0\.0: position 4 does not fit 2 bits/ })
  t.throws(() => parseTopology(TOPOLOGY.replace('address: "3.1.0.1"', 'adress: "3.1.0.1"'), 'bad.yaml', defaultKinds()), { message: /unknown config key "adress" for kind ntkd/ })
  // a configured network's id goes to the daemon; the lab then reads the node's address from the daemon
  const net = parseTopology(TOPOLOGY.replace('address: "3.1.0.1" }', 'address: "3.1.0.1", networkId: 7 }'), 'net.yaml', defaultKinds())
  const a = net.nodes.find(n => n.name === 'a')
  t.true(a?.command?.join(' ').includes('--address 3.1.0.1 --timers lab --no-link-up --network-id 7 -i eth1'))
  t.true(addressFromDaemon(a as NodeSpec), 'a node of a configured network may take another address: the lab reads it')
  t.false(addressFromDaemon(net.nodes.find(n => n.name === 'b') as NodeSpec), 'a configured address without a network id stays')
  const bad = (from: string, to: string, message: RegExp): void => { t.throws(() => parseTopology(TOPOLOGY.replace(from, to), 'bad.yaml', defaultKinds()), { message }) }
  bad('address: "3.1.0.1" }', 'address: "3.1.0.1", networkId: 0 }', /nodes\.a: kind ntkd: config\.networkId must be a whole number from 1 to 2147483647/)
  bad('address: "3.1.0.1" }', 'address: "3.1.0.1", networkId: "7" }', /config\.networkId must be a whole number from 1 to 2147483647/)
  bad('address: "3.1.0.1" }', 'networkId: 7 }', /config\.networkId needs config\.address/)
  bad('address: "3.1.0.1" }', 'address: "3.1.0.1", networkId: 7, qspnArcs: auto }', /config\.qspnArcs auto with config\.networkId: the arcs of a configured network are checked by Hooking/)
})
