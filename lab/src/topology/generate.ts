// Generated topologies for benchmarks and scale tests.
import { checkLabName } from './checks'
import { type LinkSpec, linkId, type NodeSpec, type ResolvedLab } from './model'

export interface GridOptions {
  /** Kind of every node (default linux). The caller's registry must know it. */
  kind?: string
  image?: string
  command?: string[]
  env?: Record<string, string>
  config?: Record<string, unknown>
  /** Initial state of every link (default up). */
  state?: 'up' | 'down'
}

// Link-local /30s from 169.254.1.0 up to 169.254.254.255 (RFC 3927 keeps the first and last /24).
const FIRST_SUBNET = (169 << 24 | 254 << 16 | 1 << 8) >>> 0
const MAX_LINKS = (254 * 256) / 4

function ipv4 (n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

/** The two addresses of the k-th /30 (k from 0): `[x.x.x.1/30, x.x.x.2/30]` style. */
export function linkSubnet (k: number): [string, string] {
  const base = FIRST_SUBNET + 4 * k
  return [`${ipv4(base + 1)}/30`, `${ipv4(base + 2)}/30`]
}

/**
 * A rows x cols grid: nodes `n<row>x<col>` (1-based), links east and south of each node, each in
 * its own link-local /30 (so only neighbours reach each other without a routing daemon).
 * Interfaces: e1 east, e2 south, e3 west, e4 north.
 */
export function gridTopology (name: string, rows: number, cols: number, opts: GridOptions = {}): ResolvedLab {
  const badName = checkLabName(name)
  if (badName !== undefined) throw new RangeError(badName)
  for (const [what, n] of [['rows', rows], ['cols', cols]] as const) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`grid ${what} must be a positive integer, got ${n}`)
  }
  const linkCount = rows * (cols - 1) + cols * (rows - 1)
  if (linkCount > MAX_LINKS) throw new RangeError(`a ${rows}x${cols} grid has ${linkCount} links; 169.254.0.0/16 holds ${MAX_LINKS} /30 link subnets`)

  const nodeName = (r: number, c: number): string => `n${r}x${c}`
  const nodes = new Map<string, NodeSpec>()
  for (let r = 1; r <= rows; r++) {
    for (let c = 1; c <= cols; c++) {
      const node: NodeSpec = {
        name: nodeName(r, c),
        kind: opts.kind ?? 'linux',
        env: { ...opts.env },
        config: { ...opts.config },
        interfaces: {},
        exec: [],
        privileged: false
      }
      if (opts.image !== undefined) node.image = opts.image
      if (opts.command !== undefined) node.command = [...opts.command]
      nodes.set(node.name, node)
    }
  }

  const interfacesOf = (n: string): NodeSpec['interfaces'] => {
    const node = nodes.get(n)
    if (node === undefined) throw new Error(`grid: no node ${n}`) // unreachable: names come from the loops above
    return node.interfaces
  }
  const links: LinkSpec[] = []
  const connect = (from: string, fromIf: string, to: string, toIf: string): void => {
    const [a, b] = linkSubnet(links.length)
    interfacesOf(from)[fromIf] = { ipv4: [a] }
    interfacesOf(to)[toIf] = { ipv4: [b] }
    const endpoints: LinkSpec['endpoints'] = [{ node: from, ifname: fromIf }, { node: to, ifname: toIf }]
    links.push({ id: linkId(endpoints[0], endpoints[1]), endpoints, state: opts.state ?? 'up' })
  }
  for (let r = 1; r <= rows; r++) {
    for (let c = 1; c <= cols; c++) {
      if (c < cols) connect(nodeName(r, c), 'e1', nodeName(r, c + 1), 'e3')
      if (r < rows) connect(nodeName(r, c), 'e2', nodeName(r + 1, c), 'e4')
    }
  }
  return { name, nodes: [...nodes.values()], links, timeline: [] }
}
