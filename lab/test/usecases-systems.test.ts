import test from 'ava'
import path from 'node:path'
import { deployLab, type RunningLab } from '../src/lab'
import { loadTopology, type ResolvedLab } from '../src/topology'
import { ntkctlArgv } from '../src/topology/kinds/ntkd'
import { nftBinary } from '../src/wiring/radio'
import { checkedBackend, leftovers, runnableIf, uniqueLabName } from './helpers/lab-fixture'

// topologies/usecases/systems.yaml, the systems of the documented use cases (usecases.md §1.2-1.4) on one
// radio medium: the file as the documents fix it, and on netns, each daemon with its documented link-local
// forms arcs exactly with the systems its NIC hears (Grafo 1), then with ε too once γ–ε is turned on (Grafo 3).

const FILE = path.join(__dirname, '..', '..', 'topologies', 'usecases', 'systems.yaml')

const DOC: Record<string, { mac: string, ll: string, address: string }> = {
  alfa: { mac: '00:16:3E:FD:E2:AA', ll: '169.254.69.30', address: '3.0.1.0' },
  beta: { mac: '00:16:3E:EC:A3:E1', ll: '169.254.96.141', address: '1.0.1.0' },
  gamma: { mac: '00:16:3E:5B:78:D5', ll: '169.254.94.223', address: '2.1.1.0' },
  delta: { mac: '00:16:3E:1A:C4:45', ll: '169.254.253.216', address: '3.1.0.1' },
  mu: { mac: '00:16:3E:2D:8D:DE', ll: '169.254.119.176', address: '1.0.1.1' },
  epsilon: { mac: '00:16:3E:3C:14:33', ll: '169.254.163.36', address: '3.1.0.0' },
  lambda: { mac: '00:16:3E:06:3E:90', ll: '169.254.109.22', address: '1.1.0.0' }
}
/** Grafo 1 (§1.3): who each system's eth1 hears among the systems running ntkd. */
const GRAFO1: Record<string, string[]> = {
  alfa: ['beta'], beta: ['alfa', 'epsilon', 'gamma'], gamma: ['beta', 'delta'], delta: ['gamma', 'mu'],
  mu: ['delta'], epsilon: ['beta', 'lambda'], lambda: ['epsilon']
}

test('systems.yaml holds the documented MACs, link-locals, addresses and arcs (γ–ε deaf at first)', t => {
  const lab = loadTopology(FILE)
  for (const [name, d] of Object.entries(DOC)) {
    const n = lab.nodes.find(x => x.name === name)
    t.is(n?.kind, 'ntkd', name)
    t.is(n?.interfaces.eth1.mac, d.mac, `${name} MAC`)
    t.like(n?.config, { topology: [2, 1, 1, 1], address: d.address, serveAnonymous: true, linkLocals: { eth1: d.ll } }, name)
    t.true(n?.command?.join(' ').includes(`--link-local eth1=${d.ll}`), `${name} runs with its link-local`)
  }
  t.is(lab.nodes.find(n => n.name === 'lambda')?.config.subnetLevel, 1)
  t.is(lab.nodes.find(n => n.name === 'rho')?.kind, 'linux')
  t.deepEqual(lab.links.map(l => `${l.endpoints[0].node}-${l.endpoints[1].node} ${l.state}`), [
    'alfa-beta up', 'beta-gamma up', 'beta-epsilon up', 'gamma-delta up', 'delta-mu up', 'epsilon-lambda up', 'lambda-rho up', 'gamma-epsilon down'
  ])
})

async function arcsOf (lab: RunningLab, node: string): Promise<Array<{ peerMac: string, peerLinkLocal: string }>> {
  const r = await lab.exec(node, ntkctlArgv(['arcs', '--json']), { check: false })
  return r.code === 0 ? JSON.parse(r.stdout) as Array<{ peerMac: string, peerLinkLocal: string }> : []
}

/** Each system's neighbours by its arcs (peer MAC and link-local both the documented ones of one system). */
async function neighbours (lab: RunningLab): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  await Promise.all(Object.keys(DOC).map(async n => {
    out[n] = (await arcsOf(lab, n)).map(a => Object.entries(DOC).find(([, d]) => d.mac === a.peerMac.toUpperCase() && d.ll === a.peerLinkLocal)?.[0] ?? `${a.peerMac}/${a.peerLinkLocal}`).sort()
  }))
  return Object.fromEntries(Object.keys(DOC).map(n => [n, out[n]]))
}

async function neighboursWithin (lab: RunningLab, want: Record<string, string[]>, budgetMs: number): Promise<Record<string, string[]>> {
  const deadline = Date.now() + budgetMs
  for (;;) {
    const got = await neighbours(lab)
    if (JSON.stringify(got) === JSON.stringify(want) || Date.now() >= deadline) return got
    await new Promise(resolve => setTimeout(resolve, 500))
  }
}

const why = process.getuid?.() !== 0 ? 'it needs root' : (() => { try { nftBinary(); return undefined } catch (err) { return (err as Error).message } })()
runnableIf(test.serial, why)('netns: the daemons form arcs exactly along the medium\'s pairs, and γ–ε once it appears', async t => {
  const backend = await checkedBackend('netns')
  const spec: ResolvedLab = { ...loadTopology(FILE), name: uniqueLabName('usecases') }
  let lab: RunningLab | undefined
  t.teardown(async () => { await lab?.destroy().catch(() => {}) })
  lab = await deployLab(spec, backend)
  const pids = [...lab.nodes.values()].map(n => n.pid)
  const started = Date.now()
  t.deepEqual(await neighboursWithin(lab, GRAFO1, 30_000), GRAFO1, 'Grafo 1: arcs only between systems that hear each other')
  t.log(`arcs of Grafo 1 after ${Date.now() - started} ms`)
  for (const [name, d] of Object.entries(DOC)) {
    const st = JSON.parse((await lab.exec(name, ntkctlArgv(['status', '--json']))).stdout) as { address: string, nics: Array<{ name: string, mac: string, linkLocal: string }> }
    t.is(st.address, d.address, `${name} address`)
    t.deepEqual(st.nics, [{ name: 'eth1', mac: d.mac, linkLocal: d.ll }], `${name} eth1`)
  }
  t.is((await lab.exec('rho', ['ping', '-n', '-c', '1', '-W', '2', '169.254.109.22'], { check: false })).code, 0, 'ρ and λ reach each other\'s link-local (static routes on both)')

  await lab.setLinkState('gamma:eth1--epsilon:eth1', 'up')
  const grafo3 = { ...GRAFO1, gamma: ['beta', 'delta', 'epsilon'], epsilon: ['beta', 'gamma', 'lambda'] }
  t.deepEqual(await neighboursWithin(lab, grafo3, 30_000), grafo3, 'Grafo 3: the new arc γ–ε')

  await lab.destroy()
  lab = undefined
  t.deepEqual(await leftovers(spec.name, pids), [])
})
