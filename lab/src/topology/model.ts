// The resolved lab: what a validated topology file means, with defaults and kinds applied.
// Everything downstream (backends, wiring, observe, scenario) reads only these types.

export interface InterfaceSpec {
  /** Fixed MAC (upper or lower case, colon separated); absent: the kernel picks one. */
  mac?: string
  /** Addresses with prefix, e.g. "169.254.1.1/16", assigned after the link is created. */
  ipv4: string[]
}

export interface NodeSpec {
  name: string
  kind: string
  /** Docker image tag; absent: the lab's own offline-built node image. */
  image?: string
  /** The node's workload, started after wiring (argv form). Absent: the node only holds its namespaces. */
  command?: string[]
  env: Record<string, string>
  /** Kind-specific configuration, passed through untouched (ntkd, babeld read their own keys). */
  config: Record<string, unknown>
  /** Every interface the node's links give it (resolved from a file: `ipv4: []` when the file sets nothing). */
  interfaces: Record<string, InterfaceSpec>
  /** Shell commands run inside the node after its links are up, before the command starts. */
  exec: string[]
  /** Docker only: run privileged instead of with NET_ADMIN/NET_RAW/SYS_ADMIN. */
  privileged: boolean
}

export interface Endpoint { node: string; ifname: string }

export interface Impairment {
  /** Random loss in percent (0..100), applied on egress of both ends. */
  loss?: number
  /** Rate limit as tc understands it, e.g. "10mbit", "512kbit". */
  rate?: string
}

export interface LinkSpec {
  /** Stable id "a:eth1--b:eth1" (endpoints in file order). */
  id: string
  endpoints: [Endpoint, Endpoint]
  /** A radio pair: whether the two hear each other (up) or not (down). A veth: both ends up or down. */
  state: 'up' | 'down'
  impairment?: Impairment
  /**
   * Set on a hearing pair of a radio segment (the segment's name): the two ends share that segment's
   * bridge, and the link's state says whether frames pass between them. Absent: a veth pair.
   */
  segment?: string
}

/**
 * A radio-like L2 segment: every endpoint is a port of one bridge, and frames pass only between the
 * ports of pairs that hear each other (its pairs are LinkSpecs with `segment` set to its name).
 */
export interface SegmentSpec {
  name: string
  /** One interface per node, in file order (the bridge port of endpoint i is `p<i>`). */
  endpoints: Endpoint[]
}

export interface ResolvedLab {
  name: string
  /** Free text from the file's `description`. */
  description?: string
  /** Absolute path of the topology file, when it came from one. */
  file?: string
  nodes: NodeSpec[]
  /** Veth links and the hearing pairs of radio segments (those have `segment` set). */
  links: LinkSpec[]
  /** Radio segments (absent or empty: none). */
  segments?: SegmentSpec[]
  /** Raw timeline steps (validated and interpreted by lab/src/scenario). */
  timeline: unknown[]
}

export function linkId (a: Endpoint, b: Endpoint): string {
  return `${a.node}:${a.ifname}--${b.node}:${b.ifname}`
}
