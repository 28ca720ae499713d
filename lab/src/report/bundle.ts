import { mkdir, open, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { mapBounded } from '../util/pool'
import type { LabState } from '../scenario/lab-state'
import type { NodeObservation } from '../scenario/observation'
import type { ScenarioResult, StepResult } from '../scenario/result'
import { diffRoutes, expectRoutes, formatRouteDiff, type NodeRouteDiff, type RouteModels } from '../scenario/route-model'
import type { ScenarioLab } from '../scenario/scenario-lab'
import type { Step } from '../scenario/timeline'
import { GraphvizMissingError, renderGraph, type GraphMarks } from './graph'
import { formatTimeline } from './summary'
import { ntkctlArgv } from '../topology/kinds/ntkd'
import { addressFromDaemon, withTakenAddresses } from '../scenario/ntkd-taken'

/** The last part of a daemon log kept in a bundle. */
export const LOG_TAIL_BYTES = 256 * 1024

export const DEFAULT_STATUS_COMMANDS: Record<string, string[]> = {
  ntkd: ntkctlArgv(['status'])
}

export interface BundleInput {
  dir: string
  lab: ScenarioLab
  step: Step
  result: StepResult
  /** The scenario so far (timeline with planned and actual times). */
  scenario: ScenarioResult
  state: LabState
  stateBefore?: LabState
  models: RouteModels
  statusCommands?: Record<string, string[]>
  concurrency?: number
}

const json = (v: unknown): string => JSON.stringify(v, null, 2) + '\n'

function slug (s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40)
}

async function tail (file: string, bytes: number): Promise<string> {
  const fh = await open(file, 'r')
  try {
    const { size } = await fh.stat()
    const start = Math.max(0, size - bytes)
    const buf = Buffer.alloc(size - start)
    await fh.read(buf, 0, buf.length, start)
    return (start > 0 ? `[... first ${start} bytes cut ...]\n` : '') + buf.toString('utf8')
  } finally { await fh.close() }
}

function errorText (err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

async function dumpNode (input: BundleInput, node: string, folder: string): Promise<NodeObservation | undefined> {
  await mkdir(folder, { recursive: true })
  const lab = input.lab
  let obs: NodeObservation | undefined
  if (input.state.stopped.has(node)) await writeFile(path.join(folder, 'STOPPED'), 'the timeline stopped this node\n')
  try {
    obs = await lab.observe(node)
    await writeFile(path.join(folder, 'observation.json'), json(obs))
    await writeFile(path.join(folder, 'addresses.json'), json(obs.addresses))
    await writeFile(path.join(folder, 'routes.json'), json(obs.routes))
    await writeFile(path.join(folder, 'links.json'), json(obs.links ?? null))
    await writeFile(path.join(folder, 'rules.json'), json(obs.rules ?? null))
    await writeFile(path.join(folder, 'namespaces.json'), json(obs.namespaces ?? null))
    await writeFile(path.join(folder, 'iptables.txt'), typeof obs.iptables === 'string' ? obs.iptables : json(obs.iptables ?? null))
  } catch (err) {
    await writeFile(path.join(folder, 'observe-error.txt'), errorText(err) + '\n')
  }
  const log = lab.logFile(node)
  if (log !== undefined) {
    try { await writeFile(path.join(folder, 'log.txt'), await tail(log, LOG_TAIL_BYTES)) } catch (err) { await writeFile(path.join(folder, 'log.txt'), `cannot read ${log}: ${errorText(err)}\n`) }
  }
  const kind = lab.spec.nodes.find(n => n.name === node)?.kind ?? ''
  const status = (input.statusCommands ?? DEFAULT_STATUS_COMMANDS)[kind]
  if (status !== undefined && !input.state.stopped.has(node)) {
    try {
      const r = await lab.exec(node, status, { check: false })
      await writeFile(path.join(folder, 'status.txt'), `$ ${status.join(' ')}  (exit ${r.code})\n${r.stdout}${r.stderr !== '' ? `\n[stderr]\n${r.stderr}` : ''}`)
    } catch (err) { await writeFile(path.join(folder, 'status.txt'), `$ ${status.join(' ')}\n${errorText(err)}\n`) }
  }
  return obs
}

function notesOf (diffs: NodeRouteDiff[]): GraphMarks['notes'] {
  const notes: Record<string, string> = {}
  for (const d of diffs) {
    const parts = [d.missing.length > 0 ? `${d.missing.length} missing` : '', d.wrong.length > 0 ? `${d.wrong.length} wrong` : '', d.extra.length > 0 ? `${d.extra.length} extra` : ''].filter(x => x !== '')
    notes[d.node] = parts.join(', ')
  }
  return notes
}

/**
 * Writes what a person needs to see why a step failed, without rerunning: per node the state dumps,
 * log and status; the timeline with planned and actual times; the step's diff and the route diff
 * against the topology model; the graph with link states, partitions and the nodes that differ.
 * Returns the step's folder.
 */
export async function writeStepBundle (input: BundleInput): Promise<string> {
  const { step, result } = input
  const folder = path.join(input.dir, `step-${String(step.index + 1).padStart(2, '0')}-${slug(step.label)}`)
  await mkdir(folder, { recursive: true })
  const nodes = input.lab.spec.nodes.map(n => n.name)
  const observed = await mapBounded(nodes, input.concurrency ?? 4, async n => await dumpNode(input, n, path.join(folder, 'nodes', n)))
  const obs = new Map<string, NodeObservation>()
  nodes.forEach((n, i) => { const o = observed[i]; if (o !== undefined) obs.set(n, o) })

  // unaddressed ntkd nodes: the addresses they took; a node without one yet is left out of the model (named below)
  const taken = await withTakenAddresses(input.lab, new Set(nodes.filter(n => !input.state.stopped.has(n))))
  const unsettled = new Set(taken.problems.map(p => p.split(':')[0]))
  const modelSpec = { ...taken.spec, nodes: taken.spec.nodes.filter(n => !unsettled.has(n.name) && !(addressFromDaemon(n) && !input.state.stopped.has(n.name) && n.config.address === undefined)) }
  const expectations = expectRoutes({ ...modelSpec, links: modelSpec.links.filter(l => l.endpoints.every(e => modelSpec.nodes.some(n => n.name === e.node))) }, input.state, input.models)
  const routeDiff = diffRoutes(expectations, obs)
  const diffLines = [
    `step ${step.index + 1}: ${step.label}${step.source !== undefined ? ` (${step.source.file}:${step.source.line})` : ''}`,
    `status: ${result.status}`,
    ...(result.error !== undefined ? ['', 'error:', result.error.split('\n')[0]] : []),
    ...(result.diff !== undefined ? ['', `last check: ${result.diff.summary}`, ...result.diff.lines] : []),
    ...(taken.problems.length > 0 ? ['', 'left out of the route model (no address taken yet):', ...taken.problems] : []),
    '', 'routes now, expected (topology model) versus actual:',
    ...(routeDiff.length === 0 ? ['  all routes as expected'] : formatRouteDiff(routeDiff))
  ]
  await writeFile(path.join(folder, 'diff.txt'), diffLines.join('\n') + '\n')
  await writeFile(path.join(folder, 'diff.json'), json({ step: step.index + 1, label: step.label, status: result.status, error: result.error, check: result.diff ?? null, routes: routeDiff }))
  await writeFile(path.join(folder, 'expected-routes.json'), json(Object.fromEntries(expectations)))
  await writeFile(path.join(folder, 'timeline.txt'), formatTimeline(input.scenario))
  await writeFile(path.join(folder, 'timeline.json'), json(input.scenario))
  await writeFile(path.join(folder, 'state.json'), json({
    links: Object.fromEntries(input.state.links), impaired: [...input.state.impaired], stopped: [...input.state.stopped]
  }))

  const marks: GraphMarks = { notes: notesOf(routeDiff), title: `after step ${step.index + 1} (${step.label})` }
  await writeFile(path.join(folder, 'graph.mmd'), await renderGraph(input.lab.spec, input.state, 'mermaid', marks))
  await writeFile(path.join(folder, 'graph.dot'), await renderGraph(input.lab.spec, input.state, 'dot', marks))
  try {
    await writeFile(path.join(folder, 'graph.svg'), await renderGraph(input.lab.spec, input.state, 'svg', marks))
  } catch (err) {
    if (!(err instanceof GraphvizMissingError)) throw err
  }
  return folder
}
