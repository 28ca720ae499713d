import { formatNaddr, maxDistinctGnode, type Naddr } from '../addressing'
import type { EnterMove } from '../hooking'
import type { IdentityArc } from '../identities'
import type { Fingerprint } from '../qspn/fingerprint'
import type { InternalArc } from '../qspn/manager'
import { IdentityRuntime } from './identity-runtime'
import type { NodeSystem } from './node'

/**
 * What the operator decides for one entry or migration (the proof's prepare_enter_net_phase_1 and
 * prepare_migrate_phase_1, spec §7): in a real network Hooking and the Coordinator decide it.
 */
export interface MoveArgs extends EnterMove {
  /**
   * Entries only: the old identity's identity-arcs that lead into the network entered (their id, or the peer's MAC);
   * the new identity asks them for full ETPs to end its bootstrap.
   */
  readonly externalArcs?: readonly string[]
  /** Shared by every node of the g-node that moves. */
  readonly opId: number
  /** The migration that must complete before phase 2 (phase 2 waits for the operator); null: phase 2 at once. */
  readonly prevOpId?: number | null
}

interface Pending { readonly kind: 'enter' | 'migrate', readonly oldId: string, args?: MoveArgs, newId?: string, phase2Done?: boolean }

export class OperationError extends Error {
  constructor (message: string) { super(message); this.name = 'OperationError' }
}

/** What an operation reports back (ntkctl prints it as JSON). */
export interface IdentityRef { readonly index: number, readonly id: string, readonly netns: string, readonly address: string }

/**
 * The operations of the proof of concept (spec §7, `qspnclient`), one per step of an entry or migration, on the
 * identities of a running system. Hooking (issue 13) will call the same steps with its own decisions.
 */
export class NodeOperations {
  readonly #pending = new Map<string, Pending>()
  /** Identities whose phase 1 (their duplication) is under way, with the operation. */
  readonly #moving = new Map<string, number>()

  constructor (private readonly system: NodeSystem) {}

  /**
   * prepare_add_identity alone, before the decisions are known (Hooking's prepare_enter / prepare_migration reach
   * every node of the g-node first; their finish carries the positions): prepareEnterNet or prepareMigrate with the
   * same op id then gives the decisions.
   */
  prepareDuplication (kind: Pending['kind'], identity: string, opId: number): void {
    const r = this.#runtime(identity)
    const key = pendingKey(r.identity.id, opId)
    if (this.#pending.has(key)) return
    this.system.identities.prepareAddIdentity(opId, r.identity.id)
    this.#pending.set(key, { kind, oldId: r.identity.id })
  }

  /** prepare_enter_net_phase_1: remembers the decisions and announces the duplication (prepare_add_identity). */
  prepareEnterNet (identity: string, args: MoveArgs): void { this.#prepare('enter', identity, args) }

  /** prepare_migrate_phase_1. */
  prepareMigrate (identity: string, args: MoveArgs): void { this.#prepare('migrate', identity, args) }

  /** enter_net_phase_1: duplicates the identity; the new one enters with the phase-1 position. */
  async enterNetPhase1 (identity: string, opId: number): Promise<IdentityRef> { return await this.#phase1('enter', identity, opId) }
  async migratePhase1 (identity: string, opId: number): Promise<IdentityRef> { return await this.#phase1('migrate', identity, opId) }

  /** enter_net_phase_2 / migrate_phase_2: the new identity takes its real position. */
  enterNetPhase2 (identity: string, opId: number): IdentityRef { return this.#phase2('enter', identity, opId) }
  migratePhase2 (identity: string, opId: number): IdentityRef { return this.#phase2('migrate', identity, opId) }

  /** add_qspn_arc: the identity-arc of `identity` on NIC `dev` towards the peer `peerMac` becomes a qspn-arc. */
  addQspnArc (identity: string, dev: string, peerMac: string): { arc: string } {
    const r = this.#runtime(identity)
    const ia = this.#arcByPeer(r, dev, peerMac)
    r.addQspnArc(ia.id)
    return { arc: ia.id }
  }

  /**
   * addQspnArc as the operator gives it (ntkctl): a neighbour's duplication may still be telling us of its new
   * identity, so the identity-arc to `peerMac` is waited for, up to `budgetMs`.
   */
  async addQspnArcWithin (identity: string, dev: string, peerMac: string, budgetMs: number): Promise<{ arc: string }> {
    const { clock } = this.system.ctx
    const deadline = clock.now() + budgetMs
    for (;;) {
      try {
        return this.addQspnArc(identity, dev, peerMac)
      } catch (e) {
        if (!(e instanceof OperationError) || !/has no identity-arc/.test(e.message) || clock.now() >= deadline) throw e
      }
      await new Promise<void>(resolve => clock.setTimer(100, resolve))
    }
  }

  /**
   * Adds an identity-arc between `identity` and the neighbour's identity `peer` (NodeID, namespace, or "main") over the
   * arc to `peerMac`; `qspn`: a qspn-arc on both sides at once (the two identities are in the same network).
   */
  async addIdentityArc (identity: string, dev: string, peerMac: string, peer: string, qspn = false): Promise<{ arc: string }> {
    const r = this.#runtime(identity)
    const physical = this.system.identities.arcsOf(this.system.identities.mainId).find(a => a.realDev === dev && a.arcId.toUpperCase() === `${dev}/${peerMac}`.toUpperCase())?.arcId ??
      `${dev}/${peerMac.toUpperCase()}`
    const ia = await this.system.identities.addIdentityArc(r.identity.id, physical, peer, { qspn })
    return { arc: ia.id }
  }

  /** remove_outer_arcs of a connectivity identity; returns the arcs removed. */
  removeOuterArcs (identity: string): { removed: string[] } {
    return { removed: this.#runtime(identity).qspn.removeOuterArcs() }
  }

  /** check_connectivity of a connectivity identity: can it go without splitting its g-nodes? */
  checkConnectivity (identity: string): { ok: boolean } {
    return { ok: this.#runtime(identity).qspn.checkConnectivity() }
  }

  /**
   * remove_identity: neighbours outside its g-node drop their arcs to it (got_destroy), its identity-arcs go
   * (neighbours told), then the identity with its namespace and pseudo-interfaces.
   */
  async removeIdentity (identity: string): Promise<IdentityRef> {
    const r = this.#runtime(identity)
    if (r.isMain) throw new OperationError(`identity ${r.identity.index} is the main identity: it cannot be removed`)
    const ref = this.#ref(r)
    r.qspn.destroy()
    this.system.removeRuntime(r.identity.id)
    await this.system.identities.removeIdentity(r.identity.id)
    for (const [k, p] of this.#pending) if (p.oldId === r.identity.id || p.newId === r.identity.id) this.#pending.delete(k)
    this.system.sync.schedule()
    return ref
  }

  #prepare (kind: Pending['kind'], identity: string, args: MoveArgs): void {
    const r = this.#runtime(identity)
    const l = this.system.config.topology.levels
    const gsizes = this.system.config.topology.gsizes
    const bad = (m: string): never => { throw new OperationError(`prepare ${kind === 'enter' ? 'enter_net' : 'migrate'}: ${m}`) }
    if (!Number.isInteger(args.guestLevel) || args.guestLevel < 0 || args.guestLevel >= l) bad(`guest level ${args.guestLevel} is not a level in 0..${l - 1}`)
    if (!Number.isInteger(args.hostLevel) || args.hostLevel <= args.guestLevel || args.hostLevel > l) bad(`host level ${args.hostLevel} must be in ${args.guestLevel + 1}..${l}`)
    if (args.hostGnode.length !== l - args.hostLevel) bad(`host g-node ${args.hostGnode.join('.')} must give ${l - args.hostLevel} positions (levels ${l - 1}..${args.hostLevel})`)
    if (args.hostElderships.length !== args.hostGnode.length) bad(`host elderships ${args.hostElderships.join('.')} must give ${args.hostGnode.length} values`)
    args.hostGnode.forEach((p, k) => { const lvl = l - 1 - k; if (!Number.isInteger(p) || p < 0 || p >= gsizes[lvl]) bad(`host position ${p} at level ${lvl} is not real (gsize ${gsizes[lvl]})`) })
    const at = args.hostLevel - 1
    if (!Number.isInteger(args.pos1) || args.pos1 < 0) bad(`pos1 ${args.pos1} is not a position`)
    if (!Number.isInteger(args.pos2) || args.pos2 < 0 || args.pos2 >= gsizes[at]) bad(`pos2 ${args.pos2} at level ${at} is not real (gsize ${gsizes[at]})`)
    if (!Number.isInteger(args.connPos) || args.connPos < gsizes[args.guestLevel]) bad(`connectivity position ${args.connPos} at level ${args.guestLevel} is not virtual (gsize ${gsizes[args.guestLevel]})`)
    if (kind === 'enter') for (const a of args.externalArcs ?? []) this.#arcByRef(r, a)
    const key = pendingKey(r.identity.id, args.opId)
    const announced = this.#pending.get(key)
    if (announced !== undefined && (announced.args !== undefined || announced.kind !== kind)) bad(`operation ${args.opId} is already prepared for identity ${r.identity.index}`)
    if (announced !== undefined) { announced.args = args; return }
    this.system.identities.prepareAddIdentity(args.opId, r.identity.id)
    this.#pending.set(key, { kind, oldId: r.identity.id, args })
  }

  async #phase1 (kind: Pending['kind'], identity: string, opId: number): Promise<IdentityRef> {
    const { system } = this
    const r0 = this.#runtime(identity)
    const op = this.#pending.get(pendingKey(r0.identity.id, opId))
    if (op === undefined || op.kind !== kind) throw new OperationError(`no ${kind === 'enter' ? 'enter_net' : 'migrate'} operation ${opId} prepared for identity ${r0.identity.index}`)
    if (op.newId !== undefined) throw new OperationError(`operation ${opId} of identity ${r0.identity.index} already ran its phase 1`)
    const a = op.args
    if (a === undefined) throw new OperationError(`operation ${opId} of identity ${r0.identity.index} is announced but has no positions yet`)
    const l = system.config.topology.levels
    const prevNaddr = [...r0.naddr]
    const prevFp = r0.fingerprint
    const externalOld = kind === 'enter' ? (a.externalArcs ?? []).map(ref => this.#arcByRef(r0, ref).id) : []
    // new address: host g-node, pos1 at hostLevel-1, the old positions below (the proof's enter_net_phase_1)
    const naddr: Naddr = prevNaddr.map((p, lvl) => lvl < a.hostLevel - 1 ? p : lvl === a.hostLevel - 1 ? a.pos1 : a.hostGnode[l - 1 - lvl])
    // new elderships: the host's, eld1, zeros between the guest level and hostLevel-1, the old ones below the guest
    const elderships = prevNaddr.map((_, lvl) => lvl < a.guestLevel ? prevFp.elderships[lvl] : lvl < a.hostLevel - 1 ? 0 : lvl === a.hostLevel - 1 ? a.eld1 : a.hostElderships[l - 1 - lvl])
    const fingerprint: Fingerprint = { ...prevFp, elderships }
    // One duplication of an identity at a time: a second one (an entry decided while a migration moved it, say) would
    // take over its connectivity position and, failing, clear it while the first still runs; the identity, no
    // longer main but still all real, then failed every kernel apply of its node for good (lab 2x25 formation).
    const moving = this.#moving.get(r0.identity.id)
    if (moving !== undefined) throw new OperationError(`identity ${r0.identity.index} is moving already (operation ${moving}); operation ${opId} cannot run its phase 1 now`)
    const ns = r0.local.netns
    // The namespace the new identity takes over keeps its state until the new identity runs: the routes and
    // internal addresses that stay valid (inside the moving g-node) never go away meanwhile.
    system.freeze(ns)
    this.#moving.set(r0.identity.id, opId)
    r0.prepareConnectivity({ level: a.guestLevel, pos: a.connPos })
    let r1: IdentityRuntime
    try {
      const { identity: fresh, pairs } = await system.identities.addIdentity(opId, r0.identity.id)
      const cost = (arcId: string): number => system.ctx.arcCost(system.identities.arcOf(fresh.id, arcId)?.arcId ?? '')
      const internalArcs: InternalArc[] = pairs.filter(p => p.peerMoved && r0.qspnArcs.has(p.oldArcId))
        .map(p => ({ arc: { id: p.newArcId, cost: cost(p.newArcId) }, previousArcId: p.oldArcId }))
      const externalNew = kind === 'enter'
        ? pairs.filter(p => externalOld.includes(p.oldArcId)).map(p => p.newArcId)
        : pairs.filter(p => !p.peerMoved && r0.qspnArcs.has(p.oldArcId)).map(p => p.newArcId)
      r1 = new IdentityRuntime(system.ctx, fresh, naddr, fingerprint, {
        kind,
        args: { guestLevel: a.guestLevel, hostLevel: a.hostLevel, internalArcs, externalArcs: externalNew.map(id => ({ id, cost: cost(id) })) },
        previous: r0
      })
      system.addRuntime(r1)
      op.newId = fresh.id
      // The old identity stays as a connectivity identity of the g-nodes it leaves (§4.9): after an entry, of the
      // whole old network; after a migration, up to the level where the old and the new address part.
      const to = kind === 'enter' ? l : (maxDistinctGnode(prevNaddr, naddr)?.lvl ?? l)
      r0.makeConnectivity(a.guestLevel + 1, Math.max(a.guestLevel + 1, to), a.connPos, a.connEld)
      system.log(`${kind} ${opId}: identity ${r0.identity.index} \u2192 ${fresh.index} at ${formatNaddr(naddr)}; ${r0.identity.index} is a connectivity identity at ${formatNaddr(r0.naddr)} in ${r0.local.netns}`)
    } catch (e) {
      // Taken back only while the identity still holds its place: once it moved out of the way (the duplication
      // happened) its kernel state is made for the connectivity position, never for its all-real address again.
      const stayed = r0.local.netns === ns
      if (stayed) r0.prepareConnectivity(undefined)
      system.log(`${kind} ${opId}: phase 1 of identity ${r0.identity.index} failed${stayed ? '' : ` after it moved to ${r0.local.netns}`}: ${(e as Error).message}`)
      throw e
    } finally {
      this.#moving.delete(r0.identity.id)
      system.unfreeze(ns)
      r0.messenger.release()
    }
    if (a.prevOpId === undefined || a.prevOpId === null) this.#phase2(kind, identity, opId)
    return this.#ref(r1)
  }

  #phase2 (kind: Pending['kind'], identity: string, opId: number): IdentityRef {
    const old = this.system.identities.find(identity)
    const op = old === undefined ? undefined : this.#pending.get(pendingKey(old.id, opId))
    if (op === undefined || op.kind !== kind) throw new OperationError(`no ${kind === 'enter' ? 'enter_net' : 'migrate'} operation ${opId} prepared for identity ${identity}`)
    if (op.newId === undefined) throw new OperationError(`operation ${opId}: phase 1 has not run`)
    const r1 = this.system.runtimes.get(op.newId)
    if (r1 === undefined) throw new OperationError(`operation ${opId}: the new identity is gone`)
    if (op.phase2Done === true || op.args === undefined) return this.#ref(r1)
    r1.makeReal(op.args.hostLevel - 1, op.args.pos2, op.args.eld2)
    op.phase2Done = true
    this.system.log(`${kind} ${opId}: identity ${r1.identity.index} takes ${formatNaddr(r1.naddr)}`)
    return this.#ref(r1)
  }

  #runtime (identity: string): IdentityRuntime {
    const local = this.system.identities.find(identity)
    const r = local === undefined ? undefined : this.system.runtimes.get(local.id)
    if (r === undefined) throw new OperationError(`no identity ${identity} (give its index, NodeID or namespace)`)
    return r
  }

  #arcByRef (r: IdentityRuntime, ref: string): IdentityArc {
    const arcs = this.system.identities.arcsOf(r.identity.id)
    // an index into the identity's arcs (as `ntkctl identities` lists them), an identity-arc id, dev/MAC or a MAC
    const ia = /^\d+$/.test(ref)
      ? arcs[Number(ref)]
      : arcs.find(a => a.id === ref || a.peerMac === ref.toUpperCase() || `${a.realDev}/${a.peerMac}`.toUpperCase() === ref.toUpperCase())
    if (ia === undefined) throw new OperationError(`identity ${r.identity.index} has no identity-arc ${ref} (its arcs: ${arcs.map(a => `${a.realDev}/${a.peerMac}`).join(', ') || 'none'})`)
    return ia
  }

  #arcByPeer (r: IdentityRuntime, dev: string, peerMac: string): IdentityArc {
    const arcs = this.system.identities.arcsOf(r.identity.id)
    const ia = arcs.find(a => a.realDev === dev && a.peerMac === peerMac.toUpperCase())
    if (ia === undefined) throw new OperationError(`identity ${r.identity.index} has no identity-arc on ${dev} to ${peerMac} (its arcs: ${arcs.map(a => `${a.realDev}/${a.peerMac}`).join(', ') || 'none'})`)
    return ia
  }

  #ref (r: IdentityRuntime): IdentityRef {
    return { index: r.identity.index, id: r.identity.id, netns: r.local.netns, address: formatNaddr(r.naddr, '.') }
  }
}

function pendingKey (oldId: string, opId: number): string { return `${oldId}+${opId}` }
