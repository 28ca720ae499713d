/** Ops as `ip -batch` lines and `iptables-restore --noflush` input. Pure; numeric table ids only. */
import { KernelApplyError } from './errors'
import { ROUTE_PROTO, RULE_COMMENT } from './linux-read'
import type { Op } from './plan'
import { type MarkItem, type NatItem, type RouteItem, type TableName, TABLE_MAIN } from './state'

export type TableIds = (t: TableName) => number | undefined

function tid (ids: TableIds, t: TableName, op: Op): number {
  const id = ids(t)
  if (id === undefined) throw new KernelApplyError('render', `table ${t} has no id`, op)
  return id
}

function routeSpec (r: RouteItem, ids: TableIds, op: Op): string {
  const parts = r.type === 'unicast' ? [r.dst] : [r.type, r.dst]
  if (r.via !== undefined) parts.push('via', r.via)
  if (r.dev !== undefined && r.type === 'unicast') parts.push('dev', r.dev)
  if (r.src !== undefined) parts.push('src', r.src)
  parts.push('table', String(tid(ids, r.table, op)), 'proto', String(ROUTE_PROTO))
  return parts.join(' ')
}

/** The `ip -batch` line of an op run in its own namespace, or null if the op is not an ip command there. */
export function ipLine (o: Op, ids: TableIds): string | null {
  switch (o.kind) {
    case 'pseudo':
      if (o.op === 'replace') return `link set dev ${o.item.name} address ${o.item.mac}`
      if (o.op === 'del') return `link del dev ${o.item.name}`
      return null // created from the system namespace: see pseudoCreateLines
    case 'link-up': return `link set dev ${o.dev} up`
    case 'address': return `address ${o.op} ${o.item.ip}/32 dev ${o.item.dev}`
    case 'route':
      if (o.op === 'del') {
        // matching by prefix, table and (in main) our protocol: never an administrator's route with the same prefix
        return `route del ${o.item.type === 'unicast' ? '' : `${o.item.type} `}${o.item.dst} table ${tid(ids, o.item.table, o)}${o.item.table === TABLE_MAIN ? ` proto ${ROUTE_PROTO}` : ''}`
      }
      return `route ${o.op} ${routeSpec(o.item, ids, o)}`
    case 'rule': {
      const mark = o.item.fwmarkOf !== undefined ? `fwmark ${tid(ids, o.item.fwmarkOf, o)} ` : ''
      return `rule ${o.op} ${mark}table ${tid(ids, o.item.table, o)}`
    }
    default: return null
  }
}

/** Lines of the system namespace's batch that create a pseudo-interface and move it into `hostNs`. */
export function pseudoCreateLines (o: Op & { kind: 'pseudo' }, hostNs: string): string[] {
  const { name, parent, mac } = o.item
  return [`link add dev ${name} link ${parent} type macvlan`, `link set dev ${name} address ${mac}`, `link set dev ${name} netns ${hostNs}`]
}

export function markRule (m: MarkItem, mark: number): string {
  return `PREROUTING -m mac --mac-source ${m.mac} -m comment --comment ${RULE_COMMENT} -j MARK --set-mark ${mark}`
}

export function natRule (n: NatItem): string {
  const src = n.src !== undefined ? `-s ${n.src} ` : ''
  const to = n.target === 'SNAT' ? `--to-source ${n.to}` : `--to ${n.to}`
  return `${n.chain} ${src}-d ${n.dst} -m comment --comment ${RULE_COMMENT} -j ${n.target} ${to}`
}
