// Pointing at keys of a parsed YAML document: key path -> line and column, and the parser's own
// errors (syntax, duplicate keys) -> Problems. Shared by the topology and the scenario parsers.
import { type Document, isAlias, isMap, isPair, isScalar, isSeq, type LineCounter, type Node, type Pair, type YAMLError } from 'yaml'
import type { Problem } from './problem'

/** Keys and indexes from the document root, e.g. ['links', 2, 'endpoints', 1]. */
export type KeyPath = ReadonlyArray<string | number>

export interface Location { line: number; column: number }

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/

/** `links[2].endpoints[1]`, `nodes.a.interfaces["eth0.100"]`; '' for the root. */
export function formatPath (path: KeyPath): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`
    else out += `[${JSON.stringify(seg)}]`
  }
  return out
}

function keyText (pair: Pair): string | undefined {
  const key = pair.key
  if (isScalar(key)) return String(key.value)
  return undefined
}

function deref (doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node
}

function startOf (node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range
  return range === undefined || range === null ? undefined : range[0]
}

/**
 * Where a key path points in the document: the key itself for a map entry, the item for a list
 * element. When the path goes further than the document (a missing key), the deepest part that
 * exists: a "missing required key" problem points at the map that lacks it. Lines and columns are
 * 1-based; `lineCounter` is the one given to `parseDocument` (the Document keeps offsets only).
 */
export function locate (doc: Document, path: KeyPath, lineCounter: LineCounter): Location {
  let node: unknown = deref(doc, doc.contents)
  let offset = startOf(node) ?? 0
  for (const seg of path) {
    let next: unknown
    let at: number | undefined
    if (isMap(node)) {
      // The last pair with that key: it is the one whose value the parsed data holds.
      const pair = [...node.items].reverse().find(p => keyText(p) === String(seg))
      if (pair !== undefined) { next = pair.value; at = startOf(pair.key) }
    } else if (isSeq(node) && typeof seg === 'number') {
      next = node.items[seg]
      at = startOf(deref(doc, next)) ?? startOf(next)
    }
    if (at === undefined) break
    offset = at
    node = deref(doc, next)
  }
  const pos = lineCounter.linePos(offset)
  return { line: pos.line, column: pos.col }
}

/** The key path of the map key starting at `offset`, with the map holding it (for duplicate keys). */
function keyAt (doc: Document, offset: number): { path: Array<string | number>; pairs: Pair[] } | undefined {
  const walk = (node: unknown, path: Array<string | number>): { path: Array<string | number>; pairs: Pair[] } | undefined => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = keyText(pair)
        if (key !== undefined && startOf(pair.key) === offset) return { path: [...path, key], pairs: node.items }
        const found = walk(pair.value, key === undefined ? path : [...path, key])
        if (found !== undefined) return found
      }
    } else if (isSeq(node)) {
      for (let i = 0; i < node.items.length; i++) {
        const found = walk(node.items[i], [...path, i])
        if (found !== undefined) return found
      }
    } else if (isPair(node)) {
      return walk(node.value, path)
    }
    return undefined
  }
  return walk(doc.contents, [])
}

/**
 * The parser's errors as Problems. A duplicate key (parse with `uniqueKeys: true`, the default)
 * gets its key path and the line of the first definition; `describeDuplicate` may word it for a
 * given map (e.g. "duplicate node").
 */
export function yamlProblems (
  doc: Document,
  lineCounter: LineCounter,
  file: string,
  describeDuplicate: (path: KeyPath, firstLine: number) => string = (path, firstLine) =>
    `duplicate key ${JSON.stringify(path[path.length - 1])} (first defined at line ${firstLine})`
): Problem[] {
  return doc.errors.map((err: YAMLError) => {
    const pos = lineCounter.linePos(err.pos[0])
    // prettyErrors appends " at line L, column C:" and a code frame; the Problem carries the position.
    const text = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')
    if (err.code === 'DUPLICATE_KEY') {
      const key = keyAt(doc, err.pos[0])
      if (key !== undefined) {
        const name = String(key.path[key.path.length - 1])
        const first = key.pairs.find(p => keyText(p) === name)
        const firstLine = lineCounter.linePos(startOf(first?.key) ?? err.pos[0]).line
        return { file, line: pos.line, column: pos.col, path: formatPath(key.path), message: describeDuplicate(key.path, firstLine) }
      }
    }
    return { file, line: pos.line, column: pos.col, path: '', message: `YAML syntax: ${text}` }
  })
}
