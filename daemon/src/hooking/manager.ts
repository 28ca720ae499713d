import type { Naddr, Topology } from '../addressing'
import type { Coordinator, CoordinatorHandlers, PropagationHandler } from '../coordinator'
import type { PeerService, PeerServices } from '../peers'
import type { QspnManager } from '../qspn/manager'
import type { Clock } from '../util/clock'
import type { Random } from '../util/random'
import type { WireMessage } from '../wire'
import { DEFAULT_HOOKING_CONFIG, type HookingConfig } from './config'
import { enterMove, entryProblem, type EnterMove, type EnterOrder, type EntryData } from './entry'
import { networkMemoryFrom, type EnterLock, type EvaluateEnterData, type EvaluateEnterResult } from './evaluation'
import { hookingEntryData, hookingNetworkData, hookingRefused, type HookingNetworkData, type HookingRefused, type RefusalReason } from './messages'
import { HookingEvents, type HookingEvent } from './events'
import { HookingResponder } from './responder'
import { dotted, enterOrder } from './wire-data'
import { inSight, NetworkIds } from './network-id'
import { MigrationAgent } from './migration-agent'

/** One identity of the system as Hooking sees it. */
export interface HookingIdentity {
  readonly id: string
  readonly index: number
  readonly naddr: Naddr
  /** The fingerprint's elderships, one per level (level 0 first). */
  readonly elderships: readonly number[]
  readonly qspn: QspnManager
  readonly coordinator: Coordinator
  readonly peers: PeerServices
  readonly isMain: boolean
}

/** What Hooking needs from its system (NodeSystem implements it). */
export interface HookingHost {
  readonly topology: Topology
  readonly subnetLevel: number
  readonly clock: Clock
  readonly random: Random
  log (line: string): void
  main (): HookingIdentity | undefined
  identity (id: string): HookingIdentity | undefined
  /** The identity-arcs of identity `id`. */
  arcs (id: string): ReadonlyArray<{ readonly id: string, readonly peerId: string, readonly peerMac: string }>
  isQspnArc (id: string, arcId: string): boolean
  addQspnArc (id: string, arcId: string): void
  /** A request from identity `id` to its peer identity over identity-arc `arcId`; the reply. */
  request (id: string, arcId: string, m: WireMessage, timeoutMs: number): Promise<WireMessage | undefined>
  /** prepare_add_identity of identity `id` for operation `opId` (prepare_enter reached this node). */
  prepareEnter (id: string, opId: number): void
  /** The entry of identity `id` (finish_enter): it duplicates; the new identity's id. */
  enter (id: string, move: EnterMove, opId: number, externalArcIds: readonly string[]): Promise<string>
  /** prepare_add_identity of identity `id` for migration `opId` (prepare_migration reached this node). */
  prepareMigrate (id: string, opId: number): void
  /** The migration of identity `id` (finish_migration): it duplicates; the new identity's id (the old one: connectivity). */
  migrate (id: string, move: EnterMove, opId: number): Promise<string>
  /** exit_network(level) of identity `id` (§6.3 item 9): its g-node of that level leaves the network; arcs dropped. */
  exitNetwork (id: string, level: number): string[]
  /** Dismisses a connectivity identity. */
  dismiss (id: string): Promise<void>
  /** The main identity changed or an identity went: main identity-arcs missing with any neighbour are made. */
  ensureMainArcs (): Promise<void>
}

/** What Hooking knows of one identity-arc of the main identity. */
type ArcStatus = 'checking' | 'same-network' | 'another-network' | 'other-topology' | 'not-main'
interface ArcState { status: ArcStatus, networkId: number | null, peerNaddr: readonly number[] | null }

export interface HookingView {
  readonly networkId: number | null
  readonly entering: string | null
  readonly arcs: ReadonlyArray<{ readonly arc: string, readonly status: ArcStatus, readonly networkId: number | null, readonly peer: string | null }>
  /** The whole network's pending evaluations (on its Coordinator) and the lock of each g-node (on theirs). */
  readonly evaluations: ReadonlyArray<{ readonly networkId: number, readonly lvl: number, readonly status: string, readonly inMs: number }>
  readonly locks: ReadonlyArray<{ readonly lvl: number, readonly inMs: number }>
}

class Stopped extends Error {}

/**
 * Hooking of one system (§6.3), acting through its main identity: on every new identity-arc between main
 * identities it asks the neighbour for its network's data. Same network: the arc becomes a qspn-arc. Another
 * network with the same topology: the smaller network enters the bigger one (phase 1), its Coordinator elects one
 * contact point (phases 2-4), the g-node to enter is locked (5), the neighbour finds it a place (6), and every node
 * of it duplicates into the other network (7); the old identities are dismissed once the new ones run.
 */
export class HookingManager {
  readonly events = new HookingEvents()
  readonly #cfg: HookingConfig
  readonly #networkIds: NetworkIds
  readonly #arcs = new Map<string, ArcState>()
  readonly #running = new Set<string>()
  readonly #timers = new Set<() => void>()
  /** The network this system is entering now (one at a time). */
  #entering: number | null = null
  #stopped = false

  readonly #responder: HookingResponder
  readonly #migrations: MigrationAgent

  constructor (private readonly host: HookingHost, cfg: Partial<HookingConfig> = {}) {
    this.#cfg = { ...DEFAULT_HOOKING_CONFIG, ...cfg }
    this.#networkIds = new NetworkIds(host.topology.levels, this.#cfg.networkSplitToleranceMs)
    this.#after(this.#cfg.networkWatchMs, () => { this.#watchNetwork() })
    this.#migrations = new MigrationAgent(host, this.#cfg, id => this.networkIdOf(id), (id, n) => { this.#networkIds.hold(id, n) }, e => { this.#emit(e) },
      (ms, f) => { this.#after(ms, () => { if (!this.#stopped) f() }) },
      async () => { await this.host.ensureMainArcs(); this.mainChanged() })
    this.#responder = new HookingResponder(host, this.#cfg, id => this.networkIdOf(id), me => this.#nodesInside(me), e => { this.#emit(e) }, this.#migrations)
  }

  get config (): HookingConfig { return this.#cfg }

  /** The network id of identity `id`: its own top fingerprint when it founded the network, else the one it entered. */
  networkIdOf (id: string): number | null { return this.#networkIds.of(id, this.host.identity(id)?.qspn) }

  /** Every networkWatchMs: has the main identity's network lost its eldest (a network split, NetworkIds)? */
  #watchNetwork (): void {
    if (this.#stopped) return
    const main = this.host.main()
    const change = main === undefined ? null : this.#networkIds.watch(main.id, main.qspn, this.host.clock.now())
    if (change !== null && main !== undefined) {
      if (change.lost) {
        this.host.log(`hooking: the network's eldest (${change.previous}) is out of sight for ${this.#cfg.networkSplitToleranceMs} ms: network split, this part is network ${change.networkId}`)
        this.#emit({ type: 'network_split', previous: change.previous, networkId: change.networkId, nodes: this.#nodesInside(main) })
      } else {
        this.host.log(`hooking: the network's top fingerprint is ${change.networkId} (held ${change.previous}): it is the network id now`)
        this.#emit({ type: 'network_id', previous: change.previous, networkId: change.networkId })
      }
      // arcs to the other part (if any came back meanwhile) are looked at again as arcs to another network
      this.mainChanged()
    }
    this.#after(this.#cfg.networkWatchMs, () => { this.#watchNetwork() })
  }

  /** A new identity: founded a network (nothing to remember), entered one (its id), or migrated (its old one's id). */
  identityAdded (id: string, origin: { kind: 'create' } | { kind: 'enter', networkId: number } | { kind: 'migrate', from: string }): void {
    if (origin.kind === 'enter') this.#networkIds.hold(id, origin.networkId)
    if (origin.kind === 'migrate') { const n = this.networkIdOf(origin.from); if (n !== null) this.#networkIds.hold(id, n) }
  }

  identityRemoved (id: string): void {
    this.#networkIds.forget(id)
    for (const k of [...this.#arcs.keys()]) if (k.startsWith(`${id}|`)) this.#arcs.delete(k)
  }

  /** An identity-arc of a main identity appeared (or the main identity changed: every arc is looked at). */
  arcAdded (id: string, arcId: string): void {
    if (this.#stopped || this.host.main()?.id !== id) return
    void this.#check(id, arcId).catch(e => { if (!(e instanceof Stopped)) this.host.log(`hooking: arc ${arcId}: ${(e as Error).message}`) })
  }

  mainChanged (): void {
    const main = this.host.main()
    if (main === undefined) return
    for (const a of this.host.arcs(main.id)) if (!this.host.isQspnArc(main.id, a.id)) this.arcAdded(main.id, a.id)
  }

  arcRemoved (id: string, arcId: string): void { this.#arcs.delete(`${id}|${arcId}`) }

  stop (): void {
    this.#stopped = true
    for (const cancel of this.#timers) cancel()
    this.#timers.clear()
  }

  // ------------------------------------------------------------------ the neighbour's side and the Coordinator's

  /** A Hooking request from a neighbour identity over identity-arc `arcId` of identity `id`; undefined: not ours. */
  async handle (id: string, arcId: string, m: WireMessage): Promise<WireMessage | undefined> {
    return await this.#responder.handle(id, arcId, m)
  }

  /** Hooking's decisions on a Coordinator servant (phases 2-5), run with that g-node's memory. */
  coordinatorHandlers (id: string): CoordinatorHandlers { return this.#responder.coordinatorHandlers(id) }

  /** Hooking's routed requests (migration paths), served by identity `id` (registered on its PeerServices). */
  migrationService (id: string): PeerService { return this.#migrations.service(id) }

  /** What every node of a g-node does on Hooking's propagations (phase 7, migrations, splits). */
  propagationHandler (id: string): PropagationHandler {
    return {
      prepare_enter: (_lvl, data) => {
        const enterId = (data as { enterId?: unknown } | null)?.enterId
        const me = this.host.identity(id)
        if (me === undefined || !me.isMain || !Number.isInteger(enterId)) return
        this.host.prepareEnter(id, enterId as number)
      },
      finish_enter: async (_lvl, data) => { await this.#finishEnter(id, data) },
      prepare_migration: (_lvl, data) => { this.#migrations.prepare(id, data) },
      finish_migration: async (_lvl, data) => { await this.#migrations.finish(id, data) },
      we_have_splitted: (lvl, data) => { this.#exitNetwork(id, lvl, (data as { fingerprintId?: unknown } | null)?.fingerprintId) }
    }
  }

  /**
   * QSPN found a g-node split and my neighbour over `arcId` is in the island without the eldest (§4.7): it is told
   * (hooking_you_have_splitted), and its island leaves the network and enters it again through the merge flow.
   */
  gnodeSplitted (id: string, arcId: string, hc: { lvl: number, pos: number }, fingerprintId: number): void {
    if (this.#stopped || this.host.main()?.id !== id) return
    this.#emit({ type: 'split_detected', arc: arcId, level: hc.lvl, gnode: `${hc.lvl}:${hc.pos}`, fingerprintId })
    void this.host.request(id, arcId, { v: 1, kind: 'hooking_you_have_splitted', level: hc.lvl, fingerprintId }, this.#cfg.networkDataTimeoutMs).then(r => {
      if (r !== undefined && hookingRefused.is(r)) this.host.log(`hooking: you_have_splitted over ${arcId} refused: ${r.reason}: ${r.message}`)
    }, e => { this.host.log(`hooking: you_have_splitted over ${arcId}: ${(e as Error).message}`) })
  }

  /**
   * we_have_splitted reached this member of the island: exit_network(level); the island is a network of its own, its
   * id the island's fingerprint; the arcs dropped come back as identity-arcs to another network, and the island
   * enters it again (Hooking).
   */
  #exitNetwork (id: string, level: number, fingerprintId: unknown): void {
    const me = this.host.identity(id)
    if (me === undefined || !me.isMain || level < 1 || level >= this.host.topology.levels) return
    if (me.qspn.getFingerprint(level).id !== fingerprintId) return
    const previous = this.networkIdOf(id)
    const arcs = this.host.exitNetwork(id, level)
    const networkId = me.qspn.getFingerprint(this.host.topology.levels).id
    this.#networkIds.hold(id, networkId)
    this.host.log(`hooking: my g-node of level ${level} split from network ${String(previous)}: it exits (${arcs.length} arcs dropped), network ${networkId} now`)
    this.#emit({ type: 'network_exited', level, previous, networkId, arcsDropped: arcs.length })
  }

  async #finishEnter (id: string, raw: unknown): Promise<void> {
    const me = this.host.identity(id)
    if (me === undefined || !me.isMain) return
    const order = enterOrder(raw)
    if (order === null) throw new Error('finish_enter with malformed data')
    const problem = entryProblem(this.host.topology, order.guestLevel, order.entry)
    if (problem !== null) throw new Error(`finish_enter ${order.enterId}: ${problem}`)
    const move = enterMove(this.host.topology, order)
    // the arcs into the network entered, which the new identity asks for its first full ETPs
    const external = this.host.arcs(id).filter(a => this.#arcs.get(`${id}|${a.id}`)?.networkId === order.entry.networkId).map(a => a.id)
    const before = [...me.naddr]
    const fresh = await this.host.enter(id, move, order.enterId, external)
    this.#networkIds.hold(fresh, order.entry.networkId)
    this.#entering = null
    const now = this.host.identity(fresh)
    this.#emit({ type: 'entered', enterId: order.enterId, networkId: order.entry.networkId, guestLevel: order.guestLevel, hostLevel: order.entry.hostLevel, from: dotted(before), address: now === undefined ? null : dotted(now.naddr), identity: now?.index ?? null })
    this.#dismissWhenReady(id, fresh)
    await this.host.ensureMainArcs()
    this.mainChanged()
  }

  /** The old identity goes once the new one has bootstrapped (its routes stand), or after dismissOldAfterMs. */
  #dismissWhenReady (oldId: string, newId: string): void {
    const start = this.host.clock.now()
    const tick = (): void => {
      if (this.#stopped) return
      const fresh = this.host.identity(newId)
      const ready = fresh !== undefined && fresh.qspn.isBootstrapComplete()
      if (!ready && this.host.clock.now() - start < this.#cfg.dismissOldAfterMs) { this.#after(200, tick); return }
      const old = this.host.identity(oldId)
      if (old === undefined || old.isMain) return
      void this.host.dismiss(oldId).then(
        async () => {
          this.#emit({ type: 'identity_dismissed', identity: old.index, address: dotted(old.naddr) })
          await this.host.ensureMainArcs()
          this.mainChanged()
        },
        e => { this.host.log(`hooking: dismiss identity ${old.index}: ${(e as Error).message}`) })
    }
    this.#after(200, tick)
  }

  // ------------------------------------------------------------------ the contact's side (phases 1-7)

  async #check (id: string, arcId: string): Promise<void> {
    const key = `${id}|${arcId}`
    if (this.#running.has(key)) return
    this.#running.add(key)
    try {
      for (;;) {
        const me = this.#live(id, arcId)
        if (me === null) return
        if (this.host.isQspnArc(id, arcId)) { this.#arcs.set(key, { status: 'same-network', networkId: this.networkIdOf(id), peerNaddr: null }); return }
        this.#arcs.set(key, { status: 'checking', networkId: null, peerNaddr: null })
        const myNet = this.networkIdOf(id)
        const theirs = myNet === null ? null : await this.#askNetworkData(id, arcId, false)
        if (theirs === null || myNet === null) { await this.#sleep(this.#cfg.networkDataRetryMs); continue }
        if ('reason' in theirs) {
          if (theirs.reason === 'not-main') { this.#arcs.set(key, { status: 'not-main', networkId: null, peerNaddr: null }); return }
          await this.#sleep(this.#cfg.networkDataRetryMs)
          continue
        }
        const peer = dotted(theirs.naddr)
        if (theirs.gsizes.join('.') !== this.host.topology.gsizes.join('.')) {
          this.#arcs.set(key, { status: 'other-topology', networkId: theirs.networkId, peerNaddr: theirs.naddr })
          this.#emit({ type: 'other_topology', arc: arcId, peer, gsizes: theirs.gsizes })
          return
        }
        if (theirs.networkId === myNet) {
          this.#arcs.set(key, { status: 'same-network', networkId: myNet, peerNaddr: theirs.naddr })
          this.host.addQspnArc(id, arcId)
          this.#emit({ type: 'same_network', arc: arcId, peer, networkId: myNet })
          return
        }
        if (inSight(me.qspn, this.host.topology.levels, theirs.networkId)) {
          // their network's eldest is on a path of my map: one network whose nodes follow a new top fingerprint at
          // slightly different moments (NetworkIds); the ids agree within the tolerance
          await this.#sleep(this.#cfg.networkDataRetryMs)
          continue
        }
        this.#arcs.set(key, { status: 'another-network', networkId: theirs.networkId, peerNaddr: theirs.naddr })
        const wait = await this.#decide(id, arcId, myNet, theirs)
        if (wait === null) return
        // looked at again later: we wait for them, an entry failed, or J is to be ignored for a while
        await this.#sleep(wait)
      }
    } finally {
      this.#running.delete(key)
    }
  }

  /** Phase 1, then (if we enter) phases 2-7; the time to wait before looking at this arc again, or null: done. */
  async #decide (id: string, arcId: string, myNet: number, theirs: HookingNetworkData): Promise<number | null> {
    const me = this.host.identity(id)
    if (me === undefined) return null
    let ours = this.#nodesInside(me)
    let their = theirs.nNodes
    const ratio = Math.max(ours, their) / Math.max(1, Math.min(ours, their))
    if (ratio < this.#cfg.localDecisionRatio) {
      // close sizes: both sides ask their Coordinator, so every contact point of the two networks decides alike
      try { ours = await me.coordinator.getNNodes() } catch (e) { this.host.log(`hooking: our network's size from its Coordinator: ${(e as Error).message}`); return this.#cfg.networkDataRetryMs }
      const again = await this.#askNetworkData(id, arcId, true)
      if (again === null || 'reason' in again || again.networkId !== theirs.networkId) {
        this.host.log(`hooking: their network's size from its Coordinator: ${again === null ? 'no answer' : 'reason' in again ? `${again.reason}: ${again.message}` : `network ${again.networkId} now`}`)
        return this.#cfg.networkDataRetryMs
      }
      their = again.nNodes
    }
    const weEnter = ours < their || (ours === their && myNet < theirs.networkId)
    this.#emit({ type: 'another_network', arc: arcId, peer: dotted(theirs.naddr), networkId: theirs.networkId, ourNodes: ours, theirNodes: their, decision: weEnter ? 'we enter' : 'they enter' })
    if (!weEnter) return this.#cfg.reconsiderMs
    if (this.#entering !== null) return this.#cfg.networkDataRetryMs
    this.#entering = theirs.networkId
    try {
      return await this.#enter(id, arcId, theirs)
    } finally {
      if (this.#entering === theirs.networkId) this.#entering = null
    }
  }

  /** Phases 2-7 from this contact point; null when we entered, else how long to wait before trying again. */
  async #enter (id: string, arcId: string, theirs: HookingNetworkData): Promise<number | null> {
    const topo = this.host.topology
    const data: EvaluateEnterData = { networkId: theirs.networkId, neighbourNaddr: theirs.naddr, minLevel: this.host.subnetLevel, evaluateEnterId: this.host.random.int(2 ** 31) }
    let lvl: number | null = null
    for (let asks = 0; lvl === null; asks++) {
      const me = this.#live(id, arcId)
      if (me === null || asks > 1000) return null
      let r: EvaluateEnterResult
      try {
        r = await me.coordinator.evaluateEnter(topo.levels, data) as EvaluateEnterResult
      } catch (e) {
        this.host.log(`hooking: evaluate_enter: ${(e as Error).message}`)
        await this.#sleep(this.#cfg.networkDataRetryMs)
        continue
      }
      if ('askAgainMs' in r) { await this.#sleep(r.askAgainMs); continue }
      if ('ignoreNetworkMs' in r) { this.#emit({ type: 'ignore_network', networkId: theirs.networkId, forMs: r.ignoreNetworkMs }); return r.ignoreNetworkMs }
      lvl = r.enter
    }
    this.#emit({ type: 'elected', arc: arcId, networkId: theirs.networkId, level: lvl })
    for (; lvl >= this.host.subnetLevel; lvl--) {
      for (let attempt = 1; attempt <= this.#cfg.attemptsPerLevel; attempt++) {
        const me = this.#live(id, arcId)
        if (me === null) return null
        const holder = this.host.random.int(2 ** 31)
        if (lvl >= 1) {
          let ok = false
          try { ok = ((await me.coordinator.beginEnter(lvl, { holder })) as { ok?: boolean } | null)?.ok === true } catch (e) { this.host.log(`hooking: begin_enter: ${(e as Error).message}`) }
          if (!ok) { this.#emit({ type: 'already_entering', level: lvl }); return this.#cfg.networkDataRetryMs }
        }
        this.#emit({ type: 'begin_enter', level: lvl, attempt })
        let reply: WireMessage | undefined
        try {
          reply = await this.host.request(id, arcId, { v: 1, kind: 'hooking_search_migration_path', askLevel: lvl, networkId: theirs.networkId }, this.#cfg.searchMigrationPathTimeoutMs)
        } catch (e) {
          reply = { v: 1, kind: 'hooking_refused', reason: 'failed', message: (e as Error).message }
        }
        if (reply !== undefined && hookingEntryData.is(reply)) {
          if (lvl >= 1) await me.coordinator.completedEnter(lvl, { holder }).catch(() => {})
          await this.#startEntry(me, lvl, { networkId: reply.networkId, hostLevel: reply.hostLevel, positions: reply.positions, elderships: reply.elderships })
          return null
        }
        if (lvl >= 1) await me.coordinator.abortEnter(lvl, { holder }).catch(() => {})
        const why = reply !== undefined && hookingRefused.is(reply) ? reply : { reason: 'failed' as RefusalReason, message: `unexpected answer ${reply?.kind ?? 'none'}` }
        this.#emit({ type: 'entry_refused', level: lvl, reason: why.reason, message: why.message })
        if (why.reason === 'no-path') break
        if (why.reason === 'refused' || why.reason === 'not-main') return this.#cfg.networkDataRetryMs
      }
    }
    this.#emit({ type: 'enter_failed', networkId: theirs.networkId })
    return this.#cfg.reconsiderMs
  }

  /** Phase 7 from the elected node: every node of my g-node of level lvl prepares, then enters. */
  async #startEntry (me: HookingIdentity, lvl: number, entry: EntryData): Promise<void> {
    const order: EnterOrder = { enterId: this.host.random.int(2 ** 31), guestLevel: lvl, entry }
    this.#emit({ type: 'enter', enterId: order.enterId, networkId: entry.networkId, guestLevel: lvl, hostLevel: entry.hostLevel, positions: [...entry.positions] })
    if (lvl >= 1) {
      await me.coordinator.prepareEnter(lvl, { enterId: order.enterId })
      await me.coordinator.finishEnter(lvl, order)
      return
    }
    const handler = this.propagationHandler(me.id)
    await handler.prepare_enter?.(0, { enterId: order.enterId })
    await handler.finish_enter?.(0, order)
  }

  /** The neighbour's network data (or its refusal); null when it could not be asked. */
  async #askNetworkData (id: string, arcId: string, askCoordinator: boolean): Promise<HookingNetworkData | HookingRefused | null> {
    try {
      const r = await this.host.request(id, arcId, { v: 1, kind: 'hooking_get_network_data', askCoordinator }, this.#cfg.networkDataTimeoutMs)
      if (r !== undefined && (hookingNetworkData.is(r) || hookingRefused.is(r))) return r
      return null
    } catch {
      return null
    }
  }

  /** Identity `id` if it is still the main identity and has the arc; else null (the procedure ends). */
  #live (id: string, arcId: string): HookingIdentity | null {
    if (this.#stopped) throw new Stopped()
    const me = this.host.identity(id)
    if (me === undefined || !me.isMain || this.host.main()?.id !== id) return null
    if (!this.host.arcs(id).some(a => a.id === arcId)) return null
    return me
  }

  #nodesInside (me: HookingIdentity): number {
    try { return me.qspn.getNodesInside(this.host.topology.levels) } catch { return 1 }
  }

  async #sleep (ms: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      if (this.#stopped) { reject(new Stopped()); return }
      this.#after(ms, () => { if (this.#stopped) reject(new Stopped()); else resolve() })
    })
  }

  #after (ms: number, f: () => void): void {
    const cancel = this.host.clock.setTimer(ms, () => { this.#timers.delete(cancel); f() })
    this.#timers.add(cancel)
  }

  #emit (e: Omit<HookingEvent, 'at'>): void { this.events.emit({ at: this.host.clock.now(), ...e } as HookingEvent) }

  view (): HookingView {
    const main = this.host.main()
    const now = this.host.clock.now()
    const arcs = main === undefined ? [] : this.host.arcs(main.id).map(a => {
      const s = this.#arcs.get(`${main.id}|${a.id}`)
      return { arc: a.id, status: this.host.isQspnArc(main.id, a.id) ? 'same-network' as ArcStatus : s?.status ?? 'checking', networkId: s?.networkId ?? null, peer: s?.peerNaddr == null ? null : dotted(s.peerNaddr) }
    })
    const evaluations: Array<{ networkId: number, lvl: number, status: string, inMs: number }> = []
    const locks: Array<{ lvl: number, inMs: number }> = []
    for (let lvl = 1; main !== undefined && lvl <= this.host.topology.levels; lvl++) {
      const mem = main.coordinator.localMemory(lvl)?.hookingMemory as { evaluations?: unknown, lock?: EnterLock | null } | null | undefined
      if (mem == null) continue
      if (lvl === this.host.topology.levels) for (const e of networkMemoryFrom(mem).evaluations) evaluations.push({ networkId: e.data.networkId, lvl: e.lvl, status: e.status, inMs: e.timeoutAt - now })
      if (mem.lock != null && mem.lock.until > now) locks.push({ lvl, inMs: mem.lock.until - now })
    }
    return { networkId: main === undefined ? null : this.networkIdOf(main.id), entering: this.#entering === null ? null : String(this.#entering), arcs, evaluations, locks }
  }
}

