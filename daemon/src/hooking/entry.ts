import type { Topology } from '../addressing'

/** Where an entering g-node goes (§6.3 EntryData): positions and elderships of levels hostLevel-1 .. levels-1. */
export interface EntryData {
  readonly networkId: number
  readonly hostLevel: number
  readonly positions: readonly number[]
  readonly elderships: readonly number[]
}

/** What finish_enter tells every node of the entering g-node (§6.3 phase 7). */
export interface EnterOrder {
  readonly enterId: number
  /** Level of the g-node that enters (0: a single node). */
  readonly guestLevel: number
  readonly entry: EntryData
}

/** The operator's arguments of an entry (prepare-enter-net), as the proof's qspnclient takes them. */
/**
 * Where a g-node moves (an entry or a migration: the proof's prepare_enter_net_phase_1 / prepare_migrate_phase_1,
 * spec §7), as Hooking decides it and the operator gives it to ntkctl (node/operations' MoveArgs adds the operation).
 */
export interface EnterMove {
  /** Level of the g-node that moves (0: this node alone). */
  readonly guestLevel: number
  /** Level of the g-node it enters: the new position is at hostLevel − 1. */
  readonly hostLevel: number
  /** Positions of the host g-node at levels hostLevel..l−1, top level first ("2.1" → [2, 1]). */
  readonly hostGnode: readonly number[]
  /** Its elderships at the same levels, top level first. */
  readonly hostElderships: readonly number[]
  /** Position taken at level hostLevel − 1 in phase 1 (possibly virtual) and its eldership. */
  readonly pos1: number
  readonly eld1: number
  /** Real position taken in phase 2 and its eldership. */
  readonly pos2: number
  readonly eld2: number
  /** Virtual position the old identity takes at the guest level, and its eldership (dismissed soon after an entry). */
  readonly connPos: number
  readonly connEld: number
}

/** Checks an EntryData against the topology and the guest level; returns what is wrong, or null. */
export function entryProblem (topo: Topology, guestLevel: number, e: EntryData): string | null {
  const l = topo.levels
  if (!Number.isInteger(e.hostLevel) || e.hostLevel <= guestLevel || e.hostLevel > l) return `host level ${e.hostLevel} is not above the guest level ${guestLevel} (levels ${l})`
  const want = l - e.hostLevel + 1
  if (e.positions.length !== want || e.elderships.length !== want) return `entry data for host level ${e.hostLevel} needs ${want} positions and elderships, got ${e.positions.length} and ${e.elderships.length}`
  for (let k = 0; k < want; k++) {
    const lvl = e.hostLevel - 1 + k
    if (!Number.isInteger(e.positions[k]) || e.positions[k] < 0 || e.positions[k] >= topo.gsizes[lvl]) return `position ${e.positions[k]} at level ${lvl} is not a real position (gsize ${topo.gsizes[lvl]})`
  }
  return null
}

/**
 * The entry as the proof's operator gives it (§6.3 phase 7, §7): the new address takes the host g-node's positions
 * from hostLevel-1 up (pos1 = pos2, a real position reserved for us), keeps ours below the guest level and puts
 * zeros between; the old identity steps aside to the first virtual position at the guest level.
 */
export function enterMove (topo: Topology, order: EnterOrder): EnterMove {
  const { entry, guestLevel } = order
  const problem = entryProblem(topo, guestLevel, entry)
  if (problem !== null) throw new RangeError(`finish_enter ${order.enterId}: ${problem}`)
  return {
    guestLevel,
    hostLevel: entry.hostLevel,
    hostGnode: [...entry.positions.slice(1)].reverse(),
    hostElderships: [...entry.elderships.slice(1)].reverse(),
    pos1: entry.positions[0],
    eld1: entry.elderships[0],
    pos2: entry.positions[0],
    eld2: entry.elderships[0],
    connPos: topo.gsizes[guestLevel],
    connEld: 0
  }
}
