import anyTest, { type TestFn } from 'ava'
import { existsSync, promises as fs } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { DockerBackend, DockerNodesError, LABEL_KIND, LABEL_LAB, LABEL_NODE, LABEL_RUN } from '../src/backend/docker'
import { nodeNetnsName, type NodeHandle } from '../src/backend/backend'
import type { NodeSpec, ResolvedLab } from '../src/topology/model'
import { run, CommandError } from '../src/util/exec'
import { backendMissing, runnableIf } from './helpers/lab-fixture'

interface Context { backend: DockerBackend, lab: ResolvedLab, nodes: NodeHandle[] }
const test = anyTest as TestFn<Context>

// Where no engine answers (or not as root), every test is skipped saying why (a failure under NTK_REQUIRE_BACKENDS=1).
const missing = backendMissing('docker')
const engine = missing === undefined
const serial = runnableIf<Context>(test.serial, missing)

function nodeSpec (name: string, extra: Partial<NodeSpec> = {}): NodeSpec {
  return { name, kind: 'linux', env: { NTKLAB_TEST_NODE: name }, config: {}, interfaces: {}, exec: [], privileged: false, ...extra }
}

function labName (): string { return `dkt${randomBytes(3).toString('hex')}` }

async function netnsNames (): Promise<string[]> {
  return await fs.readdir('/run/netns').catch(() => [] as string[])
}

async function labContainers (backend: DockerBackend, lab: string): Promise<string[]> {
  const cs = await backend.docker.listContainers({ all: true, filters: { label: [`${LABEL_LAB}=${lab}`] } })
  return cs.map(c => c.Id)
}

/** Effective capability set of a host process, from /proc/<pid>/status. */
async function capEff (pid: number): Promise<bigint> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)
  if (m === null) throw new Error(`no CapEff in /proc/${pid}/status`)
  return BigInt('0x' + m[1])
}

test.before(async t => {
  if (!engine) return
  const backend = new DockerBackend()
  await backend.check()
  const lab: ResolvedLab = { name: labName(), nodes: [nodeSpec('a'), nodeSpec('b')], links: [], timeline: [] }
  t.context = { backend, lab, nodes: [] }
  const progress: number[] = []
  t.context.nodes = await backend.createNodes(lab, { progress: (done, total) => { progress.push(done); t.is(total, 2) } })
  t.deepEqual(progress.sort(), [1, 2])
})

test.after.always(async t => {
  if (!engine || t.context.lab === undefined) return
  await t.context.backend.removeLab(t.context.lab.name)
})

serial('createNodes gives running, labelled containers named after the lab and node', async t => {
  const { backend, lab, nodes } = t.context
  t.deepEqual(nodes.map(n => n.name), ['a', 'b'])
  for (const n of nodes) {
    t.truthy(n.containerId)
    const info = await backend.docker.getContainer(n.containerId as string).inspect()
    t.true(info.State.Running)
    t.is(info.State.Pid, n.pid)
    t.is(info.Name, `/ntklab-${lab.name}-${n.name}`)
    t.is(info.Config.Hostname, n.name)
    t.is(info.Config.Labels[LABEL_LAB], lab.name)
    t.is(info.Config.Labels[LABEL_NODE], n.name)
    t.is(info.Config.Labels[LABEL_KIND], 'linux')
    t.regex(info.Config.Labels[LABEL_RUN], /^[0-9a-f]{12}$/)
    t.is(info.HostConfig.NetworkMode, 'none')
    t.true(info.Config.Env.includes(`NTKLAB_TEST_NODE=${n.name}`))
    t.is(n.netns, nodeNetnsName(lab.name, n.name))
  }
  t.deepEqual((await backend.listLabs()).filter(l => l === lab.name), [lab.name])
})

serial('the node holder has NET_ADMIN, NET_RAW and SYS_ADMIN in its effective set', async t => {
  for (const n of t.context.nodes) {
    const caps = await capEff(n.pid)
    for (const [cap, bit] of [['NET_ADMIN', 12n], ['NET_RAW', 13n], ['SYS_ADMIN', 21n]] as const) {
      t.is((caps >> bit) & 1n, 1n, `${n.name} lacks CAP_${cap} (CapEff ${caps.toString(16)})`)
    }
  }
})

serial('a node has only lo, and the host reaches its namespace by name', async t => {
  for (const n of t.context.nodes) {
    const links = JSON.parse((await run(['ip', '-n', n.netns, '-j', 'link', 'show'])).stdout) as Array<{ ifname: string }>
    t.deepEqual(links.map(l => l.ifname), ['lo'])
    // The attached name is the container's own namespace, not a copy.
    const [hostView, containerView] = await Promise.all([
      fs.stat(`/run/netns/${n.netns}`), fs.stat(`/proc/${n.pid}/ns/net`)
    ])
    t.is(hostView.ino, containerView.ino)
  }
})

serial('exec runs tools inside the node, passes input and env, and checks exit codes', async t => {
  const { backend, nodes: [a] } = t.context
  t.regex((await backend.exec(a, ['ip', '-V'])).stdout, /iproute2/)
  const ping = await backend.exec(a, ['ping', '-V'])
  t.regex(ping.stdout + ping.stderr, /ping from iputils/)
  t.regex((await backend.exec(a, ['iptables', '-V'])).stdout, /iptables v[0-9.]+/)
  t.is((await backend.exec(a, ['cat'], { input: 'to stdin and back\n' })).stdout, 'to stdin and back\n')
  t.is((await backend.exec(a, ['sh', '-c', 'echo $NTK_X-$NTKLAB_TEST_NODE'], { env: { NTK_X: 'x1' } })).stdout, 'x1-a\n')
  const err = await t.throwsAsync(backend.exec(a, ['sh', '-c', 'echo bad >&2; exit 3']), { instanceOf: CommandError })
  t.is(err?.result.code, 3)
  t.is(err?.result.stderr, 'bad\n')
  t.is((await backend.exec(a, ['sh', '-c', 'exit 4'], { check: false })).code, 4)
})

serial('a node sets its own net sysctls, and only those', async t => {
  const { backend, nodes: [a] } = t.context
  const hostTtl = (await fs.readFile('/proc/sys/net/ipv4/ip_default_ttl', 'utf8')).trim()
  await backend.exec(a, ['sysctl', '-w', 'net.ipv4.ip_default_ttl=33'])
  t.is((await backend.exec(a, ['cat', '/proc/sys/net/ipv4/ip_default_ttl'])).stdout, '33\n')
  t.is((await fs.readFile('/proc/sys/net/ipv4/ip_default_ttl', 'utf8')).trim(), hostTtl)
  const r = await backend.exec(a, ['sysctl', '-w', 'kernel.hostname=dkt'], { check: false })
  t.not(r.code, 0)
  t.regex(r.stderr, /permission denied|read-only/i)
})

serial('nested ip netns add works inside a node and stays in its private /run/netns', async t => {
  const { backend, nodes: [a, b] } = t.context
  await backend.exec(a, ['ip', 'netns', 'add', 'ntkv0'])
  t.teardown(async () => { await backend.exec(a, ['ip', 'netns', 'delete', 'ntkv0'], { check: false }) })
  t.regex((await backend.exec(a, ['ip', 'netns', 'list'])).stdout, /^ntkv0/m)
  t.is((await backend.exec(b, ['ip', 'netns', 'list'])).stdout, '')
  t.false((await netnsNames()).includes('ntkv0'))
  // The host sees the nested namespace through the holder's root, as observe/ reads it.
  t.true(existsSync(`/proc/${a.pid}/root/run/netns/ntkv0`))
  await backend.exec(a, ['ip', '-n', 'ntkv0', 'link', 'set', 'lo', 'up'])
})

serial('spawnDetached starts a workload whose pid is alive and whose log the host reads', async t => {
  const { backend, nodes: [a] } = t.context
  const { pid, logFile } = await backend.spawnDetached(a, ['/bin/sh', '-c', 'echo started-$NTK_W; exec sleep 300'], { env: { NTK_W: 'w1' }, logFile: '/tmp/dkt-workload.log' })
  t.teardown(() => { try { process.kill(pid, 'SIGKILL') } catch {} })
  t.is(logFile, `/proc/${a.pid}/root/var/log/dkt-workload.log`)
  let log = ''
  for (let i = 0; i < 100 && !log.includes('started-w1'); i++) {
    log = await fs.readFile(logFile, 'utf8').catch(() => '')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  t.is(log, 'started-w1\n')
  // Same PID after `exec sleep`: the returned pid is the workload's, seen from the host.
  let cmdline = ''
  for (let i = 0; i < 100 && !cmdline.startsWith('sleep'); i++) {
    cmdline = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  t.is(cmdline.trim(), 'sleep 300')
  const [own, holder] = await Promise.all([fs.readlink(`/proc/${pid}/ns/net`), fs.readlink(`/proc/${a.pid}/ns/net`)])
  t.is(own, holder)
})

serial('a veth made from the host by netns name joins two nodes that then ping each other', async t => {
  const { backend, nodes: [a, b] } = t.context
  await run(['ip', 'link', 'add', 'name', 'eth1', 'netns', a.netns, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', b.netns])
  await run(['ip', '-n', a.netns, 'addr', 'add', '169.254.77.1/30', 'dev', 'eth1'])
  await run(['ip', '-n', b.netns, 'addr', 'add', '169.254.77.2/30', 'dev', 'eth1'])
  await run(['ip', '-n', a.netns, 'link', 'set', 'eth1', 'up'])
  await run(['ip', '-n', b.netns, 'link', 'set', 'eth1', 'up'])
  const r = await backend.exec(a, ['ping', '-c', '1', '-W', '3', '169.254.77.2'])
  t.regex(r.stdout, /1 received/)
  // The host's own namespace got neither the link nor the address.
  t.false((await run(['ip', '-j', 'addr', 'show'])).stdout.includes('169.254.77.'))
})

serial('createNodes removes what it made and names every failing node', async t => {
  const { backend } = t.context
  const lab: ResolvedLab = { name: labName(), nodes: [nodeSpec('ok'), nodeSpec('bad', { image: 'ntklab-missing:none' })], links: [], timeline: [] }
  t.teardown(async () => { await backend.removeLab(lab.name) })
  const err = await t.throwsAsync(backend.createNodes(lab), { instanceOf: DockerNodesError })
  t.regex(err?.message ?? '', /bad: node bad: image ntklab-missing:none is not present/)
  t.deepEqual(await labContainers(backend, lab.name), [])
  t.deepEqual((await netnsNames()).filter(n => n.startsWith(`ntklab-${lab.name}-`)), [])
  t.false((await backend.listLabs()).includes(lab.name))
})

serial('a node holder ends at once on SIGTERM (docker stop), with status 0', async t => {
  const { backend, nodes: [, b] } = t.context
  const c = backend.docker.getContainer(b.containerId as string)
  const start = performance.now()
  await c.stop({ t: 20 })
  t.true(performance.now() - start < 5000, `docker stop took ${Math.round(performance.now() - start)} ms`)
  t.is((await c.inspect()).State.ExitCode, 0)
})

serial('removeLab cleans up after a crashed run, leaves nothing of the lab, and can run twice', async t => {
  const { backend, lab, nodes } = t.context
  // A crash: the containers vanish without removeLab, their attached netns names stay behind.
  for (const n of nodes) await backend.docker.getContainer(n.containerId as string).remove({ force: true })
  t.deepEqual((await netnsNames()).filter(n => n.startsWith(`ntklab-${lab.name}-`)).sort(), nodes.map(n => n.netns).sort())
  t.true((await backend.listLabs()).includes(lab.name))
  await backend.removeLab(lab.name)
  await backend.removeLab(lab.name)
  t.deepEqual(await labContainers(backend, lab.name), [])
  t.deepEqual((await netnsNames()).filter(n => n.startsWith(`ntklab-${lab.name}-`)), [])
  t.false((await backend.listLabs()).includes(lab.name))
})
