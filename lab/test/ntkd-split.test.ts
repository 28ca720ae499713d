import test from 'ava'
import { defaultKinds, parseTopology } from '../src/topology'
import { scenarioFromLab } from '../src/scenario/scenario-file'
import { runScenario } from '../src/scenario/runner'
import { ntkdStatuses, type NtkdStatus } from '../src/scenario/ntkd-taken'
import { ntkctlArgv } from '../src/topology/kinds/ntkd'
import { connected, gnodeCut, gnodes, type Link } from './helpers/gnode-cut'
import { deployFormed } from './helpers/ntkd-formed'
import { backendMissing, leftovers, runnableIf } from './helpers/lab-fixture'

// A g-node split inside a network, on real kernels (netns; issue 14): a 3x3 grid of ntkd without addresses forms one
// network; then links inside one g-node go down so that its members reach each other only through other g-nodes
// (chosen from the addresses the daemons took). The island without the eldest leaves and enters again with a new
// address: afterwards one network, unique addresses, every g-node connected inside over the links that are up,
// every table the model's, all pairs ping; the island's daemons report network_exited and entered.

function grid (): { yaml: string, links: Link[] } {
  const name = (r: number, c: number): string => `g${r}${c}`
  const links: Link[] = []
  const nics = new Map<string, number>()
  const nic = (n: string): string => { const k = (nics.get(n) ?? 0) + 1; nics.set(n, k); return `eth${k}` }
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      if (c < 2) links.push({ a: name(r, c), b: name(r, c + 1), ifa: nic(name(r, c)), ifb: nic(name(r, c + 1)) })
      if (r < 2) links.push({ a: name(r, c), b: name(r + 1, c), ifa: nic(name(r, c)), ifb: nic(name(r + 1, c)) })
    }
  }
  const nodes = [...nics.keys()].sort().map(n => `  ${n}: { config: { costs: { ${Array.from({ length: nics.get(n) ?? 0 }, (_, k) => `eth${k + 1}: 1000`).join(', ')} } } }`)
  const yaml = `name: split-grid
description: a 3x3 grid of ntkd without addresses; a g-node is cut apart inside
defaults:
  kind: ntkd
  config: { topology: [2, 2, 2] }
nodes:
${nodes.join('\n')}
links:
${links.map(l => `  - endpoints: [${l.a}:${l.ifa}, ${l.b}:${l.ifb}]`).join('\n')}
`
  return { yaml, links }
}

runnableIf(test.serial, backendMissing('netns'))('netns: a 3x3 grid whose cut leaves a g-node in two pieces inside: the island leaves and enters again; one network, every g-node connected inside, all pairs ping; nothing stale left', async t => {
  const { yaml, links } = grid()
  const { spec, lab, pids } = await deployFormed(t, yaml, 'split-grid.yaml', 'gsplit')
  const names = spec.nodes.map(n => n.name)
  const statuses = await ntkdStatuses(lab, names)
  const addresses = new Map(names.map(n => [n, (statuses.get(n) as NtkdStatus).address]))
  const cut = gnodeCut(addresses, links)
  if (cut === null) { t.fail(`no link inside a g-node splits it apart (addresses ${[...addresses].map(([n, a]) => `${n}=${a}`).join(' ')})`); return }
  t.log(`addresses ${[...addresses].map(([n, a]) => `${n}=${a}`).join(' ')}; cut ${cut.map(l => `${l.a}-${l.b}`).join(' ')}`)

  const splitTimeline = `timeline:
${cut.map(l => `  - link: [${l.a}:${l.ifa}, ${l.b}:${l.ifb}]\n    state: down`).join('\n')}
  - name: the island left and entered again (a g-node in pieces routes as the model says, but its pieces do not ping)
    wait: { reachability: all }
    within: 60s
    interval: 500ms
  - name: one network, unique addresses, every table the model's
    expect: { network: single, identities: main, addresses: unique, converged: true }
    within: 30s
`
  const after = { ...parseTopology(yaml + splitTimeline, 'split-grid.yaml', defaultKinds()), name: spec.name }
  const r = await runScenario(scenarioFromLab(after), lab, { seed: 2 })
  const failed = r.steps.find(s => s.status === 'failed')
  t.true(r.passed, `failed at ${failed?.label ?? '?'}: ${failed?.error ?? ''}\n${(failed?.diff?.lines ?? []).slice(0, 40).join('\n')}`)
  t.log(r.steps.map(s => `${s.label}: ${s.status} ${s.startedMs === undefined || s.endedMs === undefined ? '' : `${((s.endedMs - s.startedMs) / 1000).toFixed(1)} s`}`).join('\n'))

  // every g-node connected inside over the links that are up, with the addresses taken now
  const now = await ntkdStatuses(lab, names)
  const addressesNow = new Map(names.map(n => [n, (now.get(n) as NtkdStatus).address]))
  const up = links.filter(l => !cut.includes(l))
  t.deepEqual(gnodes(addressesNow).filter(m => !connected(m, up)), [], `every g-node connected inside: ${[...addressesNow].map(([n, a]) => `${n}=${a}`).join(' ')}`)
  const events = new Map<string, string[]>()
  for (const n of names) {
    const res = await lab.exec(n, ntkctlArgv(['events']), { check: false })
    events.set(n, res.stdout.split('\n').filter(l => l.trim() !== '').map(l => (JSON.parse(l) as { type: string }).type))
  }
  const island = names.filter(n => events.get(n)?.includes('network_exited') === true)
  t.true(island.length > 0, 'some island left the network')
  t.true(names.some(n => events.get(n)?.includes('split_detected') === true), 'a border node detected the split')
  for (const n of island) t.not(addressesNow.get(n), addresses.get(n), `${n} re-entered with another address`)

  await lab.destroy()
  t.deepEqual(await leftovers(spec.name, pids), [])
})
