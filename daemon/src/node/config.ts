import { readFileSync } from 'node:fs'
import { type Naddr, Topology, parseNaddr, checkNaddr, formatNaddr } from '../addressing'
import { LOG_COMPONENTS, LOG_LEVELS, LogSettingError, parseComponentLevels, parseLogLevel, type LogComponent, type LogLevel } from '../util/logger'

/** Which timer profile the protocols run with (DESIGN §3 "timers are configuration"). */
export type TimerProfile = 'lab' | 'default'

/** The validated configuration of one ntkd. */
export interface NodeConfig {
  /** Managed NICs (-i), in order. */
  readonly interfaces: readonly string[]
  readonly topology: Topology
  /**
   * Address of the main identity, level 0 first; null: none configured, the daemon founds a network of its own at
   * random positions and merges with the networks it meets (Hooking).
   */
  readonly naddr: Naddr | null
  /**
   * Network id of a configured network (--network-id; with --address only): every daemon configured with this id
   * starts in the same network (its arcs to them are qspn-arcs once the ids are compared), and a network of another
   * id that it meets merges with it by Hooking (the smaller enters the bigger, taking new addresses). Null: the
   * network id is the daemon's own random fingerprint until it enters a network.
   */
  readonly networkId: number | null
  /**
   * Bring the managed NICs up at start (default; --no-link-up leaves their administrative state to whoever owns the
   * cable: a lab that keeps a link down until its timeline brings it up).
   */
  readonly linkUp: boolean
  /** SNAT anonymizer (default on; -j/--no-anonymize turns it off). */
  readonly anonymize: boolean
  /** Assign the anonymizing address (-k/--serve-anonymous). */
  readonly serveAnonymous: boolean
  /** Autonomous subnet level S (-s), 0 when not a subnet gateway. */
  readonly subnetLevel: number
  readonly timers: TimerProfile
  /** Fixed arc cost in µs per NIC; measured RTT otherwise. */
  readonly costs: Readonly<Record<string, number>>
  /** Fixed link-local (169.254.0.0/16) per NIC; a random one otherwise (to replay documented values). */
  readonly linkLocals: Readonly<Record<string, string>>
  /** Control socket path (ntkctl). */
  readonly control: string
  /** rt_tables file kept in step with the table allocator (spec §2.2). */
  readonly rtTables: string
  /** UDP/TCP port of the protocols (60269 as the original). */
  readonly port: number
  /** Which identity-arcs become qspn-arcs (see QspnArcsMode). */
  readonly qspnArcs: QspnArcsMode
  /**
   * Period of the kernel rescan in seconds (0: none): the daemon reads its tables, rules and addresses again and
   * puts back what was removed by hand. Default 5 with lab timers, 60 otherwise.
   */
  readonly rescanSeconds: number
  /**
   * Shared network keys: messages are signed with the first and accepted with any (several only during a key
   * rollover); foreign ones are dropped. From `networkKey`/`networkKeys`, or read from `networkKeyFile`.
   */
  readonly networkKeys?: readonly string[]
  /** File holding the keys, one per line (the signing key first); read at start and again on `ntkctl reload`/SIGHUP. */
  readonly networkKeyFile?: string
  /** Threshold of the logs (--log-level, `logLevel`; default info). */
  readonly logLevel: LogLevel
  /** Thresholds of single components (`log` in the file < NTKD_LOG < --log COMPONENT=LEVEL). */
  readonly logComponents: Readonly<Partial<Record<LogComponent, LogLevel>>>
}

/**
 * `auto`: every identity-arc of the main identity is a qspn-arc (one network by configuration); `manual`: only those
 * the operator adds (ntkctl add-qspn-arc); `hooking`: those whose peer says it is in the same network (network id),
 * the others are another network to merge with (the default without a configured address).
 */
export type QspnArcsMode = 'auto' | 'manual' | 'hooking'

export const DEFAULT_CONTROL_SOCKET = '/run/ntkd/ntkd.sock'
export const DEFAULT_RT_TABLES = '/etc/iproute2/rt_tables'

/** A bad command line or configuration file; ntkd exits 2 with this message. */
export class ConfigError extends Error {
  constructor (message: string) { super(message); this.name = 'ConfigError' }
}

/** What the command line asks ntkd to do. */
export type NtkdCommand =
  | { readonly action: 'run', readonly config: NodeConfig }
  | { readonly action: 'cleanup', readonly rtTables: string }
  | { readonly action: 'help' }

export const NTKD_USAGE = `usage: ntkd -i NIC [-i NIC ...] --topology BITS [--address POS] [options]
       ntkd --cleanup [--rt-tables PATH]
options:
  -i, --interface NIC        managed NIC (repeatable)
  -c, --config FILE          JSON or YAML file with the same keys (interfaces, topology, address, networkId, linkUp, anonymize,
                             serveAnonymous, subnetLevel, timers, costs, linkLocals, control, rtTables, port,
                             networkKey, networkKeys, networkKeyFile, rescanSeconds, qspnArcs, logLevel, log);
                             command-line flags win
  --topology 2,1,1,1         bits per level, top level first (4·2·2·2)
  --address 3.1.0.1          address of the main identity, top level first; without it the daemon founds a
                             network at random positions and merges with those it meets
  --network-id N             with --address: the configured network's id (1 .. 2147483647); daemons of one id
                             are one network at once, networks of other ids met are merged by Hooking
  --no-link-up               leave the managed NICs down or up as they are (default: bring them up at start)
  -j, --no-anonymize         no SNAT anonymizer
  -k, --serve-anonymous      also assign the anonymizing address
  -s, --subnet-level S       gateway of an autonomous subnet of level S
  --timers lab|default       timer profile (default: default)
  --cost NIC=MICROSECONDS    fixed cost of the arcs on NIC (repeatable)
  --link-local NIC=ADDRESS   fixed link-local of NIC in 169.254.0.0/16 instead of a random one (repeatable)
  --control PATH             control socket (default ${DEFAULT_CONTROL_SOCKET})
  --rt-tables PATH           rt_tables file (default ${DEFAULT_RT_TABLES})
  --port N                   protocol port (default 60269)
  --rescan-seconds N         period of the kernel rescan that puts back what was removed by hand (default 5
                             with --timers lab, 60 otherwise; 0: none)
  --network-key KEY          shared key: sign messages, drop unsigned ones; repeat it during a key rollover
                             (the first signs, every one is accepted)
  --network-key-file PATH    the keys, one per line (the first signs); reloaded on SIGHUP or ntkctl reload
  --qspn-arcs MODE           auto (default with --address): every arc of the main identity is a qspn-arc;
                             hooking (default without): arcs to the same network, and networks met are merged;
                             manual: only those added with ntkctl add-qspn-arc (replaying the use cases)
  --log-level LEVEL          error, warn, info (default) or debug: what the daemon writes to stderr
  --log COMPONENT=LEVEL      the level of one component (repeatable; also NTKD_LOG=qspn=debug,kernel=warn):
                             ${LOG_COMPONENTS.join(', ')}
  --cleanup                  remove every kernel object a daemon may have left, then exit`

interface RawConfig {
  interfaces?: unknown
  topology?: unknown
  address?: unknown
  networkId?: unknown
  linkUp?: unknown
  anonymize?: unknown
  serveAnonymous?: unknown
  subnetLevel?: unknown
  timers?: unknown
  costs?: unknown
  linkLocals?: unknown
  control?: unknown
  rtTables?: unknown
  port?: unknown
  networkKey?: unknown
  networkKeys?: unknown
  networkKeyFile?: unknown
  rescanSeconds?: unknown
  qspnArcs?: unknown
  logLevel?: unknown
  /** Component -> level (a mapping, or a string like NTKD_LOG's). */
  log?: unknown
}
const FILE_KEYS = ['interfaces', 'topology', 'address', 'networkId', 'linkUp', 'anonymize', 'serveAnonymous', 'subnetLevel', 'timers', 'costs', 'linkLocals', 'control', 'rtTables', 'port', 'networkKey', 'networkKeys', 'networkKeyFile', 'rescanSeconds', 'qspnArcs', 'logLevel', 'log']

/** Parses ntkd's arguments (without node and script) and NTKD_LOG of `env`. Throws ConfigError. */
export function parseNtkdArgs (argv: readonly string[], readText: (path: string) => string = p => readFileSync(p, 'utf8'), env: Readonly<Record<string, string | undefined>> = process.env): NtkdCommand {
  const flags: RawConfig = {}
  let logComponents: Partial<Record<LogComponent, LogLevel>> = {}
  const interfaces: string[] = []
  const costs: Record<string, unknown> = {}
  const linkLocals: Record<string, unknown> = {}
  const keys: string[] = []
  let configFile: string | undefined
  let cleanup = false
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k]
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const value = (): string => {
      if (inline !== undefined) return inline
      const v = argv[++k]
      if (v === undefined) throw new ConfigError(`option ${name} needs a value`)
      return v
    }
    switch (name) {
      case '-h': case '--help': return { action: 'help' }
      case '-i': case '--interface': interfaces.push(value()); break
      case '-c': case '--config': configFile = value(); break
      case '--topology': flags.topology = value(); break
      case '--address': flags.address = value(); break
      case '--network-id': flags.networkId = intArg(name, value()); break
      case '--no-link-up': flags.linkUp = false; break
      case '-j': case '--no-anonymize': flags.anonymize = false; break
      case '-k': case '--serve-anonymous': flags.serveAnonymous = true; break
      case '-s': case '--subnet-level': flags.subnetLevel = intArg(name, value()); break
      case '--timers': flags.timers = value(); break
      case '--cost': {
        const v = value()
        const m = /^([^=]+)=(.+)$/.exec(v)
        if (m === null) throw new ConfigError(`--cost ${v}: expected NIC=MICROSECONDS, e.g. eth1=1000`)
        costs[m[1]] = intArg(`--cost ${m[1]}`, m[2])
        break
      }
      case '--link-local': {
        const v = value()
        const m = /^([^=]+)=(.+)$/.exec(v)
        if (m === null) throw new ConfigError(`--link-local ${v}: expected NIC=ADDRESS, e.g. eth1=169.254.69.30`)
        linkLocals[m[1]] = m[2]
        break
      }
      case '--control': flags.control = value(); break
      case '--rt-tables': flags.rtTables = value(); break
      case '--port': flags.port = intArg(name, value()); break
      case '--qspn-arcs': flags.qspnArcs = value(); break
      case '--rescan-seconds': flags.rescanSeconds = intArg(name, value()); break
      case '--network-key': keys.push(value()); break
      case '--network-key-file': flags.networkKeyFile = value(); break
      case '--log-level': flags.logLevel = logSetting('--log-level', value(), parseLogLevel); break
      case '--log': logComponents = { ...logComponents, ...logSetting('--log', value(), parseComponentLevels) }; break
      case '--cleanup': cleanup = true; break
      default: throw new ConfigError(`unknown option ${arg}\n${NTKD_USAGE}`)
    }
  }
  let file: RawConfig = {}
  if (configFile !== undefined) file = readConfigFile(configFile, readText)
  if (cleanup) return { action: 'cleanup', rtTables: str('rtTables', flags.rtTables ?? file.rtTables) ?? DEFAULT_RT_TABLES }
  const merged: RawConfig = { ...file, ...flags }
  if (interfaces.length > 0) merged.interfaces = interfaces
  // keys given on the command line replace whatever keys the file names
  if (keys.length > 0 || flags.networkKeyFile !== undefined) {
    delete merged.networkKey
    delete merged.networkKeys
    if (keys.length > 0) { delete merged.networkKeyFile; merged.networkKeys = keys }
  }
  if (Object.keys(costs).length > 0) merged.costs = { ...(isRecord(file.costs) ? file.costs : {}), ...costs }
  // component levels: the file's, then NTKD_LOG's, then the flags' (each wins over the one before)
  const fromEnv = env.NTKD_LOG === undefined ? {} : logSetting('NTKD_LOG', env.NTKD_LOG, parseComponentLevels)
  if (Object.keys(fromEnv).length > 0 || Object.keys(logComponents).length > 0) merged.log = { ...componentLevels(file.log), ...fromEnv, ...logComponents }
  if (Object.keys(linkLocals).length > 0) merged.linkLocals = { ...(isRecord(file.linkLocals) ? file.linkLocals : {}), ...linkLocals }
  return { action: 'run', config: validateConfig(merged) }
}

/**
 * YAML (a superset of JSON) loaded only when a configuration file is read: the parser's 70 modules cost a daemon
 * started with flags alone about 80 ms of start and 1 MiB.
 */
function parseYaml (text: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require('yaml') as typeof import('yaml')).parse(text)
}

function readConfigFile (path: string, readText: (path: string) => string): RawConfig {
  let text: string
  try { text = readText(path) } catch (e) { throw new ConfigError(`cannot read configuration ${path}: ${(e as Error).message}`) }
  let doc: unknown
  try { doc = parseYaml(text) } catch (e) { throw new ConfigError(`${path}: not JSON or YAML: ${(e as Error).message}`) }
  if (doc === null || doc === undefined) return {}
  if (!isRecord(doc)) throw new ConfigError(`${path}: expected a mapping of options, got ${typeof doc}`)
  for (const k of Object.keys(doc)) if (!FILE_KEYS.includes(k)) throw new ConfigError(`${path}: unknown key "${k}" (known: ${FILE_KEYS.join(', ')})`)
  return doc as RawConfig
}

/** Checks a raw configuration (file and flags merged) and builds the NodeConfig. */
export function validateConfig (raw: RawConfig): NodeConfig {
  const interfaces = raw.interfaces
  if (!Array.isArray(interfaces) || interfaces.length === 0 || !interfaces.every(i => typeof i === 'string' && /^[\w.@-]{1,15}$/.test(i))) {
    throw new ConfigError('interfaces: give at least one managed NIC (-i eth1), names of at most 15 characters')
  }
  if (new Set(interfaces).size !== interfaces.length) throw new ConfigError(`interfaces: ${interfaces.join(', ')} lists a NIC twice`)
  const topology = parseTopology(raw.topology)
  const naddr = raw.address === undefined ? null : parseAddress(raw.address, topology)
  const subnetLevel = raw.subnetLevel === undefined ? 0 : raw.subnetLevel
  if (typeof subnetLevel !== 'number' || !Number.isInteger(subnetLevel) || subnetLevel < 0 || subnetLevel >= topology.levels) {
    throw new ConfigError(`subnetLevel: ${String(subnetLevel)} is not a level in 0..${topology.levels - 1}`)
  }
  const timers = raw.timers ?? 'default'
  if (timers !== 'lab' && timers !== 'default') throw new ConfigError(`timers: "${String(timers)}" is neither lab nor default`)
  const costs: Record<string, number> = {}
  if (raw.costs !== undefined) {
    if (!isRecord(raw.costs)) throw new ConfigError('costs: expected a mapping NIC -> microseconds')
    for (const [nic, c] of Object.entries(raw.costs)) {
      if (!interfaces.includes(nic)) throw new ConfigError(`costs: ${nic} is not a managed NIC (${interfaces.join(', ')})`)
      if (typeof c !== 'number' || !Number.isInteger(c) || c < 1) throw new ConfigError(`costs.${nic}: ${String(c)} is not a positive whole number of microseconds`)
      costs[nic] = c
    }
  }
  const networkId = parseNetworkId(raw.networkId, naddr)
  const qspnArcs = raw.qspnArcs ?? (naddr === null || networkId !== null ? 'hooking' : 'auto')
  if (qspnArcs !== 'auto' && qspnArcs !== 'manual' && qspnArcs !== 'hooking') throw new ConfigError(`qspnArcs: "${String(qspnArcs)}" is none of auto, manual, hooking`)
  if (naddr === null && qspnArcs !== 'hooking') throw new ConfigError(`qspnArcs: ${qspnArcs} needs a configured address (--address); without one the daemon merges by Hooking (qspnArcs: hooking)`)
  if (networkId !== null && qspnArcs !== 'hooking') throw new ConfigError(`qspnArcs: ${qspnArcs} with networkId ${networkId}: the arcs of a configured network are checked by Hooking (qspnArcs: hooking), ${qspnArcs} would join any network met`)
  const linkLocals = parseLinkLocals(raw.linkLocals, interfaces)
  const port = raw.port ?? 60269
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`port: ${String(port)} is not a TCP/UDP port`)
  const rescanSeconds = raw.rescanSeconds ?? (timers === 'lab' ? 5 : 60)
  if (typeof rescanSeconds !== 'number' || !Number.isInteger(rescanSeconds) || rescanSeconds < 0) {
    throw new ConfigError(`rescanSeconds: ${String(rescanSeconds)} is not a whole number of seconds (0: no rescan)`)
  }
  return {
    interfaces,
    topology,
    naddr,
    networkId,
    linkUp: bool('linkUp', raw.linkUp) ?? true,
    anonymize: bool('anonymize', raw.anonymize) ?? true,
    serveAnonymous: bool('serveAnonymous', raw.serveAnonymous) ?? false,
    subnetLevel,
    timers,
    costs,
    linkLocals,
    control: str('control', raw.control) ?? DEFAULT_CONTROL_SOCKET,
    rtTables: str('rtTables', raw.rtTables) ?? DEFAULT_RT_TABLES,
    port,
    rescanSeconds,
    qspnArcs,
    ...networkKeysOf(raw),
    logLevel: raw.logLevel === undefined ? 'info' : logSetting('logLevel', raw.logLevel, parseLogLevel),
    logComponents: componentLevels(raw.log)
  }
}

/** networkId: a whole number 1 .. 2^31-1 (a fingerprint id's range), given only with an address. */
function parseNetworkId (v: unknown, naddr: Naddr | null): number | null {
  if (v === undefined) return null
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v >= 2 ** 31) throw new ConfigError(`networkId: ${JSON.stringify(v)} is not a whole number from 1 to 2147483647`)
  if (naddr === null) throw new ConfigError(`networkId ${v} needs a configured address (--address): a daemon without one founds a network of its own`)
  return v
}

/** A log setting parsed, its error turned into a ConfigError naming where it came from. */
function logSetting<T> (name: string, v: unknown, parse: (v: never) => T): T {
  try {
    return parse(v as never)
  } catch (e) {
    if (e instanceof LogSettingError) throw new ConfigError(`${name}: ${e.message}`)
    throw e
  }
}

/** `log` of a configuration: a mapping component -> level, or a string as NTKD_LOG's. */
function componentLevels (v: unknown): Partial<Record<LogComponent, LogLevel>> {
  if (v === undefined) return {}
  if (typeof v === 'string') return logSetting('log', v, parseComponentLevels)
  if (!isRecord(v)) throw new ConfigError(`log: expected a mapping component -> level (${LOG_LEVELS.join(', ')}), e.g. { qspn: debug }`)
  return logSetting('log', Object.entries(v).map(([c, l]) => `${c}=${String(l)}`).join(','), parseComponentLevels)
}

/** The keys of a raw configuration: networkKey, networkKeys or networkKeyFile (one of them). */
function networkKeysOf (raw: RawConfig): { networkKeys?: string[], networkKeyFile?: string } {
  const given = (['networkKey', 'networkKeys', 'networkKeyFile'] as const).filter(k => raw[k] !== undefined)
  if (given.length > 1) throw new ConfigError(`${given.join(' and ')}: give the network keys one way only`)
  if (raw.networkKey !== undefined) return { networkKeys: [str('networkKey', raw.networkKey) as string] }
  if (raw.networkKeyFile !== undefined) return { networkKeyFile: str('networkKeyFile', raw.networkKeyFile) }
  if (raw.networkKeys === undefined) return {}
  const list = raw.networkKeys
  if (!Array.isArray(list) || list.length === 0 || !list.every(k => typeof k === 'string' && k !== '')) {
    throw new ConfigError(`networkKeys: expected a list of non-empty keys (the signing key first), got ${JSON.stringify(list)}`)
  }
  if (new Set(list).size !== list.length) throw new ConfigError('networkKeys: a key is listed twice')
  return { networkKeys: list as string[] }
}

/**
 * Reads a key file: one key per line, the signing key first; blank lines and lines starting with # are skipped.
 * Throws ConfigError naming the file when it cannot be read or holds no key.
 */
export function readNetworkKeyFile (path: string, readText: (path: string) => string = p => readFileSync(p, 'utf8')): string[] {
  let text: string
  try { text = readText(path) } catch (e) { throw new ConfigError(`cannot read network key file ${path}: ${(e as Error).message}`) }
  const keys = text.split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
  if (keys.length === 0) throw new ConfigError(`network key file ${path} holds no key (one per line, the signing key first)`)
  if (new Set(keys).size !== keys.length) throw new ConfigError(`network key file ${path} lists a key twice`)
  return keys
}

/** The keys a daemon starts with: listed in its configuration, or read from its key file. */
export function networkKeysFor (config: NodeConfig, readText?: (path: string) => string): string[] {
  if (config.networkKeyFile !== undefined) return readNetworkKeyFile(config.networkKeyFile, readText)
  return [...(config.networkKeys ?? [])]
}

/** linkLocals: NIC -> 169.254.x.y, every NIC managed, no address given to two NICs. */
function parseLinkLocals (v: unknown, interfaces: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  if (v === undefined) return out
  if (!isRecord(v)) throw new ConfigError('linkLocals: expected a mapping NIC -> link-local address, e.g. { eth1: 169.254.69.30 }')
  for (const [nic, ll] of Object.entries(v)) {
    if (!interfaces.includes(nic)) throw new ConfigError(`linkLocals: ${nic} is not a managed NIC (${interfaces.join(', ')})`)
    const m = typeof ll === 'string' ? /^169\.254\.(\d{1,3})\.(\d{1,3})$/.exec(ll) : null
    if (m === null || Number(m[1]) > 255 || Number(m[2]) > 255) throw new ConfigError(`linkLocals.${nic}: ${JSON.stringify(ll)} is not an address in 169.254.0.0/16`)
    const twice = Object.entries(out).find(([, a]) => a === ll)
    if (twice !== undefined) throw new ConfigError(`linkLocals: ${String(ll)} is given to both ${twice[0]} and ${nic}`)
    out[nic] = ll as string
  }
  return out
}

function parseTopology (v: unknown): Topology {
  let bits: unknown[]
  if (typeof v === 'string') bits = v.split(/[,·.\s]+/).filter(s => s !== '').map(s => /^\d+$/.test(s) ? Number(s) : s)
  else if (Array.isArray(v)) bits = v
  else throw new ConfigError('topology: missing (--topology 2,1,1,1: bits per level, top level first)')
  if (!bits.every(b => typeof b === 'number')) throw new ConfigError(`topology: ${JSON.stringify(v)} is not a list of bit counts like 2,1,1,1`)
  try {
    return Topology.fromBits(bits as number[])
  } catch (e) {
    throw new ConfigError(`topology ${bits.join(',')}: ${(e as Error).message}`)
  }
}

function parseAddress (v: unknown, topo: Topology): Naddr {
  try {
    const n = typeof v === 'string' ? parseNaddr(v) : Array.isArray(v) && v.every(x => typeof x === 'number') ? [...(v as number[])].reverse() : undefined
    if (n === undefined) throw new Error(`expected positions like "3.1.0.1", got ${JSON.stringify(v)}`)
    checkNaddr(topo, n)
    n.forEach((p, lvl) => {
      if (p >= topo.gsizes[lvl]) throw new Error(`position ${p} at level ${lvl} does not fit gsize ${topo.gsizes[lvl]} of topology ${topo.toString()}`)
    })
    return n
  } catch (e) {
    throw new ConfigError(`address ${typeof v === 'string' ? v : Array.isArray(v) ? formatNaddr([...(v as number[])].reverse(), '.') : String(v)}: ${(e as Error).message}`)
  }
}

function intArg (name: string, v: string): number {
  if (!/^\d+$/.test(v)) throw new ConfigError(`${name}: "${v}" is not a whole number`)
  return Number(v)
}

function bool (name: string, v: unknown): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v
  throw new ConfigError(`${name}: expected true or false, got ${JSON.stringify(v)}`)
}

function str (name: string, v: unknown): string | undefined {
  if (v === undefined || (typeof v === 'string' && v !== '')) return v
  throw new ConfigError(`${name}: expected a non-empty string, got ${JSON.stringify(v)}`)
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
