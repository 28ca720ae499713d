import type { CancelTimer, Clock, Ms } from '../util/clock'
import type { IdentityManager } from './identity-manager'

/** How often the audit runs: a pass costs one TCP exchange per arc, so with default timers it is rare. */
export const IDENTITY_AUDIT_INTERVAL_MS: Readonly<{ lab: Ms, default: Ms }> = { lab: 10_000, default: 300_000 }

/** A duplication announced this long ago and not run yet no longer holds the audit back (one never run would forever). */
const DUPLICATION_UNDER_WAY_MS = 60_000

/** What the audit uses of the Identities module. */
export type AuditedIdentities = Pick<IdentityManager, 'mainId' | 'identities' | 'arcsOf' | 'physicalArcs' | 'peerIdentities' | 'forgetIdentityArc' | 'addIdentityArc' | 'changing' | 'stats'>

/**
 * The periodic audit of identity-arcs. The messages that keep two neighbours' identity-arcs in step
 * (identity_add_arc, identity_remove_arc, a duplication's matches, the main identity-arcs made again after a move)
 * are requests with a timeout, sent once or a few times; under load one can be lost for good, leaving a physical
 * arc whose main identities have no identity-arc between them (so Hooking never looks at it and QSPN never uses
 * it) and an identity-arc to an identity the neighbour dismissed. Seen in process on a 5x5 grid of unconfigured
 * daemons forming with link latencies jittering up to 1.5 s: the network formed, but one link stayed out of every
 * map for good, as two nodes of the lab's 5x5 formations once kept next hops other than the model's for 480 s.
 *
 * Every interval the audit asks each neighbour for its identity list (one request per physical arc), makes the
 * identity-arc between my main identity and the neighbour's where two passes in a row found it missing, and forgets
 * identity-arcs whose peer identity was absent from two lists in a row: what one pass sees may be a duplication
 * half done on either side (made in the middle of one, an identity-arc would clash with the one the duplication
 * makes). No pass runs, and nothing is made, while a duplication of this system is under way.
 */
export class IdentityArcAudit {
  #cancel: CancelTimer | null = null
  #stopped = false
  #running = false
  /** Identity-arc ids (`<identity>|<identity-arc>`) whose peer was missing from the last list. */
  #missingOnce = new Set<string>()
  /** Main identity-arcs (`<main>|<arc>|<peer main>`) the last pass found missing. */
  #mainMissingOnce = new Set<string>()

  constructor (private readonly identities: AuditedIdentities, private readonly clock: Clock, private readonly intervalMs: Ms, private readonly log: (line: string) => void = () => {}) {}

  start (): void {
    if (this.#stopped || this.#cancel !== null || this.intervalMs <= 0) return
    this.#cancel = this.clock.setTimer(this.intervalMs, () => {
      this.#cancel = null
      void this.runOnce().catch(e => { this.log(`identity-arc audit: ${(e as Error).message}`) }).finally(() => { this.start() })
    })
  }

  stop (): void {
    this.#stopped = true
    this.#cancel?.()
    this.#cancel = null
  }

  /** One pass; returns how many main identity-arcs it made and how many identity-arcs it forgot. */
  async runOnce (): Promise<{ made: number, forgotten: number }> {
    if (this.#running || this.#stopped || this.identities.changing(DUPLICATION_UNDER_WAY_MS)) return { made: 0, forgotten: 0 }
    this.#running = true
    try {
      const im = this.identities
      // only identity-arcs that exist before the lists are asked can be judged by them
      const before = new Set(im.identities().flatMap(i => im.arcsOf(i.id).map(ia => `${i.id}|${ia.id}`)))
      const lists = new Map<string, { ids: Set<string>, mainId: string | null } | null>()
      await Promise.all(im.physicalArcs().map(async arc => { lists.set(arc.id, await im.peerIdentities(arc.id)) }))
      if (this.#stopped || im.changing(DUPLICATION_UNDER_WAY_MS)) return { made: 0, forgotten: 0 }
      const missing = new Set<string>()
      let forgotten = 0
      for (const i of im.identities()) {
        for (const ia of im.arcsOf(i.id)) {
          const key = `${i.id}|${ia.id}`
          const peers = lists.get(ia.arcId)
          if (!before.has(key) || peers === undefined || peers === null || peers.ids.has(ia.peerId)) continue
          if (!this.#missingOnce.has(key)) { missing.add(key); continue }
          im.forgetIdentityArc(i.id, ia.id)
          forgotten++
        }
      }
      this.#missingOnce = missing
      let made = 0
      const main = im.mainId
      const mainMissing = new Set<string>()
      for (const [arcId, peers] of lists) {
        if (peers === null || peers.mainId === null || this.#stopped) continue
        const has = (): boolean => im.arcsOf(main).some(ia => ia.arcId === arcId && ia.peerId === peers.mainId)
        if (has() || main !== im.mainId) continue
        const key = `${main}|${arcId}|${peers.mainId}`
        if (!this.#mainMissingOnce.has(key)) { mainMissing.add(key); continue }
        if (im.changing(DUPLICATION_UNDER_WAY_MS) || has() || main !== im.mainId) continue
        try {
          const ia = await im.addIdentityArc(main, arcId, peers.mainId, { unlessDuplicating: true })
          made++
          this.log(`identity-arc audit: the main identity-arc over ${arcId} was missing: ${ia.id} made`)
        } catch (e) { this.log(`identity-arc audit: main identity-arc over ${arcId}: ${(e as Error).message}`) }
      }
      this.#mainMissingOnce = mainMissing
      im.stats.auditMainArcsMade += made
      im.stats.auditArcsForgotten += forgotten
      return { made, forgotten }
    } finally {
      this.#running = false
    }
  }
}
