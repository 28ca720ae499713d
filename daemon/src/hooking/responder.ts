import type { CoordinatorHandlers, HookingMemoryAccess } from '../coordinator'
import { HandlingImpossibleError } from '../coordinator'
import type { WireMessage } from '../wire'
import { globalTimeoutMs, type HookingConfig } from './config'
import { beginEnter, emptyNetworkMemory, endEnter, evaluateEnter, networkMemoryFrom, type EnterLock, type EvaluateEnterResult, type HookingNetworkMemory } from './evaluation'
import type { HookingEvent } from './events'
import type { HookingHost, HookingIdentity } from './manager'
import { hookingGetNetworkData, hookingSearchMigrationPath, hookingYouHaveSplitted, type HookingEntryData, type HookingNetworkData, type HookingRefused, type HookingSplitAck } from './messages'
import { evaluateData, refused } from './wire-data'
import type { MigrationAgent } from './migration-agent'

/**
 * What a system answers for Hooking as the others' counterpart: as the neighbour of a contact point (its network's
 * data; phase 6, a place for the contact's g-node in one of its g-nodes) and as a Coordinator servant (phases 2-5:
 * the evaluation of entries on the whole network's memory, the enter locks of a g-node).
 */
export class HookingResponder {
  constructor (
    private readonly host: HookingHost,
    private readonly cfg: HookingConfig,
    private readonly networkIdOf: (id: string) => number | null,
    private readonly nodesInside: (me: HookingIdentity) => number,
    private readonly emit: (e: Omit<HookingEvent, 'at'>) => void,
    private readonly migrations: MigrationAgent
  ) {}

  /** A Hooking request from a neighbour identity over identity-arc `arcId` of identity `id`; undefined: not ours. */
  async handle (id: string, arcId: string, m: WireMessage): Promise<WireMessage | undefined> {
    if (hookingGetNetworkData.is(m)) return await this.#networkData(id, m.askCoordinator)
    if (hookingSearchMigrationPath.is(m)) return await this.#searchMigrationPath(id, arcId, m.askLevel, m.networkId)
    if (hookingYouHaveSplitted.is(m)) return this.#youHaveSplitted(id, arcId, m.level, m.fingerprintId)
    return undefined
  }

  /**
   * §6.3 item 9 at the neighbour v inside the island: when my g-node of that level carries the island's fingerprint,
   * we_have_splitted goes to every member of it (the Coordinator's propagation: members share positions and
   * fingerprint), each of which exits the network.
   */
  #youHaveSplitted (id: string, arcId: string, level: number, fingerprintId: number): HookingSplitAck | HookingRefused {
    const me = this.host.identity(id)
    if (me === undefined || !me.isMain) return refused('not-main', 'this identity is no main identity')
    if (level >= this.host.topology.levels) return refused('refused', `level ${level} is no g-node level of the topology`)
    const mine = me.qspn.getFingerprint(level).id
    if (mine !== fingerprintId) return refused('refused', `my g-node of level ${level} has fingerprint ${mine}, not ${fingerprintId}`)
    this.emit({ type: 'split_signalled', arc: arcId, level, fingerprintId })
    void me.coordinator.weHaveSplitted(level, { fingerprintId }).catch(e => { this.host.log(`hooking: we_have_splitted at level ${level}: ${(e as Error).message}`) })
    return { v: 1, kind: 'hooking_split_ack' }
  }

  async #networkData (id: string, askCoordinator: boolean): Promise<HookingNetworkData | HookingRefused> {
    const me = this.host.identity(id)
    if (me === undefined || !me.isMain || me.naddr.some((p, l) => p >= this.host.topology.gsizes[l])) return refused('not-main', 'this identity is no main identity with a real address')
    const networkId = this.networkIdOf(id)
    if (networkId === null) return refused('not-ready', 'this identity does not know its network yet (bootstrap)')
    let nNodes = this.nodesInside(me)
    if (askCoordinator) {
      try { nNodes = await me.coordinator.getNNodes() } catch (e) { return refused('busy', `the network's Coordinator did not answer: ${(e as Error).message}`) }
      // a count no network can hold (a corrupted record) is no answer: the asker tries again later
      if (!Number.isInteger(nNodes) || nNodes < 1 || nNodes > 2 ** 31 - 1) return refused('busy', `the network's Coordinator gave an impossible number of nodes (${String(nNodes)})`)
    }
    return { v: 1, kind: 'hooking_network_data', networkId, gsizes: [...this.host.topology.gsizes], nNodes, naddr: [...me.naddr], minLevel: this.host.subnetLevel }
  }

  /**
   * Phase 6 at the neighbour v: the shortest migration path that gives the asker's g-node of level askLevel a place in
   * one of my g-nodes (MigrationAgent), executed, with the entry data; no place anywhere: no-path (the asker tries a
   * smaller g-node).
   */
  async #searchMigrationPath (id: string, arcId: string, askLevel: number, networkId: number): Promise<HookingEntryData | HookingRefused> {
    const me = this.host.identity(id)
    const mine = this.networkIdOf(id)
    if (me === undefined || !me.isMain) return refused('not-main', 'this identity is no main identity')
    if (mine === null) return refused('not-ready', 'this identity does not know its network yet')
    if (mine !== networkId) return refused('refused', `this identity is in network ${mine}, not ${networkId}`)
    const topo = this.host.topology
    if (!Number.isInteger(askLevel) || askLevel < 0 || askLevel >= topo.levels) return refused('refused', `level ${askLevel} is no level of the topology`)
    this.emit({ type: 'search_migration_path', arc: arcId, askLevel })
    const r = await this.migrations.findPlace(me, askLevel, mine)
    if ('reason' in r) return refused(r.reason, r.message)
    return { v: 1, kind: 'hooking_entry_data', networkId: r.networkId, hostLevel: r.hostLevel, positions: [...r.positions], elderships: [...r.elderships] }
  }

  /** Hooking's decisions on a Coordinator servant (phases 2-5), run with that g-node's memory. */
  coordinatorHandlers (id: string): CoordinatorHandlers {
    return {
      evaluateEnter: (lvl, data, client, memory) => this.#evaluateEnter(id, lvl, data, client, memory),
      beginEnter: (lvl, data, _client, memory) => this.#lock(lvl, data, memory, 'begin'),
      completedEnter: (lvl, data, _client, memory) => this.#lock(lvl, data, memory, 'end'),
      abortEnter: (lvl, data, _client, memory) => this.#lock(lvl, data, memory, 'end')
    }
  }

  #evaluateEnter (id: string, lvl: number, raw: unknown, client: readonly number[], memory: HookingMemoryAccess): EvaluateEnterResult {
    const me = this.host.identity(id)
    const topo = this.host.topology
    if (me === undefined) throw new HandlingImpossibleError('no such identity')
    if (lvl !== topo.levels) throw new HandlingImpossibleError(`evaluate_enter goes to the whole network's Coordinator (level ${topo.levels}), not level ${lvl}`)
    const data = evaluateData(raw)
    if (data === null) throw new HandlingImpossibleError('malformed EvaluateEnterData')
    const stored = memory.get() as { evaluations?: unknown, lock?: unknown } | null
    const mem: HookingNetworkMemory = stored === null ? emptyNetworkMemory() : networkMemoryFrom(stored)
    const result = evaluateEnter(mem, client, data, {
      now: this.host.clock.now(),
      globalTimeoutMs: globalTimeoutMs(this.cfg, this.nodesInside(me)),
      maxLevel: this.#maxLevel(me),
      ignoreNetworkFactor: this.cfg.ignoreNetworkFactor
    })
    memory.set({ ...(stored ?? {}), evaluations: mem.evaluations })
    return result
  }

  #lock (lvl: number, raw: unknown, memory: HookingMemoryAccess, what: 'begin' | 'end'): { ok: boolean } {
    const holder = (raw as { holder?: unknown } | null)?.holder
    if (!Number.isInteger(holder)) throw new HandlingImpossibleError('begin/completed/abort enter without a holder')
    const stored = (memory.get() ?? {}) as { lock?: EnterLock | null }
    const now = this.host.clock.now()
    if (what === 'end') { memory.set({ ...stored, lock: endEnter(stored.lock ?? null, holder as number) }); return { ok: true } }
    const r = beginEnter(stored.lock ?? null, holder as number, now, this.cfg.beginEnterTimeoutMs)
    memory.set({ ...stored, lock: r.lock })
    return { ok: r.ok }
  }


  /** The lowest level at which this network is one g-node (nothing known above it), from the subnet level up. */
  #maxLevel (me: HookingIdentity): number {
    const topo = this.host.topology
    let lvl = topo.levels - 1
    while (lvl > this.host.subnetLevel) {
      let known = false
      for (let k = lvl - 1; k < topo.levels && !known; k++) known = me.qspn.getKnownDestinations(k).some(hc => hc.pos < topo.gsizes[k])
      if (known) break
      lvl--
    }
    return Math.max(lvl, this.host.subnetLevel)
  }
}
