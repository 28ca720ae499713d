/*
 * Splits in the lab (issue 14), ntkd (no address configured, lab timers, 1000 µs on every arc) beside babeld (the
 * `babeld` kind, hello 0.5 s) on the same links and the same cuts, netns backend, in one run:
 *  - a ring of 8 cut twice (a network split), then healed;
 *  - a 5x5 grid cut in two (the five links between columns 2 and 3), then healed;
 *  - a 3x3 grid cut inside one of ntkd's g-nodes (chosen from the addresses taken; the network stays connected):
 *    the island leaves and enters again. babeld gets the same cut (a reroute for it).
 * Times are from the cut (or heal) to the first passing check's end (the lab's `converged`/`withdrawn` conditions,
 * checked every 250-500 ms), so they include the checks themselves. Prints a markdown table.
 *
 *   npx ts-node --transpile-only bench/split-lab.ts [ring,grid5,gnode]     (as root; the cases to run, all by default)
 */
import os from 'node:os'
import { makeBackend } from '../lab/src/backend'
import { deployLab, type RunningLab } from '../lab/src/lab'
import { defaultKinds, parseTopology } from '../lab/src/topology'
import { registerBabeld } from '../lab/src/topology/kinds/babeld'
import { scenarioFromLab } from '../lab/src/scenario/scenario-file'
import { runScenario } from '../lab/src/scenario/runner'
import type { ScenarioResult } from '../lab/src/scenario/result'
import { ntkdStatuses, type NtkdStatus } from '../lab/src/scenario/ntkd-taken'
import { gnodeCut, type Link } from '../lab/test/helpers/gnode-cut'

interface Graph { nodes: string[], links: Link[] }

function graphOf (pairs: Array<[string, string]>): Graph {
  const nics = new Map<string, number>()
  const nic = (n: string): string => { const k = (nics.get(n) ?? 0) + 1; nics.set(n, k); return `eth${k}` }
  const links = pairs.map(([a, b]) => ({ a, b, ifa: nic(a), ifb: nic(b) }))
  return { nodes: [...nics.keys()].sort(), links }
}
const ring = (n: number): Graph => graphOf(Array.from({ length: n }, (_, i) => [`r${i + 1}`, `r${(i + 1) % n + 1}`]))
function grid (rows: number, cols: number): Graph {
  const pairs: Array<[string, string]> = []
  for (let r = 1; r <= rows; r++) for (let c = 1; c <= cols; c++) {
    if (c < cols) pairs.push([`g${r}x${c}`, `g${r}x${c + 1}`])
    if (r < rows) pairs.push([`g${r}x${c}`, `g${r + 1}x${c}`])
  }
  return graphOf(pairs)
}

const KINDS = (): ReturnType<typeof defaultKinds> => { const k = defaultKinds(); if (!k.has('babeld')) registerBabeld(k); return k }

function yamlOf (name: string, g: Graph, kind: 'ntkd' | 'babeld', timeline: string): string {
  const nicsOf = (n: string): string[] => g.links.flatMap(l => l.a === n ? [l.ifa] : l.b === n ? [l.ifb] : [])
  const nodes = g.nodes.map((n, i) => kind === 'ntkd'
    ? `  ${n}: { config: { costs: { ${nicsOf(n).map(x => `${x}: 1000`).join(', ')} } } }`
    : `  ${n}: { config: { address: 172.31.${Math.floor(i / 250)}.${i % 250 + 1}/32 } }`)
  return `name: ${name}
defaults:
  kind: ${kind}
${kind === 'ntkd' ? '  config: { topology: [2, 2, 2] }\n' : ''}nodes:
${nodes.join('\n')}
links:
${g.links.map(l => `  - endpoints: [${l.a}:${l.ifa}, ${l.b}:${l.ifb}]`).join('\n')}
${timeline}`
}

const linkEvents = (links: readonly Link[], state: 'up' | 'down'): string => links.map(l => `  - link: [${l.a}:${l.ifa}, ${l.b}:${l.ifb}]\n    state: ${state}`).join('\n')
const wait = (name: string, cond: string, within: string, interval = '500ms'): string => `  - name: ${JSON.stringify(name)}\n    wait: ${cond}\n    within: ${within}\n    interval: ${interval}`

const FORMED = { ntkd: '{ network: single, identities: main, addresses: unique, converged: true }', babeld: '{ converged: true }' }

async function scenario (lab: RunningLab, yaml: string, name: string): Promise<ScenarioResult> {
  const spec = { ...parseTopology(yaml, `${name}.yaml`, KINDS()), name }
  const r = await runScenario(scenarioFromLab(spec), lab, { seed: 1 })
  const failed = r.steps.find(s => s.status === 'failed')
  if (failed !== undefined) throw new Error(`${name}: ${failed.label}: ${failed.error ?? ''}`)
  return r
}

/** The end of the first passing check after the event, per wait step label. */
const times = (r: ScenarioResult): Map<string, number | undefined> => new Map(r.steps.filter(s => s.type === 'wait').map(s => [s.label, s.metrics?.convergedByMs]))

interface Row { case: string, daemon: string, formedS: number | undefined, steps: Array<[string, number | undefined]>, note: string }

async function runCase (caseName: string, g: Graph, kind: 'ntkd' | 'babeld', cut: (lab: RunningLab) => Promise<{ links: Link[], note: string }>, healToo: boolean, networkSplit: boolean): Promise<Row> {
  const backend = makeBackend('netns')
  const name = `bsplit${kind === 'ntkd' ? 'n' : 'b'}${Math.floor(Math.random() * 1e6)}`
  const base = yamlOf(name, g, kind, '')
  const spec = { ...parseTopology(base, `${name}.yaml`, KINDS()), name }
  const lab = await deployLab(spec, backend)
  try {
    const formed = await scenario(lab, yamlOf(name, g, kind, `timeline:\n${wait('formed', FORMED[kind], '180s')}\n`), name)
    const { links, note } = await cut(lab)
    const after: string[] = [linkEvents(links, 'down')]
    if (networkSplit) after.push(wait('withdrawn', '{ withdrawn: true }', '30s', '250ms'))
    if (kind === 'ntkd' && networkSplit) after.push(wait('two networks routing apart', '{ network: single, identities: main, converged: true }', '90s'))
    // a g-node in pieces routes as the model says until it is repaired: all pairs ping only once the island re-entered
    if (!networkSplit) after.push(wait(kind === 'ntkd' ? 'island re-entered: all pairs ping' : 'all pairs ping', '{ reachability: all }', '90s'))
    if (healToo) after.push(linkEvents(links, 'up'), wait('healed: one network', FORMED[kind], '90s'))
    const r = await scenario(lab, yamlOf(name, g, kind, `timeline:\n${after.join('\n')}\n`), name)
    return { case: caseName, daemon: kind, formedS: times(formed).get('formed'), steps: [...times(r)], note }
  } finally { await lab.destroy().catch(() => {}) }
}

const middleCut = (g: Graph): Link[] => g.links.filter(l => /x2$/.test(l.a) && /x3$/.test(l.b))

async function main (): Promise<void> {
  const rows: Row[] = []
  const only = new Set((process.argv[2] ?? 'ring,grid5,gnode').split(','))
  const ring8 = ring(8)
  const ringCut = [ring8.links[1], ring8.links[5]]
  if (only.has('ring')) for (const kind of ['ntkd', 'babeld'] as const) rows.push(await runCase('ring of 8 cut twice', ring8, kind, async () => ({ links: ringCut, note: 'r2-r3, r6-r7' }), true, true))
  const g55 = grid(5, 5)
  if (only.has('grid5')) for (const kind of ['ntkd', 'babeld'] as const) rows.push(await runCase('5x5 grid cut in two', g55, kind, async () => ({ links: middleCut(g55), note: 'columns 2 | 3' }), true, true))
  // the 3x3 grid: the g-node cut is chosen on ntkd's addresses, then the same links are cut under babeld
  const g33 = grid(3, 3)
  let chosen: Link[] = []
  if (only.has('gnode')) rows.push(await runCase('3x3 grid cut inside a g-node', g33, 'ntkd', async lab => {
    const st = await ntkdStatuses(lab, g33.nodes)
    const addr = new Map(g33.nodes.map(n => [n, (st.get(n) as NtkdStatus).address]))
    chosen = gnodeCut(addr, g33.links) ?? []
    if (chosen.length === 0) throw new Error('no g-node cut found')
    return { links: chosen, note: chosen.map(l => `${l.a}-${l.b}`).join(', ') }
  }, false, false))
  if (only.has('gnode')) rows.push(await runCase('3x3 grid cut inside a g-node', g33, 'babeld', async () => ({ links: chosen, note: 'the same links' }), false, false))

  const s = (ms: number | undefined): string => ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`
  console.log(`Splits in the lab (netns), ntkd (lab timers, no address, 1000 µs arcs) and babeld on the same cuts; ${new Date().toISOString()}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(2)}`)
  console.log('')
  console.log('| case | daemon | formed | after the cut | healed | cut |')
  console.log('| --- | --- | --- | --- | --- | --- |')
  for (const r of rows) {
    const cutSteps = r.steps.filter(([l]) => !l.startsWith('healed')).map(([l, ms]) => `${l} ${s(ms)}`).join('; ')
    const healed = r.steps.find(([l]) => l.startsWith('healed'))
    console.log(`| ${r.case} | ${r.daemon} | ${s(r.formedS)} | ${cutSteps} | ${healed === undefined ? '-' : s(healed[1])} | ${r.note} |`)
  }
}

main().catch(e => { console.error(e); process.exitCode = 1 })
