import type { Impairment, ResolvedLab } from '../topology/model'
import type { KeyPath } from '../topology/yaml-locate'
import { parseDuration } from './duration'
import { findLink, findPair } from './lab-state'
import { ntkctlArgv } from '../topology/kinds/ntkd'

/** Assertions of an `expect` block or an object `wait`, already validated against the lab. */
export interface Assertions {
  converged?: boolean
  withdrawn?: boolean
  reachability?: 'partitions' | 'all' | 'none'
  addresses?: { unique: boolean, within?: string, interfaces?: string[], nodes?: Record<string, string[]> }
  routes?: Record<string, Record<string, unknown>>
  /** Per node, per namespace ("default", "ntkv0"...): a JSON subset of its kernel view (see kernel-view.ts). */
  kernel?: Record<string, Record<string, unknown>>
  components?: string[][]
  /** ntkd: one network id per connected component (and none shared by two). */
  network?: 'single'
  /** ntkd: every node holds its main identity only. */
  identities?: 'main'
}

export type Condition = 'converged' | 'reachable' | 'withdrawn' | 'routes-present' | Assertions

export type Event =
  | { type: 'link', link: string /* link id, or 'random' */, state?: 'up' | 'down', impair?: Impairment | null }
  | { type: 'node', node: string, action: 'stop' | 'start' | 'kill' }
  /** `within`: the command is run again every `interval` until it exits with `code`, for at most that long. */
  | { type: 'exec', node: string, argv: string[], code: number, within?: number, interval?: number }
  /** Commands started at the same time (the operator's several terminals); the step waits for all of them. */
  | { type: 'together', commands: Array<{ node: string, argv: string[], code: number }> }
  /** A continuous ping from `node` to `to` in the background, until the probe-end step of the same id (or `maxMs`). */
  | { type: 'probe', id: string, node: string, to: string, intervalMs: number, maxMs: number }
  /** Ends probe `id` and checks its longest outage and its loss. */
  | { type: 'probe-end', id: string, maxOutageMs?: number, maxLossPercent?: number }
  | { type: 'wait', condition: Condition, within: number, hold: number, interval: number, sample?: number, nextHops: boolean }
  | { type: 'expect', assertions: Assertions, within: number, hold: number, interval: number, nextHops: boolean }

export interface Step {
  index: number
  label: string
  /** Absolute offset from the timeline start (ms), or delay after the previous step. */
  timing: { at: number } | { after: number }
  event: Event
  /** Where the step is written, for messages. */
  source?: { file: string, line: number }
}

/** What went wrong with one key of a step, before locating it in a file. */
export interface StepProblem { path: KeyPath, message: string }

export const DEFAULT_WAIT_MS = 30_000
export const DEFAULT_EXPECT_MS = 10_000
export const DEFAULT_INTERVAL_MS = 500
export const DEFAULT_WITHDRAWN_HOLD_MS = 2_000
export const DEFAULT_PROBE_INTERVAL_MS = 100
export const DEFAULT_PROBE_MAX_MS = 600_000

const EVENT_KEYS = ['link', 'hear', 'node', 'exec', 'ntkctl', 'together', 'probe', 'probe-end', 'wait', 'expect'] as const

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function argvOf (cmd: unknown): string[] {
  return typeof cmd === 'string' ? ['sh', '-c', cmd] : (cmd as string[])
}

function describe (e: Event): string {
  switch (e.type) {
    case 'link': return `link ${e.link}${e.state !== undefined ? ` ${e.state}` : ''}${e.impair !== undefined ? ` impair ${e.impair === null ? 'none' : JSON.stringify(e.impair)}` : ''}`
    case 'node': return `${e.action} ${e.node}`
    case 'exec': return `exec ${e.node}: ${e.argv[0] === 'sh' && e.argv[1] === '-c' ? e.argv[2] : e.argv.join(' ')}`
    case 'wait': return `wait ${typeof e.condition === 'string' ? e.condition : Object.keys(e.condition).join('+')}`
    case 'expect': return `expect ${Object.keys(e.assertions).join('+')}`
    case 'together': return `together: ${e.commands.map(c => c.node).join(', ')}`
    case 'probe': return `probe ${e.id}: ${e.node} pings ${e.to}`
    case 'probe-end': return `probe ${e.id} ends`
  }
}

/**
 * Turns schema-valid raw steps into Steps, checking them against the lab: node names, links,
 * exactly one event per step, keys that belong to that event. Returns every problem found.
 * `base` is the key path of the list in its file (['timeline']).
 */
export function compileTimeline (raw: readonly unknown[], lab: ResolvedLab, base: KeyPath = ['timeline']): { steps: Step[], problems: StepProblem[] } {
  const problems: StepProblem[] = []
  const steps: Step[] = []
  const nodes = new Set(lab.nodes.map(n => n.name))
  /** Probes started by the steps so far and not ended yet. */
  const probes = new Set<string>()
  raw.forEach((r, index) => {
    const at = (...p: Array<string | number>): KeyPath => [...base, index, ...p]
    const bad = (message: string, ...p: Array<string | number>): void => { problems.push({ path: at(...p), message }) }
    if (!isObject(r)) { bad('a step is a map of keys'); return }
    const events = EVENT_KEYS.filter(k => r[k] !== undefined)
    const nodeIsAction = events.includes('node') && (events.includes('exec') || events.includes('ntkctl') || events.includes('probe'))
    const kinds = nodeIsAction ? events.filter(k => k !== 'node') : events
    if (kinds.length !== 1) {
      bad(kinds.length === 0
        ? `a step needs one event: ${EVENT_KEYS.join(', ')}`
        : `a step has one event, this one has ${kinds.join(' and ')}`)
      return
    }
    if (r.at !== undefined && r.after !== undefined) { bad('give either at or after, not both', 'after'); return }
    const allowed: Record<typeof EVENT_KEYS[number], string[]> = {
      link: ['link', 'state', 'impair'],
      hear: ['hear', 'state', 'segment'],
      node: ['node', 'action'],
      exec: ['exec', 'node', 'code', 'within', 'interval'],
      ntkctl: ['ntkctl', 'node', 'code', 'within', 'interval'],
      together: ['together'],
      probe: ['probe', 'node', 'to', 'interval', 'for'],
      'probe-end': ['probe-end', 'max-outage', 'max-loss'],
      wait: ['wait', 'within', 'hold', 'interval', 'sample', 'next-hops'],
      expect: ['expect', 'within', 'hold', 'interval', 'next-hops']
    }
    const kind = kinds[0]
    const common = ['name', 'at', 'after']
    for (const k of Object.keys(r)) {
      if (!common.includes(k) && !allowed[kind].includes(k)) bad(`${k} does not belong to a ${kind} step (it takes ${allowed[kind].join(', ')})`, k)
    }
    const dur = (k: string, dflt: number): number => r[k] === undefined ? dflt : parseDuration(r[k] as string | number)
    const needNode = (key = 'node'): string | undefined => {
      const n = r[key]
      if (typeof n !== 'string') { bad(`${kind} needs node: <name>`, kind); return undefined }
      if (!nodes.has(n)) { bad(`unknown node ${JSON.stringify(n)} (nodes: ${[...nodes].sort().join(', ')})`, key); return undefined }
      return n
    }
    const checkAssertions = (a: Record<string, unknown>, key: string): Assertions | undefined => {
      const before = problems.length
      const routes = a.routes as Record<string, unknown> | undefined
      for (const n of Object.keys(routes ?? {})) if (!nodes.has(n)) bad(`unknown node ${JSON.stringify(n)}`, key, 'routes', n)
      const kernel = a.kernel as Record<string, unknown> | undefined
      for (const n of Object.keys(kernel ?? {})) if (!nodes.has(n)) bad(`unknown node ${JSON.stringify(n)}`, key, 'kernel', n)
      const addr = a.addresses
      if (isObject(addr)) for (const n of Object.keys((addr.nodes as Record<string, unknown> | undefined) ?? {})) if (!nodes.has(n)) bad(`unknown node ${JSON.stringify(n)}`, key, 'addresses', 'nodes', n)
      const comps = a.components as string[][] | undefined
      comps?.forEach((c, i) => c.forEach((n, j) => { if (!nodes.has(n)) bad(`unknown node ${JSON.stringify(n)}`, key, 'components', i, j) }))
      if (a.network !== undefined && a.network !== 'single') bad('network can only be "single" (one network id per connected component)', key, 'network')
      if (a.identities !== undefined && a.identities !== 'main') bad('identities can only be "main" (no connectivity identity left on any ntkd node)', key, 'identities')
      if (problems.length > before) return undefined
      const out: Assertions = { ...(a as Assertions) }
      if (addr === 'unique') out.addresses = { unique: true }
      else if (isObject(addr)) out.addresses = { unique: addr.unique === true, ...(addr as object) } as Assertions['addresses']
      return out
    }
    let event: Event | undefined
    let label: string | undefined
    switch (kind) {
      case 'link': {
        const ref = r.link as string | [string, string]
        let id = 'random'
        if (ref !== 'random') {
          const l = findLink(lab, ref)
          if (l === undefined) { bad(`no link ${Array.isArray(ref) ? ref.join(' -- ') : ref} in the topology`, 'link'); return }
          id = l.id
        }
        if (r.state === undefined && r.impair === undefined) { bad('a link step needs state: up|down or impair:', 'link'); return }
        if (id === 'random' && r.state === undefined) { bad('link: random needs state: (it picks among links in the other state)', 'link'); return }
        const impair = r.impair === undefined ? undefined : (r.impair === null || r.impair === 'none' ? null : r.impair as Impairment)
        const segment = lab.links.find(l => l.id === id)?.segment
        if (impair !== undefined && segment !== undefined) { bad(`a pair of radio segment ${segment} cannot be impaired (impairments apply to veth links)`, 'impair'); return }
        event = { type: 'link', link: id, state: r.state as 'up' | 'down' | undefined, impair }
        break
      }
      case 'hear': {
        // a pair of a radio segment starts (up) or stops (down) hearing: the link event of that pair
        const [a, b] = r.hear as [string, string]
        const found = findPair(lab, a, b, r.segment as string | undefined)
        if ('error' in found) { bad(found.error, 'hear'); return }
        if (r.state === undefined) { bad('a hear step needs state: up (they hear each other) or down (they do not)', 'hear'); return }
        event = { type: 'link', link: found.link.id, state: r.state as 'up' | 'down' }
        label = `hear ${found.link.endpoints[0].node}–${found.link.endpoints[1].node} ${r.state as string}`
        break
      }
      case 'node': {
        const node = needNode()
        if (node === undefined) return
        if (r.action === undefined) { bad('a node step needs action: stop|start|kill', 'node'); return }
        event = { type: 'node', node, action: r.action as 'stop' | 'start' | 'kill' }
        break
      }
      case 'exec':
      case 'ntkctl': {
        const node = needNode()
        if (node === undefined) return
        // ntkctl finds the node's own daemon: its per-namespace control socket, the installed or this checkout's ntkctl
        const argv = kind === 'exec' ? argvOf(r.exec) : ntkctlArgv(typeof r.ntkctl === 'string' ? r.ntkctl.split(/\s+/).filter(s => s !== '') : r.ntkctl as string[])
        event = { type: 'exec', node, argv, code: typeof r.code === 'number' ? r.code : 0 }
        if (r.within !== undefined) event = { ...event, within: dur('within', 0), interval: dur('interval', DEFAULT_INTERVAL_MS) }
        break
      }
      case 'together': {
        const list = r.together
        if (!Array.isArray(list) || list.length === 0) { bad('together takes a list of commands: { node, exec | ntkctl, code }', 'together'); return }
        const commands: Array<{ node: string, argv: string[], code: number }> = []
        list.forEach((c, i) => {
          if (!isObject(c) || typeof c.node !== 'string' || (c.exec === undefined) === (c.ntkctl === undefined)) { bad('each command of together is { node, exec or ntkctl, code }', 'together', i); return }
          if (!nodes.has(c.node)) { bad(`unknown node ${JSON.stringify(c.node)}`, 'together', i, 'node'); return }
          const argv = c.exec !== undefined ? argvOf(c.exec) : ntkctlArgv(typeof c.ntkctl === 'string' ? c.ntkctl.split(/\s+/).filter(x => x !== '') : c.ntkctl as string[])
          commands.push({ node: c.node, argv, code: typeof c.code === 'number' ? c.code : 0 })
        })
        if (commands.length !== list.length) return
        event = { type: 'together', commands }
        break
      }
      case 'probe': {
        const node = needNode()
        if (node === undefined) return
        const id = r.probe
        if (typeof id !== 'string' || id === '') { bad('probe: takes the probe\'s name (its probe-end step names it too)', 'probe'); return }
        if (probes.has(id)) { bad(`probe ${id} is started twice (end it with probe-end: ${id} first, or use another name)`, 'probe'); return }
        if (typeof r.to !== 'string' || r.to === '') { bad('a probe needs to: <address> (what the node pings)', 'probe'); return }
        const intervalMs = dur('interval', DEFAULT_PROBE_INTERVAL_MS)
        if (intervalMs < 10) { bad(`interval ${intervalMs}ms is too short for a probe (at least 10ms)`, 'interval'); return }
        const maxMs = dur('for', DEFAULT_PROBE_MAX_MS)
        if (maxMs < intervalMs) { bad('for: must be longer than the interval', 'for'); return }
        probes.add(id)
        event = { type: 'probe', id, node, to: r.to, intervalMs, maxMs }
        break
      }
      case 'probe-end': {
        const id = r['probe-end']
        if (typeof id !== 'string' || !probes.has(id)) {
          bad(`probe-end: ${JSON.stringify(id)} names no probe started by an earlier step${probes.size === 0 ? '' : ` (running: ${[...probes].join(', ')})`}`, 'probe-end')
          return
        }
        const loss = r['max-loss']
        let maxLossPercent: number | undefined
        if (loss !== undefined) {
          maxLossPercent = typeof loss === 'number' ? loss : Number(String(loss).replace(/%$/, ''))
          if (!Number.isFinite(maxLossPercent) || maxLossPercent < 0 || maxLossPercent > 100) { bad(`max-loss ${JSON.stringify(loss)} is no percentage (0 to 100, e.g. 5%)`, 'max-loss'); return }
        }
        probes.delete(id)
        event = { type: 'probe-end', id, ...(r['max-outage'] === undefined ? {} : { maxOutageMs: dur('max-outage', 0) }), ...(maxLossPercent === undefined ? {} : { maxLossPercent }) }
        break
      }
      case 'wait': {
        const w = r.wait
        let condition: Condition | undefined
        if (typeof w === 'string') condition = w as Condition
        else if (isObject(w)) condition = checkAssertions(w, 'wait')
        if (condition === undefined) return
        const hold = dur('hold', condition === 'withdrawn' ? DEFAULT_WITHDRAWN_HOLD_MS : 0)
        event = { type: 'wait', condition, within: dur('within', DEFAULT_WAIT_MS), hold, interval: dur('interval', DEFAULT_INTERVAL_MS), sample: r.sample === undefined ? undefined : dur('sample', 0), nextHops: r['next-hops'] !== false }
        break
      }
      case 'expect': {
        const assertions = checkAssertions(r.expect as Record<string, unknown>, 'expect')
        if (assertions === undefined) return
        const hold = dur('hold', assertions.withdrawn === true ? DEFAULT_WITHDRAWN_HOLD_MS : 0)
        event = { type: 'expect', assertions, within: dur('within', DEFAULT_EXPECT_MS), hold, interval: dur('interval', DEFAULT_INTERVAL_MS), nextHops: r['next-hops'] !== false }
        break
      }
    }
    const timing = r.at !== undefined ? { at: dur('at', 0) } : { after: dur('after', 0) }
    steps.push({ index, label: typeof r.name === 'string' ? r.name : label ?? describe(event), timing, event })
  })
  // `at` times must not go backwards: a step cannot start before one listed earlier.
  let lastAt = -1
  steps.forEach(s => {
    if ('at' in s.timing) {
      if (s.timing.at < lastAt) problems.push({ path: [...base, s.index, 'at'], message: `at ${s.timing.at / 1000}s is earlier than a previous step's at ${lastAt / 1000}s` })
      lastAt = Math.max(lastAt, s.timing.at)
    }
  })
  return { steps, problems }
}

/** Planned start of each step, given when the previous step ended (actual, ms from the timeline start). */
export function plannedStart (step: Step, previousEnd: number): number {
  return 'at' in step.timing ? Math.max(step.timing.at, 0) : previousEnd + step.timing.after
}

export { describe as describeEvent }
