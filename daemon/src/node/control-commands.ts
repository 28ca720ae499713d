import type { MoveArgs } from './operations'
import type { RunningNode } from './node'
import type { ComponentLog } from '../util/logger'

/**
 * The commands of the control socket: queries, and the proof of concept's operations (spec §7, qspnclient), with
 * the same positional arguments as the documented testbeds. `<id>` is an identity's index, NodeID or namespace.
 */
export const CONTROL_USAGE: Readonly<Record<string, string>> = {
  status: '',
  arcs: '',
  identities: '',
  map: '[<id>]',
  kernel: '',
  counters: '',
  memory: '',
  reload: '',
  peers: '',
  coordinator: '[reserve|delete-reserve <level> <id>]',
  hooking: '',
  events: '',
  monitor: '',
  'prepare-enter-net': '<id> <guest_lvl> <host_lvl> <host_gnode> <host_elderships> <pos1> <eld1> <pos2> <eld2> <conn_pos> <conn_eld> <arcs> <op_id> <prev_op_id|null>',
  'enter-net-phase-1': '<id> <op_id>',
  'enter-net-phase-2': '<id> <op_id>',
  'prepare-migrate': '<id> <guest_lvl> <host_lvl> <host_gnode> <host_elderships> <pos1> <eld1> <pos2> <eld2> <conn_pos> <conn_eld> <op_id> <prev_op_id|null>',
  'migrate-phase-1': '<id> <op_id>',
  'migrate-phase-2': '<id> <op_id>',
  'add-qspn-arc': '<id> <dev> <peer_mac>',
  'add-identity-arc': '<id> <dev> <peer_mac> <peer_identity> [qspn]',
  'remove-outer-arcs': '<id>',
  'check-connectivity': '<id>',
  'remove-identity': '<id>'
}

export const CONTROL_COMMANDS = Object.keys(CONTROL_USAGE)

/** How many arguments a usage line takes: words inside [...] are optional. */
export function argumentCounts (usage: string): { least: number, most: number } {
  let least = 0
  let most = 0
  let depth = 0
  for (const w of usage.split(' ').filter(x => x !== '')) {
    if (w.startsWith('[')) depth++
    if (depth === 0) least++
    most++
    if (w.endsWith(']')) depth--
  }
  return { least, most }
}

/** What the program running the node adds to the control socket. */
export interface ControlHooks {
  /** `reload`: re-reads what can change at run time (the network keys); resolves with what it now holds. */
  readonly reload?: () => Promise<unknown>
  /** Counters of the program beside the node's own (`ntkctl counters`): the process's memory, say. */
  readonly counters?: () => Record<string, unknown>
  /** `memory`: the process's memory after a full garbage collection (what it holds, not what it has not freed yet). */
  readonly memory?: () => unknown
  /** The control component's log (monitoring clients coming and going, cut off). */
  readonly log?: ComponentLog
}

export class ControlArgError extends Error {
  constructor (message: string) { super(message); this.name = 'ControlArgError' }
}

/** Runs one command with its arguments (strings, as typed). Throws ControlArgError on bad arguments. */
export async function runControlCommand (node: RunningNode, cmd: string, args: readonly string[], hooks: ControlHooks = {}): Promise<unknown> {
  const usage = CONTROL_USAGE[cmd]
  if (usage === undefined) throw new ControlArgError(`unknown command ${JSON.stringify(cmd)} (known: ${CONTROL_COMMANDS.join(', ')})`)
  const { least, most } = argumentCounts(usage)
  if (args.length < least || args.length > most || (cmd === 'coordinator' && args.length !== 0 && args.length !== most)) throw new ControlArgError(`${cmd} takes ${usage === '' ? 'no arguments' : usage}; got ${args.length === 0 ? 'none' : args.join(' ')}`)
  const ops = node.ops
  const int = (name: string, v: string): number => {
    if (!/^\d+$/.test(v)) throw new ControlArgError(`${cmd}: ${name} "${v}" is not a whole number`)
    return Number(v)
  }
  const positions = (name: string, v: string): number[] => {
    if (v === '' || v === '-') return []
    const parts = v.split(/[.·]/)
    return parts.map(p => int(name, p))
  }
  const move = (a: readonly string[], withArcs: boolean): MoveArgs => {
    const [, guest, host, gnode, elds, pos1, eld1, pos2, eld2, conn, connEld] = a
    const rest = a.slice(11)
    const arcs = withArcs ? parseArcList(rest[0]) : undefined
    const [op, prev] = withArcs ? rest.slice(1) : rest
    return {
      guestLevel: int('guest_lvl', guest),
      hostLevel: int('host_lvl', host),
      hostGnode: positions('host_gnode', gnode),
      hostElderships: positions('host_elderships', elds),
      pos1: int('pos1', pos1),
      eld1: int('eld1', eld1),
      pos2: int('pos2', pos2),
      eld2: int('eld2', eld2),
      connPos: int('conn_pos', conn),
      connEld: int('conn_eld', connEld),
      ...(arcs === undefined ? {} : { externalArcs: arcs }),
      opId: int('op_id', op),
      prevOpId: prev === 'null' || prev === '-' ? null : int('prev_op_id', prev)
    }
  }
  switch (cmd) {
    case 'status': return node.status()
    case 'arcs': return node.arcs()
    case 'identities': return node.identities()
    case 'map': return node.map(args[0])
    case 'kernel': return await node.kernel()
    case 'counters': return { ...node.counters(), ...hooks.counters?.() }
    case 'memory':
      if (hooks.memory === undefined) throw new ControlArgError('this daemon does not report its memory')
      return hooks.memory()
    case 'reload':
      if (hooks.reload === undefined) throw new ControlArgError('this daemon has nothing to reload')
      return await hooks.reload()
    case 'peers': return node.peers()
    case 'hooking': return node.system.hooking.view()
    case 'events': return node.system.hooking.events.list()
    case 'monitor': throw new ControlArgError('monitor streams events: ask over the control socket (ntkctl monitor)')
    case 'coordinator': return args.length === 0 ? await node.coordinator() : await node.coordinatorCommand(args)
    case 'prepare-enter-net': ops.prepareEnterNet(args[0], move(args, true)); return { prepared: true }
    case 'prepare-migrate': ops.prepareMigrate(args[0], move(args, false)); return { prepared: true }
    case 'enter-net-phase-1': return await ops.enterNetPhase1(args[0], int('op_id', args[1]))
    case 'enter-net-phase-2': return ops.enterNetPhase2(args[0], int('op_id', args[1]))
    case 'migrate-phase-1': return await ops.migratePhase1(args[0], int('op_id', args[1]))
    case 'migrate-phase-2': return ops.migratePhase2(args[0], int('op_id', args[1]))
    case 'add-qspn-arc': return await ops.addQspnArcWithin(args[0], args[1], args[2], node.system.ctx.unicastTimeoutMs)
    case 'add-identity-arc': {
      if (args[4] !== undefined && args[4] !== 'qspn') throw new ControlArgError(`add-identity-arc: the fifth argument can only be "qspn", got ${args[4]}`)
      return await ops.addIdentityArc(args[0], args[1], args[2], args[3], args[4] === 'qspn')
    }
    case 'remove-outer-arcs': return ops.removeOuterArcs(args[0])
    case 'check-connectivity': return ops.checkConnectivity(args[0])
    case 'remove-identity': return await ops.removeIdentity(args[0])
  }
  throw new ControlArgError(`unknown command ${cmd}`)
}

/** "[0]", "[]", "eth1/00:16:3E:1A:C4:45,…" or "-": the identity-arcs of an entry (indices, ids or peer MACs). */
function parseArcList (v: string | undefined): string[] {
  if (v === undefined || v === '-' || v === '[]') return []
  return v.replace(/^\[|\]$/g, '').split(',').map(s => s.trim()).filter(s => s !== '')
}
