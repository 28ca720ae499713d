import type { Naddr, Topology } from '../addressing'
import { checkNaddr, formatNaddr } from '../addressing'
import type { Fingerprint } from '../qspn/fingerprint'
import type { Random } from '../util/random'

/**
 * The level-0 fingerprint of the first main identity of a system whose address is configured (create_net
 * semantics, §4.8): elderships all 0 (it founds its g-nodes as far as it knows), a random id. A daemon of a
 * configured network takes the network's id instead: every member shares it, so each g-node's fingerprint, the top
 * one (the network id) included, is that id from the start, whoever is eldest. (Its members' g-nodes are then never
 * told apart by fingerprint: a configured g-node that is cut in two is not seen as split.)
 */
export function firstFingerprint (topology: Topology, naddr: Naddr, random: Random, networkId: number | null = null): Fingerprint {
  checkNaddr(topology, naddr)
  for (let lvl = 0; lvl < topology.levels; lvl++) {
    if (naddr[lvl] >= topology.gsizes[lvl]) throw new RangeError(`main identity ${formatNaddr(naddr)}: position ${naddr[lvl]} at level ${lvl} is virtual (gsize ${topology.gsizes[lvl]})`)
  }
  // 2^31 keeps the id a JSON-safe integer on every platform.
  return { id: networkId ?? random.int(2 ** 31), level: 0, elderships: new Array<number>(topology.levels).fill(0), eldershipsSeed: [] }
}

/** A fingerprint with the eldership at `level` replaced (a new position at that level). */
export function withEldership (fp: Fingerprint, level: number, eldership: number): Fingerprint {
  const elderships = [...fp.elderships]
  elderships[level - fp.level] = eldership
  return { ...fp, elderships }
}
