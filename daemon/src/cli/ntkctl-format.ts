import type { HookingView } from '../hooking'
import type { ArcView, CoordinatorView, DestinationView, IdentityView, NodeCounters, NodeStatus } from '../node'
import type { PeersView } from '../peers/peer-services'

/** A route, rule or address as canonicalState lists it (only the fields shown here). */
type Item = Record<string, unknown>
interface CanonicalNamespace { name: string, addresses: Item[], routes: Item[], rules: Item[], marks: Item[], nat: Item[] }

const show = (v: unknown): string => typeof v === 'string' ? v : JSON.stringify(v)

/** One line per kernel object, in `ip`'s word order where there is one. */
function itemLine (section: string, x: Item): string {
  const words = (keys: string[]): string => keys.filter(k => x[k] !== undefined).map(k => k === 'dst' || k === 'ip' ? show(x[k]) : `${k} ${show(x[k])}`).join(' ')
  switch (section) {
    case 'route': return `route ${show(x.type ?? 'unicast')} ${words(['dst', 'table', 'via', 'dev', 'src'])}`
    case 'address': return `address ${words(['ip', 'dev'])}`
    case 'rule': return `rule ${x.fwmarkOf === undefined ? '' : `fwmark ${show(x.fwmarkOf)} `}table ${show(x.table)}`
    default: return `${section} ${Object.entries(x).map(([k, v]) => `${k} ${show(v)}`).join(' ')}`
  }
}

function lines (namespaces: CanonicalNamespace[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const ns of namespaces) {
    const where = ns.name === '' ? '' : `[netns ${ns.name}] `
    for (const [section, items] of [['address', ns.addresses], ['route', ns.routes], ['rule', ns.rules], ['mark', ns.marks], ['nat', ns.nat]] as const) {
      for (const x of items ?? []) {
        const l = where + itemLine(section, x)
        out.set(l, l)
      }
    }
  }
  return out
}

/**
 * `ntkctl kernel`: what the daemon wants and what the kernel holds, as a diff. Unmarked lines are in both,
 * `+` is wanted but missing from the kernel, `-` is in the kernel (of the daemon's kind) but not wanted.
 */
export function formatKernel (r: { desired: unknown, actual: unknown }): string {
  const want = lines(r.desired as CanonicalNamespace[])
  const have = lines(r.actual as CanonicalNamespace[])
  const all = [...new Set([...want.keys(), ...have.keys()])].sort()
  const missing = all.filter(l => !have.has(l)).length
  const extra = all.filter(l => !want.has(l)).length
  const body = all.map(l => `${want.has(l) && have.has(l) ? ' ' : want.has(l) ? '+' : '-'} ${l}`)
  return [...body, `${want.size} wanted, ${missing} missing from the kernel, ${extra} in the kernel but not wanted`].join('\n')
}

/** Flattens nested counters to `path value` lines. */
export function formatCounters (c: NodeCounters): string {
  const out: string[] = []
  const walk = (prefix: string, v: unknown): void => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) walk(prefix === '' ? k : `${prefix}.${k}`, x)
    } else out.push(`${prefix} ${show(v)}`)
  }
  walk('', c)
  return out.join('\n')
}

/** `ntkctl coordinator`: per level, the g-node, its servant, its count of nodes and its shared memory. */
export function formatCoordinator (v: CoordinatorView): string {
  const out = [`address ${v.address}${v.serving ? '' : ' (not serving: not a main identity)'}`]
  for (const l of [...v.levels].sort((a, b) => b.lvl - a.lvl)) {
    const g = l.gnode === '' ? 'the network' : `g-node ${l.gnode}`
    if (l.error !== undefined) { out.push(`level ${l.lvl} (${g}): no answer: ${l.error}`); continue }
    out.push(`level ${l.lvl} (${g}): servant ${l.servant ?? '?'}${l.servantIsMe ? ' (this node)' : ''} nodes ${l.nodesInside ?? '?'}` +
      ` max_virtual_pos ${l.maxVirtualPos ?? '?'} max_eldership ${l.maxEldership ?? '?'}${l.nNodes === null ? '' : ` n_nodes ${l.nNodes}`}` +
      `${l.localCopy ? ' copy here' : ''}`)
    for (const b of l.reservations) out.push(`  reservation ${b.reserveRequestId}: pos ${b.newPos} eldership ${b.newEldership} expires in ${Math.round(b.ttlMs / 100) / 10} s`)
    if (l.hookingMemory !== null) out.push(`  hooking memory ${JSON.stringify(l.hookingMemory)}`)
  }
  return out.join('\n')
}

/** `ntkctl peers`: services with their counters and latencies, participant maps, routing counters. */
export function formatPeers (v: PeersView): string {
  const out = [`address ${v.address} ${v.main ? 'main' : 'forwarder only (virtual positions)'} bootstrap ${v.bootstrapComplete ? 'complete' : 'in progress'}`]
  for (const s of v.services) {
    out.push(`service ${s.pId}${s.optional ? ' optional' : ''}${s.participating ? ' participating' : ''}: requests ${s.requests} answered ${s.answered} failed ${s.failed}` +
      ` served ${s.served} refused ${s.refused}${s.latencyMsAvg === null ? '' : ` latency avg ${s.latencyMsAvg} ms max ${s.latencyMsMax ?? '?'} ms`}`)
  }
  for (const p of v.participants) out.push(`participants of ${p.pId}: ${p.gnodes.join(' ') || '-'}`)
  out.push(Object.entries(v.counters).map(([k, x]) => `${k} ${show(x)}`).join(' '))
  return out.join('\n')
}

/** Human output of each ntkctl command (`--json` prints the result as is). */
export function formatReply (cmd: string, r: unknown): string {
  switch (cmd) {
    case 'status': {
      const s = r as NodeStatus
      return [
        `address ${s.address} (${s.global ?? 'virtual'}) topology ${s.topology} bootstrap ${s.bootstrapComplete ? 'complete' : 'in progress'} network ${s.networkId ?? 'unknown'}`,
        ...s.identities.map(i => `identity ${i.index} ${i.id} ${i.kind} ${i.address} netns ${i.netns === '' ? 'default' : i.netns} fp ${i.fingerprint}`),
        ...s.nics.map(n => `nic ${n.name} ${n.mac} ${n.linkLocal ?? '-'}`),
        `arcs ${s.arcs} destinations ${s.destinations}`
      ].join('\n')
    }
    case 'arcs':
      return (r as ArcView[]).map(a => `${a.id} dev ${a.dev} peer ${a.peerMac} ${a.peerLinkLocal}${a.qspn ? ` qspn ${a.peerAddress ?? '?'}` : ''} cost ${a.cost}us`).join('\n') || '(no arcs)'
    case 'identities':
      return (r as IdentityView[]).map(i => [
        `${i.index} ${i.id} ${i.kind} ${i.address} netns ${i.netns === '' ? 'default' : i.netns} fingerprint ${i.fingerprint.id} elderships ${i.fingerprint.elderships.join(',')}` +
          (i.kind === 'connectivity' ? ` connectivity ${i.connectivityLevels[0]}..${i.connectivityLevels[1]}` : '') +
          (i.virtualLevels.length > 0 ? ` virtual at ${i.virtualLevels.join(',')}` : '') + (i.bootstrapComplete ? '' : ' bootstrapping'),
        ...i.nics.filter(n => n.dev !== n.realDev).map(n => `  pseudo ${n.dev} on ${n.realDev} ${n.mac} ${n.linkLocal}`),
        ...i.arcs.map((a, k) => `  arc ${k} ${a.id} dev ${a.dev} peer ${a.peerMac} ${a.peerLinkLocal}${a.qspn ? ` qspn ${a.peerAddress ?? '?'}` : ''} cost ${a.cost}us`)
      ].join('\n')).join('\n')
    case 'map':
      return (r as DestinationView[]).map(d => `${d.name} ${d.cidr ?? '(virtual)'}\n` + d.paths.map(p => `  via ${p.arc} cost ${p.cost}us hops ${p.hops.join(' ')}`).join('\n')).join('\n') || '(no destinations)'
    case 'kernel':
      return formatKernel(r as { desired: unknown, actual: unknown })
    case 'counters':
    case 'memory':
      return formatCounters(r as NodeCounters)
    case 'coordinator':
      return formatCoordinator(r as CoordinatorView)
    case 'coordinator reserve': {
      const x = r as { newPos: number, newEldership: number }
      return `reserved position ${x.newPos} eldership ${x.newEldership}`
    }
    case 'coordinator delete-reserve':
      return `deleted reservation ${(r as { deleted: number }).deleted}`
    case 'peers':
      return formatPeers(r as PeersView)
    case 'events':
      return (r as Array<{ at: number, type: string }>).map(e => JSON.stringify(e)).join('\n')
    case 'hooking': {
      const h = r as HookingView
      return [
        `network ${h.networkId ?? 'unknown'}${h.entering === null ? '' : ` entering ${h.entering}`}`,
        ...h.arcs.map(a => `arc ${a.arc} ${a.status}${a.networkId === null ? '' : ` network ${a.networkId}`}${a.peer === null ? '' : ` peer ${a.peer}`}`),
        ...h.evaluations.map(e => `evaluation of network ${e.networkId} level ${e.lvl} ${e.status} (${Math.max(0, Math.round(e.inMs / 100) / 10)} s)`),
        ...h.locks.map(l => `entering lock on level ${l.lvl} (${Math.max(0, Math.round(l.inMs / 100) / 10)} s)`)
      ].join('\n')
    }
    default:
      return JSON.stringify(r, null, 2)
  }
}

/**
 * One line of `ntkctl monitor`: the time (UTC, from the daemon's clock), the type, then the other fields as
 * key=value (lists joined by commas, objects as JSON).
 */
export function formatMonitorEvent (e: { at: number, type: string, [k: string]: unknown }): string {
  const time = Number.isFinite(e.at) && e.at > 1e11 ? new Date(e.at).toISOString().slice(11, 23) : String(e.at)
  const value = (v: unknown): string => Array.isArray(v) ? v.map(x => typeof x === 'string' ? x : JSON.stringify(x)).join(', ') : show(v)
  const fields = Object.entries(e).filter(([k, v]) => k !== 'at' && k !== 'type' && v !== undefined).map(([k, v]) => `${k}=${value(v)}`)
  return [time, e.type, ...fields].join(' ')
}
