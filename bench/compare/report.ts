// The report of bench/compare.ts: a Markdown table (min / median / max per step and kind, ratio ntkd/babeld of the
// medians) and SVG plots of the medians against the number of nodes, written as plain SVG text.
import { STEPS, mean, type Measured } from './measure'
import type { DaemonKind } from './graphs'

export interface Results {
  startedAt: string
  finishedAt?: string
  machine: { cpus: number, model: string, loadBefore: string, loadAfter?: string, commit: string }
  options: Record<string, unknown>
  topologies: Array<{ id: string, label: string, nodes: number, links: number, reroute?: string, split: string }>
  runs: Measured[]
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

interface Stat { min: number, median: number, max: number, n: number, failed: number }

function stat (values: ReadonlyArray<number | null | undefined>): Stat | undefined {
  const ok = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
  const failed = values.filter(v => v === null).length
  if (ok.length === 0 && failed === 0) return undefined
  return { min: Math.min(...ok), median: median(ok), max: Math.max(...ok), n: ok.length, failed }
}

/** One row's values per kind: what `pick` reads from each measure of that topology and kind. */
type Pick = (m: Measured) => number | null | undefined

interface Row { what: string, unit: string, digits: number, pick: Pick, timers: 'lab' | 'default' }

const KINDS: DaemonKind[] = ['babeld', 'ntkd']

function rows (): Row[] {
  const out: Row[] = STEPS.map(s => ({ what: s, unit: 's', digits: 2, timers: 'lab' as const, pick: (m: Measured) => { const v = m.steps[s]; return v === undefined || v === null ? v : v / 1000 } }))
  out.push(
    { what: 'steady tx per node, lab timers', unit: 'B/s', digits: 0, timers: 'lab', pick: m => m.txBytesPerS === undefined ? undefined : mean(m.txBytesPerS) },
    { what: 'steady tx per node, default timers', unit: 'B/s', digits: 0, timers: 'default', pick: m => m.txBytesPerS === undefined ? undefined : mean(m.txBytesPerS) },
    { what: 'resident memory per daemon (median)', unit: 'MiB', digits: 1, timers: 'lab', pick: m => m.rssMb === undefined ? undefined : median(m.rssMb) },
    { what: 'routes per node (median)', unit: '', digits: 0, timers: 'lab', pick: m => m.routes === undefined ? undefined : median(m.routes) }
  )
  return out
}

const fmt = (v: number, digits: number): string => v.toFixed(digits)

function cell (s: Stat | undefined, digits: number): string {
  if (s === undefined) return '-'
  const fails = s.failed > 0 ? ` (${s.failed} failed)` : ''
  if (s.n === 0) return `failed${s.failed > 1 ? ` ×${s.failed}` : ''}`
  return s.n === 1 ? `${fmt(s.median, digits)}${fails}` : `${fmt(s.min, digits)} / ${fmt(s.median, digits)} / ${fmt(s.max, digits)}${fails}`
}

/** Values per topology, row and kind. */
function collect (r: Results, topo: string, row: Row, kind: DaemonKind): Stat | undefined {
  return stat(r.runs.filter(m => m.topology === topo && m.kind === kind && m.timers === row.timers).map(row.pick))
}

export function markdownReport (r: Results): string {
  const runsPer = (topo: string, kind: DaemonKind): number => r.runs.filter(m => m.topology === topo && m.kind === kind && m.timers === 'lab').length
  const lines: string[] = [
    '# ntkd beside babeld (bench/compare.ts)',
    '',
    `${r.startedAt}${r.finishedAt !== undefined ? ` to ${r.finishedAt}` : ''}; ${r.machine.cpus} × ${r.machine.model}; load average before ${r.machine.loadBefore}` +
      `${r.machine.loadAfter !== undefined ? `, after ${r.machine.loadAfter}` : ''}; commit ${r.machine.commit}; options ${JSON.stringify(r.options)}`,
    '',
    `netns backend. ntkd: lab timers, ${r.options.ntkdAddress === 'configured' ? 'an address given by hand (3·3·3, connected g-nodes)' : 'no address (it founds a network and merges by Hooking)'}, 1000 µs fixed cost on every`,
    'interface; babeld as the `babeld` kind runs it (hello 0.5 s). Times from the moment deploy returned (initial) or the',
    'link event, to the end of the first passing check of the lab\'s conditions (`converged` without next hops: "routes";',
    'with: "next hops"; `withdrawn` held 1 s), checked every 200 ms; all pairs ping: raw ICMP from every node to every',
    'other one, the last pair\'s first reply. Cells: min / median / max over the runs (one value: one run); ratio: of',
    'the medians, ntkd / babeld. Default timers: ntkd `timers: default`, babeld hello 4 s, deployed on their own; their',
    'traffic is measured 10 s after the routes formed, or after the budget when they did not (listed below).',
    ''
  ]
  for (const t of r.topologies) {
    lines.push(`## ${t.label}: ${t.nodes} nodes, ${t.links} links`, '',
      `Runs: babeld ${runsPer(t.id, 'babeld')}, ntkd ${runsPer(t.id, 'ntkd')}. Reroute cut: ${t.reroute ?? 'none (every link of the path is a bridge)'}; split cut: ${t.split}.`, '',
      '| step | unit | babeld | ntkd | ntkd / babeld |', '| --- | --- | --- | --- | --- |')
    for (const row of rows()) {
      const [b, n] = KINDS.map(k => collect(r, t.id, row, k))
      if (b === undefined && n === undefined) continue
      const ratio = b !== undefined && n !== undefined && b.n > 0 && n.n > 0 && b.median > 0 ? fmt(n.median / b.median, 2) : '-'
      lines.push(`| ${row.what} | ${row.unit} | ${cell(b, row.digits)} | ${cell(n, row.digits)} | ${ratio} |`)
    }
    const failures = r.runs.filter(m => m.topology === t.id && m.failures.length > 0)
    if (failures.length > 0) {
      lines.push('', 'Failed or late conditions:', '')
      for (const m of failures) for (const f of m.failures) lines.push(`- ${m.kind} (${m.timers} timers): ${f.slice(0, 400)}`)
    }
    lines.push('')
  }
  return lines.join('\n')
}

// ---- SVG plots -------------------------------------------------------------------------------------------------

export interface Series { name: string, color: string, dash?: boolean, points: Array<{ x: number, y: number, label: string }> }

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** A "nice" step for about `count` ticks over `span`. */
function tickStep (span: number, count: number): number {
  const raw = span / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  return [1, 2, 5, 10].map(k => k * mag).find(s => s >= raw) as number
}

/** A scatter plot with lines through each series' points (sorted by x), axes from 0, ticks, a legend. */
export function svgPlot (title: string, xLabel: string, yLabel: string, series: Series[]): string {
  const W = 640
  const H = 400
  const L = 70
  const R = 160
  const T = 40
  const B = 50
  const all = series.flatMap(s => s.points)
  const xMax = Math.max(1, ...all.map(p => p.x)) * 1.05
  const yMax = Math.max(1e-9, ...all.map(p => p.y)) * 1.1
  const X = (x: number): number => L + x / xMax * (W - L - R)
  const Y = (y: number): number => H - B - y / yMax * (H - T - B)
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="16" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(T + H - B) / 2})">${esc(yLabel)}</text>`
  ]
  const xs = tickStep(xMax, 8)
  for (let x = 0; x <= xMax; x += xs) out.push(`<line x1="${X(x)}" y1="${H - B}" x2="${X(x)}" y2="${H - B + 5}" stroke="black"/><text x="${X(x)}" y="${H - B + 18}" text-anchor="middle">${+x.toFixed(6)}</text>`)
  const ys = tickStep(yMax, 6)
  for (let y = 0; y <= yMax; y += ys) {
    out.push(`<line x1="${L - 5}" y1="${Y(y)}" x2="${W - R}" y2="${Y(y)}" stroke="${y === 0 ? 'black' : '#ddd'}"/><text x="${L - 8}" y="${Y(y) + 4}" text-anchor="end">${+y.toFixed(6)}</text>`)
  }
  series.forEach((s, i) => {
    const pts = [...s.points].sort((a, b) => a.x - b.x || a.label.localeCompare(b.label))
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dash === true ? ' stroke-dasharray="6 4"' : ''} points="${pts.map(p => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' ')}"/>`)
    for (const p of pts) {
      out.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="4" fill="${s.color}"><title>${esc(`${s.name}, ${p.label}: ${p.y}`)}</title></circle>`)
      out.push(`<text x="${(X(p.x) + 6).toFixed(1)}" y="${(Y(p.y) - 6).toFixed(1)}" font-size="10" fill="${s.color}">${esc(p.label)}</text>`)
    }
    const ly = T + 10 + i * 18
    out.push(`<line x1="${W - R + 15}" y1="${ly}" x2="${W - R + 40}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash === true ? ' stroke-dasharray="6 4"' : ''}/><text x="${W - R + 46}" y="${ly + 4}">${esc(s.name)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

const COLORS: Record<DaemonKind, string> = { ntkd: '#c0392b', babeld: '#2471a3' }

/** The plots: one per timed step that has values (median s against nodes), and steady bytes against nodes. */
export function plots (r: Results): Map<string, string> {
  const out = new Map<string, string>()
  const seriesOf = (name: string, kind: DaemonKind, timers: 'lab' | 'default', pick: Pick, dash = false): Series => ({
    name,
    color: COLORS[kind],
    dash,
    points: r.topologies.flatMap(t => {
      const s = stat(r.runs.filter(m => m.topology === t.id && m.kind === kind && m.timers === timers).map(pick))
      return s === undefined || s.n === 0 ? [] : [{ x: t.nodes, y: s.median, label: t.id }]
    })
  })
  for (const step of STEPS) {
    const pick: Pick = m => { const v = m.steps[step]; return v === undefined || v === null ? v : v / 1000 }
    const series = (['babeld', 'ntkd'] as const).map(k => seriesOf(k, k, 'lab', pick)).filter(s => s.points.length > 0)
    if (series.length > 0) out.set(`time-${step.replace(/ /g, '-')}.svg`, svgPlot(`${step} (median)`, 'nodes', 'seconds', series))
  }
  const bytes: Pick = m => m.txBytesPerS === undefined ? undefined : mean(m.txBytesPerS)
  const bytesSeries = [
    seriesOf('babeld, lab timers', 'babeld', 'lab', bytes), seriesOf('ntkd, lab timers', 'ntkd', 'lab', bytes),
    seriesOf('babeld, default', 'babeld', 'default', bytes, true), seriesOf('ntkd, default', 'ntkd', 'default', bytes, true)
  ].filter(s => s.points.length > 0)
  if (bytesSeries.length > 0) out.set('bytes-steady.svg', svgPlot('steady tx bytes per node per second (median)', 'nodes', 'bytes/s per node', bytesSeries))
  return out
}
