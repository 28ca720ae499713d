import test from 'ava'
import { deployLab, type RunningLab } from '../src/lab'
import { defaultKinds, parseTopology } from '../src/topology'
import type { ResolvedLab } from '../src/topology/model'
import { ntkctlArgv } from '../src/topology/kinds/ntkd'
import { parseScenarioFile } from '../src/scenario/scenario-file'
import { runScenario } from '../src/scenario/runner'
import { backendMissing, checkedBackend, leftovers, runnableIf, uniqueLabName } from './helpers/lab-fixture'

// entr01 of the use cases (μ0 = 1·0·1·1 enters Gδ) on both backends, δ and μ on one veth with their documented MACs
// and link-locals: the operation by ntkctl, the kernel state §2.8 prescribes, and the old identity μ0 really
// living in its own namespace: its pseudo-interface ntkv0_eth1 (a macvlan of eth1 with its own MAC) carries μ0's
// traffic (its counters grow, δ's neighbour table holds its MAC at its link-local, δ's identity-arc to μ0 names
// both), until μ0 is dismissed and its namespace goes.

const TOPOLOGY = (name: string): string => `name: ${name}
defaults: { kind: ntkd }
kinds:
  ntkd: { config: { topology: [2, 1, 1, 1], serveAnonymous: true, qspnArcs: manual } }
nodes:
  delta:
    interfaces: { eth1: { mac: 00:16:3E:1A:C4:45 } }
    config: { address: "3.1.0.1", linkLocals: { eth1: 169.254.253.216 } }
  mu:
    interfaces: { eth1: { mac: 00:16:3E:2D:8D:DE } }
    config: { address: "1.0.1.1", linkLocals: { eth1: 169.254.119.176 } }
links:
  - { endpoints: [delta:eth1, mu:eth1] }
`

const ENTR01 = `topology: pair.yaml
timeline:
  - name: the arc δ–μ (host routes to each other's link-local)
    expect: { kernel: { delta: { default: { routes: { main: { 169.254.119.176/32: '*' } } } }, mu: { default: { routes: { main: { 169.254.253.216/32: '*' } } } } } }
    within: 30s
  - { name: entr01 prepare, node: mu, ntkctl: [prepare-enter-net, '0', '0', '1', 3.1.0, 0.0.0, '2', '1', '0', '2', '2', '1', '[00:16:3E:1A:C4:45]', '3069540', 'null'] }
  - { name: entr01 phase 1, node: mu, ntkctl: [enter-net-phase-1, '0', '3069540'] }
  - { name: entr01 delta adds the qspn-arc, node: delta, ntkctl: [add-qspn-arc, '0', eth1, '00:16:3E:2D:8D:DE'] }
  - name: entr01 μ1 is 3·1·0·0, μ0 in ntkv0
    expect:
      kernel:
        mu:
          default: { addresses: { eth1: [__exactly__, 169.254.119.176/32, 10.0.0.28/32, 10.0.0.92/32, 10.0.0.60/32, 10.0.0.48/32, 10.0.0.40/32] } }
          ntkv0: { links: { ntkv0_eth1: '*' }, routes: { ntk: null }, nat: [__exactly__] }
        delta:
          default:
            routes:
              ntk:
                10.0.0.28/32: { gateway: 169.254.119.176, dev: eth1, src: 10.0.0.29 }
                10.0.0.40/32: { gateway: 169.254.119.176, src: 10.0.0.41 }
            rules: [table ntk, fwmark 250 table ntk_from_00:16:3E:2D:8D:DE]
            marks: { '00:16:3E:2D:8D:DE': ntk_from_00:16:3E:2D:8D:DE }
    within: 30s
`

const DISMISS = `topology: pair.yaml
timeline:
  - { name: entr01 μ0 dismissed, node: mu, ntkctl: [remove-identity, '0'] }
  - expect: { kernel: { mu: { ntkv0: null, default: { links: { ntkv0_eth1: null } } } } }
    within: 15s
  - { name: step 14 δ reaches μ, node: delta, exec: ping -n -q -c 3 -W 2 10.0.0.28, within: 15s }
`

interface IdentityView { index: number, kind: string, netns: string, nics: Array<{ dev: string, mac: string, linkLocal: string }>, arcs: Array<{ peerMac: string, peerLinkLocal: string, peerId: string }>, id: string }

for (const backendName of ['netns', 'docker'] as const) {
  runnableIf(test.serial, backendMissing(backendName))(`${backendName}: entr01 by ntkctl gives the §2.8 kernel state; μ0's traffic leaves through its pseudo-interface; its dismissal removes its namespace`, async t => {
    const backend = await checkedBackend(backendName)
    const name = uniqueLabName('entr01')
    const spec: ResolvedLab = parseTopology(TOPOLOGY(name), 'pair.yaml', defaultKinds())
    let lab: RunningLab | undefined
    t.teardown(async () => { await lab?.destroy().catch(() => {}) })
    lab = await deployLab(spec, backend)
    const pids = [...lab.nodes.values()].map(n => n.pid)
    const run = async (text: string): Promise<void> => {
      const r = await runScenario(parseScenarioFile(text, 'entr01.yaml').compile(spec), lab as RunningLab, { seed: 1 })
      const failed = r.steps.find(s => s.status === 'failed')
      if (failed !== undefined) t.fail(`${failed.label}: ${failed.error ?? ''}\n${JSON.stringify(failed.diff ?? null).slice(0, 2000)}`)
    }
    await run(ENTR01)

    // μ0 in ntkv0: its pseudo-interface's MAC and link-local, as μ's ntkctl shows them
    const ids = JSON.parse((await lab.exec('mu', ntkctlArgv(['identities', '--json']))).stdout) as IdentityView[]
    const mu0 = ids.find(i => i.index === 0)
    t.like(mu0, { kind: 'connectivity', netns: 'ntkv0' })
    const pseudo = mu0?.nics.find(n => n.dev === 'ntkv0_eth1')
    t.truthy(pseudo, JSON.stringify(mu0))
    if (pseudo === undefined || mu0 === undefined) return
    t.regex(pseudo.mac, /^4E(:[0-9A-F]{2}){5}$/, 'a random locally administered MAC')
    t.not(pseudo.mac, '00:16:3E:2D:8D:DE')
    const txPackets = async (): Promise<number> => {
      const r = await lab!.exec('mu', ['ip', '-n', 'ntkv0', '-s', '-j', 'link', 'show', 'ntkv0_eth1'])
      return (JSON.parse(r.stdout) as Array<{ stats64: { tx: { packets: number } } }>)[0].stats64.tx.packets
    }
    const before = await txPackets()
    // δ's identity-arc to μ0 names the pseudo-interface's MAC and link-local; QSPN's keepalive traffic between δ0
    // and μ0 flows over it
    const dIds = JSON.parse((await lab.exec('delta', ntkctlArgv(['identities', '--json']))).stdout) as IdentityView[]
    t.true(dIds.some(i => i.arcs.some(a => a.peerId === mu0.id && a.peerMac === pseudo.mac && a.peerLinkLocal === pseudo.linkLocal)), JSON.stringify(dIds.map(i => i.arcs)))
    // μ0 talks to δ from its namespace: a ping from ntkv0 to δ's link-local leaves through the pseudo-interface
    const ping = await lab.exec('mu', ['ip', 'netns', 'exec', 'ntkv0', 'ping', '-n', '-q', '-c', '3', '-W', '2', '-I', 'ntkv0_eth1', '169.254.253.216'], { check: false })
    t.is(ping.code, 0, ping.stdout + ping.stderr)
    t.true(await txPackets() >= before + 3, 'the pseudo-interface sent them')
    const neigh = await lab.exec('delta', ['ip', '-j', 'neigh', 'show', 'dev', 'eth1'])
    const entries = JSON.parse(neigh.stdout) as Array<{ dst: string, lladdr?: string }>
    t.true(entries.some(e => e.dst === pseudo.linkLocal && e.lladdr?.toUpperCase() === pseudo.mac), `δ saw μ0 at its own MAC: ${neigh.stdout}`)

    await run(DISMISS)
    await lab.destroy()
    lab = undefined
    t.deepEqual(await leftovers(spec.name, pids), [])
  })
}
