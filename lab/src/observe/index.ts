import { promises as fs } from 'node:fs'
import type { NodeHandle } from '../backend/backend'
import { mapBounded } from '../util/pool'
import { readIptables } from './iptables'
import { ObserveError, readNetState } from './netstate'
import { readRouteNames, type RouteNames } from './rtnames'
import type { NamespaceObservation, NodeObservation } from './types'

export * from './types'
export { ObserveError } from './netstate'
export { parseIdNames, readRouteNames, type RouteNames } from './rtnames'
export { parseIptablesSave } from './iptables'

export interface ObserveOptions {
  /** Keep routes of the local table (local, broadcast, multicast entries the kernel makes). Default false. */
  includeLocal?: boolean
  signal?: AbortSignal
  /** iptables front end to read with (default "iptables", the Debian alternative). */
  iptables?: string
}

/**
 * Reads a node's kernel state from the host, all reads in parallel: links, addresses, routes of
 * every table, rules, iptables, and the same for every namespace the node made
 * inside itself. Table and protocol numbers are named from the node's own iproute2 files.
 */
export async function observeNode (node: NodeHandle, o: ObserveOptions = {}): Promise<NodeObservation> {
  const observedAt = new Date().toISOString()
  const root = `/proc/${node.pid}/root`
  await fs.access(`/run/netns/${node.netns}`).catch(() => { throw new ObserveError(`node ${node.name}`, `its namespace /run/netns/${node.netns} does not exist`) })
  const names = await readRouteNames(root)
  const [state, iptables, namespaces] = await Promise.all([
    readNetState(['ip', '-n', node.netns], `node ${node.name}`, names, o),
    readIptables(`/run/netns/${node.netns}`, o),
    observeInnerNamespaces(node, names, o)
  ])
  return { node: node.name, netns: node.netns, observedAt, ...state, iptables, namespaces }
}

/** Names under the node's own /run/netns; none when the node shares the host's (nothing of its own). */
export async function innerNamespaceNames (node: NodeHandle): Promise<string[]> {
  const dir = `/proc/${node.pid}/root/run/netns`
  const [inner, host] = await Promise.all([fs.stat(dir).catch(() => undefined), fs.stat('/run/netns').catch(() => undefined)])
  if (inner === undefined) return []
  if (host !== undefined && inner.dev === host.dev && inner.ino === host.ino) return []
  return (await fs.readdir(dir).catch(() => [] as string[])).sort()
}

async function observeInnerNamespaces (node: NodeHandle, names: RouteNames, o: ObserveOptions): Promise<NamespaceObservation[]> {
  const inner = await innerNamespaceNames(node)
  return await Promise.all(inner.map(async (name): Promise<NamespaceObservation> => {
    const path = `/proc/${node.pid}/root/run/netns/${name}`
    try {
      const [state, iptables] = await Promise.all([
        readNetState(['nsenter', `--net=${path}`, '--', 'ip'], `node ${node.name} namespace ${name}`, names, o),
        readIptables(path, o)
      ])
      return { name, ...state, iptables }
    } catch (err) {
      // The daemon may remove a namespace between listing and reading: keep the rest of the picture.
      return { name, links: [], addresses: [], routes: [], rules: [], error: (err as Error).message }
    }
  }))
}

/** Observes every node, at most `concurrency` (default 8) at once; keyed by node name. */
export async function observeLab (nodes: Iterable<NodeHandle> | ReadonlyMap<string, NodeHandle>, o: ObserveOptions & { concurrency?: number } = {}): Promise<Record<string, NodeObservation>> {
  const list = nodes instanceof Map ? [...(nodes as ReadonlyMap<string, NodeHandle>).values()] : [...(nodes as Iterable<NodeHandle>)]
  const observed = await mapBounded(list, o.concurrency ?? 8, async n => await observeNode(n, o))
  return Object.fromEntries(observed.map(obs => [obs.node, obs]))
}
