import type { Naddr, Topology } from '../addressing'
import { checkNaddr, formatNaddr } from '../addressing'
import { SYSTEM_NS } from '../kernel/state'
import type { Fingerprint } from '../qspn/fingerprint'
import type { Random } from '../util/random'

/**
 * An identity of this system (spec §6.1): the main one owns the default namespace and the local addresses;
 * connectivity identities (later) live in their own `ntkvN` namespace and hold virtual positions.
 */
export interface Identity {
  /** Stable local id ("main" for the first identity; "ntkv0"... for connectivity identities later). */
  readonly id: string
  readonly kind: 'main' | 'connectivity'
  /** Namespace in the system's KernelState: SYSTEM_NS for the main identity. */
  readonly netns: string
  /** Positions, level 0 first (virtual positions allowed for connectivity identities). */
  readonly naddr: Naddr
  /** Level-0 fingerprint: random id and elderships per level (§1.4). */
  readonly fingerprint: Fingerprint
}

/**
 * The first main identity of a system whose address is configured (create_net semantics, §4.8): elderships all 0
 * (it founds its g-nodes as far as it knows), a random fingerprint id.
 */
export function firstMainIdentity (topology: Topology, naddr: Naddr, random: Random): Identity {
  checkNaddr(topology, naddr)
  for (let lvl = 0; lvl < topology.levels; lvl++) {
    if (naddr[lvl] >= topology.gsizes[lvl]) throw new RangeError(`main identity ${formatNaddr(naddr)}: position ${naddr[lvl]} at level ${lvl} is virtual (gsize ${topology.gsizes[lvl]})`)
  }
  // 2^31 keeps the id a JSON-safe integer on every platform.
  const id = random.int(2 ** 31)
  return {
    id: 'main',
    kind: 'main',
    netns: SYSTEM_NS,
    naddr: [...naddr],
    fingerprint: { id, level: 0, elderships: new Array<number>(topology.levels).fill(0), eldershipsSeed: [] }
  }
}
