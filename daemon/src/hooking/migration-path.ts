/*
 * The shortest migration path (§6.3 item 8; seed: Migrations, "Strategia di ingresso"), as the neighbour v of the
 * entering g-node runs it: a breadth-first search over the g-nodes of level l+1 from v's own, asking one node inside
 * each for a place (its Coordinators reserve) and for the g-nodes adjacent to it; then the migrations that free a
 * place in v's g-node, farthest first. The search talks to the network only through a MigrationProber, so the
 * algorithm is tested on its own against an oracle of a synthetic g-node graph.
 */

/** A g-node named by its positions from its level up (lowest level first), with their elderships. */
export interface GnodeTuple {
  readonly positions: readonly number[]
  readonly elderships: readonly number[]
}

export const tupleLevel = (levels: number, t: GnodeTuple): number => levels - t.positions.length
export const tupleKey = (t: GnodeTuple): string => t.positions.join('.')

/** The tuple of the g-node of level `lvl` that contains `t` (t's level ≤ lvl). */
export function tupleUpTo (levels: number, t: GnodeTuple, lvl: number): GnodeTuple {
  const cut = t.positions.length - (levels - lvl)
  if (cut < 0) throw new RangeError(`g-node ${tupleKey(t)} is above level ${lvl}`)
  return { positions: t.positions.slice(cut), elderships: t.elderships.slice(cut) }
}

/** What one node inside a visited g-node answers (the original's execute_search). */
export interface SearchAnswer {
  /** The level its reservations started at (l+1 unless the Coordinator refused there). */
  readonly minHostLevel: number
  /** Where a real position was reserved; undefined: none up to the asked maximum. */
  readonly real?: { readonly hostLevel: number, readonly pos: number, readonly eldership: number }
  /** The virtual position reserved at minHostLevel (the connectivity position of the g-node that would leave). */
  readonly conn?: { readonly pos: number, readonly eldership: number }
  /** g-nodes of level minHostLevel adjacent to the visited one, each with the border g-node (level l) toward it. */
  readonly adjacent: ReadonlyArray<{ readonly gnode: GnodeTuple, readonly border: number }>
}

/** How the search reaches the network: one node inside a g-node (routed), and deletions of superfluous bookings. */
export interface MigrationProber {
  readonly levels: number
  readonly gsizes: readonly number[]
  /** Asks a node inside `gnode` (level askLevel+1) to reserve, up to maxHostLevel, and to list adjacent g-nodes. */
  search (gnode: GnodeTuple, askLevel: number, maxHostLevel: number, reserveId: number): Promise<SearchAnswer | null>
  /** Deletes booking reserveId in the Coordinator of g-node `gnode` (its level is the booking's level). */
  deleteReserve (gnode: GnodeTuple, reserveId: number): Promise<void>
}

/** One step of the search: the g-node visited and how it was reached (the border g-node of the parent that migrates). */
export interface SolutionStep {
  readonly gnode: GnodeTuple
  readonly parent: SolutionStep | null
  /** The parent's border g-node (level l, in the parent) that would migrate into this g-node. */
  readonly migrating: GnodeTuple | null
  /** The virtual position (and eldership) the migrating g-node leaves behind in the parent. */
  readonly connPos: number
  readonly connEld: number
}

export interface Solution {
  readonly leaf: SolutionStep
  readonly hostLevel: number
  readonly pos: number
  readonly eldership: number
}

export const distanceOf = (s: SolutionStep): number => { let d = 0; for (let x = s.parent; x !== null; x = x.parent) d++; return d }

/** hooking_epsilon of the original ntkd: levels counted upward from `level` until 5 bits are covered, plus one. */
export function epsilonOf (gsizes: readonly number[], level: number): number {
  let bits = 5
  let eps = 0
  for (let j = level; bits > 0 && j < gsizes.length; j++) { eps++; bits -= Math.ceil(Math.log2(gsizes[j])) }
  return eps + 1
}

export interface SearchOutcome {
  /** Every solution found, the one to use last. */
  readonly solutions: Solution[]
  /** Every g-node asked, with the levels at which it reserved (for the deletion of what is not used). */
  readonly booked: ReadonlyArray<{ readonly gnode: GnodeTuple, readonly fromLevel: number, readonly toLevel: number }>
  /** g-nodes asked. */
  readonly visited: number
}

/**
 * FindShortestMig (the original's find_shortest_mig): breadth first from `root` (v's g-node of level askLevel+1).
 * A place within okHostLevel ends the search; one higher up is kept and the search goes on below it; the search
 * stops once the distance has grown past the last solution's by 5 and by 30 %.
 */
export async function findShortestMig (p: MigrationProber, root: GnodeTuple, askLevel: number, okHostLevel: number, reserveId: number, maxVisits = 1000): Promise<SearchOutcome> {
  const levels = p.levels
  let maxHostLevel = levels
  const solutions: Solution[] = []
  const booked: Array<{ gnode: GnodeTuple, fromLevel: number, toLevel: number }> = []
  let prevDistance = -1
  const seen = new Set<string>([tupleKey(root)])
  const queue: SolutionStep[] = [{ gnode: root, parent: null, migrating: null, connPos: -1, connEld: -1 }]
  let visited = 0
  while (queue.length > 0 && visited < maxVisits) {
    const current = queue.shift() as SolutionStep
    const d = distanceOf(current)
    if (prevDistance !== -1 && prevDistance + 5 <= d && prevDistance * 1.3 <= d) break
    visited++
    const ans = await p.search(current.gnode, askLevel, maxHostLevel, reserveId).catch(() => null)
    if (ans === null) { seen.delete(tupleKey(current.gnode)); continue }
    if (ans.minHostLevel > maxHostLevel) continue
    booked.push({ gnode: current.gnode, fromLevel: ans.minHostLevel, toLevel: ans.real?.hostLevel ?? maxHostLevel })
    if (ans.real !== undefined) {
      const sol: Solution = { leaf: current, hostLevel: ans.real.hostLevel, pos: ans.real.pos, eldership: ans.real.eldership }
      solutions.push(sol)
      if (ans.real.hostLevel <= okHostLevel) break
      prevDistance = d
      maxHostLevel = ans.real.hostLevel - 1
      if (ans.minHostLevel === ans.real.hostLevel) continue
    }
    if (ans.conn === undefined) continue
    for (const { gnode: n, border } of ans.adjacent) {
      if (tupleLevel(levels, n) !== ans.minHostLevel) continue
      if (n.positions.some((pos, k) => pos >= p.gsizes[ans.minHostLevel + k])) continue
      const key = tupleKey(n)
      if (seen.has(key)) continue
      // a host level that rose along the path must not lead back into a g-node already crossed
      let crossed = false
      for (let s: SolutionStep | null = current; s !== null && !crossed; s = s.parent) {
        crossed = tupleLevel(levels, s.gnode) <= ans.minHostLevel && tupleKey(tupleUpTo(levels, s.gnode, ans.minHostLevel)) === key
      }
      if (crossed) continue
      seen.add(key)
      queue.push({
        gnode: n,
        parent: current,
        migrating: { positions: [border, ...current.gnode.positions], elderships: [-1, ...current.gnode.elderships] },
        connPos: ans.conn.pos,
        connEld: ans.conn.eldership
      })
    }
  }
  return { solutions, booked, visited }
}

/** One migration of a path: the border g-node that moves, where to, and what it leaves behind. */
export interface MigrationOrder {
  readonly migrationId: number
  /** The g-node that migrates (level l). */
  readonly gnode: GnodeTuple
  /** The g-node it enters: positions and elderships from hostLevel up. */
  readonly hostLevel: number
  readonly host: GnodeTuple
  /** Its real position at hostLevel-1 there, and its eldership. */
  readonly pos: number
  readonly eldership: number
  /** The virtual position at level l its old identities keep in the g-node it leaves. */
  readonly connPos: number
  readonly connEld: number
}

/**
 * The migrations of a solution of distance ≥ 1 (the original's get_migs), nearest to v first: β_i leaves p_i for
 * p_{i+1}, taking the position β_{i+1} frees there (the last one the real position found), and leaves its old
 * identities at the virtual position booked in p_i. Also the place the entering g-node takes in p_1: β_1's.
 */
export function migrationsOf (levels: number, sol: Solution, newId: () => number): { orders: MigrationOrder[], entry: { pos: number, eldership: number, host: GnodeTuple } } {
  const steps: SolutionStep[] = []
  for (let s: SolutionStep | null = sol.leaf; s !== null; s = s.parent) steps.unshift(s)
  if (steps.length < 2) throw new RangeError('a migration path of distance 0 has no migrations')
  const orders: MigrationOrder[] = []
  for (let i = 1; i < steps.length; i++) {
    const s = steps[i]
    const last = i === steps.length - 1
    const next = last ? null : steps[i + 1]
    const host = last ? tupleUpTo(levels, s.gnode, sol.hostLevel) : s.gnode
    const m = s.migrating as GnodeTuple
    orders.push({
      migrationId: newId(),
      gnode: m,
      hostLevel: last ? sol.hostLevel : tupleLevel(levels, s.gnode),
      host,
      pos: last ? sol.pos : (next?.migrating as GnodeTuple).positions[0],
      eldership: last ? sol.eldership : (next as SolutionStep).connEld,
      connPos: s.connPos,
      connEld: s.connEld
    })
  }
  const first = steps[1]
  return { orders, entry: { pos: (first.migrating as GnodeTuple).positions[0], eldership: first.connEld, host: steps[0].gnode } }
}
