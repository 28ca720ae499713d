import type { ArcView, DestinationView, IdentityView, NodeCounters, NodeStatus } from '../node'

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

/** Human output of each ntkctl command (`--json` prints the result as is). */
export function formatReply (cmd: string, r: unknown): string {
  switch (cmd) {
    case 'status': {
      const s = r as NodeStatus
      return [
        `address ${s.address} (${s.global ?? 'virtual'}) topology ${s.topology} bootstrap ${s.bootstrapComplete ? 'complete' : 'in progress'}`,
        ...s.identities.map(i => `identity ${i.id} ${i.kind} ${i.address} netns ${i.netns === '' ? 'default' : i.netns} fp ${i.fingerprint}`),
        ...s.nics.map(n => `nic ${n.name} ${n.mac} ${n.linkLocal ?? '-'}`),
        `arcs ${s.arcs} destinations ${s.destinations}`
      ].join('\n')
    }
    case 'arcs':
      return (r as ArcView[]).map(a => `${a.id} dev ${a.dev} peer ${a.peerLinkLocal} ${a.peerAddress ?? '?'} cost ${a.cost}us`).join('\n') || '(no arcs)'
    case 'identities':
      return (r as IdentityView[]).map(i => [
        `${i.id} ${i.kind} ${i.address} netns ${i.netns === '' ? 'default' : i.netns} fingerprint ${i.fingerprint.id} elderships ${i.fingerprint.elderships.join(',')}`,
        ...i.arcs.map(a => `  arc ${a.id} dev ${a.dev} peer ${a.peerLinkLocal} ${a.peerAddress ?? '?'} cost ${a.cost}us`)
      ].join('\n')).join('\n')
    case 'map':
      return (r as DestinationView[]).map(d => `${d.name} ${d.cidr ?? '(virtual)'}\n` + d.paths.map(p => `  via ${p.arc} cost ${p.cost}us hops ${p.hops.join(' ')}`).join('\n')).join('\n') || '(no destinations)'
    case 'kernel':
      return formatKernel(r as { desired: unknown, actual: unknown })
    case 'counters':
    case 'memory':
      return formatCounters(r as NodeCounters)
    default:
      return JSON.stringify(r, null, 2)
  }
}
