import { run } from './exec'
import type { KernelOptions } from './kernel'
import { LinuxKernel } from './linux-kernel'
import { type KernelState, SYSTEM_NS, emptyNamespace } from './state'
import { TableAllocator } from './table-allocator'
import { readFile, writeFile } from '../util/fs-async'

export interface SweepOptions extends KernelOptions {
  readonly netns?: string
  readonly nestedPrefix?: string
  readonly rtTablesPath?: string
  readonly foreignDevices?: readonly string[]
  readonly netnsDir?: string
  /**
   * Sweep with this kernel, made with these options and a fresh allocator and not applied yet (the daemon's own): its
   * first apply then starts from the swept state instead of reading the kernel again.
   */
  readonly with?: { readonly kernel: LinuxKernel, readonly allocator: TableAllocator }
}

export interface SweepReport {
  /** what was removed, one line each */
  readonly removed: string[]
  readonly commands: number
  /** commands that only read the kernel */
  readonly reads: number
}

/**
 * `ntkd --cleanup`: removes everything the daemon could have left in a namespace (spec §2.8-10, ntkd_cleaning):
 * routes of tables 251 and 200..250 and our protocol-78 routes in main, their rules, MARK and NAT rules tagged
 * `ntkd`, our /32 addresses, nested `ntkv*` namespaces, pseudo-interfaces `ntkv*_<dev>` left in the namespace, and
 * resets the rt_tables lines to `reserved_ntk_from_NNN`. It is an apply of the empty state with a fresh allocator,
 * so it removes exactly what the reader calls ours.
 */
export async function sweepDaemonState (o: SweepOptions = {}): Promise<SweepReport> {
  const allocator = o.with?.allocator ?? new TableAllocator()
  const kernel = o.with?.kernel ?? new LinuxKernel({ ...o, allocator })
  const empty: KernelState = { namespaces: new Map([[SYSTEM_NS, emptyNamespace()]]) }
  // one read of the kernel: the apply says what it changed (a plan first read everything twice, at every start)
  // the daemon's kernel keeps its `ip` processes for its own applies (each spawn holds a loaded daemon's loop)
  let stats, links
  try {
    stats = await kernel.apply(empty, { ...o, rescan: true })
    // pseudo-interfaces still in the system namespace (a crash between `link add` and `link set netns`)
    links = await kernel.links()
  } finally {
    if (o.with === undefined) await kernel.close()
  }
  const removed = [...stats.changes ?? []]
  let commands = stats.commands
  const ip = o.netns === undefined ? ['ip'] : ['ip', '-n', o.netns]
  const reads = stats.reads + 1
  const leftovers = links.map(l => l.ifname).filter(n => /^ntkv\d+_/.test(n))
  if (leftovers.length > 0) {
    await run([...ip, '-batch', '-'], leftovers.map(n => `link del dev ${n}`).join('\n') + '\n', o.signal)
    commands++
    removed.push(...leftovers.map(n => `del pseudo-interface ${n} (unwanted)`))
  }
  if (o.rtTablesPath !== undefined) {
    let existing = ''
    try { existing = await readFile(o.rtTablesPath, 'utf8') } catch { /* a new file */ }
    await writeFile(o.rtTablesPath, allocator.renderRtTables(existing))
  }
  return { removed, commands, reads }
}

/** The state without one nested namespace (a dismissed connectivity identity); apply it to remove that identity. */
export function withoutNamespace (state: KernelState, ns: string): KernelState {
  const namespaces = new Map(state.namespaces)
  if (ns === SYSTEM_NS) namespaces.set(SYSTEM_NS, emptyNamespace())
  else namespaces.delete(ns)
  return { namespaces }
}
