import type { ChurnMetrics } from './sampling'
import type { ProbeReport } from './probe'
import type { Event } from './timeline'
import type { Diff } from './wait'

export type StepStatus = 'passed' | 'failed' | 'skipped'

export interface StepMetrics {
  /** From the last topology event (link, impair, node) to the first check of the holding streak, ms. */
  convergenceMs?: number
  /** Same, to the end of that check: the convergence happened between convergenceMs and this. */
  convergedByMs?: number
  /** From the start of this wait to the same moment, ms. */
  waitedMs?: number
  /** Until the hold window closed, ms from the start of the wait. */
  stableAtMs?: number
  attempts?: number
  flaps?: number
  churn?: ChurnMetrics
  /** probe-end: what the probe's ping saw. */
  probe?: ProbeReport
}

export interface StepResult {
  index: number
  label: string
  type: Event['type']
  status: StepStatus
  /** Planned and actual start, and end, in ms from the timeline start. */
  plannedMs: number
  startedMs?: number
  endedMs?: number
  /** What happened, e.g. the link a random choice picked, an exec's output. */
  detail?: string
  error?: string
  diff?: Diff
  metrics?: StepMetrics
  /** Folder of this step's bundle, when one was written. */
  bundle?: string
  /** file:line of the step. */
  source?: string
}

export interface ScenarioResult {
  name: string
  lab: string
  seed: number
  passed: boolean
  /** Wall-clock start (ISO 8601). */
  startedAt: string
  durationMs: number
  steps: StepResult[]
  bundleDir?: string
}
