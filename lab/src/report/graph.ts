import type { ResolvedLab } from '../topology/model'
import { run } from '../util/exec'
import { components, initialState, type LabState } from '../scenario/lab-state'

export type GraphFormat = 'mermaid' | 'dot' | 'svg'

export interface GraphMarks {
  /** Per node, a short note shown under its name (e.g. "3 missing, 1 extra"); such nodes are highlighted. */
  notes?: Record<string, string>
  title?: string
}

export class GraphvizMissingError extends Error {
  constructor (detail: string) {
    super(`cannot render SVG: Graphviz dot is not available (${detail})`)
    this.name = 'GraphvizMissingError'
  }
}

function partitions (lab: ResolvedLab, state: LabState): string[][] {
  // Stopped nodes have no partition; they are drawn apart.
  return components(lab, state)
}

/** A veth link, or a pair of a radio segment (labelled with the segment, "deaf" when they do not hear each other). */
function linkLabel (l: ResolvedLab['links'][number], state: LabState): { text: string, down: boolean, impaired: boolean, radio: boolean } {
  const down = (state.links.get(l.id) ?? l.state) === 'down'
  const impaired = state.impaired.has(l.id)
  const ends = `${l.endpoints[0].ifname} / ${l.endpoints[1].ifname}`
  if (l.segment !== undefined) return { text: `${l.segment} (radio) ${ends}${down ? ' DEAF' : ''}`, down, impaired: false, radio: true }
  return { text: `${ends}${down ? ' DOWN' : ''}${impaired ? ' impaired' : ''}`, down, impaired, radio: false }
}

const mid = (s: string): string => `n_${s.replace(/[^A-Za-z0-9_]/g, '_')}`
const esc = (s: string): string => s.replace(/"/g, '#quot;')

export function renderMermaid (lab: ResolvedLab, state: LabState = initialState(lab), marks: GraphMarks = {}): string {
  const parts = partitions(lab, state)
  const lines = ['graph LR', `  %% lab ${lab.name}${marks.title !== undefined ? `: ${marks.title}` : ''}; ${parts.length} partition${parts.length === 1 ? '' : 's'}`]
  const node = (n: string): string => {
    const spec = lab.nodes.find(x => x.name === n)
    const note = marks.notes?.[n]
    const stopped = state.stopped.has(n) ? ' STOPPED' : ''
    return `${mid(n)}["${esc(n)} (${esc(spec?.kind ?? '?')})${stopped}${note !== undefined ? `<br/>${esc(note)}` : ''}"]`
  }
  if (parts.length > 1) {
    parts.forEach((p, i) => {
      lines.push(`  subgraph partition_${i + 1}["partition ${i + 1}"]`)
      for (const n of p) lines.push(`    ${node(n)}`)
      lines.push('  end')
    })
  } else {
    for (const n of parts[0] ?? []) lines.push(`  ${node(n)}`)
  }
  for (const n of state.stopped) lines.push(`  ${node(n)}`)
  const styles: string[] = []
  lab.links.forEach((l, i) => {
    const { text, down, impaired, radio } = linkLabel(l, state)
    const arrow = down || radio ? '-.-' : impaired ? '===' : '---'
    lines.push(`  ${mid(l.endpoints[0].node)} ${arrow}|"${esc(text)}"| ${mid(l.endpoints[1].node)}`)
    if (down) styles.push(`  linkStyle ${i} stroke:#d00,stroke-dasharray:4`)
    else if (radio) styles.push(`  linkStyle ${i} stroke:#36c`)
    else if (impaired) styles.push(`  linkStyle ${i} stroke:#e90`)
  })
  lines.push(...styles)
  lines.push('  classDef stopped fill:#ccc,stroke:#666', '  classDef marked fill:#fdd,stroke:#d00')
  for (const n of state.stopped) lines.push(`  class ${mid(n)} stopped`)
  for (const n of Object.keys(marks.notes ?? {})) lines.push(`  class ${mid(n)} marked`)
  return lines.join('\n') + '\n'
}

const q = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`

export function renderDot (lab: ResolvedLab, state: LabState = initialState(lab), marks: GraphMarks = {}): string {
  const parts = partitions(lab, state)
  const lines = [`graph ${q(lab.name)} {`, `  label=${q(`${lab.name}${marks.title !== undefined ? `: ${marks.title}` : ''} (${parts.length} partition${parts.length === 1 ? '' : 's'})`)};`, '  labelloc=t; node [shape=box, style="rounded,filled", fillcolor=white];']
  const node = (n: string): string => {
    const spec = lab.nodes.find(x => x.name === n)
    const note = marks.notes?.[n]
    const stopped = state.stopped.has(n)
    const attrs = [`label=${q(`${n}\n${spec?.kind ?? '?'}${stopped ? '\nSTOPPED' : ''}${note !== undefined ? `\n${note}` : ''}`)}`]
    if (stopped) attrs.push('fillcolor="#cccccc"', 'style="rounded,filled,dashed"')
    else if (note !== undefined) attrs.push('fillcolor="#ffdddd"', 'color="#dd0000"')
    return `${q(n)} [${attrs.join(', ')}];`
  }
  if (parts.length > 1) {
    parts.forEach((p, i) => {
      lines.push(`  subgraph cluster_partition_${i + 1} {`, `    label=${q(`partition ${i + 1}`)}; style=filled; fillcolor=${q(['#e8f0ff', '#fff3d6', '#e6ffe6', '#f6e6ff'][i % 4])};`)
      for (const n of p) lines.push(`    ${node(n)}`)
      lines.push('  }')
    })
  } else {
    for (const n of parts[0] ?? []) lines.push(`  ${node(n)}`)
  }
  for (const n of state.stopped) lines.push(`  ${node(n)}`)
  for (const l of lab.links) {
    const { text, down, impaired, radio } = linkLabel(l, state)
    const attrs = [`label=${q(text)}`]
    if (down) attrs.push('color="#dd0000"', 'style=dashed', 'fontcolor="#dd0000"')
    else if (radio) attrs.push('color="#3366cc"', 'style=dotted', 'penwidth=2')
    else if (impaired) attrs.push('color="#ee9900"', 'penwidth=2')
    lines.push(`  ${q(l.endpoints[0].node)} -- ${q(l.endpoints[1].node)} [${attrs.join(', ')}];`)
  }
  lines.push('}')
  return lines.join('\n') + '\n'
}

/** SVG through Graphviz `dot -Tsvg`. */
export async function dotToSvg (dot: string, o: { signal?: AbortSignal, dotBinary?: string } = {}): Promise<string> {
  try {
    const r = await run([o.dotBinary ?? 'dot', '-Tsvg'], { input: dot, signal: o.signal })
    return r.stdout
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (e.code === 'ENOENT') throw new GraphvizMissingError('dot not found in PATH')
    throw err
  }
}

/**
 * Draws a topology with its live state: links up, down (red, dashed) or impaired, radio pairs
 * (blue, dotted; red when they do not hear each other), partitions as
 * boxes when the lab is split, stopped nodes greyed, marked nodes (a diff) highlighted.
 * For `ntklab graph <file>` and the failure bundle.
 */
export async function renderGraph (lab: ResolvedLab, state: LabState | undefined, format: GraphFormat, marks: GraphMarks = {}): Promise<string> {
  const s = state ?? initialState(lab)
  switch (format) {
    case 'mermaid': return renderMermaid(lab, s, marks)
    case 'dot': return renderDot(lab, s, marks)
    case 'svg': return await dotToSvg(renderDot(lab, s, marks))
  }
}
