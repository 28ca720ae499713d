/** Arc cost in microseconds (spec §3 step 5). */
export type CostUs = number

export interface CostState {
  /** Smoothed value, updated on every sample. */
  readonly stored: CostUs
  /** The value others see; follows `stored` only when it drifts outside [official/2, official·2]. */
  readonly official: CostUs
}

/**
 * The smoothing rule of the original Neighborhood: rises count a tenth, falls a third; the official cost only
 * changes (and arc_changed is emitted) when the smoothed value leaves [0.5x, 2x] of it, so QSPN is not flooded.
 */
export function smoothCost (previous: CostState | undefined, sample: CostUs): { state: CostState, officialChanged: boolean } {
  if (previous === undefined) return { state: { stored: sample, official: officialOf(sample) }, officialChanged: true }
  let delta = sample - previous.stored
  if (delta > 0) delta /= 10
  else if (delta < 0) delta /= 3
  const stored = previous.stored + delta
  if (stored < previous.official * 0.5 || stored > previous.official * 2) {
    return { state: { stored, official: officialOf(stored) }, officialChanged: true }
  }
  return { state: { stored, official: previous.official }, officialChanged: false }
}

/** Costs travel in ETPs as whole microseconds (the wire schema rejects fractions): at least 1. */
function officialOf (stored: CostUs): CostUs {
  return Math.max(1, Math.round(stored))
}
