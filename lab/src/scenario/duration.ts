/** Durations as written in scenario files: "500ms", "2s", "1.5s", "1m", or a number of seconds. */
export class DurationError extends Error {
  constructor (readonly text: string) {
    super(`not a duration: ${JSON.stringify(text)} (write e.g. 500ms, 2s, 1.5s, 1m)`)
    this.name = 'DurationError'
  }
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 }

export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?(ms|s|m)$'

export function parseDuration (v: string | number): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw new DurationError(String(v))
    return v * 1000
  }
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)$/.exec(v.trim())
  if (m === null) throw new DurationError(v)
  return Number(m[1]) * UNIT_MS[m[2]]
}

export function formatDuration (ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`
}
