/** One thing wrong with an input file, addressed so an editor (and a person) can jump to it. */
export interface Problem {
  /** The file as the user named it (relative paths stay relative: messages echo what was typed). */
  file: string
  /** 1-based; 0 when the problem concerns the whole file (e.g. it cannot be read). */
  line: number
  /** 1-based; 0 with line 0. */
  column: number
  /** Key path as people write it, e.g. `links[2].endpoints[1]`; '' for the whole document. */
  path: string
  message: string
}

export function formatProblem (p: Problem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}` : p.file
  return p.path === '' ? `${where}: ${p.message}` : `${where}: ${p.path}: ${p.message}`
}

/** Orders problems as they appear in the file and drops exact repeats (a default seen by many nodes). */
export function sortProblems (problems: Problem[]): Problem[] {
  const seen = new Set<string>()
  const unique: Problem[] = []
  for (const p of problems) {
    const key = formatProblem(p)
    if (seen.has(key)) continue
    seen.add(key)
    unique.push(p)
  }
  return unique.sort((a, b) => a.line - b.line || a.column - b.column || a.path.localeCompare(b.path))
}

/** A topology file that cannot be used; `.problems` holds every problem found, not only the first. */
export class TopologyError extends Error {
  readonly problems: Problem[]
  constructor (readonly file: string, problems: Problem[]) {
    const sorted = sortProblems(problems)
    const count = sorted.length === 1 ? '1 problem' : `${sorted.length} problems`
    super(`invalid topology ${file} (${count}):\n${sorted.map(p => `  ${formatProblem(p)}`).join('\n')}`)
    this.name = 'TopologyError'
    this.problems = sorted
  }
}
