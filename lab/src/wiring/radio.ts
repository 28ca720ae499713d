// Radio-like segments: every node interface on a segment is a port of one Linux bridge, and an
// nftables bridge-family filter lets a frame (unicast, broadcast, multicast alike) pass from port
// to port only when the two nodes hear each other. Filtering is by bridge port, never by MAC, so
// the macvlan pseudo-interfaces a daemon makes on its NIC (own MACs) are heard like the NIC.
//
// Each segment lives in its own host network namespace `ntklab-<lab>.<segment>` (lab and node
// names have no '.', so it is never a node's): bridge `br0`, ports `p<i>` for endpoint i, table
// `bridge ntklab` with the set `hears` of (in-port, out-port) pairs. Deleting the namespace
// removes bridge, ports (and with them the node ends), rules and set at once; the same code serves
// both backends, whose nodes are host-attached namespaces.
import { existsSync, promises as fs } from 'node:fs'
import type { LinkSpec, ResolvedLab, SegmentSpec } from '../topology/model'
import { ipBatch, run } from '../util/exec'
import { batchFailures } from './endpoints'
import { WiringError } from './errors'

export const RADIO_BRIDGE = 'br0'
export const RADIO_TABLE = 'ntklab'
export const RADIO_SET = 'hears'

/** Host netns holding a segment's bridge and rules. */
export function segmentNetnsName (lab: string, segment: string): string {
  return `ntklab-${lab}.${segment}`
}

/** The bridge port of endpoint `index` of a segment. */
export function radioPort (index: number): string {
  return `p${index}`
}

export function segmentsOf (lab: ResolvedLab): SegmentSpec[] {
  return lab.segments ?? []
}

/** The segment a hearing pair belongs to, and the ports of its two ends. */
export function pairPorts (lab: ResolvedLab, pair: LinkSpec): { segment: SegmentSpec, ports: [string, string] } {
  const segment = segmentsOf(lab).find(s => s.name === pair.segment)
  if (segment === undefined) throw new WiringError(`link ${pair.id}: segment ${String(pair.segment)} is not in lab ${lab.name}`)
  const port = (i: 0 | 1): string => {
    const j = segment.endpoints.findIndex(e => e.node === pair.endpoints[i].node)
    if (j < 0) throw new WiringError(`link ${pair.id}: node ${pair.endpoints[i].node} is not on segment ${segment.name}`)
    return radioPort(j)
  }
  return { segment, ports: [port(0), port(1)] }
}

const element = (a: string, b: string): string => `"${a}" . "${b}", "${b}" . "${a}"`

/** The nft script that (re)creates a segment's table with the pairs that hear each other now. */
export function radioRuleset (lab: ResolvedLab, segment: SegmentSpec, hearing: (pair: LinkSpec) => boolean): string {
  const elements = lab.links.filter(l => l.segment === segment.name && hearing(l)).map(l => element(...pairPorts(lab, l).ports))
  return [
    `table bridge ${RADIO_TABLE}`, // declared first so the delete below never fails on a fresh namespace
    `delete table bridge ${RADIO_TABLE}`,
    `table bridge ${RADIO_TABLE} {`,
    `  set ${RADIO_SET} { type ifname . ifname; }`,
    // forward runs once per out-port, also for each copy of a flooded broadcast or multicast frame
    '  chain forward { type filter hook forward priority 0; policy drop; iifname . oifname @hears accept; }',
    // the bridge itself says nothing on the air (IPv6 is off in the namespace anyway)
    '  chain output { type filter hook output priority 0; policy drop; }',
    '}',
    ...(elements.length > 0 ? [`add element bridge ${RADIO_TABLE} ${RADIO_SET} { ${elements.join(', ')} }`] : []),
    ''
  ].join('\n')
}

/**
 * The system's nft, by absolute path: under npm scripts and npx, PATH starts with node_modules/.bin,
 * where an npm package (@vercel/nft, a file tracer) has a command of the same name.
 */
export function nftBinary (): string {
  const found = ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin'].map(d => `${d}/nft`).find(p => existsSync(p))
  if (found === undefined) throw new WiringError('radio segments need nft, which is not installed (apt-get install nftables)')
  return found
}

async function nft (netns: string, script: string, signal?: AbortSignal): Promise<void> {
  const r = await run(['nsenter', `--net=/run/netns/${netns}`, '--', nftBinary(), '-f', '-'], { input: script, signal, check: false })
  if (r.code !== 0) throw new WiringError(`segment namespace ${netns}: nft failed: ${r.stderr.trim() || `exit ${r.code}`}`)
}

/**
 * Creates each segment's namespace and bridge (no ports yet). IPv6 is off in the namespace, so the
 * bridge sends nothing of its own; multicast snooping is off, so multicast floods like on the air.
 */
export async function createSegments (lab: ResolvedLab, o: { signal?: AbortSignal } = {}): Promise<void> {
  const segments = segmentsOf(lab)
  if (segments.length === 0) return
  await fs.mkdir('/run/netns', { recursive: true })
  const names = segments.map(s => segmentNetnsName(lab.name, s.name))
  const made = await ipBatch(names.map(n => `netns add ${n}`), { force: true, signal: o.signal })
  if (made.code !== 0) throw new WiringError(`creating the segment namespaces of lab ${lab.name} failed: ${batchFailures(made.stderr).map(f => f.message).join('; ') || made.stderr.trim()}`)
  await Promise.all(names.map(async netns => {
    const sysctl = await run(['nsenter', `--net=/run/netns/${netns}`, '--', 'sysctl', '-q', '-e', '-w',
      'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { signal: o.signal, check: false })
    if (sysctl.code !== 0) throw new WiringError(`segment namespace ${netns}: turning IPv6 off failed: ${sysctl.stderr.trim()}`)
    const r = await ipBatch([`link add ${RADIO_BRIDGE} type bridge mcast_snooping 0 stp_state 0`, 'link set dev lo up'], { netns, force: true, signal: o.signal })
    if (r.code !== 0) throw new WiringError(`segment namespace ${netns}: creating the bridge failed: ${batchFailures(r.stderr).map(f => f.message).join('; ') || r.stderr.trim()}`)
  }))
}

/**
 * After the veths exist (see wireLinks): every port joins its bridge and goes up, and the filter
 * takes the pairs in their initial (or recorded) state.
 */
export async function startSegments (lab: ResolvedLab, hearing: (pair: LinkSpec) => boolean = l => l.state === 'up', o: { signal?: AbortSignal } = {}): Promise<void> {
  await Promise.all(segmentsOf(lab).map(async segment => {
    const netns = segmentNetnsName(lab.name, segment.name)
    // the filter first, so not a single frame crosses between ports that do not hear each other
    await nft(netns, radioRuleset(lab, segment, hearing), o.signal)
    const lines = segment.endpoints.flatMap((_, i) => [`link set dev ${radioPort(i)} master ${RADIO_BRIDGE}`, `link set dev ${radioPort(i)} up`])
    const r = await ipBatch([...lines, `link set dev ${RADIO_BRIDGE} up`], { netns, force: true, signal: o.signal })
    if (r.code !== 0) {
      throw new WiringError(batchFailures(r.stderr).map(f => {
        const port = /p(\d+)/.exec(lines[f.line - 1] ?? '')
        const ep = port === null ? undefined : segment.endpoints[Number(port[1])]
        return `segment ${segment.name}${ep === undefined ? '' : ` port of ${ep.node}:${ep.ifname}`}: ${f.message}`
      }).join('; ') || `segment ${segment.name}: ${r.stderr.trim()}`)
    }
  }))
}

/** Makes the two nodes of a pair hear each other (up) or not (down), at once and atomically. */
export async function setHearing (lab: ResolvedLab, pair: LinkSpec, state: 'up' | 'down', o: { signal?: AbortSignal } = {}): Promise<void> {
  const { segment, ports } = pairPorts(lab, pair)
  const el = `add element bridge ${RADIO_TABLE} ${RADIO_SET} { ${element(...ports)} }`
  // add-then-delete in one transaction: removing a pair that was not there is no error
  const script = state === 'up' ? el : `${el}\n${el.replace(/^add /, 'delete ')}`
  await nft(segmentNetnsName(lab.name, segment.name), script + '\n', o.signal)
}

/** The ports that hear each other now, as "node--node" pairs (for tests and inspection). */
export async function hearingPairs (lab: ResolvedLab, segment: SegmentSpec, o: { signal?: AbortSignal } = {}): Promise<string[]> {
  const netns = segmentNetnsName(lab.name, segment.name)
  const r = await run(['nsenter', `--net=/run/netns/${netns}`, '--', nftBinary(), '-j', 'list', 'set', 'bridge', RADIO_TABLE, RADIO_SET], { signal: o.signal, check: false })
  if (r.code !== 0) throw new WiringError(`segment ${segment.name}: reading its pairs failed: ${r.stderr.trim()}`)
  const nodeOf = (port: string): string => segment.endpoints[Number(port.slice(1))]?.node ?? port
  const out = new Set<string>()
  for (const item of (JSON.parse(r.stdout) as { nftables: Array<{ set?: { elem?: Array<{ concat: string[] }> } }> }).nftables) {
    for (const e of item.set?.elem ?? []) out.add([nodeOf(e.concat[0]), nodeOf(e.concat[1])].sort().join('--'))
  }
  return [...out].sort()
}

/** Host netns names of a lab's segments present now (also those of a crashed run). */
export async function segmentNamespaces (labName: string): Promise<string[]> {
  const prefix = segmentNetnsName(labName, '')
  return (await fs.readdir('/run/netns').catch(() => [] as string[])).filter(n => n.startsWith(prefix)).sort()
}

/** Removes every segment of a lab: namespace, bridge, ports, rules. Idempotent. */
export async function removeSegments (labName: string, o: { signal?: AbortSignal } = {}): Promise<void> {
  const names = await segmentNamespaces(labName)
  await ipBatch(names.map(n => `netns delete ${n}`), { force: true, signal: o.signal })
}

/** Labs that have segment namespaces on this host (for `ntklab cleanup`). */
export async function labsWithSegments (): Promise<string[]> {
  const labs = new Set<string>()
  for (const n of await fs.readdir('/run/netns').catch(() => [] as string[])) {
    const m = /^ntklab-([a-z0-9][a-z0-9-]*)\.[a-z0-9][a-z0-9_-]*$/.exec(n)
    if (m !== null) labs.add(m[1])
  }
  return [...labs].sort()
}
