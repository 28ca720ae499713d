import test from 'ava'
import { defaultKinds, parseTopology } from '../src/topology'
import { scenarioFromLab } from '../src/scenario/scenario-file'
import { runScenario } from '../src/scenario/runner'
import { ntkdStatuses, type NtkdStatus } from '../src/scenario/ntkd-taken'
import { ntkctlArgv } from '../src/topology/kinds/ntkd'
import { ntkAddress, ntkGlobal } from '../src/scenario/ntk-addressing'
import { formatProbe } from '../src/scenario/probe'
import { assertNothingStale, deployFormed } from './helpers/ntkd-formed'
import { backendMissing, leftovers, runnableIf } from './helpers/lab-fixture'

// A merge that needs a migration path, on real kernels (netns; issue 13, spec §6.3 item 8): seven ntkd without
// addresses in a line, topology 4·2 (room for 8: four g-nodes of level 1, two places each), form one network; one
// g-node of level 1 keeps a free place. A lone daemon then meets the end of the line farthest from it: every g-node
// around that end is saturated up to the whole network, so border daemons migrate one g-node further each and the
// newcomer takes the place the first one freed. Afterwards one network, unique addresses, every table the model's,
// all pairs ping, one identity per daemon (the connectivity identities passed their check), nothing stale.

const LINE = ['j0', 'j1', 'j2', 'j3', 'j4', 'j5', 'j6']

function topology (): string {
  const links = LINE.slice(0, -1).map((n, k) => `  - endpoints: [${n}:eth2, ${LINE[k + 1]}:eth1]`)
  const nodes = LINE.map(n => `  ${n}: { config: { costs: { eth1: 1000, eth2: 1000 } } }`)
  return `name: migration-line
description: a line of seven ntkd in a 4·2 topology, then a lone daemon at one end
defaults:
  kind: ntkd
  config: { topology: [2, 1] }
nodes:
${nodes.join('\n')}
  g: { config: { costs: { eth1: 1000, eth2: 1000 } } }
links:
${links.join('\n')}
  - endpoints: [j0:eth1, g:eth1]
    state: down
  - endpoints: [j6:eth2, g:eth2]
    state: down
`
}

runnableIf(test.serial, backendMissing('netns'))('netns: a lone daemon meets a line whose g-nodes around it are saturated: a migration path makes room; one network, all pairs ping, nothing stale left', async t => {
  const yaml = topology()
  const { spec, lab, pids } = await deployFormed(t, yaml, 'migration-line.yaml', 'migr')

  // where the free place is, and the end of the line farthest from it (over the g-nodes of level 1 the line crosses)
  const statuses = await ntkdStatuses(lab, LINE)
  const address = new Map(LINE.map(n => [n, (statuses.get(n) as NtkdStatus).address]))
  const gnodeOf = (n: string): string => (address.get(n) as string).split('.').slice(0, -1).join('.')
  const sizes = new Map<string, number>()
  for (const n of LINE) sizes.set(gnodeOf(n), (sizes.get(gnodeOf(n)) ?? 0) + 1)
  const free = [...sizes].find(([, k]) => k < 2)?.[0]
  const described = LINE.map(n => `${n}=${address.get(n) ?? '?'}`).join(' ')
  if (free === undefined) { t.fail(`no g-node of level 1 with a free place: ${described}`); return }
  const hops = (from: string): number => {
    // distance between g-nodes of level 1 along the line (consecutive daemons in different g-nodes: one step)
    const seq = LINE.map(gnodeOf).filter((g, k, a) => k === 0 || a[k - 1] !== g)
    return Math.abs(seq.indexOf(from) - seq.lastIndexOf(free))
  }
  const v = hops(gnodeOf('j0')) >= hops(gnodeOf('j6')) ? 'j0' : 'j6'
  const d = hops(gnodeOf(v))
  t.log(`formed: ${described}; free place in g-node ${free}; the newcomer meets ${v}, ${d} g-node(s) away`)
  t.true(d >= 1, `the end farthest from the free place is in another g-node (${described})`)

  // traffic across the migrating g-nodes: v pings the daemon that holds the g-node with room (neither moves)
  const far = LINE.find(n => gnodeOf(n) === free) as string
  const farIp = ntkGlobal(ntkAddress([2, 1], address.get(far) as string))
  const meet = `timeline:
  - { name: ${v} pings ${far} across the g-nodes that migrate, probe: across, node: ${v}, to: ${farIp}, interval: 100ms }
  - name: the lone daemon meets the end of the line
    link: [${v}:${v === 'j0' ? 'eth1' : 'eth2'}, g:${v === 'j0' ? 'eth1' : 'eth2'}]
    state: up
  - name: one network, unique addresses, every table the model's
    wait: { network: single, identities: main, addresses: unique, converged: true }
    within: 90s
    interval: 500ms
  - expect: { reachability: all }
    within: 20s
  - { name: traffic across the migrations, probe-end: across }
`
  const after = { ...parseTopology(yaml + meet, 'migration-line.yaml', defaultKinds()), name: spec.name }
  const r = await runScenario(scenarioFromLab(after), lab, { seed: 2 })
  const failed = r.steps.find(s => s.status === 'failed')
  t.true(r.passed, `failed at ${failed?.label ?? '?'}: ${failed?.error ?? ''}\n${(failed?.diff?.lines ?? []).slice(0, 40).join('\n')}`)
  t.log(r.steps.map(s => `${s.label}: ${s.status} ${s.startedMs === undefined || s.endedMs === undefined ? '' : `${((s.endedMs - s.startedMs) / 1000).toFixed(1)} s`}`).join('\n'))
  const probe = r.steps.find(s => s.type === 'probe-end')?.metrics?.probe
  t.truthy(probe, 'the probe across the migrations reported')
  if (probe !== undefined) t.log(`${v} -> ${far} (${farIp}) while the path migrated: ${formatProbe(probe)}`)

  const events = new Map<string, Array<{ type: string, distance?: number }>>()
  for (const n of [...LINE, 'g']) {
    const res = await lab.exec(n, ntkctlArgv(['events']), { check: false })
    events.set(n, res.stdout.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as { type: string, distance?: number }))
  }
  const paths = (events.get(v) ?? []).filter(e => e.type === 'migration_path')
  t.true(paths.length >= 1, `${v} ran a migration path: ${(events.get(v) ?? []).map(e => e.type).join(',')}`)
  t.is(paths[paths.length - 1]?.distance, d, 'as many migrations as g-nodes between the newcomer and the free place')
  const migrated = LINE.filter(n => (events.get(n) ?? []).some(e => e.type === 'migrated'))
  t.true(migrated.length >= d, `daemons that migrated: ${migrated.join(',')}`)
  const now = await ntkdStatuses(lab, [...LINE, 'g'])
  const gAddr = (now.get('g') as NtkdStatus).address
  const vAddr = (now.get(v) as NtkdStatus).address
  t.is(gAddr.split('.').slice(0, -1).join('.'), vAddr.split('.').slice(0, -1).join('.'), `the newcomer sits in ${v}'s g-node (${gAddr}, ${vAddr})`)
  await assertNothingStale(t, lab, spec.nodes.map(n => n.name))
  await lab.destroy()
  t.deepEqual(await leftovers(spec.name, pids), [])
})
