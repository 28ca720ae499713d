import { ROUTED_NIC, type Endpoint } from '../../../src/transport'
import type { Random } from '../../../src/util/random'
import { type DaemonNetwork, linkLocalOf } from '../inprocess-network'
import type { Seed } from './corpus'
import type { Owners } from './scenarios'

/** Where one seed goes in the fuzzed ring, with the text to mutate (re-addressed or not). */
export interface Placed {
  readonly seed: Seed
  /** How it was placed (shown in findings): '' for the ring's own traffic delivered where it went. */
  readonly placed: string
}

const ID = /^[0-9a-f]{16}$/
const MAC = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/
const LINK_LOCAL = /^169\.254\.\d{1,3}\.\d{1,3}$/

/**
 * Puts captured seeds into the fuzzed ring. The ring's own traffic (same seeds: the same identities, addresses and
 * link-locals) goes where it went; a reply to a stranger goes to the replier's neighbour. Another network's traffic
 * (the merge) goes over a random link of the ring, sender and receiver taking the places of the daemons that sent
 * and received it: half of the time re-addressed (every identity id, MAC and link-local of those two daemons
 * replaced by the ring daemons' own: the message is meant for them), half of the time as it was (identities the
 * ring does not have). Routed messages go to a ring node as routed unicasts.
 */
export class Placement {
  readonly #endpoints: Endpoint[]
  constructor (private readonly dn: DaemonNetwork, private readonly owners: Owners, private readonly rnd: Random) {
    this.#endpoints = dn.list().flatMap(d => d.config.interfaces.map(nic => ({ node: d.name, nic })))
  }

  place (s: Seed): Placed {
    const dn = this.dn
    if (s.origin === 'ring') {
      if (s.via === 'routed' || s.to.nic === ROUTED_NIC) return { seed: { ...s, via: 'routed' }, placed: '' }
      if (dn.daemons.has(s.to.node)) return { seed: s, placed: '' }
      return { seed: { ...s, to: dn.peerOf(s.from.node, s.from.nic) }, placed: 'to the replier\'s neighbour' }
    }
    const to = this.#endpoints[this.rnd.int(this.#endpoints.length)]
    const routed = s.via === 'routed' || s.to.nic === ROUTED_NIC
    const from: Endpoint = routed ? this.#endpoints[this.rnd.int(this.#endpoints.length)] : dn.peerOf(to.node, to.nic)
    const placedTo: Endpoint = routed ? { node: to.node, nic: ROUTED_NIC } : to
    const base = { ...s, from, to: placedTo, ...(routed ? { via: 'routed' as const } : {}) }
    if (this.rnd.next() < 0.5) return { seed: base, placed: `${s.origin} traffic as it was` }
    const text = this.#readdress(s, from, to)
    return { seed: { ...base, text, tree: JSON.parse(text) }, placed: `${s.origin} traffic re-addressed` }
  }

  /** The seed's text with the values of its sender and receiver replaced by those of `from` and `to`. */
  #readdress (s: Seed, from: Endpoint, to: Endpoint): string {
    return s.text.replace(/"([^"\\]{7,40})"/g, (all, v: string) => {
      const owner = this.owners.get(MAC.test(v) ? v.toUpperCase() : v)
      if (owner === undefined || owner.network !== s.origin) return all
      const mine = owner.node === s.to.node ? to : owner.node === s.from.node ? from : undefined
      if (mine === undefined) return all
      const d = this.dn.get(mine.node)
      const nic = mine.nic === ROUTED_NIC ? d.config.interfaces[0] : mine.nic
      if (ID.test(v)) return JSON.stringify(d.node.identities().find(i => i.kind === 'main')?.id ?? v)
      if (MAC.test(v)) return JSON.stringify(d.macOf(nic).toUpperCase())
      if (LINK_LOCAL.test(v)) return JSON.stringify(linkLocalOf(d, nic))
      return all
    })
  }
}
