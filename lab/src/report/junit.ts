import type { ScenarioResult } from '../scenario/result'
import { formatTimeline } from './summary'

const xml = (s: string): string => s
  .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
  .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

const secs = (ms: number | undefined): string => ((ms ?? 0) / 1000).toFixed(3)

/** JUnit XML for CI: one testsuite per scenario, one testcase per step; failure text holds the diff. */
export function junitXml (results: readonly ScenarioResult[]): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>']
  const tests = results.reduce((n, r) => n + r.steps.length, 0)
  const failures = results.reduce((n, r) => n + r.steps.filter(s => s.status === 'failed').length, 0)
  out.push(`<testsuites name="ntklab" tests="${tests}" failures="${failures}" time="${secs(results.reduce((n, r) => n + r.durationMs, 0))}">`)
  for (const r of results) {
    const f = r.steps.filter(s => s.status === 'failed').length
    const sk = r.steps.filter(s => s.status === 'skipped').length
    out.push(`  <testsuite name="${xml(r.name)}" tests="${r.steps.length}" failures="${f}" errors="0" skipped="${sk}" time="${secs(r.durationMs)}" timestamp="${xml(r.startedAt.replace(/\.\d+Z$/, ''))}">`)
    out.push(`    <properties><property name="lab" value="${xml(r.lab)}"/><property name="seed" value="${r.seed}"/>${r.bundleDir !== undefined ? `<property name="bundle" value="${xml(r.bundleDir)}"/>` : ''}</properties>`)
    for (const s of r.steps) {
      const name = `${String(s.index + 1).padStart(2, '0')} ${s.label}`
      const time = s.startedMs !== undefined && s.endedMs !== undefined ? s.endedMs - s.startedMs : 0
      const open = `    <testcase classname="${xml(`ntklab.${r.name}`)}" name="${xml(name)}" time="${secs(time)}"`
      if (s.status === 'passed') {
        const m = s.metrics?.convergenceMs
        out.push(m === undefined ? `${open}/>` : `${open}>\n      <system-out>${xml(`converged in ${(m / 1000).toFixed(3)}s`)}</system-out>\n    </testcase>`)
      } else if (s.status === 'skipped') {
        out.push(`${open}>\n      <skipped message="an earlier step failed"/>\n    </testcase>`)
      } else {
        const body = [s.error ?? '', ...(s.diff?.lines ?? []), s.bundle !== undefined ? `bundle: ${s.bundle}` : ''].filter(x => x !== '').join('\n')
        out.push(`${open}>\n      <failure message="${xml((s.error ?? 'failed').split('\n')[0])}" type="${xml(s.type)}">${xml(body)}</failure>\n    </testcase>`)
      }
    }
    out.push(`    <system-out>${xml(formatTimeline(r))}</system-out>`)
    out.push('  </testsuite>')
  }
  out.push('</testsuites>')
  return out.join('\n') + '\n'
}
