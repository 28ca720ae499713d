import test from 'ava'
import path from 'node:path'
import os from 'node:os'
import { promises as fs, existsSync } from 'node:fs'
import { run } from '../src/util/exec'
import { backendMissing, firstMissing, leftovers, missingTools, runnableIf, uniqueLabName } from './helpers/lab-fixture'
import { isAlive } from '../src/util/proc'

// These run the compiled CLI, as a user does (`make test` builds first).
const root = path.join(__dirname, '..', '..')
const cli = path.join(root, 'dist', 'lab', 'src', 'cli', 'ntklab.js')

async function ntklab (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await run(['node', cli, ...args], { check: false })
}

test.before(() => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`make build\` (or npx tsc) before the tests`)
})

const tmpDirs: string[] = []
test.after.always(async () => { for (const d of tmpDirs) await fs.rm(d, { recursive: true, force: true }) })

async function tmpTopology (name: string, text: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ntklab-cli-'))
  tmpDirs.push(dir)
  const file = path.join(dir, name)
  await fs.writeFile(file, text)
  return file
}

test('a topology that fails validation is reported with file, line and key, and creates nothing', async t => {
  const lab = uniqueLabName('tbad')
  const file = await tmpTopology('bad.yaml', [
    `name: ${lab}`,
    'nodes:',
    '  a: { kind: linux }',
    '  b: { kind: linux }',
    'links:',
    '  - endpoints: [a:eth1, b:eth1]',
    '  - endpoints: [a:eth2, ghost:eth1]',
    ''
  ].join('\n'))
  const r = await ntklab('deploy', file)
  t.is(r.code, 1, r.stderr)
  t.regex(r.stderr, /bad\.yaml:7/, 'names the file and the line')
  t.regex(r.stderr, /links\[1\]\.endpoints\[1\]/, 'names the key')
  t.regex(r.stderr, /ghost/, 'names the unknown node')
  t.deepEqual(await leftovers(lab, []), [], 'no namespace, mount or container was created')
  t.false(existsSync(`/run/ntklab/labs/${lab}`), 'no run file was written')
})

test('wrong CLI arguments get a clear message and exit code 2', async t => {
  const r1 = await ntklab('deploy')
  t.is(r1.code, 2)
  t.regex(r1.stderr, /deploy takes one topology file/)
  const r2 = await ntklab('frobnicate')
  t.is(r2.code, 2)
  t.regex(r2.stderr, /unknown command "frobnicate"/)
  const r3 = await ntklab('deploy', 'x.yaml', '--backend', 'vmware')
  t.is(r3.code, 2)
  t.regex(r3.stderr, /unknown backend "vmware" \(backends: netns, docker\)/)
  const r4 = await ntklab('deploy', '/nonexistent/topology.yaml')
  t.is(r4.code, 1)
  t.regex(r4.stderr, /\/nonexistent\/topology\.yaml/)
  const r5 = await ntklab('exec', 'no-such-lab', 'a', '--', 'true')
  t.is(r5.code, 1)
  t.regex(r5.stderr, /no lab named no-such-lab is running/)
})

runnableIf(test.serial, firstMissing(backendMissing('netns'), missingTools('ping')))('deploy, inspect, exec, link down/up, node stop/start, destroy through the CLI (netns)', async t => {
  const lab = uniqueLabName('tcli')
  const file = await tmpTopology(`${lab}.yaml`, [
    `name: ${lab}`,
    'defaults: { kind: linux }',
    'nodes:',
    '  a:',
    '    interfaces: { eth1: { mac: 02:00:00:00:0a:01, ipv4: [169.254.10.1/30] } }',
    '    command: [sleep, "1000"]',
    '  b:',
    '    interfaces: { eth1: { ipv4: [169.254.10.2/30] } }',
    'links:',
    '  - endpoints: [a:eth1, b:eth1]',
    ''
  ].join('\n'))
  t.teardown(async () => { await ntklab('destroy', lab) })
  const up = await ntklab('deploy', file, '--json')
  t.is(up.code, 0, up.stderr)
  const deployed = JSON.parse(up.stdout) as { name: string, nodes: Array<{ name: string, pid: number, workloadPid?: number }> }
  t.is(deployed.name, lab)
  const a = deployed.nodes.find(n => n.name === 'a')
  t.truthy(a?.workloadPid, 'node a runs its command')

  const again = await ntklab('deploy', file)
  t.is(again.code, 1)
  t.regex(again.stderr, /already running/)

  const table = await ntklab('inspect', lab)
  t.is(table.code, 0, table.stderr)
  t.regex(table.stdout, new RegExp(`ntklab-${lab}-a`))
  t.regex(table.stdout, /a:eth1\s+b:eth1\s+up/)

  const list = await ntklab('inspect', '--json')
  t.true((JSON.parse(list.stdout) as Array<{ name: string }>).some(l => l.name === lab), 'the lab is listed among the running labs')

  const mac = await ntklab('exec', lab, 'a', '--', 'cat', '/sys/class/net/eth1/address')
  t.is(mac.stdout.trim(), '02:00:00:00:0a:01', 'the fixed MAC is set and /sys shows the node\'s own interfaces')
  t.is((await ntklab('exec', lab, 'a', '--', 'ping', '-c', '1', '-W', '2', '169.254.10.2')).code, 0)

  t.is((await ntklab('link', 'down', lab, 'a:eth1')).code, 0)
  t.not((await ntklab('exec', lab, 'a', '--', 'ping', '-c', '1', '-W', '1', '169.254.10.2')).code, 0, 'no ping over a link that is down')
  t.regex((await ntklab('inspect', lab)).stdout, /a:eth1\s+b:eth1\s+down/)
  t.is((await ntklab('link', 'up', lab, 'a:eth1', 'b:eth1')).code, 0)
  let back = false
  for (let i = 0; i < 5 && !back; i++) back = (await ntklab('exec', lab, 'a', '--', 'ping', '-c', '1', '-W', '1', '169.254.10.2')).code === 0
  t.true(back, 'ping restored after link up')
  const badLink = await ntklab('link', 'down', lab, 'a:eth7')
  t.is(badLink.code, 1)
  t.regex(badLink.stderr, /no link with endpoint a:eth7/)

  t.is((await ntklab('node', 'stop', lab, 'a')).code, 0)
  t.false(await isAlive(a?.workloadPid ?? -1), 'the workload is gone')
  t.regex((await ntklab('inspect', lab)).stdout, /stopped/)
  t.is((await ntklab('node', 'start', lab, 'a')).code, 0)
  t.regex((await ntklab('inspect', lab)).stdout, /pid \d+/)

  const obs = await ntklab('observe', lab, 'a')
  t.is(obs.code, 0, obs.stderr)
  const state = JSON.parse(obs.stdout) as { addresses: Array<{ address: string }> }
  t.true(state.addresses.some(x => x.address === '169.254.10.1'), 'observe shows the address')

  const pids = deployed.nodes.map(n => n.pid)
  const destroyed = await ntklab('destroy', lab)
  t.is(destroyed.code, 0, destroyed.stderr)
  t.is(destroyed.stderr, `lab ${lab} destroyed\n`)
  const againDestroyed = await ntklab('destroy', lab)
  t.is(againDestroyed.code, 0, 'destroy is idempotent')
  t.is(againDestroyed.stderr, `no lab named ${lab} (nothing to destroy)\n`, 'the second destroy finds nothing')
  t.deepEqual(await leftovers(lab, pids), [])
})

test('destroy of a lab that does not exist says there was none, and exits 0', async t => {
  const lab = uniqueLabName('tnone')
  const r = await ntklab('destroy', lab)
  t.is(r.code, 0, r.stderr)
  t.is(r.stderr, `no lab named ${lab} (nothing to destroy)\n`)
  t.is(r.stdout, '')
})

test('run: an invalid scenario is rejected with file, line and key before anything is created', async t => {
  const lab = uniqueLabName('tscn')
  const topo = await tmpTopology(`${lab}.yaml`, `name: ${lab}\nnodes: { a: { kind: linux }, b: { kind: linux } }\nlinks: [{ endpoints: [a:eth1, b:eth1] }]\n`)
  const scen = path.join(path.dirname(topo), 'bad-scenario.yaml')
  await fs.writeFile(scen, `topology: ${path.basename(topo)}\ntimeline:\n  - link: [a:eth1, b:eth1]\n    state: down\n  - link: [a:eth1, c:eth9]\n    state: up\n`)
  const r = await ntklab('run', scen)
  t.is(r.code, 1, r.stderr)
  t.regex(r.stderr, /bad-scenario\.yaml:5/, 'names the file and line')
  t.regex(r.stderr, /timeline\[1\]/, 'names the step')
  t.deepEqual(await leftovers(lab, []), [], 'nothing was created')
})

test('graph draws a topology as Mermaid and DOT, and refuses an unknown format', async t => {
  const ring = path.join(root, 'topologies', 'ring4.yaml')
  const mermaid = await ntklab('graph', ring)
  t.is(mermaid.code, 0, mermaid.stderr)
  t.regex(mermaid.stdout, /^graph LR/)
  t.regex(mermaid.stdout, /n_d ---\|"eth2 \/ eth2"\| n_a/)
  const dot = await ntklab('graph', ring, '--format', 'dot')
  t.regex(dot.stdout, /^graph "ring4" \{/)
  t.regex(dot.stdout, /"a" -- "b" \[label="eth1 \/ eth1"\]/)
  const bad = await ntklab('graph', ring, '--format', 'png')
  t.is(bad.code, 2)
  t.regex(bad.stderr, /unknown graph format "png"/)
})

/** Polls `ntklab ntkctl <lab> <node> arcs --json` until `want` holds (daemons need a moment to find each other), bounded. */
async function arcsWithin (lab: string, node: string, want: (arcs: Array<{ peerMac: string, peerLinkLocal: string }>) => boolean, budgetMs: number): Promise<Array<{ peerMac: string, peerLinkLocal: string }>> {
  const deadline = Date.now() + budgetMs
  for (;;) {
    const r = await ntklab('ntkctl', lab, node, 'arcs', '--json')
    const arcs = r.code === 0 ? JSON.parse(r.stdout) as Array<{ peerMac: string, peerLinkLocal: string }> : []
    if (want(arcs) || Date.now() >= deadline) return arcs
    await new Promise(resolve => setTimeout(resolve, 300))
  }
}

test.serial('ntkctl runs against a node\'s own daemon, hear switches a radio pair, through the CLI (netns)', async t => {
  const lab = uniqueLabName('tctl')
  const file = await tmpTopology(`${lab}.yaml`, [
    `name: ${lab}`,
    'defaults: { kind: ntkd, config: { topology: [2, 1, 1, 1] } }',
    'nodes:',
    '  a:',
    '    interfaces: { eth1: { mac: 02:00:00:00:0c:01 } }',
    '    config: { address: "3.1.0.1", linkLocals: { eth1: 169.254.69.30 } }',
    '  b:',
    '    interfaces: { eth1: { mac: 02:00:00:00:0c:02 } }',
    '    config: { address: "3.1.0.0" }',
    '  c:',
    '    interfaces: { eth1: { mac: 02:00:00:00:0c:03 } }',
    '    config: { address: "3.0.1.0" }',
    '  r: { kind: linux }',
    'links:',
    '  - kind: radio',
    '    name: air',
    '    endpoints: [a:eth1, b:eth1, c:eth1, r:eth1]',
    '    hears: [[a, b], { pair: [b, c], state: down }, [a, r]]',
    ''
  ].join('\n'))
  t.teardown(async () => { await ntklab('destroy', lab) })
  const valid = await ntklab('validate', file)
  t.is(valid.code, 0, valid.stderr)
  t.regex(valid.stdout, /4 nodes, 0 links, 1 radio segment \(3 pairs\): valid/)
  const up = await ntklab('deploy', file, '--json')
  t.is(up.code, 0, up.stderr)
  const pids = (JSON.parse(up.stdout) as { nodes: Array<{ pid: number }> }).nodes.map(n => n.pid)
  t.regex((await ntklab('inspect', lab)).stdout, /b:eth1\s+c:eth1\s+down\s+-\s+radio air/)

  // ntkctl against the node's own control socket: its output and its exit code
  // (deploy returns once the daemons are started; each opens its control socket a moment later)
  let st = await ntklab('ntkctl', lab, 'a', 'status', '--json')
  for (const deadline = Date.now() + 15_000; st.code !== 0 && Date.now() < deadline;) {
    await new Promise(resolve => setTimeout(resolve, 200))
    st = await ntklab('ntkctl', lab, 'a', 'status', '--json')
  }
  t.is(st.code, 0, st.stderr)
  const status = JSON.parse(st.stdout) as { address: string, nics: Array<{ name: string, linkLocal: string }> }
  t.is(status.address, '3.1.0.1')
  t.deepEqual(status.nics.map(n => [n.name, n.linkLocal]), [['eth1', '169.254.69.30']], 'the fixed link-local')
  t.is((await ntklab('ntkctl', lab, 'b', '--', 'status')).code, 0, 'args after -- go to ntkctl')
  const usage = await ntklab('ntkctl', lab, 'a', 'frobnicate')
  t.is(usage.code, 2, 'ntkctl\'s own exit code')
  t.regex(usage.stderr, /ntkctl: unknown command frobnicate/)

  // a and b hear each other and form an arc; b and c do not, until the pair is turned on
  const aArcs = await arcsWithin(lab, 'b', arcs => arcs.some(x => x.peerLinkLocal === '169.254.69.30'), 20_000)
  t.true(aArcs.some(x => x.peerMac === '02:00:00:00:0C:01' && x.peerLinkLocal === '169.254.69.30'), 'b has an arc with a, at its fixed link-local')
  t.deepEqual((await arcsWithin(lab, 'c', () => false, 2500)).length, 0, 'c hears nobody: no arc')
  t.is((await ntklab('hear', lab, 'c', 'b', 'on')).code, 0)
  const bc = await arcsWithin(lab, 'c', arcs => arcs.length === 1, 20_000)
  t.deepEqual(bc.map(x => x.peerMac), ['02:00:00:00:0C:02'], 'c makes an arc with b once they hear each other')
  t.regex((await ntklab('inspect', lab)).stdout, /b:eth1\s+c:eth1\s+up\s+-\s+radio air/)

  // errors: unknown lab, unknown node, a node that runs no ntkd, a pair that is not declared, bad usage
  const noLab = await ntklab('ntkctl', 'no-such-lab', 'a', 'status')
  t.is(noLab.code, 1)
  t.regex(noLab.stderr, /no lab named no-such-lab is running/)
  const noNode = await ntklab('ntkctl', lab, 'zz', 'status')
  t.is(noNode.code, 1)
  t.regex(noNode.stderr, new RegExp(`lab ${lab} has no node zz \\(nodes: a, b, c, r\\)`))
  const linux = await ntklab('ntkctl', lab, 'r', 'status')
  t.is(linux.code, 1)
  t.regex(linux.stderr, /node r is of kind linux, not ntkd: it runs no ntkd to ask \(ntkd nodes: a, b, c\)/)
  const undeclared = await ntklab('hear', lab, 'a', 'c', 'on')
  t.is(undeclared.code, 1)
  t.regex(undeclared.stderr, /a and c are both on segment air but the pair is not declared/)
  t.is((await ntklab('hear', lab, 'a', 'b', 'maybe')).code, 2)
  t.is((await ntklab('ntkctl', lab)).code, 2)
  const ambiguous = await ntklab('link', 'down', lab, 'a:eth1')
  t.is(ambiguous.code, 1)
  t.regex(ambiguous.stderr, /a:eth1 is on 2 links of lab .* \(a radio segment\): name both ends/)

  t.is((await ntklab('destroy', lab)).code, 0)
  t.deepEqual(await leftovers(lab, pids), [])
})

runnableIf(test, missingTools('dot'))('graph draws a topology as SVG through Graphviz', async t => {
  const svg = await ntklab('graph', path.join(root, 'topologies', 'ring4.yaml'), '--format', 'svg')
  t.is(svg.code, 0, svg.stderr)
  t.regex(svg.stdout, /<svg/)
})
