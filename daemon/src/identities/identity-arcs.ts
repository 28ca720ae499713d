import type { ArcEndpoint } from '../routes/from-qspn'

/** An identity-arc (spec §6.1): a neighbourhood arc as one identity of ours uses it, towards one identity of the peer. */
export interface IdentityArc {
  /** Id shared with QSPN (the neighbourhood arc id `<nic>/<peer MAC>` for the main identity). */
  readonly id: string
  /** Our NIC (a pseudo-interface for a connectivity identity). */
  readonly dev: string
  readonly peerMac: string
  readonly peerLinkLocal: string
  /** Cost in µs, as the neighbourhood measured it (or as configured). */
  readonly cost: number
}

/**
 * The identity-arcs of one identity. For now every neighbourhood arc is an identity-arc of the main identity in
 * the same network (addresses are configured, so there is no hooking to decide it).
 */
export class IdentityArcs {
  readonly #arcs = new Map<string, IdentityArc>()

  /** Adds or replaces; returns whether it was new. */
  upsert (arc: IdentityArc): boolean {
    const isNew = !this.#arcs.has(arc.id)
    this.#arcs.set(arc.id, arc)
    return isNew
  }

  remove (id: string): IdentityArc | undefined {
    const a = this.#arcs.get(id)
    this.#arcs.delete(id)
    return a
  }

  get (id: string): IdentityArc | undefined { return this.#arcs.get(id) }
  list (): IdentityArc[] { return [...this.#arcs.values()].sort((a, b) => a.id.localeCompare(b.id)) }

  /** Where each arc leads, in the shape routes/ takes. */
  endpoints (): Map<string, ArcEndpoint> {
    return new Map([...this.#arcs].map(([id, a]) => [id, { dev: a.dev, peerMac: a.peerMac, peerLinkLocal: a.peerLinkLocal }]))
  }
}
