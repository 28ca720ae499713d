import type { Endpoint, InMemoryTransport, WireLeg } from '../../../src/transport'
import { ntkdMessageRegistry } from '../../../src/node'
import { WireCodec } from '../../../src/wire'
import type { Random } from '../../../src/util/random'
import { type DaemonNetwork, linkLocalOf, runFor } from '../inprocess-network'
import type { Corpus, Seed } from './corpus'
import { kindOfBytes, type Mutator } from './delivery'
import { BYTE_CLASSES, TREE_CLASSES, type MutationClass } from './mutate'

/** Mutated replies an impostor gave, per kind and class. */
export interface ReplyTally {
  mutated: number
  replayed: number
  byKind: Map<string, number>
  byClass: Map<MutationClass, number>
  /** Valid messages of the real peer the impostor replayed to drive the victim (not counted as mutations). */
  replays: number
}

const IMPOSTOR = 'impostor'
/** The kind by which a neighbour drops an arc (without it the impostor only garbles probes). */
const DROP_ARC_KIND = 'remove_arc'
/** How long the impostor keeps an arc the victim made with it before dropping it. */
const HOLD_MS = 20
const NIC = 'x0'
const same = (a: Endpoint, b: Endpoint): boolean => a.node === b.node && a.nic === b.nic
const bump = <K>(m: Map<K, number>, k: K): void => { m.set(k, (m.get(k) ?? 0) + 1) }

/**
 * Replies come only as answers to a node's own requests, so they are fuzzed by an impostor: the link between a
 * victim and its neighbour P goes down, and a stranger with P's link-local takes P's place on the victim's NIC. It
 * replays what P was captured sending the victim (its hellos, arc requests, probes, ETPs: so the victim makes an
 * arc with it and asks it for a full ETP), drops the arc again soon after (P's captured remove_arc) so the victim
 * makes it anew, and answers each of the victim's requests with a captured reply to a request of that kind,
 * mutated half of the time (unmutated, P's own reply to the victim when one was captured: the victim checks what a
 * new neighbour says of its identities against its identity list, so P's own answers are what gets it further).
 * Everything comes from captured traffic: the impostor knows no message shape (only the name of the kind that drops
 * an arc).
 */
export class Impostor {
  readonly tally: ReplyTally = { mutated: 0, replayed: 0, byKind: new Map(), byClass: new Map(), replays: 0 }
  readonly #transport: InMemoryTransport
  readonly #linked: Endpoint[] = []
  #replies: Seed[] = []
  /** P's own replies to the victim (what P answered it while capturing). */
  #own: Seed[] = []
  /** Mutate every reply (while making the victim drop its arc). */
  #garbleAll = false

  constructor (private readonly dn: DaemonNetwork, private readonly corpus: Corpus, private readonly mutator: Mutator, private readonly rnd: Random, networkKey: string) {
    this.#transport = dn.net.transport(IMPOSTOR, new WireCodec({ registry: ntkdMessageRegistry(), networkKey }))
  }

  /** Plays P towards `victim` for `ms` of virtual time, then gives the link back to P. */
  async session (victim: Endpoint, ms: number): Promise<void> {
    const dn = this.dn
    const peer = dn.peerOf(victim.node, victim.nic)
    const fromPeer = (s: Seed): boolean => same(s.from, peer) && same(s.to, victim)
    const unsolicited = this.corpus.where(s => fromPeer(s) && s.via !== 'reply' && s.kind !== DROP_ARC_KIND)
    const dropArc = this.corpus.where(s => fromPeer(s) && s.kind === DROP_ARC_KIND)
    // any node's replies (P's among them, and the refusals answered to strangers)
    this.#replies = this.corpus.where(s => s.via === 'reply')
    this.#own = this.corpus.where(s => fromPeer(s) && s.via === 'reply')
    const me: Endpoint = { node: IMPOSTOR, nic: NIC }
    await this.#transport.attachNic({ name: NIC, linklocal: linkLocalOf(dn.get(peer.node), peer.nic) })
    dn.setLinkUp(victim, peer, false)
    if (this.#linked.some(e => same(e, victim))) dn.net.setLink(me, victim, { up: true })
    else { dn.net.link(me, victim, { latencyMs: 1 }); this.#linked.push(victim) }
    const before = dn.net.tap
    dn.net.tap = leg => leg.via === 'reply' && leg.from.node === IMPOSTOR ? this.#reply(leg) : before?.(leg)
    const holdsPeer = (): boolean => dn.get(victim.node).node.arcs().some(a => a.dev === victim.nic)
    try {
      // first the victim must lose its arc with P (its probes now reach the impostor, which answers them with
      // garbage), so that it makes the arc again with the impostor and asks it for a full ETP
      this.#garbleAll = true
      for (let waited = 0; waited < 10_000 && holdsPeer(); waited += 100) await runFor(dn.clock, 100)
      this.#garbleAll = false
      const until = dn.clock.now() + ms
      let heldSince: number | null = null
      while (dn.clock.now() < until) {
        // once the victim has made the arc with it (and asked what it asks a new neighbour), P drops it again, so
        // that the victim makes it anew: each round brings a fresh set of requests to answer
        // (not in the last quarter: the impostor leaves the victim holding an arc the real P does not have)
        heldSince = holdsPeer() ? heldSince ?? dn.clock.now() : null
        const drop = heldSince !== null && dn.clock.now() - heldSince >= HOLD_MS && dropArc.length > 0 && until - dn.clock.now() > ms / 4
        const s = drop ? dropArc[this.rnd.int(dropArc.length)] : unsolicited[this.rnd.int(unsolicited.length)]
        if (s !== undefined) {
          this.tally.replays++
          const bytes = this.mutator.sign(s)
          if (s.via === 'unicast') void dn.net.injectRequest(me, victim, bytes)
          else await dn.net.injectRaw(me, victim, bytes, 'broadcast')
        }
        await runFor(dn.clock, 2)
      }
    } finally {
      dn.net.tap = before
      dn.net.setLink(me, victim, { up: false })
      dn.setLinkUp(victim, peer, true)
    }
  }

  /** The impostor's answer to one request: a captured reply to that kind of request, mutated half of the time. */
  #reply (leg: WireLeg): Buffer | undefined {
    const requestKind = leg.request === undefined ? undefined : kindOfBytes(leg.request)
    const fit = this.#replies.filter(s => s.requestKind === requestKind)
    const pool = fit.length > 0 ? fit : this.#replies
    const seed = pool[this.rnd.int(pool.length)]
    if (seed === undefined) return undefined
    if (!this.#garbleAll && this.rnd.next() < 0.5) {
      const own = this.#own.filter(s => s.requestKind === requestKind)
      this.tally.replayed++
      return this.mutator.sign(own.length > 0 ? own[this.rnd.int(own.length)] : seed)
    }
    const classes: MutationClass[] = [...TREE_CLASSES, ...BYTE_CLASSES.filter(c => c !== 'oversize')]
    for (let tries = 0; tries < 8; tries++) {
      const cls = classes[this.rnd.int(classes.length)]
      const m = this.mutator.mutateSeed(seed, cls as never)
      if (m === undefined) continue
      this.tally.mutated++
      bump(this.tally.byKind, seed.kind)
      bump(this.tally.byClass, cls)
      return m.bytes
    }
    return undefined
  }
}
