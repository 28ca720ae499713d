import { PeersRefuseExecutionError, type PeerService } from '../peers'
import type { HookingConfig } from './config'
import type { EntryData, EnterMove } from './entry'
import type { HookingEvent } from './events'
import type { HookingHost, HookingIdentity } from './manager'
import {
  epsilonOf, findShortestMig, migrationsOf, tupleKey, tupleLevel, tupleUpTo,
  type GnodeTuple, type MigrationOrder, type MigrationProber, type SearchAnswer, type Solution
} from './migration-path'
import { dotted } from './wire-data'

/** p_id of Hooking's own routed requests (a node inside a g-node: search, explore, delete a booking, migrate). */
export const MIGRATION_PID = 2

type Request =
  | { op: 'search', gnode: number[], askLevel: number, maxHostLevel: number, reserveId: number }
  | { op: 'explore', gnode: number[], level: number }
  | { op: 'delete', gnode: number[], reserveId: number }
  | { op: 'prepare', gnode: number[], migrationId: number }
  | { op: 'finish', gnode: number[], order: MigrationOrder }

const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 31
const isInts = (v: unknown, max: number): v is number[] => Array.isArray(v) && v.length <= max && v.every(x => Number.isInteger(x) && x >= -1 && x < 2 ** 31)
const isTuple = (v: unknown, levels: number): v is GnodeTuple => {
  const t = v as GnodeTuple | null
  return t !== null && typeof t === 'object' && isInts(t.positions, levels) && isInts(t.elderships, levels) && t.positions.length === t.elderships.length && t.positions.length >= 1
}

/** A routed request as it arrives (PeerServices hands the JSON as is); null: malformed. */
function parseRequest (raw: unknown, levels: number): Request | null {
  const o = raw as Record<string, unknown> | null
  // gnode: positions from its level up; none for the whole network (a search for a g-node of level L-1, whose host
  // is the network itself); only a g-node below the top migrates
  if (o === null || typeof o !== 'object' || !isInts(o.gnode, levels) || o.gnode.some(p => p < 0)) return null
  if ((o.op === 'prepare' || o.op === 'finish') && o.gnode.length < 1) return null
  switch (o.op) {
    case 'search': return isCount(o.askLevel) && isCount(o.maxHostLevel) && isCount(o.reserveId) ? o as Request : null
    case 'explore': return isCount(o.level) && o.level < levels ? o as Request : null
    case 'delete': return isCount(o.reserveId) ? o as Request : null
    case 'prepare': return isCount(o.migrationId) ? o as Request : null
    case 'finish': {
      const m = o.order as Record<string, unknown> | null
      const ok = m !== null && typeof m === 'object' && isCount(m.migrationId) && isTuple(m.gnode, levels) && isCount(m.hostLevel) && m.hostLevel <= levels &&
        isTuple(m.host, levels) && isCount(m.pos) && Number.isInteger(m.eldership) && isCount(m.connPos) && Number.isInteger(m.connEld)
      return ok ? o as Request : null
    }
    default: return null
  }
}

/**
 * Hooking's migration paths (§6.3 item 8) for one system: as v, the search for a place and the execution of the
 * migrations that free it; as a node inside a visited g-node, its answers (bookings, adjacent g-nodes); as a member
 * of a migrating g-node, the migration itself (a duplication; the old identity stays as a connectivity identity
 * until check_connectivity lets it go).
 */
export class MigrationAgent {
  constructor (
    private readonly host: HookingHost,
    private readonly cfg: HookingConfig,
    private readonly networkIdOf: (id: string) => number | null,
    private readonly holdNetworkId: (id: string, networkId: number) => void,
    private readonly emit: (e: Omit<HookingEvent, 'at'>) => void,
    private readonly after: (ms: number, f: () => void) => void,
    private readonly afterMove: () => Promise<void>
  ) {}

  get #levels (): number { return this.host.topology.levels }
  get #gsizes (): readonly number[] { return this.host.topology.gsizes }

  /** The service every identity registers: executed by a main identity with a real address inside the g-node named. */
  service (id: string): PeerService {
    return { pId: MIGRATION_PID, optional: false, exec: async (request, _client, info) => await this.#exec(id, request, info.afterAnswer) }
  }

  /**
   * Phase 6 at v: the shortest migration path for a g-node of level askLevel, executed; the entry data (a place in
   * v's g-node of level askLevel+1 or above), or why there is none.
   */
  async findPlace (me: HookingIdentity, askLevel: number, networkId: number): Promise<EntryData | { reason: 'no-path' | 'failed', message: string }> {
    const levels = this.#levels
    const first = Math.max(askLevel + 1, this.host.subnetLevel + 1)
    if (first > levels) return { reason: 'no-path', message: `no level above ${askLevel} outside the autonomous subnet` }
    const root = tupleUpTo(levels, this.#myTuple(me), first)
    const okHostLevel = askLevel + epsilonOf(this.#gsizes, askLevel)
    const reserveId = this.host.random.int(2 ** 31)
    const out = await findShortestMig(this.#prober(me), root, askLevel, okHostLevel, reserveId)
    const sol = out.solutions[out.solutions.length - 1]
    this.#deleteSuperfluous(me, out.booked, sol, reserveId)
    if (sol === undefined) return { reason: 'no-path', message: `no free position for a g-node of level ${askLevel} in any g-node reached (${out.visited} asked)` }
    if (sol.leaf.parent === null) {
      const host = tupleUpTo(levels, root, sol.hostLevel)
      this.emit({ type: 'place_reserved', hostLevel: sol.hostLevel, positions: [sol.pos, ...host.positions], distance: 0 })
      return { networkId, hostLevel: sol.hostLevel, positions: [sol.pos, ...host.positions], elderships: [sol.eldership, ...host.elderships] }
    }
    const { orders, entry } = migrationsOf(levels, sol, () => this.host.random.int(2 ** 31))
    this.emit({ type: 'migration_path', distance: orders.length, hostLevel: sol.hostLevel, path: orders.map(o => `${dotted(o.gnode.positions)} -> ${dotted(o.host.positions)}`) })
    try {
      // every migrating g-node prepares first, then they move, farthest first: each takes the place the next freed
      for (let i = orders.length - 1; i >= 0; i--) await this.#ask(me, { op: 'prepare', gnode: [...orders[i].gnode.positions], migrationId: orders[i].migrationId })
      for (let i = orders.length - 1; i >= 0; i--) await this.#ask(me, { op: 'finish', gnode: [...orders[i].gnode.positions], order: orders[i] })
    } catch (e) {
      return { reason: 'failed', message: `migration path: ${(e as Error).message}` }
    }
    this.emit({ type: 'place_reserved', hostLevel: askLevel + 1, positions: [entry.pos, ...entry.host.positions], distance: orders.length })
    return { networkId, hostLevel: askLevel + 1, positions: [entry.pos, ...entry.host.positions], elderships: [entry.eldership, ...entry.host.elderships] }
  }

  /** prepare_migration reached this member of the migrating g-node: prepare_add_identity. */
  prepare (id: string, data: unknown): void {
    const migrationId = (data as { migrationId?: unknown } | null)?.migrationId
    const me = this.host.identity(id)
    if (me === undefined || !me.isMain || !isCount(migrationId)) return
    this.host.prepareMigrate(id, migrationId)
  }

  /** finish_migration reached this member: it duplicates into the new g-node; the old identity keeps connectivity. */
  async finish (id: string, data: unknown): Promise<void> {
    const me = this.host.identity(id)
    const order = (data as { order?: unknown } | null)?.order as MigrationOrder | undefined
    if (me === undefined || !me.isMain || order === undefined) return
    const parsed = parseRequest({ op: 'finish', gnode: order.gnode?.positions, order }, this.#levels)
    if (parsed === null) throw new Error('finish_migration with malformed data')
    const move: EnterMove = {
      guestLevel: tupleLevel(this.#levels, order.gnode),
      hostLevel: order.hostLevel,
      hostGnode: [...order.host.positions].reverse(),
      hostElderships: [...order.host.elderships].reverse(),
      pos1: order.pos,
      eld1: order.eldership,
      pos2: order.pos,
      eld2: order.eldership,
      connPos: order.connPos,
      connEld: Math.max(0, order.connEld)
    }
    const before = [...me.naddr]
    const net = this.networkIdOf(id)
    const fresh = await this.host.migrate(id, move, order.migrationId)
    if (net !== null) this.holdNetworkId(fresh, net)
    const now = this.host.identity(fresh)
    this.emit({ type: 'migrated', migrationId: order.migrationId, guestLevel: move.guestLevel, hostLevel: move.hostLevel, from: dotted(before), address: now === undefined ? null : dotted(now.naddr), identity: now?.index ?? null })
    this.#dismissWhenSuperfluous(id, move.guestLevel, before[move.guestLevel])
    await this.afterMove()
  }

  /**
   * The old identity of a migration goes once check_connectivity says its g-nodes stay connected without it - judged
   * only once the g-node that takes its old place (the next migration's, or the entering one) is in its map, since
   * the check looks at the members it knows (or after searchMigrationPathTimeoutMs, should that never come).
   */
  #dismissWhenSuperfluous (oldId: string, level: number, oldPos: number): void {
    const start = this.host.clock.now()
    const tick = (): void => {
      const old = this.host.identity(oldId)
      if (old === undefined || old.isMain) return
      const arrived = old.qspn.getKnownDestinations(level).some(hc => hc.pos === oldPos)
      let ok = false
      try { ok = (arrived || this.host.clock.now() - start >= this.cfg.searchMigrationPathTimeoutMs) && old.qspn.checkConnectivity() } catch { ok = false }
      if (!ok) { this.after(this.cfg.connectivityCheckMs, tick); return }
      void this.host.dismiss(oldId).then(async () => {
        this.emit({ type: 'identity_dismissed', identity: old.index, address: dotted(old.naddr), after: 'check_connectivity' })
        await this.afterMove()
      }, e => { this.host.log(`hooking: dismiss connectivity identity ${old.index}: ${(e as Error).message}`) })
    }
    this.after(this.cfg.connectivityCheckMs, tick)
  }

  // ------------------------------------------------------------------ v's side: reaching a node inside a g-node

  #myTuple (me: HookingIdentity): GnodeTuple { return { positions: [...me.naddr], elderships: [...me.elderships] } }

  #inside (me: HookingIdentity, gnode: readonly number[]): boolean {
    const from = this.#levels - gnode.length
    return gnode.every((p, k) => me.naddr[from + k] === p)
  }

  /** A request to a node inside the g-node it names (`request.gnode`, positions from its level up); here when I am inside. */
  async #ask (me: HookingIdentity, request: Request): Promise<unknown> {
    const positions = request.gnode
    if (this.#inside(me, positions)) {
      const after: Array<() => void> = []
      const r = await this.#exec(me.id, request, f => { after.push(f) })
      for (const f of after) f()
      return r
    }
    const level = this.#levels - positions.length
    const xbar = [...new Array<number>(level).fill(0), ...positions]
    const r = await me.peers.contactPeer(MIGRATION_PID, xbar, request, { timeoutExecMs: this.cfg.migrationRequestTimeoutMs, serveAtLevel: level })
    const answer = r.response as { ok?: unknown, reason?: unknown } | null
    if (answer === null || typeof answer !== 'object' || answer.ok !== true) throw new Error(`g-node ${dotted(positions)}: ${String(answer?.reason ?? 'no answer')}`)
    return answer
  }

  #prober (me: HookingIdentity): MigrationProber {
    const levels = this.#levels
    return {
      levels,
      gsizes: this.#gsizes,
      search: async (gnode, askLevel, maxHostLevel, reserveId) => {
        try {
          return searchAnswerFrom(await this.#ask(me, { op: 'search', gnode: [...gnode.positions], askLevel, maxHostLevel, reserveId }), levels)
        } catch (e) {
          this.host.log(`hooking: migration path: search in ${dotted(gnode.positions)}: ${(e as Error).message}`)
          return null
        }
      },
      deleteReserve: async (gnode, reserveId) => { await this.#ask(me, { op: 'delete', gnode: [...gnode.positions], reserveId }) }
    }
  }

  /** Bookings made during the search and not used by the chosen solution go (best effort; they also expire). */
  #deleteSuperfluous (me: HookingIdentity, booked: ReadonlyArray<{ gnode: GnodeTuple, fromLevel: number, toLevel: number }>, sol: Solution | undefined, reserveId: number): void {
    const levels = this.#levels
    const key = (g: GnodeTuple, lvl: number): string => `${lvl}:${tupleKey(tupleUpTo(levels, g, lvl))}`
    const used = new Set<string>()
    if (sol !== undefined) {
      used.add(key(sol.leaf.gnode, sol.hostLevel))
      for (let s = sol.leaf.parent; s !== null; s = s.parent) used.add(key(s.gnode, tupleLevel(levels, s.gnode)))
    }
    const gone = new Map<string, GnodeTuple>()
    for (const b of booked) {
      for (let lvl = b.fromLevel; lvl <= Math.min(b.toLevel, levels); lvl++) {
        const k = key(b.gnode, lvl)
        if (!used.has(k)) gone.set(k, tupleUpTo(levels, b.gnode, lvl))
      }
    }
    for (const g of gone.values()) {
      void this.#ask(me, { op: 'delete', gnode: [...g.positions], reserveId }).catch(e => { this.host.log(`hooking: delete booking in ${dotted(g.positions)}: ${(e as Error).message}`) })
    }
  }

  // ------------------------------------------------------------------ w's side: a node inside a visited g-node

  async #exec (id: string, raw: unknown, afterAnswer: ((f: () => void) => void) | undefined): Promise<unknown> {
    const req = parseRequest(raw, this.#levels)
    if (req === null) throw new PeersRefuseExecutionError('generic', 'malformed migration request')
    const me = this.host.identity(id)
    if (me === undefined || !me.isMain || me.naddr.some((p, l) => p >= this.#gsizes[l])) return { ok: false, reason: 'not a main identity with a real address' }
    if (!this.#inside(me, req.gnode)) return { ok: false, reason: `${dotted(me.naddr)} is not inside g-node ${dotted(req.gnode)}` }
    const level = this.#levels - req.gnode.length
    switch (req.op) {
      case 'search': return { ok: true, ...await this.#search(me, req.askLevel, req.maxHostLevel, req.reserveId) }
      case 'explore':
        if (req.level > level) return { ok: false, reason: `level ${req.level} is above the g-node explored (level ${level})` }
        return { ok: true, gnode: tupleUpTo(this.#levels, this.#myTuple(me), req.level) }
      case 'delete': await me.coordinator.deleteReserve(level, req.reserveId); return { ok: true }
      case 'prepare':
        if (level === 0) this.prepare(id, { migrationId: req.migrationId })
        else await me.coordinator.prepareMigration(level, { migrationId: req.migrationId })
        return { ok: true }
      case 'finish': {
        // without return (as the original's finish_migration): the answer leaves before the duplication, which
        // changes the identity that answers; every member has prepared already (prepare came back)
        const run = (): void => {
          const p = level === 0 ? this.finish(id, { order: req.order }) : me.coordinator.finishMigration(level, { order: req.order })
          void p.catch(e => { this.host.log(`hooking: migration ${req.order.migrationId}: ${(e as Error).message}`) })
        }
        if (afterAnswer !== undefined) afterAnswer(run)
        else run()
        return { ok: true }
      }
    }
  }

  /** The original's execute_search: bookings from askLevel+1 up to maxHostLevel, and the adjacent g-nodes. */
  async #search (me: HookingIdentity, askLevel: number, maxHostLevel: number, reserveId: number): Promise<SearchAnswer> {
    const gsizes = this.#gsizes
    const levels = this.#levels
    let minHost = Math.max(askLevel + 1, this.host.subnetLevel + 1)
    let r: { newPos: number, newEldership: number } | undefined
    // the first level whose Coordinator books at all (one inside an autonomous subnet refuses)
    for (; minHost <= Math.min(maxHostLevel, levels); minHost++) {
      try { r = await me.coordinator.reserve(minHost, reserveId); break } catch { r = undefined }
    }
    if (r === undefined) return { minHostLevel: maxHostLevel + 1, adjacent: [] }
    if (r.newPos < gsizes[minHost - 1]) return { minHostLevel: minHost, real: { hostLevel: minHost, pos: r.newPos, eldership: r.newEldership }, adjacent: [] }
    const conn = { pos: r.newPos, eldership: r.newEldership }
    let real: SearchAnswer['real']
    for (let hl = minHost + 1; hl <= Math.min(maxHostLevel, levels) && real === undefined; hl++) {
      let b: { newPos: number, newEldership: number }
      try { b = await me.coordinator.reserve(hl, reserveId) } catch { break }
      if (b.newPos < gsizes[hl - 1]) real = { hostLevel: hl, pos: b.newPos, eldership: b.newEldership }
    }
    const adjacent: Array<{ gnode: GnodeTuple, border: number }> = []
    const explores: Array<Promise<void>> = []
    for (let i = minHost; i < levels; i++) {
      for (const { hc, border } of adjacentToMyGnode(me, gsizes, i, minHost)) {
        const t: GnodeTuple = {
          positions: [hc.pos, ...me.naddr.slice(i + 1)],
          elderships: [me.qspn.getPathsTo(hc)[0]?.fingerprint.elderships[0] ?? -1, ...me.elderships.slice(i + 1)]
        }
        if (i === minHost) { adjacent.push({ gnode: t, border }); continue }
        // a bigger g-node: the first node met inside it names its g-node of level minHost (adjacent to mine)
        explores.push(this.#ask(me, { op: 'explore', gnode: [...t.positions], level: minHost }).then(a => {
          const g = (a as { gnode?: unknown }).gnode
          if (isTuple(g, levels) && tupleLevel(levels, g) === minHost) adjacent.push({ gnode: g, border })
        }, () => {}))
      }
    }
    await Promise.all(explores)
    return { minHostLevel: minHost, conn, adjacent, ...(real === undefined ? {} : { real }) }
  }
}

/**
 * g-nodes of level i adjacent to my g-node of level myLevel (the original ntkd's adjacent_to_my_gnode): my best path
 * to them crosses no g-node of level ≥ myLevel before them. `border`: my g-node of level myLevel−1 the path leaves
 * from (its last hop of that level, or mine), which must be real.
 */
export function adjacentToMyGnode (me: HookingIdentity, gsizes: readonly number[], i: number, myLevel: number): Array<{ hc: { lvl: number, pos: number }, border: number }> {
  const out: Array<{ hc: { lvl: number, pos: number }, border: number }> = []
  for (const hc of me.qspn.getKnownDestinations(i)) {
    const p = me.qspn.getPathsTo(hc)[0]
    if (p === undefined) continue
    let border = me.naddr[myLevel - 1]
    let adjacent = true
    for (const h of p.hops.slice(0, -1)) {
      if (h.lvl >= myLevel) { adjacent = false; break }
      if (h.lvl === myLevel - 1) border = h.pos
    }
    if (adjacent && border < gsizes[myLevel - 1] && hc.pos < gsizes[i]) out.push({ hc, border })
  }
  return out
}

function searchAnswerFrom (raw: unknown, levels: number): SearchAnswer | null {
  const a = raw as Record<string, unknown> | null
  if (a === null || typeof a !== 'object' || !isCount(a.minHostLevel) || !Array.isArray(a.adjacent)) return null
  const real = a.real as SearchAnswer['real'] | undefined
  const conn = a.conn as SearchAnswer['conn'] | undefined
  if (real !== undefined && (!isCount(real.hostLevel) || !isCount(real.pos) || !Number.isInteger(real.eldership))) return null
  if (conn !== undefined && (!isCount(conn.pos) || !Number.isInteger(conn.eldership))) return null
  const adjacent = (a.adjacent as unknown[]).filter((x): x is { gnode: GnodeTuple, border: number } => {
    const o = x as { gnode?: unknown, border?: unknown } | null
    return o !== null && typeof o === 'object' && isTuple(o.gnode, levels) && isCount(o.border)
  })
  return { minHostLevel: a.minHostLevel, adjacent, ...(real === undefined ? {} : { real }), ...(conn === undefined ? {} : { conn }) }
}
