// Topology file -> ResolvedLab: YAML with positions, then the JSON Schema, then resolve. Every
// problem of every stage that can run is collected and thrown at once as a TopologyError.
import { readFileSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import { LineCounter, parseDocument, visit } from 'yaml'
import { defaultKinds } from './kinds'
import type { KindRegistry } from './kinds/registry'
import type { ResolvedLab } from './model'
import { type Problem, TopologyError } from './problem'
import { resolve } from './resolve'
import { type PathProblem, schemaProblems } from './schema'
import { formatPath, type KeyPath, locate, yamlProblems } from './yaml-locate'

function describeDuplicate (path: KeyPath, firstLine: number): string {
  const key = JSON.stringify(path[path.length - 1])
  if (path.length === 2 && path[0] === 'nodes') return `duplicate node ${key} (first defined at line ${firstLine})`
  return `duplicate key ${key} (first defined at line ${firstLine})`
}

/**
 * Parses and validates a topology. `file` is only used in messages and is echoed as given.
 * Pure: it reads and creates nothing, so a topology that fails here leaves no trace anywhere.
 */
export function parseTopology (text: string, file: string, kinds: KindRegistry): ResolvedLab {
  const lineCounter = new LineCounter()
  // merge: YAML 1.1 `<<: *anchor` keys, which people who share node fields through anchors expect.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true, merge: true })
  const problems: Problem[] = yamlProblems(doc, lineCounter, file, describeDuplicate)
  // After a syntax error the tree is a guess; duplicate keys leave it whole, so go on after those.
  if (doc.errors.some(e => e.code !== 'DUPLICATE_KEY')) throw new TopologyError(file, problems)

  const at = (p: PathProblem): Problem => {
    const { line, column } = locate(doc, p.path, lineCounter)
    return { file, line, column, path: formatPath(p.path), message: p.message }
  }
  let data: unknown
  try {
    data = doc.toJS({ maxAliasCount: 1000 })
  } catch (err) {
    // An alias whose anchor comes later (or never), or an alias explosion: the parser leaves
    // those to toJS, which names no position; point at the first unresolvable alias if any.
    let line = 0
    let column = 0
    visit(doc, {
      Alias (_, alias) {
        if (alias.resolve(doc) !== undefined || alias.range == null) return undefined
        const pos = lineCounter.linePos(alias.range[0])
        line = pos.line
        column = pos.col
        return visit.BREAK
      }
    })
    problems.push({ file, line, column, path: '', message: `YAML: ${(err as Error).message}` })
    throw new TopologyError(file, problems)
  }
  problems.push(...schemaProblems(data).map(at))
  const resolution = resolve(data, kinds)
  problems.push(...resolution.problems.map(at))
  if (problems.length > 0 || resolution.lab === undefined) throw new TopologyError(file, problems)
  return resolution.lab
}

/**
 * Reads and parses a topology file (synchronously: it is read once, at the edge, before anything
 * is created). Messages name the file as given; `file` in the result is the absolute path.
 */
export function loadTopology (path: string, kinds: KindRegistry = defaultKinds()): ResolvedLab {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message
    throw new TopologyError(path, [{ file: path, line: 0, column: 0, path: '', message: `cannot read topology file: ${why}` }])
  }
  return { ...parseTopology(text, path, kinds), file: resolvePath(path) }
}
