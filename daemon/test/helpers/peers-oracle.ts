import type { TopologySpec } from '../../src/sim/topologies'

// The servant H_t prescribes, computed from the global view (every node's address), independently of
// daemon/src/peers: the distance is the mixed-radix number of the positions' differences modulo each gsize.

type Node = TopologySpec['nodes'][number]

/** Steps from x̄ up to x: Σ_j ((x_j − x̄_j) mod g_j) · Π_{i<j} g_i over the levels of x̄. */
export function oracleDistance (gsizes: readonly number[], xbar: readonly number[], x: readonly number[]): number {
  let weight = 1
  let d = 0
  for (let j = 0; j < xbar.length; j++) {
    d += (((x[j] - xbar[j]) % gsizes[j]) + gsizes[j]) % gsizes[j] * weight
    weight *= gsizes[j]
  }
  return d
}

/**
 * The node that must serve x̄ (length w) for `client`: among the `eligible` nodes inside the client's g-node of
 * level w, the one at the smallest distance. Undefined when none is eligible.
 */
export function expectedServant (spec: TopologySpec, client: string, xbar: readonly number[], eligible: (n: Node) => boolean): Node | undefined {
  const me = spec.nodes.find(n => n.name === client)
  if (me === undefined) throw new RangeError(`no node ${client}`)
  const w = xbar.length
  let best: Node | undefined
  let bestD = Infinity
  for (const n of spec.nodes) {
    if (!eligible(n)) continue
    let inside = true
    for (let l = w; l < spec.gsizes.length; l++) if (n.naddr[l] !== me.naddr[l]) inside = false
    if (!inside) continue
    const d = oracleDistance(spec.gsizes, xbar, n.naddr)
    if (d < bestD) { bestD = d; best = n }
  }
  return best
}

/** The node closest to 0·…·0 inside the client's g-node of level lvl: the Coordinator of that g-node. */
export function expectedCoordinator (spec: TopologySpec, client: string, lvl: number, eligible: (n: Node) => boolean = () => true): Node | undefined {
  return expectedServant(spec, client, new Array<number>(lvl).fill(0), eligible)
}
