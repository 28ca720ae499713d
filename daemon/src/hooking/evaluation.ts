/*
 * Phases 2-4 of a merge (§6.3, the Migrations page): what the Coordinator of the whole network G decides when its
 * nodes report contacts with another network J. Pure functions over the shared memory (HookingMemory), so they can
 * be checked without a network: the first report opens an evaluation and everybody is told to ask again; reports
 * about the same J that arrive before its timeout join the group; at the timeout the best contact point is elected
 * and told at its next ask (with the level to enter at), the others are then told to ignore J for a while.
 */

/** What a node of G reports about its contact with J (EvaluateEnterData). */
export interface EvaluateEnterData {
  /** J's network id. */
  readonly networkId: number
  /** The neighbour's address in J (level 0 first) and the lowest level it enters at. */
  readonly neighbourNaddr: readonly number[]
  readonly minLevel: number
  /** Chosen by the client; the same in every repetition of its request. */
  readonly evaluateEnterId: number
}

export type EvaluationStatus = 'pending' | 'elected' | 'reconsider' | 'discarded'

export interface Evaluation {
  readonly data: EvaluateEnterData
  /** The client's address (level 0 first). */
  readonly client: readonly number[]
  /** The level of the client's g-node that would enter. */
  readonly lvl: number
  status: EvaluationStatus
  /** Absolute time (the Coordinator's clock). */
  timeoutAt: number
}

/** The whole network's Hooking memory (kept as the Coordinator's opaque hookingMemory). */
export interface HookingNetworkMemory { evaluations: Evaluation[] }

/** The answer to an evaluate_enter: enter at `lvl`, ask again later, or leave J alone for a while. */
export type EvaluateEnterResult = { readonly enter: number } | { readonly askAgainMs: number } | { readonly ignoreNetworkMs: number }

export interface EvaluateContext {
  readonly now: number
  /** global_timeout of this network (from its size). */
  readonly globalTimeoutMs: number
  /** The lowest level at which G is a single g-node (≥ its subnet level, ≤ levels-1). */
  readonly maxLevel: number
  readonly ignoreNetworkFactor: number
}

export function emptyNetworkMemory (): HookingNetworkMemory { return { evaluations: [] } }

/** Runs one evaluate_enter on the memory (which it changes) and gives the answer. */
export function evaluateEnter (mem: HookingNetworkMemory, client: readonly number[], data: EvaluateEnterData, ctx: EvaluateContext): EvaluateEnterResult {
  const askAgain = { askAgainMs: Math.max(1, Math.floor(ctx.globalTimeoutMs / 4)) }
  const ignore = { ignoreNetworkMs: ctx.globalTimeoutMs * ctx.ignoreNetworkFactor }
  const group = (networkId: number): Evaluation[] => mem.evaluations.filter(e => e.data.networkId === networkId)
  let mine = mem.evaluations.find(e => e.data.evaluateEnterId === data.evaluateEnterId && e.data.networkId === data.networkId)
  if (mine === undefined) {
    // Phase 2: a new evaluation; G enters as a block (the level at which it is one g-node), never below the
    // neighbour's or our own minimum. Evaluations about the same J share one timeout; a later one of a higher
    // level restarts it.
    const lvl = Math.max(ctx.maxLevel, data.minLevel)
    const others = group(data.networkId)
    const higher = others.every(e => lvl > e.lvl)
    const timeoutAt = others.length === 0 || higher ? ctx.now + ctx.globalTimeoutMs : others[0].timeoutAt
    if (others.length > 0 && higher) for (const e of others) e.timeoutAt = timeoutAt
    mine = { data, client: [...client], lvl, status: 'pending', timeoutAt }
    mem.evaluations.push(mine)
    return askAgain
  }
  const peers = group(data.networkId)
  switch (mine.status) {
    case 'pending': {
      if (ctx.now < mine.timeoutAt) return askAgain
      // Phase 3: the timeout passed: elect the best contact point among the group's pending evaluations
      const elected = elect(peers.filter(e => e.status === 'pending'))
      for (const e of peers) {
        e.status = e === elected ? 'elected' : 'reconsider'
        e.timeoutAt = ctx.now + ctx.globalTimeoutMs
      }
      return mine === elected ? tellElected(mem, mine, peers, ctx) : askAgain
    }
    case 'elected':
      return tellElected(mem, mine, peers, ctx)
    case 'reconsider': {
      if (ctx.now < mine.timeoutAt) return askAgain
      // the elected node never came back: its evaluation goes and the others are looked at again
      const gone = peers.find(e => e.status === 'elected')
      if (gone !== undefined) remove(mem, gone)
      for (const e of peers) if (e !== gone && e.status === 'reconsider') e.status = 'pending'
      return evaluateEnter(mem, client, data, ctx)
    }
    case 'discarded':
      // Phase 4: somebody else enters J for us: this one, and any left behind, go
      remove(mem, mine)
      for (const e of group(data.networkId)) if (ctx.now >= e.timeoutAt) remove(mem, e)
      return ignore
  }
}

/** The elected client gets its level; the rest of its group is discarded (told to ignore J at their next ask). */
function tellElected (mem: HookingNetworkMemory, elected: Evaluation, peers: Evaluation[], ctx: EvaluateContext): EvaluateEnterResult {
  remove(mem, elected)
  for (const e of peers) if (e !== elected) { e.status = 'discarded'; e.timeoutAt = ctx.now + ctx.globalTimeoutMs }
  return { enter: elected.lvl }
}

/**
 * The best contact point (Note 1 of phase 3): entering through a neighbour whose g-node of the host level already has
 * more contacts with G makes a g-node that is harder to split; then the lower level (a smaller block disturbs J
 * less... the same level for all in practice); then the lowest evaluation id, so every Coordinator elects the same.
 */
export function elect (candidates: readonly Evaluation[]): Evaluation {
  if (candidates.length === 0) throw new RangeError('elect: no candidate')
  const contacts = (e: Evaluation): number => {
    const host = e.lvl + 1
    const key = e.data.neighbourNaddr.slice(host).join('.')
    return candidates.filter(o => o.data.neighbourNaddr.slice(host).join('.') === key).length
  }
  return [...candidates].sort((a, b) => contacts(b) - contacts(a) || a.lvl - b.lvl || a.data.evaluateEnterId - b.data.evaluateEnterId)[0]
}

function remove (mem: HookingNetworkMemory, e: Evaluation): void {
  const i = mem.evaluations.indexOf(e)
  if (i >= 0) mem.evaluations.splice(i, 1)
}

/** The lock of phase 5 in the memory of the entering g-node (begin_enter / completed_enter / abort_enter). */
export interface EnterLock { readonly holder: number, readonly until: number }

/** begin_enter: the g-node enters at most one network at a time (false: AlreadyEntering). */
export function beginEnter (lock: EnterLock | null, holder: number, now: number, timeoutMs: number): { ok: boolean, lock: EnterLock | null } {
  if (lock !== null && lock.until > now && lock.holder !== holder) return { ok: false, lock }
  return { ok: true, lock: { holder, until: now + timeoutMs } }
}

/** completed_enter / abort_enter: the lock goes (only its holder's). */
export function endEnter (lock: EnterLock | null, holder: number): EnterLock | null {
  return lock !== null && lock.holder === holder ? null : lock
}

/** Hooking memory (from the wire) as evaluations; anything malformed reads as empty. */
export function networkMemoryFrom (raw: unknown): HookingNetworkMemory {
  const o = raw as { evaluations?: unknown } | null
  if (o === null || typeof o !== 'object' || !Array.isArray(o.evaluations)) return emptyNetworkMemory()
  return { evaluations: o.evaluations.filter(isEvaluation) }
}

function isEvaluation (e: unknown): e is Evaluation {
  const o = e as Evaluation | null
  return o !== null && typeof o === 'object' && typeof o.lvl === 'number' && typeof o.timeoutAt === 'number' && typeof o.status === 'string' &&
    typeof o.data === 'object' && o.data !== null && typeof o.data.networkId === 'number' && typeof o.data.evaluateEnterId === 'number' && Array.isArray(o.client)
}
