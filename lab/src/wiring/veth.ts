import type { NodeHandle } from '../backend/backend'
import type { LinkSpec, ResolvedLab } from '../topology/model'
import { ipBatch, run } from '../util/exec'
import { mapBounded } from '../util/pool'
import { batchFailures, linkEnds, netnsPath, type LinkEnd } from './endpoints'
import { WiringError } from './errors'

export interface WireOptions {
  signal?: AbortSignal
  /** Nodes configured at once after the veths exist (default 16). */
  concurrency?: number
  /**
   * Enable IPv6 in every node first (default true). Both lab backends already create nodes with
   * IPv6 on, and skipping this saves one process per node on large labs.
   */
  enableIpv6?: boolean
}

/** Linux's IFNAMSIZ less the terminating NUL. */
const MAX_IFNAME = 15

interface PlannedEnd extends LinkEnd { link: LinkSpec }

/**
 * Creates every veth of the lab with both ends placed straight into the two nodes' namespaces
 * (one `ip -batch` for the whole lab), then configures each node in one `ip -n <ns> -batch`:
 * fixed MACs, `lo` and every interface up (links in state down keep both ends down), addresses.
 * IPv6 is enabled in every node (docker disables it) so link-local addresses work; forwarding is
 * left to the node's kind. On failure the veths this call made are removed and a WiringError
 * names every failing link with the kernel's message.
 */
export async function wireLinks (lab: ResolvedLab, nodes: ReadonlyMap<string, NodeHandle>, o: WireOptions = {}): Promise<void> {
  const planned = lab.links.map(link => ({ link, ends: linkEnds(lab, nodes, link) }))
  for (const { link, ends } of planned) {
    for (const e of ends) {
      if (e.ifname.length === 0 || e.ifname.length > MAX_IFNAME || /[\s/:]/.test(e.ifname)) {
        throw new WiringError(`link ${link.id}: interface name "${e.ifname}" of ${e.node.name} is not a valid Linux name (1..${MAX_IFNAME} characters, no space, '/' or ':')`)
      }
    }
  }
  await createVeths(planned, o.signal)
  try {
    const byNode = new Map<string, PlannedEnd[]>()
    for (const { link, ends } of planned) {
      for (const e of ends) byNode.set(e.node.name, [...(byNode.get(e.node.name) ?? []), { ...e, link }])
    }
    // Nodes without links still get lo up and IPv6 enabled: they are part of the lab.
    const handles = [...new Set(lab.nodes.map(n => nodes.get(n.name)).filter((n): n is NodeHandle => n !== undefined))]
    await mapBounded(handles, o.concurrency ?? 16, async node => { await configureNode(node, byNode.get(node.name) ?? [], o.enableIpv6 ?? true, o.signal) })
  } catch (err) {
    await removeVeths(planned.map(p => p.ends[0]))
    throw err
  }
}

async function createVeths (planned: Array<{ link: LinkSpec, ends: [LinkEnd, LinkEnd] }>, signal?: AbortSignal): Promise<void> {
  // `netns <name>` on both sides: iproute2 >= 4.x resolves the name under /run/netns itself.
  const lines = planned.map(({ ends: [a, b] }) => `link add name ${a.ifname} netns ${a.node.netns} type veth peer name ${b.ifname} netns ${b.node.netns}`)
  const r = await ipBatch(lines, { force: true, signal })
  if (r.code === 0) return
  const failures = batchFailures(r.stderr)
  const failed = new Set(failures.map(f => f.line - 1))
  await removeVeths(planned.filter((_, i) => !failed.has(i)).map(p => p.ends[0]))
  if (failures.length === 0) throw new WiringError(`creating the veths of lab failed: ${r.stderr.trim()}`)
  throw new WiringError(failures.map(f => {
    const p = planned[f.line - 1]
    return p === undefined ? f.message : `link ${p.link.id}: ${f.message}`
  }).join('; '))
}

/** Deleting one end of a veth deletes its peer. Best effort: used while unwinding. */
async function removeVeths (ends: LinkEnd[]): Promise<void> {
  const byNs = new Map<string, string[]>()
  for (const e of ends) byNs.set(e.node.netns, [...(byNs.get(e.node.netns) ?? []), `link del dev ${e.ifname}`])
  await Promise.all([...byNs].map(async ([netns, lines]) => await ipBatch(lines, { netns, force: true }).catch(() => undefined)))
}

async function configureNode (node: NodeHandle, ends: PlannedEnd[], enableIpv6: boolean, signal?: AbortSignal): Promise<void> {
  if (enableIpv6) {
    // `-e`: a kernel booted with ipv6.disable=1 has no such keys, and that is not our error.
    const sysctl = await run(['nsenter', `--net=${netnsPath(node)}`, '--', 'sysctl', '-q', '-e', '-w',
      'net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.default.disable_ipv6=0'], { signal, check: false })
    if (sysctl.code !== 0) throw new WiringError(`node ${node.name}: enabling IPv6 in namespace ${node.netns} failed: ${sysctl.stderr.trim()}`)
  }

  const lines: string[] = ['link set dev lo up']
  const owner: Array<PlannedEnd | undefined> = [undefined]
  const add = (line: string, end: PlannedEnd): void => { lines.push(line); owner.push(end) }
  for (const end of ends) {
    const iface = end.spec.interfaces[end.ifname]
    if (iface?.mac !== undefined) add(`link set dev ${end.ifname} address ${iface.mac.toLowerCase()}`, end)
    if (end.link.state === 'up') add(`link set dev ${end.ifname} up`, end)
    for (const a of iface?.ipv4 ?? []) add(`address add ${a} dev ${end.ifname}`, end)
  }
  const r = await ipBatch(lines, { netns: node.netns, force: true, signal })
  if (r.code === 0) return
  const failures = batchFailures(r.stderr)
  if (failures.length === 0) throw new WiringError(`node ${node.name}: configuring interfaces failed: ${r.stderr.trim()}`)
  throw new WiringError(failures.map(f => {
    const end = owner[f.line - 1]
    const what = `"${lines[f.line - 1] ?? '?'}"`
    return end === undefined ? `node ${node.name}: ${what}: ${f.message}` : `link ${end.link.id}: ${node.name}:${end.ifname}: ${what}: ${f.message}`
  }).join('; '))
}
