import { TopologyError } from './errors'

/** Address bits available for positions: 24 host bits of 10.0.0.0/8 minus the 2 type bits (spec §1.1, rule A). */
export const MAX_ADDRESS_BITS = 22

/**
 * The shape of a Netsukuku network: `levels` levels, `gsizes[i]` positions at level i (level 0 first),
 * each a power of two so that a position is a bit field of the IPv4 mapping (spec §1.1).
 * The written form is top level first ("4·2·2·2" is gsizes [2,2,2,4] here).
 */
export class Topology {
  readonly levels: number
  /** Positions per level, level 0 first. */
  readonly gsizes: readonly number[]
  /** log2 of each gsize, level 0 first. */
  readonly gExp: readonly number[]
  /** Sum of gExp: the address bits B of spec §1.5. */
  readonly addressBits: number

  private constructor (gExp: number[]) {
    this.gExp = Object.freeze(gExp)
    this.gsizes = Object.freeze(gExp.map(e => 2 ** e))
    this.levels = gExp.length
    this.addressBits = gExp.reduce((a, b) => a + b, 0)
  }

  /** From bits per level, top level first: `[2,1,1,1]` is 4·2·2·2. */
  static fromBits (bitsTopFirst: readonly number[]): Topology {
    if (bitsTopFirst.length === 0) throw new TopologyError('empty', 'a topology needs at least one level')
    bitsTopFirst.forEach((b, idx) => {
      if (!Number.isInteger(b) || b < 1) {
        throw new TopologyError('not-power-of-two', `level ${bitsTopFirst.length - 1 - idx} has ${b} bits; each level needs a whole number >= 1 of bits`)
      }
    })
    return Topology.validated([...bitsTopFirst].reverse())
  }

  /** From gsizes, top level first: `[4,2,2,2]` is 4·2·2·2. */
  static fromGsizes (gsizesTopFirst: readonly number[]): Topology {
    if (gsizesTopFirst.length === 0) throw new TopologyError('empty', 'a topology needs at least one level')
    const gExp = [...gsizesTopFirst].reverse().map((g, level) => {
      const e = Math.log2(g)
      if (!Number.isInteger(g) || g < 2 || !Number.isInteger(e)) {
        throw new TopologyError('not-power-of-two', `gsize ${g} of level ${level} is not a power of two >= 2`)
      }
      return e
    })
    return Topology.validated(gExp)
  }

  private static validated (gExp: number[]): Topology {
    const bits = gExp.reduce((a, b) => a + b, 0)
    if (bits > MAX_ADDRESS_BITS) {
      throw new TopologyError('too-many-bits', `${bits} address bits in all; at most ${MAX_ADDRESS_BITS} fit in 10.0.0.0/8 beside the 2 type bits`)
    }
    const l = gExp.length
    const top = 2 ** gExp[l - 1]
    if (top < l) {
      throw new TopologyError('top-gsize-too-small', `top gsize ${top} is smaller than the ${l} levels; the top field must hold a level number for internal addresses`)
    }
    return new Topology(gExp)
  }

  /** Bits per level, top level first (the form `fromBits` takes). */
  bitsTopFirst (): number[] { return [...this.gExp].reverse() }

  /** "4·2·2·2" */
  toString (): string { return [...this.gsizes].reverse().join('·') }
}
