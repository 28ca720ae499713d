#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { existsSync } from 'node:fs'
import { loadTopology } from '../topology'
import { makeBackend, BACKEND_NAMES } from '../backend'
import { deployLab, destroyLab, labExists, openLab, listRunFiles, readRunFile, runFileAlive, type RunFile, type RunningLab } from '../lab'
import { formatTable } from './table'
import path from 'node:path'
import { promises as fs } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import type { ResolvedLab } from '../topology/model'
import { loadScenario, scenarioFromLab, type Scenario } from '../scenario/scenario-file'
import { runScenario } from '../scenario/runner'
import { formatSummary } from '../report/summary'
import { junitXml } from '../report/junit'
import { renderGraph, type GraphFormat } from '../report/graph'
import { findPair } from '../scenario/lab-state'
import { labsWithSegments, removeSegments, segmentNamespaces } from '../wiring/radio'
import { ntkctlArgv } from '../topology/kinds/ntkd'

const USAGE = `usage: ntklab <command> [options]

Lab lifecycle
  deploy <topology.yaml> [--backend netns|docker] [--json]   bring a lab up (default backend: netns)
  destroy <lab|topology.yaml>...                              remove a lab (idempotent)
  inspect [<lab>] [--json]                                    running labs, or one lab's nodes and links
  cleanup [--lab <name>]                                      remove leftovers of crashed runs (all labs, or one)
  validate <topology.yaml>                                    check a topology file, create nothing
  run <scenario.yaml|topology.yaml> [--backend B] [--bundle-dir D] [--keep] [--keep-lab] [--seed N] [--junit F]
                                                              deploy, play the timeline, check every expectation,
                                                              destroy; exit 0 only when all held
  graph <topology.yaml> [--format mermaid|dot|svg]            draw a topology

Operating a running lab
  exec <lab> <node> -- <command...>                           run a command inside a node
  link up|down <lab> <node:if> [<node:if>]                    set both ends of a link up or down
  hear <lab> <node> <node> on|off [--segment S]               two nodes of a radio segment start or stop hearing each other
  impair <lab> <node:if> [--loss <percent>] [--rate <rate>] [--clear]
  node stop|start|kill <lab> <node>                           stop (SIGTERM), kill (SIGKILL) or start a node's workload
  observe <lab> [<node>]                                      addresses, routes of every table, rules, iptables,
                                                              nested namespaces, as JSON
  ntkctl <lab> <node> [--] <args...>                          run ntkctl against the node's own ntkd (its control socket)
`

class UsageError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

type Handler = (args: string[]) => Promise<number>

const commands: Record<string, Handler> = {
  async deploy (args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { backend: { type: 'string', default: 'netns' }, json: { type: 'boolean', default: false } } })
    if (positionals.length !== 1) throw new UsageError('deploy takes one topology file')
    const backendName = values.backend as string
    if (!(BACKEND_NAMES as readonly string[]).includes(backendName)) throw new UsageError(`unknown backend "${backendName}" (backends: ${BACKEND_NAMES.join(', ')})`)
    const spec = loadTopology(positionals[0])
    const lab = await deployLab(spec, makeBackend(backendName), { progress: msg => { process.stderr.write(`[${spec.name}] ${msg}\n`) } })
    const rf = await readRunFile(lab.spec.name)
    if (rf !== undefined) print(values.json === true, rf)
    return 0
  },

  async destroy (args) {
    const { positionals } = parseArgs({ args, allowPositionals: true, options: {} })
    if (positionals.length === 0) throw new UsageError('destroy takes at least one lab name or topology file')
    for (const arg of positionals) {
      const name = labNameOf(arg)
      const rf = await readRunFile(name)
      // Without a run file the lab may still have leftovers on either backend: sweep both.
      const backends = (rf !== undefined ? [rf.backend] : await availableBackends()).map(b => makeBackend(b))
      const existed = rf !== undefined || await labExists(name, backends)
      for (const b of backends) await destroyLab(name, b)
      process.stderr.write(existed ? `lab ${name} destroyed\n` : `no lab named ${name} (nothing to destroy)\n`)
    }
    return 0
  },

  async inspect (args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean', default: false } } })
    if (positionals.length > 1) throw new UsageError('inspect takes at most one lab name')
    if (positionals.length === 1) {
      const rf = await readRunFile(labNameOf(positionals[0]))
      if (rf === undefined) throw new Error(`no lab named ${positionals[0]} is running`)
      print(values.json === true, rf)
      return 0
    }
    const labs = await listRunFiles()
    if (values.json === true) {
      process.stdout.write(JSON.stringify(await Promise.all(labs.map(async rf => ({ name: rf.spec.name, backend: rf.backend, nodes: Object.keys(rf.nodes).length, links: rf.spec.links.length, alive: await runFileAlive(rf), createdAt: rf.createdAt }))), null, 2) + '\n')
    } else {
      const rows = await Promise.all(labs.map(async rf => [rf.spec.name, rf.backend, String(Object.keys(rf.nodes).length), String(rf.spec.links.length), (await runFileAlive(rf)) ? 'running' : 'broken', rf.createdAt]))
      process.stdout.write(labs.length === 0 ? 'no labs running\n' : formatTable(['LAB', 'BACKEND', 'NODES', 'LINKS', 'STATE', 'CREATED'], rows))
    }
    return 0
  },

  async cleanup (args) {
    const { values } = parseArgs({ args, options: { lab: { type: 'string' } } })
    const removed = new Set<string>()
    for (const b of await availableBackends()) {
      const backend = makeBackend(b)
      const labs = values.lab !== undefined ? [values.lab] : await backend.listLabs()
      for (const name of labs) {
        await destroyLab(name, backend)
        removed.add(name)
        process.stderr.write(`removed lab ${name} (${b})\n`)
      }
    }
    // Radio segments of labs whose nodes are gone already (a run that crashed between the two).
    const segmentLabs = values.lab !== undefined ? [values.lab] : await labsWithSegments()
    for (const name of segmentLabs) {
      if (removed.has(name) || (await segmentNamespaces(name)).length === 0) continue
      await removeSegments(name)
      process.stderr.write(`removed the radio segments of lab ${name}\n`)
    }
    return 0
  },

  async validate (args) {
    const { positionals } = parseArgs({ args, allowPositionals: true, options: {} })
    if (positionals.length !== 1) throw new UsageError('validate takes one topology file')
    const spec = loadTopology(positionals[0])
    const segments = spec.segments ?? []
    const radio = segments.length === 0 ? '' : `, ${segments.length} radio segment${segments.length === 1 ? '' : 's'} (${spec.links.filter(l => l.segment !== undefined).length} pairs)`
    process.stdout.write(`${positionals[0]}: lab ${spec.name}, ${spec.nodes.length} nodes, ${spec.links.filter(l => l.segment === undefined).length} links${radio}: valid\n`)
    return 0
  },

  async run (args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        backend: { type: 'string', default: 'netns' },
        'bundle-dir': { type: 'string', default: 'bundles' },
        keep: { type: 'boolean', default: false },
        'keep-lab': { type: 'boolean', default: false },
        seed: { type: 'string' },
        junit: { type: 'string' }
      }
    })
    if (positionals.length !== 1) throw new UsageError('run takes one scenario or topology file')
    const backendName = values.backend as string
    if (!(BACKEND_NAMES as readonly string[]).includes(backendName)) throw new UsageError(`unknown backend "${backendName}" (backends: ${BACKEND_NAMES.join(', ')})`)
    const seed = values.seed === undefined ? undefined : Number(values.seed)
    if (seed !== undefined && !Number.isSafeInteger(seed)) throw new UsageError(`--seed must be an integer, got "${String(values.seed)}"`)
    // Everything is validated (topology and steps) before anything is created.
    const { scenario, lab: spec } = await loadScenarioOrTopology(positionals[0])
    const say = (msg: string): void => { process.stderr.write(`[${spec.name}] ${msg}\n`) }
    const lab = await deployLab(spec, makeBackend(backendName), { progress: say })
    let result
    try {
      result = await runScenario(scenario, lab, { bundleDir: path.resolve(values['bundle-dir'] as string), keep: values.keep === true, seed, progress: say })
    } finally {
      if (values['keep-lab'] !== true) await lab.destroy()
      else say(`lab kept running: ntklab destroy ${spec.name}`)
    }
    process.stdout.write(formatSummary(result))
    if (values.junit !== undefined) await fs.writeFile(values.junit, junitXml([result]))
    return result.passed ? 0 : 1
  },

  async graph (args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { format: { type: 'string', default: 'mermaid' } } })
    if (positionals.length !== 1) throw new UsageError('graph takes one topology or scenario file')
    const format = values.format as string
    if (!['mermaid', 'dot', 'svg'].includes(format)) throw new UsageError(`unknown graph format "${format}" (formats: mermaid, dot, svg)`)
    const { lab } = await loadScenarioOrTopology(positionals[0])
    process.stdout.write(await renderGraph(lab, undefined, format as GraphFormat))
    return 0
  },

  async exec (args) {
    const dash = args.indexOf('--')
    const head = dash < 0 ? args : args.slice(0, dash)
    const cmd = dash < 0 ? [] : args.slice(dash + 1)
    if (head.length !== 2 || cmd.length === 0) throw new UsageError('exec <lab> <node> -- <command...>')
    const lab = await openLab(head[0], makeBackend)
    const r = await lab.exec(head[1], cmd, { check: false })
    process.stdout.write(r.stdout)
    process.stderr.write(r.stderr)
    return r.code
  },

  async link (args) {
    const [state, labName, ...ends] = args
    if ((state !== 'up' && state !== 'down') || labName === undefined || ends.length < 1 || ends.length > 2) {
      throw new UsageError('link up|down <lab> <node:if> [<node:if>]')
    }
    const lab = await openLab(labName, makeBackend)
    const id = findLink(lab, ends)
    await lab.setLinkState(id, state)
    process.stderr.write(`link ${id} ${state}\n`)
    return 0
  },

  async hear (args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { segment: { type: 'string' } } })
    const [labName, a, b, onOff] = positionals
    const state = onOff === 'on' || onOff === 'up' ? 'up' : onOff === 'off' || onOff === 'down' ? 'down' : undefined
    if (positionals.length !== 4 || state === undefined) throw new UsageError('hear <lab> <node> <node> on|off [--segment S]')
    const lab = await openLab(labName, makeBackend)
    const found = findPair(lab.spec, a, b, values.segment)
    if ('error' in found) throw new Error(`lab ${lab.spec.name}: ${found.error}`)
    await lab.setLinkState(found.link.id, state)
    process.stderr.write(`${found.link.endpoints[0].node} and ${found.link.endpoints[1].node} ${state === 'up' ? 'hear' : 'no longer hear'} each other on segment ${found.link.segment ?? ''}\n`)
    return 0
  },

  async ntkctl (args) {
    const [labName, name, ...rest] = args
    if (labName === undefined || name === undefined) throw new UsageError('ntkctl <lab> <node> [--] <args...>')
    const lab = await openLab(labName, makeBackend)
    const node = lab.spec.nodes.find(n => n.name === name)
    if (node === undefined) throw new Error(`lab ${lab.spec.name} has no node ${name} (nodes: ${lab.spec.nodes.map(n => n.name).join(', ')})`)
    if (node.kind !== 'ntkd') {
      const ntkd = lab.spec.nodes.filter(n => n.kind === 'ntkd').map(n => n.name)
      throw new Error(`node ${name} is of kind ${node.kind}, not ntkd: it runs no ntkd to ask (ntkd nodes: ${ntkd.join(', ') || 'none'})`)
    }
    const r = await lab.exec(name, ntkctlArgv(rest[0] === '--' ? rest.slice(1) : rest), { check: false })
    process.stdout.write(r.stdout)
    process.stderr.write(r.stderr)
    return r.code
  },

  async impair (args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { loss: { type: 'string' }, rate: { type: 'string' }, clear: { type: 'boolean', default: false } } })
    if (positionals.length < 2) throw new UsageError('impair <lab> <node:if> [<node:if>] [--loss <percent>] [--rate <rate>] [--clear]')
    const lab = await openLab(positionals[0], makeBackend)
    const id = findLink(lab, positionals.slice(1))
    if (values.clear === true) {
      await lab.impair(id, undefined)
      return 0
    }
    const loss = values.loss === undefined ? undefined : Number(values.loss)
    if (loss !== undefined && (!Number.isFinite(loss) || loss < 0 || loss > 100)) throw new UsageError(`--loss must be a percentage 0..100, got "${String(values.loss)}"`)
    if (loss === undefined && values.rate === undefined) throw new UsageError('impair needs --loss, --rate or --clear')
    await lab.impair(id, { loss, rate: values.rate })
    return 0
  },

  async node (args) {
    const [action, labName, name] = args
    if (!['stop', 'start', 'kill'].includes(action) || labName === undefined || name === undefined || args.length !== 3) {
      throw new UsageError('node stop|start|kill <lab> <node>')
    }
    const lab = await openLab(labName, makeBackend)
    if (action === 'start') await lab.startNode(name)
    else await lab.stopNode(name, { signal: action === 'kill' ? 'SIGKILL' : 'SIGTERM' })
    process.stderr.write(`node ${name}: ${action}\n`)
    return 0
  },

  async observe (args) {
    const { positionals } = parseArgs({ args, allowPositionals: true, options: {} })
    if (positionals.length < 1 || positionals.length > 2) throw new UsageError('observe <lab> [<node>]')
    const lab = await openLab(positionals[0], makeBackend)
    const names = positionals.length === 2 ? [positionals[1]] : [...lab.nodes.keys()]
    const out: Record<string, unknown> = {}
    for (const n of names) out[n] = await lab.observe(n)
    process.stdout.write(JSON.stringify(positionals.length === 2 ? out[names[0]] : out, null, 2) + '\n')
    return 0
  }
}

/** A scenario file names its topology; a topology file may carry its own timeline. */
async function loadScenarioOrTopology (file: string): Promise<{ scenario: Scenario, lab: ResolvedLab }> {
  const text = await fs.readFile(file, 'utf8').catch((err: Error) => { throw new Error(`${file}: cannot read: ${err.message}`) })
  // A file that does not parse goes to the topology loader, whose errors carry lines.
  let data: unknown
  try { data = parseYaml(text) } catch { data = undefined }
  if (typeof data === 'object' && data !== null && 'topology' in data) {
    return await loadScenario(file, async f => loadTopology(f))
  }
  const lab = loadTopology(file)
  return { scenario: scenarioFromLab(lab), lab }
}

/** A lab is named by its name or by the topology file that defines it. */
function labNameOf (arg: string): string {
  if (/\.ya?ml$/.test(arg) && existsSync(arg)) return loadTopology(arg).name
  return arg
}

function findLink (lab: RunningLab, ends: string[]): string {
  const matches = lab.spec.links.filter(l => ends.every(e => l.endpoints.some(ep => `${ep.node}:${ep.ifname}` === e)))
  if (matches.length > 1) {
    throw new Error(`${ends.join(' ')} is on ${matches.length} links of lab ${lab.spec.name} (a radio segment): name both ends (${matches.map(l => l.id).join(', ')})`)
  }
  if (matches.length !== 1) {
    throw new Error(`no link with endpoint${ends.length > 1 ? 's' : ''} ${ends.join(' ')} in lab ${lab.spec.name} (links: ${lab.spec.links.map(l => l.id).join(', ')})`)
  }
  return matches[0].id
}

async function availableBackends (): Promise<string[]> {
  const names: string[] = []
  for (const b of BACKEND_NAMES) {
    try {
      await makeBackend(b).check()
      names.push(b)
    } catch { /* a backend that is not available has nothing to clean */ }
  }
  return names
}

function print (json: boolean, rf: RunFile): void {
  if (json) {
    process.stdout.write(JSON.stringify({ name: rf.spec.name, backend: rf.backend, createdAt: rf.createdAt, nodes: Object.values(rf.nodes), links: rf.spec.links.map(l => ({ id: l.id, endpoints: l.endpoints, ...(l.segment !== undefined ? { segment: l.segment } : {}), ...rf.links[l.id] })) }, null, 2) + '\n')
    return
  }
  const nodeRows = rf.spec.nodes.map(n => {
    const r = rf.nodes[n.name]
    return [n.name, n.kind, rf.backend, String(r?.pid ?? '-'), r?.netns ?? '-', r?.containerId?.slice(0, 12) ?? '-', r?.workloadPid !== undefined ? `pid ${r.workloadPid}` : (n.command === undefined ? '-' : 'stopped')]
  })
  const linkRows = rf.spec.links.map(l => {
    const s = rf.links[l.id] ?? { state: l.state }
    const imp = s.impairment === undefined ? '-' : [s.impairment.loss !== undefined ? `loss ${s.impairment.loss}%` : '', s.impairment.rate !== undefined ? `rate ${s.impairment.rate}` : ''].filter(Boolean).join(', ')
    return [`${l.endpoints[0].node}:${l.endpoints[0].ifname}`, `${l.endpoints[1].node}:${l.endpoints[1].ifname}`, s.state, imp, l.segment === undefined ? 'veth' : `radio ${l.segment}`]
  })
  process.stdout.write(`lab ${rf.spec.name} (${rf.backend}, since ${rf.createdAt})\n\n`)
  process.stdout.write(formatTable(['NODE', 'KIND', 'BACKEND', 'PID', 'NETNS', 'CONTAINER', 'WORKLOAD'], nodeRows))
  process.stdout.write('\n')
  process.stdout.write(formatTable(['ENDPOINT A', 'ENDPOINT B', 'STATE', 'IMPAIRMENT', 'MEDIUM'], linkRows))
}

async function main (argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(USAGE)
    return cmd === undefined ? 2 : 0
  }
  const handler = commands[cmd]
  if (handler === undefined) throw new UsageError(`unknown command "${cmd}"`)
  return await handler(rest)
}

main(process.argv.slice(2)).then(code => { process.exitCode = code }, (err: unknown) => {
  const e = err as Error
  const usage = e.name === 'UsageError' || (e as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
  process.stderr.write(`ntklab: ${e.message}\n${usage ? '\n' + USAGE : ''}`)
  process.exitCode = usage ? 2 : 1
})
