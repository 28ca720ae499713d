/** The randomness port: seeded in tests and in the simulator, so every run is reproducible. */
export interface Random {
  /** A float in [0, 1). */
  next (): number
  /** An integer in [0, n). */
  int (n: number): number
}

/**
 * mulberry32: a tiny 32-bit PRNG with a good enough spread for ids, jitter and test topologies.
 * Not cryptographic; never use it for keys.
 */
export class SeededRandom implements Random {
  #state: number
  constructor (seed: number) { this.#state = seed >>> 0 }
  next (): number {
    this.#state = (this.#state + 0x6D2B79F5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  int (n: number): number { return Math.floor(this.next() * n) }
}
