import { promises as fs } from 'node:fs'
import path from 'node:path'

/** Number-to-name maps a node's iproute2 uses: its rt_tables and rt_protos. */
export interface RouteNames {
  tables: ReadonlyMap<number, string>
  protocols: ReadonlyMap<number, string>
}

// Names iproute2 knows without any file (lib/rt_names.c) and the kernel's rtnetlink.h protocols.
const BUILTIN_TABLES: Array<[number, string]> = [[0, 'unspec'], [253, 'default'], [254, 'main'], [255, 'local']]
const BUILTIN_PROTOCOLS: Array<[number, string]> = [
  [0, 'unspec'], [1, 'redirect'], [2, 'kernel'], [3, 'boot'], [4, 'static'], [8, 'gated'], [9, 'ra'], [10, 'mrt'],
  [11, 'zebra'], [12, 'bird'], [13, 'dnrouted'], [14, 'xorp'], [15, 'ntk'], [16, 'dhcp'], [17, 'mrouted'],
  [18, 'keepalived'], [42, 'babel'], [99, 'openr'], [186, 'bgp'], [187, 'isis'], [188, 'ospf'], [189, 'rip'], [192, 'eigrp']
]

/** Parses an iproute2 id/name file ("251 ntk", hex ids allowed, '#' comments). */
export function parseIdNames (text: string): Map<number, string> {
  const out = new Map<number, string>()
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim()
    const m = /^(0x[0-9a-f]+|\d+)\s+(\S+)/i.exec(line)
    if (m !== null) out.set(Number(m[1]), m[2])
  }
  return out
}

/**
 * Reads rt_tables and rt_protos (with their .d/*.conf) under a root directory that stands for the
 * node's filesystem, `/proc/<pid>/root`. iproute2 reads /usr/share/iproute2 or /usr/lib/iproute2
 * (distribution defaults, newer versions) and then /etc/iproute2, which overrides.
 */
export async function readRouteNames (root: string): Promise<RouteNames> {
  const dirs = ['usr/share/iproute2', 'usr/lib/iproute2', 'etc/iproute2'].map(d => path.join(root, d))
  const read = async (base: string, builtin: Array<[number, string]>): Promise<Map<number, string>> => {
    const names = new Map(builtin)
    for (const dir of dirs) {
      const main = await fs.readFile(path.join(dir, base), 'utf8').catch(() => '')
      for (const [id, name] of parseIdNames(main)) names.set(id, name)
      const dDir = path.join(dir, `${base}.d`)
      const confs = (await fs.readdir(dDir).catch(() => [] as string[])).filter(f => f.endsWith('.conf')).sort()
      for (const f of confs) {
        for (const [id, name] of parseIdNames(await fs.readFile(path.join(dDir, f), 'utf8').catch(() => ''))) names.set(id, name)
      }
    }
    return names
  }
  const [tables, protocols] = await Promise.all([read('rt_tables', BUILTIN_TABLES), read('rt_protos', BUILTIN_PROTOCOLS)])
  return { tables, protocols }
}

/** A numeric id as `ip -N` prints it, named from the map when it has that id. */
export function nameOf (names: ReadonlyMap<number, string>, id: string | number | undefined, absent: string): string {
  if (id === undefined) return absent
  const n = Number(id)
  return Number.isInteger(n) ? (names.get(n) ?? String(n)) : String(id)
}
