import type { NodeHandle } from '../backend/backend'
import type { ResolvedLab } from '../topology/model'
import { ipBatch, run } from '../util/exec'
import { mapBounded } from '../util/pool'
import { batchFailures, linkEnds, netnsPath, type LinkEnd } from './endpoints'
import { WiringError } from './errors'
import { createSegments, radioPort, removeSegments, segmentNetnsName, segmentsOf, startSegments } from './radio'

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

/** A node's end of a veth to configure: which link it belongs to (for messages) and whether it starts up. */
interface PlannedEnd extends LinkEnd { label: string, up: boolean }

/** One veth to create: the `ip link add` line, and the node end that removes it again. */
interface PlannedVeth { label: string, line: string, nodeEnd: LinkEnd }

/**
 * Creates every veth of the lab with both ends placed straight into the two nodes' namespaces
 * (one `ip -batch` for the whole lab), then configures each node in one `ip -n <ns> -batch`:
 * fixed MACs, `lo` and every interface up (links in state down keep both ends down), addresses.
 * A radio segment's interfaces are veths whose far end is a port of the segment's bridge
 * (wiring/radio.ts), its filter in place before any port comes up.
 * IPv6 is enabled in every node (docker disables it) so link-local addresses work; forwarding is
 * left to the node's kind. On failure the veths and segments this call made are removed and a
 * WiringError names every failing link with the kernel's message.
 */
export async function wireLinks (lab: ResolvedLab, nodes: ReadonlyMap<string, NodeHandle>, o: WireOptions = {}): Promise<void> {
  const vethLinks = lab.links.filter(l => l.segment === undefined)
  const planned = vethLinks.map(link => ({ link, ends: linkEnds(lab, nodes, link) }))
  const segmentEnds = segmentsOf(lab).map(segment => ({ segment, ends: segment.endpoints.map(ep => endOf(lab, nodes, ep.node, ep.ifname, `segment ${segment.name}`)) }))
  const allEnds = [...planned.flatMap(p => p.ends.map(e => ({ e, label: `link ${p.link.id}` }))), ...segmentEnds.flatMap(s => s.ends.map(e => ({ e, label: `segment ${s.segment.name}` })))]
  for (const { e, label } of allEnds) {
    if (e.ifname.length === 0 || e.ifname.length > MAX_IFNAME || /[\s/:]/.test(e.ifname)) {
      throw new WiringError(`${label}: interface name "${e.ifname}" of ${e.node.name} is not a valid Linux name (1..${MAX_IFNAME} characters, no space, '/' or ':')`)
    }
  }
  const veths: PlannedVeth[] = [
    // `netns <name>` on both sides: iproute2 >= 4.x resolves the name under /run/netns itself.
    ...planned.map(({ link, ends: [a, b] }) => ({ label: `link ${link.id}`, line: `link add name ${a.ifname} netns ${a.node.netns} type veth peer name ${b.ifname} netns ${b.node.netns}`, nodeEnd: a })),
    ...segmentEnds.flatMap(({ segment, ends }) => ends.map((e, i) => ({
      label: `segment ${segment.name} (${e.node.name}:${e.ifname})`,
      line: `link add name ${e.ifname} netns ${e.node.netns} type veth peer name ${radioPort(i)} netns ${segmentNetnsName(lab.name, segment.name)}`,
      nodeEnd: e
    })))
  ]
  try {
    await createSegments(lab, { signal: o.signal })
    await createVeths(veths, o.signal)
    await startSegments(lab, undefined, { signal: o.signal })
    const byNode = new Map<string, PlannedEnd[]>()
    const push = (e: PlannedEnd): void => { byNode.set(e.node.name, [...(byNode.get(e.node.name) ?? []), e]) }
    for (const { link, ends } of planned) for (const e of ends) push({ ...e, label: `link ${link.id}`, up: link.state === 'up' })
    for (const { segment, ends } of segmentEnds) for (const e of ends) push({ ...e, label: `segment ${segment.name}`, up: true })
    // Nodes without links still get lo up and IPv6 enabled: they are part of the lab.
    const handles = [...new Set(lab.nodes.map(n => nodes.get(n.name)).filter((n): n is NodeHandle => n !== undefined))]
    await mapBounded(handles, o.concurrency ?? 16, async node => { await configureNode(node, byNode.get(node.name) ?? [], o.enableIpv6 ?? true, o.signal) })
  } catch (err) {
    await removeVeths(veths.map(v => v.nodeEnd))
    await removeSegments(lab.name)
    throw err
  }
}

function endOf (lab: ResolvedLab, nodes: ReadonlyMap<string, NodeHandle>, name: string, ifname: string, what: string): LinkEnd {
  const node = nodes.get(name)
  const spec = lab.nodes.find(n => n.name === name)
  if (node === undefined || spec === undefined) throw new WiringError(`${what}: node ${name} ${spec === undefined ? 'is not in the lab' : 'was not created'}`)
  return { node, spec, ifname }
}

async function createVeths (planned: PlannedVeth[], signal?: AbortSignal): Promise<void> {
  const r = await ipBatch(planned.map(p => p.line), { force: true, signal })
  if (r.code === 0) return
  const failures = batchFailures(r.stderr)
  const failed = new Set(failures.map(f => f.line - 1))
  await removeVeths(planned.filter((_, i) => !failed.has(i)).map(p => p.nodeEnd))
  if (failures.length === 0) throw new WiringError(`creating the veths of lab failed: ${r.stderr.trim()}`)
  throw new WiringError(failures.map(f => {
    const p = planned[f.line - 1]
    return p === undefined ? f.message : `${p.label}: ${f.message}`
  }).join('; '))
}

/** Deleting one end of a veth deletes its peer. Best effort: used while unwinding. */
async function removeVeths (ends: LinkEnd[]): Promise<void> {
  const byNs = new Map<string, string[]>()
  for (const e of ends) byNs.set(e.node.netns, [...(byNs.get(e.node.netns) ?? []), `link del dev ${e.ifname}`])
  await Promise.all([...byNs].map(async ([netns, lines]) => await ipBatch(lines, { netns, force: true }).catch(() => undefined)))
}

async function configureNode (node: NodeHandle, ends: PlannedEnd[], enableIpv6: boolean, signal?: AbortSignal): Promise<void> {
  // No DAD on the lab's links, set before they come up (DAD runs unless both `all` and the device say 0): each end
  // is the only one on its link, so there is nothing to detect, and a daemon's first IPv6 multicast from a
  // tentative fe80:: fails (EADDRNOTAVAIL): two ntkd that started together met about a second late.
  // `-e`: a kernel booted with ipv6.disable=1 has no such keys, and that is not our error.
  const keys = [
    ...(enableIpv6 ? ['net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.default.disable_ipv6=0'] : []),
    'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0',
    ...ends.map(e => `net.ipv6.conf.${e.ifname}.accept_dad=0`)
  ]
  const sysctl = await run(['nsenter', `--net=${netnsPath(node)}`, '--', 'sysctl', '-q', '-e', '-w', ...keys], { signal, check: false })
  if (sysctl.code !== 0) throw new WiringError(`node ${node.name}: setting IPv6 sysctls in namespace ${node.netns} failed: ${sysctl.stderr.trim()}`)

  const lines: string[] = ['link set dev lo up']
  const owner: Array<PlannedEnd | undefined> = [undefined]
  const add = (line: string, end: PlannedEnd): void => { lines.push(line); owner.push(end) }
  for (const end of ends) {
    const iface = end.spec.interfaces[end.ifname]
    if (iface?.mac !== undefined) add(`link set dev ${end.ifname} address ${iface.mac.toLowerCase()}`, end)
    if (end.up) add(`link set dev ${end.ifname} up`, end)
    for (const a of iface?.ipv4 ?? []) add(`address add ${a} dev ${end.ifname}`, end)
  }
  const r = await ipBatch(lines, { netns: node.netns, force: true, signal })
  if (r.code === 0) return
  const failures = batchFailures(r.stderr)
  if (failures.length === 0) throw new WiringError(`node ${node.name}: configuring interfaces failed: ${r.stderr.trim()}`)
  throw new WiringError(failures.map(f => {
    const end = owner[f.line - 1]
    const what = `"${lines[f.line - 1] ?? '?'}"`
    return end === undefined ? `node ${node.name}: ${what}: ${f.message}` : `${end.label}: ${node.name}:${end.ifname}: ${what}: ${f.message}`
  }).join('; '))
}
