import type { Cost, HCoord } from './types'
import type { Fingerprint } from './fingerprint'

/** A path in the map (§4.2), relative to the local node. Immutable: updates replace the object. */
export interface NodePath {
  /** Owner's id of the arc to the gateway. */
  readonly arcId: string
  /** g-nodes from the gateway's max-distinct g-node to the destination (last). */
  readonly hops: readonly HCoord[]
  /** QSPN arc ids; arcs[0] is this node's id of the gateway arc, arcs[k] enters hops[k]. */
  readonly arcs: readonly number[]
  readonly cost: Cost
  readonly fingerprint: Fingerprint
  readonly nodesInside: number
  /** Identity of the path: two paths are distinct iff their hop and arc sequences differ. */
  readonly key: string
}

export const destinationOf = (p: { hops: readonly HCoord[] }): HCoord => p.hops[p.hops.length - 1]

export function pathKey (hops: readonly HCoord[], arcs: readonly number[]): string {
  // joined, not built with +=: the pools keep hundreds of thousands of keys, and += leaves each one a chain of
  // concatenation nodes next to its flat copy
  const parts = new Array<string>(hops.length + 1)
  for (let k = 0; k < hops.length; k++) parts[k] = `${arcs[k]}>${hops[k].lvl}:${hops[k].pos}`
  parts[hops.length] = ''
  return parts.join('/')
}
