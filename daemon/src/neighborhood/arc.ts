import type { CostUs } from './cost'

/** A managed NIC of this system, as given to the Neighborhood at construction. */
export interface NicInfo { readonly name: string, readonly mac: string }

/** An arc: my NIC ↔ a neighbour system's NIC (spec §3). Immutable snapshot; the Neighborhood owns the live one. */
export interface Arc {
  /** Stable id: `<my nic>/<peer MAC>`. */
  readonly id: string
  readonly nic: string
  readonly myLinklocal: string
  readonly peerNodeId: string
  readonly peerMac: string
  readonly peerLinklocal: string
  /** Official cost in µs; undefined until the first measurement. */
  readonly cost: CostUs | undefined
  readonly exposed: boolean
}

export const arcId = (nic: string, peerMac: string): string => `${nic}/${peerMac.toUpperCase()}`
