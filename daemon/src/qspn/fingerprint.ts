/**
 * Fingerprint of a g-node (§1.4, §4.6): the id of its eldest member plus the elderships still meaningful
 * above its level. The fingerprint at level `levels` is the network id.
 */
export interface Fingerprint {
  /** Random id of the node whose fingerprint was passed up; JSON-safe integer. */
  readonly id: number
  readonly level: number
  /** elderships[k] = seniority of my g-node of level `level + k` inside its parent; 0 = eldest, -1 = null (youngest). */
  readonly elderships: readonly number[]
  /** Elderships of the lower-level members that passed the id up, nearest level first. */
  readonly eldershipsSeed: readonly number[]
}

const rank = (e: number): number => e < 0 ? Number.POSITIVE_INFINITY : e

/** True when `a` is elder than `b` (same level): smaller eldership at their level; -1 is younger than anything. */
export function isElder (a: Fingerprint, b: Fingerprint): boolean {
  const ea = rank(a.elderships[0] ?? -1); const eb = rank(b.elderships[0] ?? -1)
  if (ea !== eb) return ea < eb
  const n = Math.min(a.eldershipsSeed.length, b.eldershipsSeed.length)
  for (let k = 0; k < n; k++) {
    const sa = rank(a.eldershipsSeed[k]); const sb = rank(b.eldershipsSeed[k])
    if (sa !== sb) return sa < sb
  }
  return a.id < b.id
}

export const sameFingerprint = (a: Fingerprint, b: Fingerprint): boolean =>
  a.id === b.id && a.level === b.level

/** Same fingerprint in every field (isElder looks at the elderships too, not only at the id). */
export function identicalFingerprint (a: Fingerprint, b: Fingerprint): boolean {
  if (a === b) return true
  if (a.id !== b.id || a.level !== b.level || a.elderships.length !== b.elderships.length || a.eldershipsSeed.length !== b.eldershipsSeed.length) return false
  for (let k = 0; k < a.elderships.length; k++) if (a.elderships[k] !== b.elderships[k]) return false
  for (let k = 0; k < a.eldershipsSeed.length; k++) if (a.eldershipsSeed[k] !== b.eldershipsSeed[k]) return false
  return true
}

/** The eldest of a non-empty list (stable: the first wins a full tie). */
export function eldest (fps: readonly Fingerprint[]): Fingerprint {
  let best = fps[0]
  for (let k = 1; k < fps.length; k++) if (isElder(fps[k], best)) best = fps[k]
  return best
}

/**
 * Fingerprint of my g-node of level+1 from mine of `level` and those of my sibling g-nodes (`construct` in the Vala
 * code): the eldest sibling's id goes up, its eldership at this level moves into the seed.
 */
export function constructUp (mine: Fingerprint, siblings: readonly Fingerprint[]): Fingerprint {
  const e = eldest([mine, ...siblings])
  return {
    id: e.id,
    level: e.level + 1,
    elderships: e.elderships.slice(1),
    eldershipsSeed: [e.elderships[0] ?? -1, ...e.eldershipsSeed]
  }
}
