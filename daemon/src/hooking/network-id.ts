import type { QspnManager } from '../qspn/manager'

/** How many tolerances an entered identity that never saw its network's id waits before it takes its own top. */
const UNSEEN_FACTOR = 5

/**
 * The network id of each identity (seed: network collision): the network's top fingerprint, the id of its eldest
 * node. An identity that founded its network reads it from its own map. One that entered a network holds the id it
 * entered, because its map shows the network's eldest only after its first ETPs, and follows its top fingerprint
 * once that has held still for `toleranceMs` (merges and migrations reorder elderships, so the eldest can change).
 *
 * A network cut in two goes on as two networks: the part that lost the eldest no longer sees the held id on any
 * path, and its top fingerprint is its own eldest's, which it takes after the tolerance; a later meeting of the two
 * parts is then a merge, so addresses given out apart cannot collide. A brief cut healed within the tolerance
 * changes nothing.
 */
export class NetworkIds {
  /** The id each entered identity holds (founders have none: their top fingerprint is their id). */
  readonly #held = new Map<string, number>()
  /** Per identity, the top fingerprint id that differs from the held one, and since when (virtual or wall ms). */
  readonly #differs = new Map<string, { top: number, since: number, lost: boolean }>()
  /** The entered identities whose map has shown the held id at least once (on a path or as one of their g-nodes). */
  readonly #seen = new Set<string>()

  constructor (private readonly levels: number, private readonly toleranceMs: number) {}

  /** The network id of an identity whose QSPN instance is `qspn` (null before its bootstrap). */
  of (id: string, qspn: QspnManager | undefined): number | null {
    const held = this.#held.get(id)
    if (held !== undefined) return held
    if (qspn === undefined || !qspn.isBootstrapComplete()) return null
    try { return qspn.getFingerprint(this.levels).id } catch { return null }
  }

  /** Identity `id` entered network `networkId` (or migrated, keeping its old identity's). */
  hold (id: string, networkId: number): void { this.#held.set(id, networkId); this.#differs.delete(id); this.#seen.delete(id) }

  forget (id: string): void { this.#held.delete(id); this.#differs.delete(id); this.#seen.delete(id) }

  /**
   * Looks at identity `id`'s map at time `now`: when its top fingerprint has differed from the held id, the same one
   * all along, for the tolerance, the identity holds it. Returns the change (`lost`: the old id was out of sight
   * all that time, a network split), or null.
   */
  watch (id: string, qspn: QspnManager, now: number): { previous: number, networkId: number, lost: boolean } | null {
    const held = this.#held.get(id)
    if (held === undefined || !qspn.isBootstrapComplete()) { this.#differs.delete(id); return null }
    let top: number
    try { top = qspn.getFingerprint(this.levels).id } catch { return null }
    if (top === held) { this.#differs.delete(id); this.#seen.add(id); return null }
    const lost = !inSight(qspn, this.levels, held)
    if (!lost) this.#seen.add(id)
    const d = this.#differs.get(id)
    if (d === undefined || d.top !== top) { this.#differs.set(id, { top, since: now, lost }); return null }
    d.lost &&= lost
    // an identity that just entered has not seen the network's eldest yet (its map fills over its first ETPs, seconds
    // on a loaded host): it cannot have lost sight of it, so it waits five tolerances before it calls that a split
    if (now - d.since < (this.#seen.has(id) ? this.toleranceMs : UNSEEN_FACTOR * this.toleranceMs)) return null
    this.#held.set(id, top)
    this.#differs.delete(id)
    return { previous: held, networkId: top, lost: d.lost }
  }
}

/** Whether some path of the map (or one of the identity's own g-nodes) carries fingerprint id `fpId`. */
export function inSight (qspn: QspnManager, levels: number, fpId: number): boolean {
  for (let lvl = 0; lvl <= levels; lvl++) if (qspn.getFingerprint(lvl).id === fpId) return true
  for (let lvl = 0; lvl < levels; lvl++) {
    for (const hc of qspn.getKnownDestinations(lvl)) if (qspn.getAllPathsTo(hc).some(p => p.fingerprint.id === fpId)) return true
  }
  return false
}
