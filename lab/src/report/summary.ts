import { formatDuration } from '../scenario/duration'
import type { ScenarioResult, StepResult } from '../scenario/result'

const t = (ms: number | undefined): string => ms === undefined || Number.isNaN(ms) ? '-' : formatDuration(ms)

function metricText (s: StepResult): string {
  const m = s.metrics
  if (m === undefined) return s.detail ?? ''
  const parts: string[] = []
  if (m.convergenceMs !== undefined) parts.push(`converged ${formatDuration(m.convergenceMs)}`)
  else if (m.waitedMs !== undefined) parts.push(m.waitedMs < 1 ? 'held' : `held after ${formatDuration(m.waitedMs)}`)
  if (m.flaps !== undefined && m.flaps > 0) parts.push(`${m.flaps} flaps`)
  if (m.churn !== undefined) parts.push(`churn ${m.churn.churn}/${m.churn.samples} samples, max missing ${m.churn.maxMissing}, loops ${m.churn.loopSamples}`)
  return parts.join(', ')
}

function table (rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  return rows.map(r => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i])).join('  ').trimEnd()).join('\n')
}

/** The timeline as run: planned and actual start of each step, its end and status. */
export function formatTimeline (r: ScenarioResult): string {
  const rows = [['#', 'planned', 'actual', 'end', 'status', 'step']]
  for (const s of r.steps) rows.push([String(s.index + 1), t(s.plannedMs), t(s.startedMs), t(s.endedMs), s.status, s.label + (s.detail !== undefined ? ` (${s.detail})` : '')])
  return `seed ${r.seed}\n${table(rows)}\n`
}

/** The table printed at the end of `ntklab run`. */
export function formatSummary (r: ScenarioResult): string {
  const rows = [['#', 'step', 'at', 'took', 'status', 'result']]
  for (const s of r.steps) {
    const took = s.startedMs !== undefined && s.endedMs !== undefined ? formatDuration(s.endedMs - s.startedMs) : '-'
    const res = s.status === 'failed' ? (s.error ?? '').split('\n')[0] : metricText(s)
    rows.push([String(s.index + 1), s.label, t(s.startedMs ?? s.plannedMs), took, s.status.toUpperCase(), res])
  }
  const failed = r.steps.filter(s => s.status === 'failed')
  const conv = r.steps.map(s => s.metrics?.convergenceMs).filter((m): m is number => m !== undefined)
  const tail = [
    `scenario ${r.name} on lab ${r.lab}: ${r.passed ? 'PASSED' : 'FAILED'} in ${formatDuration(r.durationMs)} (seed ${r.seed})`,
    conv.length > 0 ? `convergence: ${conv.map(c => formatDuration(c)).join(', ')}` : '',
    ...failed.filter(s => s.bundle !== undefined).map(s => `bundle of step ${s.index + 1}: ${s.bundle as string}`)
  ].filter(x => x !== '')
  return `${table(rows)}\n\n${tail.join('\n')}\n`
}
