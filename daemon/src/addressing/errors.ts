/** Which rule of spec §1.1 a topology breaks. */
export type TopologyRule = 'empty' | 'not-power-of-two' | 'too-many-bits' | 'top-gsize-too-small'

export class TopologyError extends Error {
  constructor (readonly rule: TopologyRule, message: string) {
    super(`invalid topology (${rule}): ${message}`)
    this.name = 'TopologyError'
  }
}

/**
 * Which addressing rule an address, g-node or identity breaks (spec §1.2–1.5, §2.4):
 * - `positions-count`: an address (or a g-node's position list) has one position per level, no more, no fewer;
 * - `position-range`: a position is a non-negative integer;
 * - `virtual-position`: an IPv4 address or CIDR exists only for real positions (< gsize);
 * - `level-range`: a g-node level is 0..l (l: the whole network), an HCoord or internal level 0..l-1;
 * - `connectivity-real`: a connectivity identity holds at least one virtual position (spec §1.3);
 * - `syntax`: the written form cannot be read.
 */
export type AddressRule = 'positions-count' | 'position-range' | 'virtual-position' | 'level-range' | 'connectivity-real' | 'syntax'

export class AddressError extends Error {
  /** `rule` names the broken rule; the message then starts with `invalid address (<rule>): `. */
  constructor (message: string, readonly rule?: AddressRule) {
    super(rule === undefined ? message : `invalid address (${rule}): ${message}`)
    this.name = 'AddressError'
  }
}
