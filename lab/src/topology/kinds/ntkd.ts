import { existsSync } from 'node:fs'
import path from 'node:path'
import { checkIfname } from '../checks'
import type { NodeSpec } from '../model'
import type { Kind, KindRegistry } from './registry'

/**
 * `ntkd`: the Netsukuku daemon of this project, on every link interface of the node.
 *
 * config:
 *   topology:  bits per level, top level first (required), e.g. [2, 1, 1, 1] for 4·2·2·2
 *   address:   the node's address, top level first, e.g. "3.1.0.1"; without it the daemon founds a network at random
 *              positions and merges with the networks it meets (Hooking); checks read the address it took
 *   networkId: with an address, the configured network's id (1 .. 2147483647): nodes of one id are one network from
 *              the start, a network of another id that they meet merges with theirs by Hooking (the smaller enters
 *              the bigger and takes new addresses)
 *   timers:    lab | default (default lab: short timers)
 *   anonymize: SNAT anonymizer (default true)
 *   serveAnonymous: also take the anonymizing address (default false)
 *   subnetLevel: gateway of an autonomous subnet of this level (default 0: none)
 *   costs:     fixed arc cost in µs per interface, e.g. { eth1: 1000 }
 *   linkLocals: fixed link-local per interface instead of a random one, e.g. { eth1: 169.254.69.30 }
 *   qspnArcs:  auto (default: every arc of the main identity is a qspn-arc) | manual (only those added with
 *              `ntkctl add-qspn-arc`, as the documented use cases are played)
 *   networkKey: shared network key (messages signed, foreign ones dropped); networkKeys: several during a rollover
 *              (the first signs); networkKeyFile: a file of keys, one per line, reloaded by `ntkctl reload`
 *   rescanSeconds: period of the kernel rescan (default 5 with lab timers)
 *
 * The command finds the daemon the same way in both backends: `ntkd` on PATH, then this checkout's
 * bin/ntkd (netns backend: nodes share the host's filesystem), then the image's /opt/ntk (docker).
 * The control socket is named after the node's network namespace, so nodes sharing the host's /run
 * (netns backend) never take each other's socket; `NTKD_CONTROL_SH` gives the same path to `ntkctl`.
 */
export const NTKD_CONFIG_KEYS = ['topology', 'address', 'networkId', 'timers', 'anonymize', 'serveAnonymous', 'subnetLevel', 'costs', 'linkLocals', 'qspnArcs', 'networkKey', 'networkKeys', 'networkKeyFile', 'rescanSeconds'] as const

/** Shell expression of a node's control socket (run inside the node). */
export const NTKD_CONTROL_SH = '/run/ntkd/ntkd$(readlink /proc/self/ns/net 2>/dev/null | tr -dc 0-9 2>/dev/null | sed "s/^/-/").sock'

/** This checkout's bin/ directory (holding ntkd), found upwards from this file in src or dist; undefined if absent. */
function repoBin (): string | undefined {
  let dir = __dirname
  for (let k = 0; k < 7; k++) {
    if (existsSync(path.join(dir, 'bin', 'ntkd')) && existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'bin')
    dir = path.dirname(dir)
  }
  return undefined
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** A shell snippet that runs `tool` (ntkd or ntkctl) with "$@", wherever it is installed. */
export function ntkToolShell (tool: 'ntkd' | 'ntkctl'): string {
  const bin = repoBin()
  return [
    `p=$(command -v ${tool} 2>/dev/null)`,
    `[ -n "$p" ] && exec "$p" "$@"`,
    ...(bin === undefined ? [] : [`[ -x ${quote(path.join(bin, tool))} ] && exec ${quote(path.join(bin, tool))} "$@"`]),
    `exec /opt/ntk/bin/node ${tool === 'ntkd' ? '--max-semi-space-size=1 --lite-mode --no-expose-wasm ' : ''}/opt/ntk/dist/daemon/src/cli/${tool}.js "$@"`
  ].join('; ')
}

/** argv that runs `ntkctl --control <node's socket> ...args` inside a node (for lab.exec). */
export function ntkctlArgv (args: readonly string[]): string[] {
  return ['sh', '-c', `sock="${NTKD_CONTROL_SH}"; set -- --control "$sock" "$@"; ${ntkToolShell('ntkctl')}`, 'ntkctl', ...args]
}

function ntkdArgs (node: NodeSpec): string[] {
  const c = node.config
  const bits = Array.isArray(c.topology) ? c.topology.map(String).join(',') : String(c.topology)
  // the lab owns the cables: it brings the declared-up links up itself, and a link declared down stays down until
  // the timeline brings it up (a daemon bringing it up at start would let two networks meet before their time)
  const args = ['--topology', bits, ...(c.address === undefined ? [] : ['--address', String(c.address)]), '--timers', String(c.timers ?? 'lab'), '--no-link-up']
  if (typeof c.networkId === 'number') args.push('--network-id', String(c.networkId))
  if (c.anonymize === false) args.push('--no-anonymize')
  if (c.serveAnonymous === true) args.push('--serve-anonymous')
  if (typeof c.subnetLevel === 'number' && c.subnetLevel > 0) args.push('--subnet-level', String(c.subnetLevel))
  for (const [nic, cost] of Object.entries((c.costs ?? {}) as Record<string, unknown>)) args.push('--cost', `${nic}=${String(cost)}`)
  for (const [nic, ll] of Object.entries((c.linkLocals ?? {}) as Record<string, unknown>)) args.push('--link-local', `${nic}=${String(ll)}`)
  if (c.qspnArcs === 'manual' || c.qspnArcs === 'hooking') args.push('--qspn-arcs', String(c.qspnArcs))
  const keys = typeof c.networkKey === 'string' ? [c.networkKey] : Array.isArray(c.networkKeys) ? c.networkKeys.map(String) : []
  for (const k of keys) args.push('--network-key', k)
  if (typeof c.networkKeyFile === 'string') args.push('--network-key-file', c.networkKeyFile)
  if (typeof c.rescanSeconds === 'number') args.push('--rescan-seconds', String(c.rescanSeconds))
  for (const nic of Object.keys(node.interfaces).sort()) args.push('-i', nic)
  return args
}

function ntkdCommand (node: NodeSpec): string[] {
  return ['sh', '-c', `sock="${NTKD_CONTROL_SH}"; set -- --control "$sock" "$@"; ${ntkToolShell('ntkd')}`, 'ntkd', ...ntkdArgs(node)]
}

function ntkdExec (node: NodeSpec): string[] {
  const nics = Object.keys(node.interfaces).sort()
  return [
    'ip link set lo up',
    // The transport's per-NIC broadcast is IPv6 multicast from fe80::: IPv6 on, no DAD wait (docker starts
    // --network none containers with IPv6 off). accept_dad first, so re-created fe80:: addresses skip DAD.
    ...nics.map(n => `echo 0 > /proc/sys/net/ipv6/conf/${n}/accept_dad && echo 0 > /proc/sys/net/ipv6/conf/${n}/disable_ipv6`)
  ]
}

/** config.linkLocals: { nic: 169.254.x.y }, every NIC one the daemon manages (a link interface of the node), no address twice. */
function checkLinkLocals (v: unknown, nics: string[]): string[] {
  if (v === undefined) return []
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return ['config.linkLocals must map interface names to link-local addresses, e.g. { eth1: 169.254.69.30 }']
  const problems: string[] = []
  const owner = new Map<string, string>()
  for (const [nic, ll] of Object.entries(v)) {
    if (!nics.includes(nic)) problems.push(`config.linkLocals: ${nic} is not an interface of this node (the daemon manages ${nics.join(', ') || 'none'})`)
    const m = typeof ll === 'string' ? /^169\.254\.(\d{1,3})\.(\d{1,3})$/.exec(ll) : null
    if (m === null || Number(m[1]) > 255 || Number(m[2]) > 255) {
      problems.push(`config.linkLocals.${nic}: ${JSON.stringify(ll)} is not an address in 169.254.0.0/16`)
      continue
    }
    const first = owner.get(ll as string)
    if (first !== undefined) problems.push(`config.linkLocals: ${String(ll)} is given to both ${first} and ${nic}`)
    else owner.set(ll as string, nic)
  }
  return problems
}

export function ntkdKind (): Kind {
  return {
    name: 'ntkd',
    applyDefaults: node => ({
      ...node,
      command: node.command ?? ntkdCommand(node),
      exec: [...ntkdExec(node), ...node.exec]
    }),
    check: node => {
      const problems: string[] = []
      const c = node.config
      const topo = c.topology
      if (!Array.isArray(topo) || topo.length === 0 || !topo.every(b => Number.isInteger(b) && (b as number) >= 1)) {
        problems.push('config.topology is required: bits per level, top level first, e.g. [2, 1, 1, 1]')
      }
      if (c.address === undefined) {
        if (c.qspnArcs === 'manual' || c.qspnArcs === 'auto') problems.push(`config.qspnArcs ${String(c.qspnArcs)} needs config.address (without an address the daemon merges by Hooking)`)
      } else if (typeof c.address !== 'string' || !/^\d+(\.\d+)*$/.test(c.address)) problems.push('config.address: positions top level first, e.g. "3.1.0.1"')
      else if (Array.isArray(topo) && c.address.split('.').length !== topo.length) problems.push(`config.address ${c.address} has ${c.address.split('.').length} positions, config.topology has ${topo.length} levels`)
      else if (Array.isArray(topo)) {
        c.address.split('.').map(Number).forEach((p, i) => {
          const bits = topo[i]
          if (typeof bits === 'number' && p >= 2 ** bits) problems.push(`config.address ${c.address}: position ${p} does not fit ${bits} bits`)
        })
      }
      if (c.networkId !== undefined) {
        if (typeof c.networkId !== 'number' || !Number.isInteger(c.networkId) || c.networkId < 1 || c.networkId >= 2 ** 31) problems.push('config.networkId must be a whole number from 1 to 2147483647')
        else if (c.address === undefined) problems.push('config.networkId needs config.address (a node without an address founds a network of its own)')
        if (c.qspnArcs !== undefined && c.qspnArcs !== 'hooking') problems.push(`config.qspnArcs ${String(c.qspnArcs)} with config.networkId: the arcs of a configured network are checked by Hooking (qspnArcs: hooking)`)
      }
      if (c.timers !== undefined && c.timers !== 'lab' && c.timers !== 'default') problems.push('config.timers must be lab or default')
      if (c.anonymize !== undefined && typeof c.anonymize !== 'boolean') problems.push('config.anonymize must be true or false')
      if (c.serveAnonymous !== undefined && typeof c.serveAnonymous !== 'boolean') problems.push('config.serveAnonymous must be true or false')
      if (c.subnetLevel !== undefined && (!Number.isInteger(c.subnetLevel) || (c.subnetLevel as number) < 0 || (Array.isArray(topo) && (c.subnetLevel as number) >= topo.length))) {
        problems.push(`config.subnetLevel must be a level of the topology (0..${Array.isArray(topo) ? topo.length - 1 : 'levels-1'})`)
      }
      if (c.costs !== undefined) {
        if (typeof c.costs !== 'object' || c.costs === null || Array.isArray(c.costs)) problems.push('config.costs must map interface names to microseconds')
        else {
          for (const [nic, cost] of Object.entries(c.costs)) {
            if (checkIfname(nic) !== undefined) problems.push(`config.costs: ${JSON.stringify(nic)} is not an interface name`)
            else if (!(nic in node.interfaces)) problems.push(`config.costs: ${nic} is not an interface of this node (the daemon manages ${Object.keys(node.interfaces).join(', ') || 'none'})`)
            if (!Number.isInteger(cost) || (cost as number) < 1) problems.push(`config.costs.${nic} must be a positive whole number of microseconds`)
          }
        }
      }
      problems.push(...checkLinkLocals(c.linkLocals, Object.keys(node.interfaces)))
      if (c.qspnArcs !== undefined && c.qspnArcs !== 'auto' && c.qspnArcs !== 'manual' && c.qspnArcs !== 'hooking') problems.push('config.qspnArcs must be auto, manual or hooking')
      const keyWays = ['networkKey', 'networkKeys', 'networkKeyFile'].filter(k => c[k] !== undefined)
      if (keyWays.length > 1) problems.push(`config: ${keyWays.join(' and ')}: give the network keys one way only`)
      if (c.networkKey !== undefined && (typeof c.networkKey !== 'string' || c.networkKey === '')) problems.push('config.networkKey must be a non-empty string')
      if (c.networkKeys !== undefined && (!Array.isArray(c.networkKeys) || c.networkKeys.length === 0 || !c.networkKeys.every(k => typeof k === 'string' && k !== ''))) {
        problems.push('config.networkKeys must be a list of non-empty strings (the signing key first)')
      }
      if (c.networkKeyFile !== undefined && (typeof c.networkKeyFile !== 'string' || !c.networkKeyFile.startsWith('/'))) problems.push('config.networkKeyFile must be an absolute path')
      if (c.rescanSeconds !== undefined && (typeof c.rescanSeconds !== 'number' || !Number.isInteger(c.rescanSeconds) || c.rescanSeconds < 0)) {
        problems.push('config.rescanSeconds must be a whole number of seconds (0: no rescan)')
      }
      for (const k of Object.keys(c)) {
        if (!(NTKD_CONFIG_KEYS as readonly string[]).includes(k)) problems.push(`unknown config key ${JSON.stringify(k)} for kind ntkd (known: ${NTKD_CONFIG_KEYS.join(', ')})`)
      }
      return problems
    }
  }
}

/** Registers the ntkd kind (lab/src/topology/kinds/index.ts calls this). */
export function registerNtkd (r: KindRegistry): void {
  r.register(ntkdKind())
}
