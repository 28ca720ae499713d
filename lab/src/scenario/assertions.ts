import ipaddr from 'ipaddr.js'
import type { ResolvedLab } from '../topology/model'
import { mapBounded } from '../util/pool'
import { jsonSubset, formatMismatches } from './json-subset'
import { components, type LabState } from './lab-state'
import { kernelView } from './kernel-view'
import { routesByTable, type NodeObservation } from './observation'
import { compareMatrix, expectedMatrix, pairTargets, pingTargets, reachabilityMatrix, type ReachabilityMatrix } from './reachability'
import { diffRoutes, expectRoutes, formatRouteDiff, type RouteModels } from './route-model'
import type { ScenarioLab } from './scenario-lab'
import { identityProblems, networkProblems, withTakenAddresses } from './ntkd-taken'
import { ntkAddress, ntkGlobal } from './ntk-addressing'
import type { Assertions, Condition } from './timeline'
import type { Check, Diff } from './wait'

/** What checks read: the lab, the link states the timeline has set so far, the route models. */
export interface CheckContext {
  lab: ScenarioLab
  state: () => LabState
  models: RouteModels
  /** Parallel pings and observations (default 8). */
  concurrency?: number
}

function running (ctx: CheckContext): string[] {
  const s = ctx.state()
  return ctx.lab.spec.nodes.map(n => n.name).filter(n => !s.stopped.has(n))
}

export async function observeAll (ctx: CheckContext, nodes = running(ctx)): Promise<Map<string, NodeObservation>> {
  const obs = await mapBounded(nodes, ctx.concurrency ?? 8, async n => await ctx.lab.observe(n))
  return new Map(nodes.map((n, i) => [n, obs[i]]))
}

/** Every routed node's table matches the model: routes present, none to the unreachable, cheapest next hops. */
export function routesCheck (ctx: CheckContext, o: { nextHops: boolean, only?: 'absent' | 'present' }): Check {
  return async () => {
    const taken = await withTakenAddresses(ctx.lab, new Set(running(ctx)))
    if (taken.problems.length > 0) return { summary: `ntkd nodes without an address yet: ${taken.problems.length}`, lines: taken.problems }
    const exp = expectRoutes(taken.spec, ctx.state(), ctx.models)
    const obs = await observeAll(ctx, [...exp.keys()])
    let diffs = diffRoutes(exp, obs, { checkNextHops: o.nextHops && o.only === undefined })
    if (o.only === 'absent') diffs = diffs.map(d => ({ ...d, missing: [], wrong: [], unmarked: [] })).filter(d => d.extra.length > 0)
    if (o.only === 'present') diffs = diffs.map(d => ({ ...d, extra: [], unmarked: [] })).filter(d => d.missing.length + d.wrong.length > 0)
    if (diffs.length === 0) return null
    const count = diffs.reduce((s, d) => s + d.missing.length + d.extra.length + d.wrong.length + d.unmarked.length, 0)
    const what = o.only === 'absent' ? 'routes across the cut not withdrawn' : 'routes differ from the topology model'
    return { summary: `${what}: ${count} entries on ${diffs.length} nodes (${diffs.map(d => d.node).join(', ')})`, lines: formatRouteDiff(diffs), data: { routes: diffs } }
  }
}

function allMatrix (nodes: string[], value: boolean): ReachabilityMatrix {
  const reachable: Record<string, Record<string, boolean>> = {}
  for (const a of nodes) { reachable[a] = {}; for (const b of nodes) if (a !== b) reachable[a][b] = value }
  return { nodes, reachable }
}

/** All pairs pinged; the matrix must match the partitions (or be full, or empty). */
export function reachabilityCheck (ctx: CheckContext, mode: 'partitions' | 'all' | 'none'): Check {
  return async () => {
    const taken = await withTakenAddresses(ctx.lab, new Set(running(ctx)))
    if (taken.problems.length > 0) return { summary: `ntkd nodes without an address yet: ${taken.problems.length}`, lines: taken.problems }
    const targets = pingTargets(taken.spec, ctx.models)
    const nodes = running(ctx).filter(n => targets.has(n)).sort()
    const expected = mode === 'partitions' ? expectedMatrix(ctx.lab.spec, ctx.state(), nodes) : allMatrix(nodes, mode === 'all')
    const actual = await reachabilityMatrix(ctx.lab, targets, { nodes, concurrency: ctx.concurrency, perPair: pairTargets(taken.spec, ctx.models) })
    const d = compareMatrix(expected, actual)
    return d === null ? null : { ...d, data: { reachability: { expected, actual } } }
  }
}

function inPrefix (address: string, prefix: string): boolean {
  try {
    const a = ipaddr.parse(address)
    const p = ipaddr.parseCIDR(prefix)
    return a.kind() === p[0].kind() && a.match(p)
  } catch { return false }
}

function sameFamily (address: string, prefix: string): boolean {
  return address.includes(':') === prefix.includes(':')
}

/** Addresses per node, unique across the network, within a prefix. Loopback and link-local are ignored;
 * `within` applies to addresses of its own family. */
export function addressesCheck (ctx: CheckContext, spec: NonNullable<Assertions['addresses']>): Check {
  return async () => {
    const ntkd = new Set(ctx.lab.spec.nodes.filter(n => n.kind === 'ntkd').map(n => n.name))
    const ntkdOnly = spec.unique && spec.interfaces === undefined && spec.within === undefined
    // an ntkd node's uniqueness is read from its daemon; its kernel is observed only for `nodes` or another kind
    const up = running(ctx)
    const upSet = new Set(up)
    const observed = up.filter(n => !(ntkdOnly && ntkd.has(n)) || spec.nodes?.[n] !== undefined)
    const obs = await observeAll(ctx, observed)
    const lines: string[] = []
    const owners = new Map<string, string[]>()
    // an ntkd node's identity is its global address (internal addresses repeat across g-nodes by design, and the
    // daemon puts its addresses on every NIC): uniqueness compares those, from the addresses the daemons took, inside
    // each connected component (networks apart may hold one address each until they meet)
    const ntkdOwners = new Map<string, string[]>()
    if (spec.unique && ntkd.size > 0) {
      const taken = await withTakenAddresses(ctx.lab, new Set(up.filter(n => ntkd.has(n))))
      lines.push(...taken.problems)
      const component = new Map<string, number>()
      components(ctx.lab.spec, ctx.state()).forEach((c, k) => { for (const n of c) component.set(n, k) })
      for (const n of taken.spec.nodes) {
        if (!ntkd.has(n.name) || !upSet.has(n.name) || n.config.address === undefined) continue
        const g = ntkGlobal(ntkAddress((n.config.topology as number[]).map(Number), String(n.config.address)))
        const key = `${component.get(n.name) ?? -1}|${g}`
        ntkdOwners.set(key, [...(ntkdOwners.get(key) ?? []), `${n.name} (global address of ${String(n.config.address)})`])
      }
    }
    for (const [node, o] of obs) {
      const mine = new Set<string>()
      for (const a of o.addresses) {
        if (spec.unique && ntkd.has(node) && spec.interfaces === undefined && spec.within === undefined) break
        if (spec.interfaces !== undefined && !spec.interfaces.includes(a.ifname)) continue
        if (inPrefix(a.address, '127.0.0.0/8') || a.address === '::1' || inPrefix(a.address, 'fe80::/10')) continue
        // one node holding an address on several interfaces owns it once
        if (!mine.has(a.address)) owners.set(a.address, [...(owners.get(a.address) ?? []), `${node}:${a.ifname}`])
        mine.add(a.address)
        if (spec.within !== undefined && sameFamily(a.address, spec.within) && !inPrefix(a.address, spec.within)) lines.push(`${node}: ${a.address}/${a.prefixlen} on ${a.ifname} is outside ${spec.within}`)
      }
    }
    if (spec.unique) for (const [addr, where] of owners) if (where.length > 1) lines.push(`${addr} is on ${where.join(' and ')}`)
    for (const [key, where] of ntkdOwners) if (where.length > 1) lines.push(`${key.split('|')[1]} is on ${where.join(' and ')}`)
    for (const [node, want] of Object.entries(spec.nodes ?? {})) {
      const have = obs.get(node)?.addresses ?? []
      for (const w of want) {
        const [addr, len] = w.split('/')
        if (!have.some(a => a.address === addr && (len === undefined || a.prefixlen === Number(len)))) lines.push(`${node}: missing address ${w}`)
      }
    }
    return lines.length === 0 ? null : { summary: `${lines.length} address problems`, lines, data: { addresses: lines } }
  }
}

/** Per node, a JSON subset of one view of its observation; the diff names the nodes whose view does not match. */
function subsetCheck (ctx: CheckContext, spec: Record<string, Record<string, unknown>>, view: (o: NodeObservation | undefined) => unknown, summary: (nodes: string) => string, key: string): Check {
  return async () => {
    const nodes = Object.keys(spec)
    const obs = await observeAll(ctx, nodes)
    const lines: string[] = []
    const data: Record<string, unknown> = {}
    for (const n of nodes) {
      const m = jsonSubset(view(obs.get(n)), spec[n], n)
      if (m.length > 0) { lines.push(formatMismatches(m)); data[n] = m }
    }
    return lines.length === 0 ? null : { summary: summary(Object.keys(data).join(', ')), lines, data: { [key]: data } }
  }
}

/** Per node, a JSON subset of its routes keyed by table then destination (null: must be absent). */
export function routesSubsetCheck (ctx: CheckContext, spec: Record<string, Record<string, unknown>>): Check {
  return subsetCheck(ctx, spec, o => routesByTable(o?.routes ?? []), nodes => `routes of ${nodes} do not match`, 'subset')
}

/**
 * Per node, a JSON subset of its kernel per namespace (kernel-view: links, addresses, routes, rules, marks, nat;
 * "default" is the node's own namespace, others those it made, e.g. ntkv0; null: the namespace must not exist).
 */
export function kernelCheck (ctx: CheckContext, spec: Record<string, Record<string, unknown>>): Check {
  return subsetCheck(ctx, spec, o => o === undefined ? undefined : kernelView(o as never), nodes => `kernel of ${nodes} does not match`, 'kernel')
}

/** `network: single`: one ntkd network id per connected component, never one id for two components. */
export function networkCheck (ctx: CheckContext): Check {
  return async () => {
    const lines = await networkProblems(ctx.lab, ctx.state())
    return lines.length === 0 ? null : { summary: `${lines.length} network id problems`, lines }
  }
}

/** `identities: main`: no ntkd node holds a connectivity identity (or any identity beside its main one). */
export function identitiesCheck (ctx: CheckContext): Check {
  return async () => {
    const lines = await identityProblems(ctx.lab, ctx.state())
    return lines.length === 0 ? null : { summary: `${lines.length} nodes hold more than their main identity`, lines }
  }
}

/** The partitions the link states imply, compared with the ones written in the scenario. */
export function componentsCheck (lab: ResolvedLab, state: () => LabState, want: string[][]): Check {
  return async () => {
    const have = components(lab, state())
    const key = (cs: string[][]): string => cs.map(c => [...c].sort().join(',')).sort().join(' | ')
    return key(have) === key(want) ? null : { summary: `partitions are ${key(have)}, expected ${key(want)}`, lines: [] }
  }
}

/** All assertions of a block; the diff joins every failing one's lines under its name. */
export function assertionsCheck (ctx: CheckContext, a: Assertions, o: { nextHops: boolean }): Check {
  // the cheapest first (a quick poll stops at the first failing part): the lab's state, the daemons' status over
  // their control sockets, then what observes every node's kernel, and the pings last
  const parts: Array<[string, Check]> = []
  if (a.components !== undefined) parts.push(['components', componentsCheck(ctx.lab.spec, ctx.state, a.components)])
  if (a.network === 'single') parts.push(['network', networkCheck(ctx)])
  if (a.identities === 'main') parts.push(['identities', identitiesCheck(ctx)])
  if (a.addresses !== undefined) parts.push(['addresses', addressesCheck(ctx, a.addresses)])
  if (a.converged === true) parts.push(['converged', routesCheck(ctx, { nextHops: o.nextHops })])
  if (a.withdrawn === true) parts.push(['withdrawn', routesCheck(ctx, { nextHops: false, only: 'absent' })])
  if (a.routes !== undefined) parts.push(['routes', routesSubsetCheck(ctx, a.routes)])
  if (a.kernel !== undefined) parts.push(['kernel', kernelCheck(ctx, a.kernel)])
  if (a.reachability !== undefined) parts.push(['reachability', reachabilityCheck(ctx, a.reachability)])
  return async (signal, opts) => {
    const failed: Array<[string, Diff]> = []
    for (const [name, check] of parts) {
      const d = await check(signal)
      if (d !== null) failed.push([name, d])
      if (d !== null && opts?.quick === true) break
    }
    if (failed.length === 0) return null
    return {
      summary: failed.map(([n, d]) => `${n}: ${d.summary}`).join('; '),
      lines: failed.flatMap(([n, d]) => [`[${n}] ${d.summary}`, ...d.lines.map(l => `  ${l}`)]),
      data: Object.fromEntries(failed.map(([n, d]) => [n, d.data ?? d.lines]))
    }
  }
}

export function conditionCheck (ctx: CheckContext, c: Condition, o: { nextHops: boolean }): Check {
  switch (c) {
    case 'converged': return routesCheck(ctx, { nextHops: o.nextHops })
    case 'routes-present': return routesCheck(ctx, { nextHops: false })
    case 'withdrawn': return routesCheck(ctx, { nextHops: false, only: 'absent' })
    case 'reachable': return reachabilityCheck(ctx, 'partitions')
    default: return assertionsCheck(ctx, c, o)
  }
}
