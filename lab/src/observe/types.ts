// What observation reads from a node's kernel, as plain JSON (failure bundles, `ntklab observe`,
// scenario assertions). Names and values follow `ip`'s own vocabulary.

export interface LinkObservation {
  ifname: string
  mac: string
  /** Operational state as the kernel reports it: UP, DOWN, LOWERLAYERDOWN, UNKNOWN... */
  state: string
  mtu: number
  /** Interface flags (UP, LOWER_UP, NO-CARRIER...). */
  flags: string[]
  /** Link type from the kernel (ether, loopback, none...). */
  linkType: string
}

export interface AddressObservation {
  ifname: string
  family: 'inet' | 'inet6'
  address: string
  prefixlen: number
  /** global, link, host, site. */
  scope: string
  /** IPv6 duplicate address detection still running. */
  tentative?: boolean
}

export interface NexthopObservation { gateway?: string, dev?: string, weight?: number }

export interface RouteObservation {
  /** Table name from the node's own rt_tables (main, local, ntk...), else the number as a string. */
  table: string
  family: 'inet' | 'inet6'
  /** Destination prefix, or "default". */
  dst: string
  /** unicast, local, broadcast, anycast, multicast, blackhole, unreachable, prohibit, throw, nat. */
  type: string
  gateway?: string
  dev?: string
  /** Preferred source (`src` in `ip route add`). */
  src?: string
  /** Protocol name from the node's own rt_protos (kernel, static, ntk...), else the number. */
  protocol?: string
  /** global, link, host... */
  scope?: string
  metric?: number
  nexthops?: NexthopObservation[]
}

export interface RuleObservation {
  family: 'inet' | 'inet6'
  priority: number
  /** What the rule matches: from, to, fwmark (value/mask), iif, oif, tos, not, ipproto... Empty: every packet. */
  selector: Record<string, string>
  /** Table name (node's own rt_tables) or number as a string; absent for rules with an action. */
  table?: string
  /** unreachable, blackhole, prohibit, goto, nop: rules that do not look up a table. */
  action?: string
}

export interface IptablesRule { table: string, chain: string, /** The rule as iptables-save prints it after `-A <chain> `. */ spec: string }

export interface IptablesObservation {
  /** The front end as iptables-save names itself, e.g. "iptables-save v1.8.9 (nf_tables)" (legacy: no suffix). */
  variant: string
  /** Raw iptables-save text per table (absent table: empty string). */
  filter: string
  nat: string
  mangle: string
  raw: string
  rules: IptablesRule[]
  /** Why iptables could not be read (not installed, no permission). */
  error?: string
}

export interface NamespaceObservation {
  /** Name under the node's own /run/netns (e.g. ntkv0). */
  name: string
  links: LinkObservation[]
  addresses: AddressObservation[]
  routes: RouteObservation[]
  rules: RuleObservation[]
  /** Its iptables (a connectivity identity's namespace holds MARK rules of its own). */
  iptables?: IptablesObservation
  /** Why the namespace could not be read (it may have gone between listing and reading). */
  error?: string
}

export interface NodeObservation {
  node: string
  netns: string
  /** ISO time the reads started. */
  observedAt: string
  links: LinkObservation[]
  addresses: AddressObservation[]
  routes: RouteObservation[]
  rules: RuleObservation[]
  iptables: IptablesObservation
  /** Namespaces the node created inside itself (its own /run/netns). */
  namespaces: NamespaceObservation[]
}
