import type { NodeHandle } from '../backend/backend'
import type { LinkSpec, NodeSpec, ResolvedLab } from '../topology/model'
import { UnknownLinkError, WiringError } from './errors'

/** One end of a link as the wiring needs it: the node's handle, its spec and the interface name. */
export interface LinkEnd {
  node: NodeHandle
  spec: NodeSpec
  ifname: string
}

/** Host path of a node's network namespace (what `nsenter --net=` takes). */
export function netnsPath (node: NodeHandle): string {
  return `/run/netns/${node.netns}`
}

/** The two ends of a link, checked against the nodes the backend made. */
export function linkEnds (lab: ResolvedLab, nodes: ReadonlyMap<string, NodeHandle>, link: LinkSpec): [LinkEnd, LinkEnd] {
  const end = (i: 0 | 1): LinkEnd => {
    const ep = link.endpoints[i]
    const node = nodes.get(ep.node)
    const spec = lab.nodes.find(n => n.name === ep.node)
    if (node === undefined || spec === undefined) throw new WiringError(`link ${link.id}: node ${ep.node} ${spec === undefined ? 'is not in the lab' : 'was not created'}`)
    return { node, spec, ifname: ep.ifname }
  }
  return [end(0), end(1)]
}

/** The link with that id, or UnknownLinkError listing the ids the lab has. */
export function findLink (lab: ResolvedLab, linkId: string): LinkSpec {
  const link = lab.links.find(l => l.id === linkId)
  if (link === undefined) throw new UnknownLinkError(linkId, lab.links.map(l => l.id))
  return link
}

export interface BatchFailure { line: number, message: string }

/**
 * Failed lines of an `ip -batch`/`tc -batch` run: the kernel's message is printed before the
 * "Command failed -:N" line that names the 1-based line number.
 */
export function batchFailures (stderr: string): BatchFailure[] {
  const failures: BatchFailure[] = []
  let pending: string[] = []
  for (const raw of stderr.split('\n')) {
    const line = raw.trim()
    if (line === '') continue
    const m = /^Command failed (?:.*):(\d+)$/.exec(line)
    if (m !== null) {
      failures.push({ line: Number(m[1]), message: pending.join(' ') || 'unknown error' })
      pending = []
    } else {
      pending.push(line)
    }
  }
  return failures
}
