/** Seeded randomness (mulberry32): a scenario replays the same choices from its recorded seed. */
export interface Random {
  readonly seed: number
  /** Uniform in [0, 1). */
  next (): number
  /** Uniform integer in [0, n). */
  int (n: number): number
  pick<T> (items: readonly T[]): T
}

export function seededRandom (seed: number): Random {
  let s = seed >>> 0
  const next = (): number => {
    s = (s + 0x6D2B79F5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  return {
    seed: seed >>> 0,
    next,
    int,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError('pick from an empty list')
      return items[int(items.length)]
    }
  }
}

/** A fresh seed when the caller gave none; recorded in the result so the run can be replayed. */
export function newSeed (): number {
  return Math.floor(Math.random() * 0x7fffffff)
}
