import { performance } from 'node:perf_hooks'
import { ntkdMessageRegistry } from '../../../src/node'
import { SeededRandom } from '../../../src/util/random'
import { type Daemon, type DaemonNetwork, runFor } from '../inprocess-network'
import { Corpus } from './corpus'
import { Mutator, Signer, type Mutation } from './delivery'
import { Impostor, type ReplyTally } from './impostor'
import type { MutationClass } from './mutate'
import { differences, observable, startRing } from './network'
import { DEFERRED_REASONS, deferredRejections, healthProblems, holding, movedReasons, qspnReason, rejectionDeltas, rejectionVector } from './outcome'
import { Placement } from './placement'
import { captureMerge, captureRing, type Owners } from './scenarios'

/*
 * Wire fuzzing of whole daemons in process. Seeds are the messages captured on the medium (so they follow whatever
 * shape the messages have) in the scenarios of scenarios.ts: a ring of six daemons forming, losing and regaining a
 * link, answering strangers, serving Coordinator reservations and other PeerServices requests, sending QSPN's destroy
 * signals and stopping; lone daemons merging by Hooking (entries, duplications, identity-arcs). Every kind of
 * ntkdMessageRegistry() is seen there. A second ring with the same seeds (the fuzzed one) gets the mutations (another
 * network's messages placed on its links, re-addressed to its identities or not: placement.ts); a third, its twin,
 * gets none. The oracle:
 *   - per message: a message the receiver rejected (a codec or protocol counter moved) changed nothing: the
 *     receiver's map, arcs and desired kernel state are the very same; a message that must be refused by
 *     construction (cut, flipped, oversized, unsigned, badly signed, another version or an unknown kind, an
 *     arc-bound message from a non-neighbour) was refused;
 *   - per epoch: a mutated message may still be valid (a replayed ETP, a cost changed within range, a remove_arc
 *     from the real neighbour) and then may change state: that is the protocol working. So after each epoch the
 *     fuzzed ring runs quiet and must come back to exactly its twin's observable state (arcs, identities, maps,
 *     kernels) within a budget, and hold it: whatever the fuzz did, the network converges to the same truth;
 *   - throughout: no exception escapes a handler (other than a refused probe), no listener throws, no kernel apply
 *     fails, no promise rejects unhandled (the caller watches the process).
 */

export const FUZZ_NETWORK_KEY = 'wire-fuzz network key'

export interface FuzzOptions {
  /** Mutated messages to feed (unsolicited ones plus mutated replies). */
  readonly mutations: number
  readonly seed: number
  /** Unsolicited mutations between two convergence checks. */
  readonly epochSize?: number
  /** Virtual ms of the impostor session of each epoch (mutated replies). */
  readonly impostorMs?: number
  /** Virtual ms a fuzzed ring may take to come back to its twin's state after an epoch. */
  readonly settleBudgetMs?: number
  /** Stop after this many findings. */
  readonly maxFindings?: number
  readonly progress?: (line: string) => void
}

/**
 * Outcomes of mutations: rejected (a rejection counter moved), ignored (QSPN dropped it as a protocol matter),
 * held (the identity demultiplexer holds it waiting for an identity-arc, or the Identities check its claim with the
 * sender: refused or taken later, see DEFERRED_REASONS),
 * accepted (nothing refused it: the state oracle judges it).
 */
export interface Row { mutations: number, rejected: number, ignored: number, held: number, accepted: number }

export interface FuzzReport {
  readonly seed: number
  /** Mutated messages fed: unsolicited + mutated replies. */
  mutations: number
  unsolicited: number
  wallMs: number
  /** Distinct messages of each kind seen while capturing. */
  corpus: Record<string, number>
  byClass: Map<MutationClass, Row>
  byKind: Map<string, Row>
  reasons: Map<string, number>
  replies: ReplyTally
  /** Rejection counters of impostor victims that moved during the sessions (mutated replies and replays). */
  replyReasons: Map<string, number>
  epochs: number
  /** Longest virtual time the fuzzed ring took to come back to its twin's state. */
  worstSettleMs: number
  /** Wall ms spent feeding unsolicited mutations, in impostor sessions, and settling. */
  phases: { feed: number, impostor: number, settle: number }
  findings: string[]
}

const SETTLE_HOLD_MS = 5_000
const STEP_EVERY = 250
const STEP_MS = 20

/** Captures the seeds (see scenarios.ts): the ring's own traffic and that of lone daemons merging. */
export async function captureCorpus (seed: number, signer: Signer): Promise<{ corpus: Corpus, owners: Owners }> {
  const corpus = new Corpus(new SeededRandom(seed ^ 0x5eed))
  const owners: Owners = new Map()
  await captureRing(seed, FUZZ_NETWORK_KEY, signer, corpus, owners)
  const merged = await captureMerge(seed, FUZZ_NETWORK_KEY, corpus, owners)
  await merged.stopAll()
  return { corpus, owners }
}

const row = (): Row => ({ mutations: 0, rejected: 0, ignored: 0, held: 0, accepted: 0 })
const bump = <K>(m: Map<K, number>, k: K, n = 1): void => { m.set(k, (m.get(k) ?? 0) + n) }

/** Runs a campaign; resolves with the report (findings inside; it throws only when the set-up itself fails). */
export async function runWireFuzz (o: FuzzOptions): Promise<FuzzReport> {
  const t0 = performance.now()
  const log = o.progress ?? (() => {})
  const epochSize = o.epochSize ?? 5_000
  const signer = new Signer(FUZZ_NETWORK_KEY)
  const { corpus, owners } = await captureCorpus(o.seed, signer)
  const report: FuzzReport = {
    seed: o.seed, mutations: 0, unsolicited: 0, wallMs: 0, corpus: corpus.seenPerKind(), byClass: new Map(), byKind: new Map(),
    reasons: new Map(), replies: { mutated: 0, replayed: 0, byKind: new Map(), byClass: new Map(), replays: 0 }, replyReasons: new Map(),
    epochs: 0, worstSettleMs: 0, phases: { feed: 0, impostor: 0, settle: 0 }, findings: []
  }
  const find = (line: string): void => { if (report.findings.length < 1000) report.findings.push(line) }
  for (const k of ntkdMessageRegistry().kinds()) if (!corpus.byKind.has(k)) find(`kind ${k} was never seen on the wire: it is not fuzzed`)

  // the daemons' own reports of trouble (a listener that threw, an apply that failed) are findings
  // (a request that failed because its reply was garbled is the protocol working: not a finding)
  const daemonLog = (node: string, line: string): void => {
    if (process.env.FUZZ_LOG !== undefined) process.stderr.write(`${node}: ${line}\n`)
    if (/kernel apply failed|desired state failed|threw|kernel rescan/.test(line)) find(`${node} logged: ${line}`)
  }
  const [fuzz, twin] = [await startRing(o.seed, FUZZ_NETWORK_KEY, daemonLog), await startRing(o.seed, FUZZ_NETWORK_KEY)]
  try {
    const truth = await observable(twin)
    const start = differences(truth, await observable(fuzz))
    if (start.length > 0) throw new Error(`two rings with the same seeds differ before any fuzz (the oracle needs them equal):\n${start.join('\n')}`)
    fuzz.net.onHandlerError = (node, e, m) => {
      if ((e as Error)?.name === 'NopRefusedError') return
      find(`${node}: handler of '${m.kind}' threw ${(e as Error)?.stack ?? String(e)}`)
    }
    const endpoints = fuzz.list().flatMap(d => d.config.interfaces.map(nic => ({ node: d.name, nic })))
    const rnd = new SeededRandom(o.seed)
    const placement = new Placement(fuzz, owners, rnd)
    const mutator = new Mutator({
      corpus, signer, rnd, kinds: corpus.kinds(), maxFrameBytes: fuzz.get('a').codec.maxFrameBytes, endpoints,
      peerOf: e => fuzz.peerOf(e.node, e.nic), place: s => placement.place(s)
    })
    const impostor = new Impostor(fuzz, corpus, mutator, rnd, FUZZ_NETWORK_KEY)
    report.replies = impostor.tally

    const feeder = new Feeder(fuzz, report, find)
    while (report.mutations < o.mutations && report.findings.length < (o.maxFindings ?? Infinity)) {
      const epochStart = performance.now()
      const deferredBefore = fuzz.list().map(d => deferredRejections(d))
      const n = Math.min(epochSize, o.mutations - report.mutations)
      for (let k = 0; k < n; k++) {
        await feeder.feed(mutator.next())
        if (k % STEP_EVERY === STEP_EVERY - 1) await runFor(fuzz.clock, STEP_MS)
      }
      report.unsolicited += n
      const fed = performance.now()
      report.phases.feed += fed - epochStart
      // mutated replies: an impostor takes a neighbour's place on one link
      const victim = endpoints[rnd.int(endpoints.length)]
      const before = rejectionVector(fuzz, fuzz.get(victim.node))
      await impostor.session(victim, o.impostorMs ?? 2_000)
      for (const [r, n] of rejectionDeltas(before, rejectionVector(fuzz, fuzz.get(victim.node)))) bump(report.replyReasons, r, n)
      report.mutations = report.unsolicited + impostor.tally.mutated
      const played = performance.now()
      report.phases.impostor += played - fed
      // quiet: back to the twin's state
      const settled = await settle(fuzz, twin, truth, o.settleBudgetMs ?? 120_000, find)
      report.phases.settle += performance.now() - played
      report.epochs++
      fuzz.list().forEach((d, i) => { for (const r of DEFERRED_REASONS) bump(report.reasons, r, deferredRejections(d)[r] - deferredBefore[i][r]) })
      report.worstSettleMs = Math.max(report.worstSettleMs, settled.ms)
      if (settled.diff.length > 0) find(`epoch ${report.epochs}: the fuzzed ring did not come back to its twin's state within ${o.settleBudgetMs ?? 120_000} virtual ms:\n${settled.diff.join('\n')}`)
      for (const d of fuzz.list()) for (const p of healthProblems(d)) find(`epoch ${report.epochs}: ${p}`)
      const ms = performance.now() - epochStart
      log(`epoch ${report.epochs}: ${report.mutations} mutations (${Math.round(n / (ms / 1000))}/s), ${impostor.tally.mutated} replies; back to the twin's state ${settled.ms} virtual ms after; ${report.findings.length} findings`)
    }
  } finally {
    fuzz.net.onHandlerError = undefined
    await fuzz.stopAll()
    await twin.stopAll()
  }
  report.wallMs = performance.now() - t0
  return report
}

/** Runs both rings in step until the fuzzed one shows exactly the twin's state, held for SETTLE_HOLD_MS. */
async function settle (fuzz: DaemonNetwork, twin: DaemonNetwork, truth: Map<string, string>, budgetMs: number, find: (l: string) => void): Promise<{ ms: number, diff: string[] }> {
  const t0 = fuzz.clock.now()
  let diff: string[] = []
  let equalSince: number | null = null
  while (fuzz.clock.now() - t0 < budgetMs + SETTLE_HOLD_MS) {
    await runFor(fuzz.clock, 1_000)
    await runFor(twin.clock, fuzz.clock.now() - twin.clock.now())
    const want = await observable(twin)
    const drift = differences(truth, want)
    if (drift.length > 0) find(`the twin itself changed (the oracle is not steady):\n${drift.join('\n')}`)
    diff = differences(want, await observable(fuzz))
    if (diff.length > 0) { equalSince = null; continue }
    equalSince ??= fuzz.clock.now()
    if (fuzz.clock.now() - equalSince >= SETTLE_HOLD_MS) return { ms: equalSince - t0, diff: [] }
  }
  return { ms: budgetMs, diff }
}

/** Feeds one mutation to its node and judges the outcome from the node's counters and state. */
class Feeder {
  #dirty = false
  constructor (private readonly dn: DaemonNetwork, private readonly report: FuzzReport, private readonly find: (l: string) => void) {}

  async feed (m: Mutation): Promise<void> {
    const { dn, report } = this
    // let what the last accepted message set going settle first, so its effects are not charged to this one
    if (this.#dirty) { await settleMicrotasks(); this.#dirty = false }
    const victim = dn.get(m.to.node)
    const before = rejectionVector(dn, victim)
    const desired = victim.node.desiredState()
    const map = mapText(victim)
    const waiting = holding(victim)
    // A handler may wait for the clock (a full-ETP request over an arc not added yet waits for it): the outcome is
    // judged once what runs at once has run, the rest goes on in the background.
    const delivered: Promise<unknown> = m.via === 'unicast'
      ? dn.net.injectRequest(m.from, m.to, m.bytes)
      : m.via === 'routed' ? dn.net.injectRouted(m.to.node, m.source ?? '10.0.0.1', m.bytes) : dn.net.injectRaw(m.from, m.to, m.bytes, 'broadcast')
    let settled = false
    void delivered.then(() => { settled = true }, () => { settled = true })
    await Promise.race([delivered, new Promise<void>(resolve => setImmediate(resolve))])
    const { rejected, ignored } = movedReasons(before, rejectionVector(dn, victim), () => qspnReason(victim))
    const byClass = report.byClass.get(m.cls) ?? row()
    const byKind = report.byKind.get(m.kind) ?? row()
    report.byClass.set(m.cls, byClass)
    report.byKind.set(m.kind, byKind)
    for (const r of [byClass, byKind]) r.mutations++
    const what = (): string => `${m.kind} (${m.cls}: ${m.where}${m.placed === '' ? '' : `; ${m.placed}`}) ${m.via} ${m.from.node}:${m.from.nic} -> ${m.to.node}:${m.to.nic}`
    if (rejected.length > 0) {
      for (const r of [byClass, byKind]) r.rejected++
      for (const r of rejected) bump(report.reasons, r)
      if (victim.node.desiredState() !== desired || mapText(victim) !== map) {
        this.find(`${what()}: rejected (${rejected.join(', ')}) yet ${victim.name}'s map or desired kernel state changed\n  ${m.bytes.toString('utf8').slice(0, 600)}`)
      }
    } else if (!settled && holding(victim) > waiting) {
      // held until an identity-arc appears or its wait ends, or until the sender confirms or belies the claim
      // (refusals then counted per epoch: DEFERRED_REASONS)
      for (const r of [byClass, byKind]) r.held++
      this.#dirty = true
    } else {
      for (const r of [byClass, byKind]) { if (ignored) r.ignored++; else r.accepted++ }
      this.#dirty = true
      if (m.mustReject) this.find(`${what()}: must be refused, was ${ignored ? 'ignored' : 'accepted'}\n  ${m.bytes.toString('utf8').slice(0, 600)}`)
    }
  }
}

/** Two turns of the event loop: enough for a handler's chain of awaits on in-memory ports to finish. */
async function settleMicrotasks (): Promise<void> {
  for (let k = 0; k < 2; k++) await new Promise<void>(resolve => setImmediate(resolve))
}

/** A daemon's map and arcs as text (what a rejected message must leave as it was). */
function mapText (d: Daemon): string {
  return JSON.stringify([d.node.map(), d.node.arcs()])
}
