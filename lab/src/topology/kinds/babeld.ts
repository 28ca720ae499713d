import { checkIpv4Cidr } from '../checks'
import type { NodeSpec } from '../model'
import type { Kind, KindRegistry } from './registry'

/**
 * `babeld`: the Babel routing daemon (Debian's babeld 1.12), the well-known peer ntkd is measured
 * against on the same topologies. Each node announces its own address(es), put on `lo` (the kernel
 * here has no dummy module), to every neighbour on every link interface.
 *
 * config:
 *   address:         "172.31.<n>.1/32" or a list of such: put on lo and announced (required)
 *   hello-interval:  seconds between hellos (default 0.5 for labs; babeld's own default is 4)
 *   debug:           babeld -d level (default 0)
 *
 * babeld runs in the foreground with no pid file and no state file (`-I '' -S ''`) and all its
 * configuration on the command line (`-C`), so nodes sharing the host filesystem (netns backend)
 * never collide. IPv4 routes go out with IPv6 link-local next hops (v4-via-v6), so link interfaces
 * need no IPv4 address, but they need their fe80:: address out of DAD before babeld starts.
 */
export const BABELD_CONFIG_KEYS = ['address', 'hello-interval', 'debug'] as const

export function babeldAddresses (node: NodeSpec): string[] {
  const a = node.config.address
  if (typeof a === 'string') return [a]
  if (Array.isArray(a)) return a.filter((x): x is string => typeof x === 'string')
  return []
}

function babeldCommand (node: NodeSpec): string[] {
  const hello = node.config['hello-interval'] ?? 0.5
  const ifaces = Object.keys(node.interfaces).sort()
  const statements = [
    `default type wired hello-interval ${String(hello)}`,
    ...babeldAddresses(node).map(a => `redistribute local ip ${a} allow`),
    'redistribute local deny'
  ]
  // A node without links still runs babeld (it then announces nothing to anybody).
  return ['babeld', '-I', '', '-S', '', '-d', String(node.config.debug ?? 0), ...statements.flatMap(s => ['-C', s]), ...ifaces]
}

function babeldExec (node: NodeSpec): string[] {
  return [
    // Docker starts --network none containers with IPv6 off; babeld needs fe80:: on its interfaces.
    // (/proc/sys/net shows the namespace of the process reading it: the node's.)
    'for f in /proc/sys/net/ipv6/conf/*/disable_ipv6; do echo 0 > "$f" 2>/dev/null || true; done',
    'sysctl -qw net.ipv4.ip_forward=1 || echo "babeld node: cannot enable IPv4 forwarding" >&2',
    'ip link set lo up',
    ...babeldAddresses(node).map(a => `ip addr replace ${a} dev lo`),
    // babeld hellos from a tentative address are dropped: wait (up to 5 s) for DAD to finish.
    'i=0; while [ $i -lt 50 ] && [ -n "$(ip -6 addr show tentative)" ]; do sleep 0.1; i=$((i+1)); done'
  ]
}

export function babeldKind (): Kind {
  return {
    name: 'babeld',
    applyDefaults: node => ({
      ...node,
      command: node.command ?? babeldCommand(node),
      exec: [...babeldExec(node), ...node.exec]
    }),
    check: node => {
      const problems: string[] = []
      const addrs = babeldAddresses(node)
      if (addrs.length === 0) problems.push('config.address is required: the address babeld announces, e.g. 172.31.1.1/32')
      for (const a of addrs) {
        const p = checkIpv4Cidr(a)
        if (p !== undefined) problems.push(`config.address: ${p}`)
      }
      const hello = node.config['hello-interval']
      if (hello !== undefined && (typeof hello !== 'number' || hello <= 0)) problems.push('config.hello-interval must be a positive number of seconds')
      for (const k of Object.keys(node.config)) {
        if (!(BABELD_CONFIG_KEYS as readonly string[]).includes(k)) problems.push(`unknown config key ${JSON.stringify(k)} for kind babeld (known: ${BABELD_CONFIG_KEYS.join(', ')})`)
      }
      return problems
    }
  }
}

/** Registers the babeld kind (lab/src/topology/kinds/index.ts calls this). */
export function registerBabeld (r: KindRegistry): void {
  r.register(babeldKind())
}
