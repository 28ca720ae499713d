import type { NodeHandle } from '../backend/backend'
import type { ResolvedLab } from '../topology/model'
import { setTimeout as sleep } from 'node:timers/promises'
import { ipBatch, run } from '../util/exec'
import { batchFailures, findLink, linkEnds, netnsPath, type LinkEnd } from './endpoints'
import { WiringError } from './errors'
import { setHearing } from './radio'

/**
 * Sets both ends of a link up or down. The ends live in two namespaces, so this is one
 * `ip -n <ns> -batch` per end, run together; a veth loses carrier as soon as either end goes
 * down, so the peer sees the change at once either way. A radio pair is not a cable: its two
 * nodes start or stop hearing each other, and their interfaces stay up (wiring/radio.ts).
 */
export async function setLinkState (lab: ResolvedLab, nodes: ReadonlyMap<string, NodeHandle>, linkId: string, state: 'up' | 'down', o: { signal?: AbortSignal } = {}): Promise<void> {
  const link = findLink(lab, linkId)
  if (link.segment !== undefined) { await setHearing(lab, link, state, o); return }
  const ends = linkEnds(lab, nodes, link)
  const results = await Promise.all(ends.map(async e => ({ e, r: await ipBatch([`link set dev ${e.ifname} ${state}`], { netns: e.node.netns, force: true, signal: o.signal }) })))
  const errors = results.filter(x => x.r.code !== 0).map(({ e, r }) => {
    const msg = batchFailures(r.stderr)[0]?.message ?? r.stderr.trim()
    return `${e.node.name}:${e.ifname}: ${msg}`
  })
  if (errors.length > 0) throw new WiringError(`link ${linkId}: setting it ${state} failed: ${errors.join('; ')}`)
}

export interface LinkReadyOptions {
  signal?: AbortSignal
  /** Total time to wait (default 10 s). */
  budgetMs?: number
  /** Pause between polls (default 50 ms). */
  intervalMs?: number
}

export class LinkNotReadyError extends Error {
  constructor (readonly linkId: string, readonly budgetMs: number, readonly lastProblem: string) {
    super(`link ${linkId} not ready within ${budgetMs} ms: ${lastProblem}`)
    this.name = 'LinkNotReadyError'
  }
}

/**
 * Waits until both ends of a link are up with carrier (UP, LOWER_UP) and, where IPv6 is enabled on
 * the interface, its link-local address has finished duplicate address detection (no longer
 * tentative): daemons that bind to fe80:: addresses fail before that. Polls; returns the time it took.
 */
export async function waitLinkReady (lab: ResolvedLab, nodes: ReadonlyMap<string, NodeHandle>, linkId: string, o: LinkReadyOptions = {}): Promise<{ afterMs: number }> {
  const link = findLink(lab, linkId)
  const ends = linkEnds(lab, nodes, link)
  const budget = o.budgetMs ?? 10_000
  const interval = o.intervalMs ?? 50
  const start = Date.now()
  const ipv6 = await Promise.all(ends.map(async e => await ipv6Enabled(e, o.signal)))
  for (;;) {
    const problems = (await Promise.all(ends.map(async (e, i) => await endProblem(e, ipv6[i], o.signal)))).filter((p): p is string => p !== undefined)
    if (problems.length === 0) return { afterMs: Date.now() - start }
    if (Date.now() - start >= budget) throw new LinkNotReadyError(linkId, budget, problems.join('; '))
    await sleep(interval, o.signal)
  }
}

async function ipv6Enabled (e: LinkEnd, signal?: AbortSignal): Promise<boolean> {
  const r = await run(['nsenter', `--net=${netnsPath(e.node)}`, '--', 'cat', `/proc/sys/net/ipv6/conf/${e.ifname}/disable_ipv6`], { signal, check: false })
  return r.code === 0 && r.stdout.trim() === '0'
}

interface IpAddrEntry { flags?: string[], addr_info?: Array<{ family: string, scope: string, tentative?: boolean, dadfailed?: boolean }> }

async function endProblem (e: LinkEnd, ipv6: boolean, signal?: AbortSignal): Promise<string | undefined> {
  const r = await run(['ip', '-n', e.node.netns, '-j', 'addr', 'show', 'dev', e.ifname], { signal, check: false })
  if (r.code !== 0) return `${e.node.name}:${e.ifname}: ${r.stderr.trim()}`
  const entry = (JSON.parse(r.stdout) as IpAddrEntry[])[0]
  const flags = entry?.flags ?? []
  if (!flags.includes('UP')) return `${e.node.name}:${e.ifname} is down`
  if (!flags.includes('LOWER_UP')) return `${e.node.name}:${e.ifname} has no carrier`
  if (!ipv6) return undefined
  const ll = (entry?.addr_info ?? []).filter(a => a.family === 'inet6' && a.scope === 'link')
  if (ll.length === 0) return `${e.node.name}:${e.ifname} has no IPv6 link-local address yet`
  if (ll.some(a => a.dadfailed === true)) return `${e.node.name}:${e.ifname}: IPv6 link-local duplicate address detection failed`
  if (ll.every(a => a.tentative === true)) return `${e.node.name}:${e.ifname}: IPv6 link-local address still tentative`
  return undefined
}
