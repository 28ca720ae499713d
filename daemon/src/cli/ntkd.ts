#!/usr/bin/env -S node --max-semi-space-size=1 --lite-mode --no-expose-wasm
// ntkd: the Netsukuku routing daemon (spec §11). Exit codes: 0 stopped cleanly, 1 runtime failure, 2 bad configuration.
import { readFileSync, writeFileSync } from 'node:fs'
import type * as V8 from 'node:v8'
import { ConfigError, NTKD_USAGE, networkKeysFor, parseNtkdArgs, startNode, startControlServer, ntkdMessageRegistry, type NodeConfig } from '../node'
// the Linux kernel and the UDP/TCP transport by their own files: the barrels also load the in-memory ones (tests)
import { LinuxKernel } from '../kernel/linux-kernel'
import { TableAllocator } from '../kernel/table-allocator'
import { sweepDaemonState } from '../kernel/sweep'
import { UdpTcpTransport } from '../transport/udp-tcp-transport'
import { ipMonitorCarrierChanges, sysfsCarrier } from '../neighborhood'
import { WireCodec, WireCounters } from '../wire'
import { SystemClock } from '../util/clock'
import { SeededRandom } from '../util/random'
import { Logger } from '../util/logger'

// every line `<ISO time> <level> ntkd:<component> <message>` on stderr; the thresholds come with the configuration
let logger = new Logger({ level: 'info' })
/** The process's own lines (ntkd:daemon). */
function log (line: string): void { logger.of('daemon')(line) }

function macOf (nic: string): string {
  try {
    return readFileSync(`/sys/class/net/${nic}/address`, 'utf8').trim().toUpperCase()
  } catch {
    throw new ConfigError(`interface ${nic} does not exist (no /sys/class/net/${nic})`)
  }
}

/**
 * The transport's multicast needs IPv6 on the NIC and no DAD delay (see UdpTcpTransport). Best effort. accept_dad
 * first: a fe80:: made when IPv6 comes on then skips DAD (one already tentative finishes its DAD).
 */
function enableIpv6 (nic: string): void {
  for (const [key, value] of [['accept_dad', '0'], ['disable_ipv6', '0']]) {
    try { writeFileSync(`/proc/sys/net/ipv6/conf/${nic}/${key}`, value) } catch (e) { log(`cannot set ${key}=${value} on ${nic}: ${(e as Error).message}`) }
  }
}

const RESERVED_PORTS = '/proc/sys/net/ipv4/ip_local_reserved_ports'

/**
 * Keeps the kernel from handing the protocol port to anybody's ephemeral socket in this namespace (it lies inside
 * Linux's default ephemeral range): adds it to ip_local_reserved_ports. Returns what undoes it. Best effort.
 */
function reserveProtocolPort (port: number): () => void {
  try {
    const before = readFileSync(RESERVED_PORTS, 'utf8').trim()
    const listed = before === '' ? [] : before.split(',')
    const covered = listed.some(r => { const [a, b] = r.split('-').map(Number); return port >= a && port <= (b ?? a) })
    if (covered) return () => {}
    writeFileSync(RESERVED_PORTS, [...listed, String(port)].join(','))
    return () => { try { writeFileSync(RESERVED_PORTS, before === '' ? '\n' : before) } catch { /* namespace gone */ } }
  } catch (e) {
    log(`cannot reserve port ${port} in ${RESERVED_PORTS}: ${(e as Error).message}`)
    return () => {}
  }
}

/**
 * A full garbage collection, for `ntkctl memory` (no --expose-gc needed on the command line). V8 collects old
 * garbage only when its heap reaches a limit, so at any instant the resident memory lies somewhere on a saw tooth
 * between what is live and that limit (several MiB apart); after a full collection it shows what is held.
 */
function fullGc (): () => void {
  v8().setFlagsFromString('--expose-gc')
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require('node:vm') as typeof import('node:vm')).runInNewContext('gc') as () => void
}

/** node:v8 (and node:vm above) loaded at the first `ntkctl memory` or `counters`, not at every start: six of Node's modules. */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const v8 = (): typeof V8 => require('node:v8') as typeof V8

/**
 * The process's memory in MiB: resident, V8 heap in use (of which compiled code: it grows as the JIT compiles the
 * paths a daemon runs, up to a plateau) and reserved, outside the heap (buffers).
 */
function memoryCounters (): Record<string, number> {
  const m = process.memoryUsage()
  const mb = (n: number): number => Math.round(n / 10485.76) / 100
  const code = v8().getHeapSpaceStatistics().filter(s => s.space_name.startsWith('code')).reduce((sum, s) => sum + s.space_used_size, 0)
  return { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapCodeMb: mb(code), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers) }
}

async function run (config: NodeConfig): Promise<void> {
  logger = new Logger({ level: config.logLevel, components: config.logComponents })
  // the protocols' timers are unref'd: keep the process alive until a signal (also while a bind waits for its port)
  setInterval(() => {}, 1 << 30)
  const macs = new Map(config.interfaces.map(nic => [nic, macOf(nic)]))
  for (const nic of config.interfaces) enableIpv6(nic)
  const unreservePort = reserveProtocolPort(config.port)
  const counters = new WireCounters()
  const codec = new WireCodec({ registry: ntkdMessageRegistry(), counters, networkKeys: networkKeysFor(config) })
  if (codec.keyFingerprints.length > 0) log(`network keys ${codec.keyFingerprints.join(', ')} (the first signs)`)
  // a key rollover changes the keys without a restart (a restart would drop every arc): from the key file
  const reloadKeys = async (): Promise<{ keys: readonly string[] }> => {
    if (config.networkKeyFile === undefined) throw new ConfigError('no network key file to reload (start with --network-key-file)')
    codec.setNetworkKeys(networkKeysFor(config))
    log(`network keys reloaded from ${config.networkKeyFile}: ${codec.keyFingerprints.join(', ')} (the first signs)`)
    return { keys: codec.keyFingerprints }
  }
  process.on('SIGHUP', () => { reloadKeys().catch(e => log(`SIGHUP: ${(e as Error).message}; the keys stay as they were`)) })
  const clock = new SystemClock()
  const transport = new UdpTcpTransport({ codec, port: config.port, clock, log: logger.of('transport') })
  await transport.start()
  // The port is ours, so no other ntkd runs in this namespace: whatever of the daemon's the kernel holds was left by
  // an earlier run that did not stop cleanly (kill -9, a crash, a power cut). Sweep it before applying anything, with
  // the daemon's own kernel: its first apply (the link-locals, then the first here_i_am) needs no second read.
  const allocator = new TableAllocator()
  const kernel = new LinuxKernel({ allocator, rtTablesPath: config.rtTables })
  const swept = await sweepDaemonState({ rtTablesPath: config.rtTables, with: { kernel, allocator } })
  if (swept.removed.length > 0) {
    logger.of('kernel')(`startup: removed ${swept.removed.length} kernel items an earlier run left behind (${swept.removed.slice(0, 4).join('; ')}${swept.removed.length > 4 ? '; ...' : ''})`)
  }
  // V8 seeds Math.random per process from the OS: a seed needs no node:crypto (1 MiB resident)
  const seed = Math.floor(Math.random() * 2 ** 31)
  const node = await startNode(config, {
    transport, kernel, clock, random: new SeededRandom(seed), wireCounters: counters, log, logger: c => logger.of(c), nicCarrier: sysfsCarrier, carrierChanges: ipMonitorCarrierChanges,
    macOf: nic => macs.get(nic) as string
  }, { kernelIntervalMs: config.timers === 'lab' ? 50 : 100 })
  let gc: (() => void) | undefined
  const closeControl = await startControlServer(config.control, node, {
    reload: reloadKeys,
    counters: () => ({ memory: memoryCounters() }),
    memory: () => { gc ??= fullGc(); gc(); return memoryCounters() },
    log: logger.of('control')
  })
  const st = node.status()
  log(`running: address ${st.address} (${st.global ?? 'virtual'}) topology ${st.topology} on ${config.interfaces.join(', ')}; control ${config.control}`)

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    log(`${signal}: removing kernel state and stopping`)
    void (async () => {
      let code = 0
      await closeControl().catch(() => {})
      try { await node.stop() } catch (e) { log(`stop: ${(e as Error).message}`); code = 1 }
      unreservePort()
      log('stopped')
      process.exit(code)
    })()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

async function main (argv: string[]): Promise<number> {
  let cmd
  try {
    cmd = parseNtkdArgs(argv)
  } catch (e) {
    if (e instanceof ConfigError) { process.stderr.write(`ntkd: ${e.message}\n`); return 2 }
    throw e
  }
  if (cmd.action === 'help') { process.stdout.write(NTKD_USAGE + '\n'); return 0 }
  if (cmd.action === 'cleanup') {
    const r = await sweepDaemonState({ rtTablesPath: cmd.rtTables })
    for (const line of r.removed) process.stdout.write(line + '\n')
    process.stdout.write(`ntkd --cleanup: removed ${r.removed.length} items\n`)
    return 0
  }
  try {
    await run(cmd.config)
  } catch (e) {
    if (e instanceof ConfigError) { process.stderr.write(`ntkd: ${e.message}\n`); return 2 }
    throw e
  }
  return -1
}

main(process.argv.slice(2)).then(code => { if (code >= 0) process.exit(code) }, (e: Error) => {
  log(`fatal: ${e.stack ?? e.message}`)
  process.exit(1)
})
