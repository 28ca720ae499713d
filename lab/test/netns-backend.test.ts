import test from 'ava'
import { promises as fs, existsSync } from 'node:fs'
import { NetnsBackend, NETNS_STATE_ROOT } from '../src/backend/netns'
import { startHolders } from '../src/backend/netns/holder-server'
import { ipBatch } from '../src/util/exec'
import { isAlive, killAndWait } from '../src/util/proc'
import type { ResolvedLab } from '../src/topology/model'
import { backendMissing, leftovers, runnableIf, uniqueLabName } from './helpers/lab-fixture'

const serial = runnableIf(test.serial, backendMissing('netns'))

function labOf (name: string, nodes: string[]): ResolvedLab {
  return {
    name,
    nodes: nodes.map(n => ({ name: n, kind: 'linux', env: {}, config: {}, interfaces: {}, exec: [], privileged: false })),
    links: [],
    timeline: []
  }
}

serial('each node has its own /run/netns, /etc/iproute2 and /sys; removeLab leaves nothing', async t => {
  const backend = new NetnsBackend()
  const lab = labOf(uniqueLabName('tnb'), ['a', 'b', 'c'])
  t.teardown(async () => { await backend.removeLab(lab.name) })
  const nodes = await backend.createNodes(lab)
  const [a, b] = nodes
  t.deepEqual(nodes.map(n => n.netns), ['a', 'b', 'c'].map(n => `ntklab-${lab.name}-${n}`))
  const ids = await Promise.all(nodes.map(async n => await fs.readlink(`/proc/${n.pid}/ns/net`)))
  t.is(new Set(ids).size, 3, 'three distinct network namespaces')
  t.is(await fs.readlink(`/proc/${a.pid}/ns/net`), ids[0])

  await backend.exec(a, ['ip', 'netns', 'add', 'ntkv0'])
  t.regex((await backend.exec(a, ['ip', 'netns', 'list'])).stdout, /ntkv0/)
  t.notRegex((await backend.exec(b, ['ip', 'netns', 'list'])).stdout, /ntkv0/, 'invisible in another node')
  t.false(existsSync('/run/netns/ntkv0'), 'invisible on the host')

  const hostRtTables = await fs.readFile('/etc/iproute2/rt_tables', 'utf8')
  await backend.exec(a, ['sh', '-c', 'echo "251 ntk_netns_backend_test" >> /etc/iproute2/rt_tables'])
  t.regex((await backend.exec(a, ['cat', '/etc/iproute2/rt_tables'])).stdout, /251 ntk_netns_backend_test/)
  t.notRegex((await backend.exec(b, ['cat', '/etc/iproute2/rt_tables'])).stdout, /251 ntk_netns_backend_test/, 'node b keeps its own rt_tables')
  t.is(await fs.readFile('/etc/iproute2/rt_tables', 'utf8'), hostRtTables, 'the host keeps its own rt_tables')

  await ipBatch([`link add name x1 netns ${a.netns} type veth peer name y1 netns ${b.netns}`])
  t.deepEqual((await backend.exec(a, ['ls', '/sys/class/net'])).stdout.split(/\s+/).filter(Boolean).sort(), ['lo', 'x1'], '/sys shows the node\'s own interfaces')

  await backend.removeLab(lab.name)
  t.deepEqual(await leftovers(lab.name, nodes.map(n => n.pid)), [])
  t.false(existsSync(`${NETNS_STATE_ROOT}/${lab.name}`), 'state directory removed')
})

serial('the holder server reports a node it could not set up, by name, and the others are held', async t => {
  const dir = await fs.mkdtemp('/tmp/ntklab-holder-')
  t.teardown(async () => { await fs.rm(dir, { recursive: true, force: true }) })
  const results = await startHolders([
    { name: 'good', iproute2: '/etc/iproute2' },
    { name: 'bad', iproute2: `${dir}/missing` }
  ])
  t.teardown(async () => { for (const r of results) if (r.error === null) await killAndWait(r.pid) })
  t.is(results[0].error, null)
  t.true(await isAlive(results[0].pid))
  t.regex(results[1].error ?? '', /bind .*missing on \/etc\/iproute2: No such file or directory/)
  // it reports its error, then exits: a moment may pass between the two (CI run of this stop)
  const until = Date.now() + 2000
  while (await isAlive(results[1].pid) && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 20))
  t.false(await isAlive(results[1].pid), 'the failed holder exited (within 2 s of its report)')
})

serial('a deploy that fails half-way leaves no holder, name or state behind', async t => {
  const backend = new NetnsBackend()
  const lab = labOf(uniqueLabName('tnf'), ['a', 'b'])
  // A name already taken on the host makes `netns attach` fail after the holders exist.
  await fs.mkdir('/run/netns', { recursive: true })
  await fs.writeFile(`/run/netns/ntklab-${lab.name}-b`, '')
  t.teardown(async () => { await fs.rm(`/run/netns/ntklab-${lab.name}-b`, { force: true }) })
  await t.throwsAsync(backend.createNodes(lab), { message: /ntklab-.*-b|File exists/ })
  await fs.rm(`/run/netns/ntklab-${lab.name}-b`, { force: true })
  // A holder of this lab has the lab's state directory bound on /etc/iproute2 in its mount table
  // (other tests' holders may run at the same time: they don't).
  const sleepers: number[] = []
  for (const pid of (await fs.readdir('/proc')).filter(p => /^\d+$/.test(p)).map(Number)) {
    const mounts = await fs.readFile(`/proc/${pid}/mountinfo`, 'utf8').catch(() => '')
    if (mounts.includes(`/ntklab/netns/${lab.name}/`) && await isAlive(pid)) sleepers.push(pid)
  }
  t.deepEqual(sleepers, [], 'no holder process survives')
  t.deepEqual(await leftovers(lab.name, []), [])
  t.false(existsSync(`${NETNS_STATE_ROOT}/${lab.name}`))
})
