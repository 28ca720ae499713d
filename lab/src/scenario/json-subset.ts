/**
 * JSON subset comparison in the style of FRR's json_cmp: the expectation names only what matters.
 *  - keys the expectation leaves out are ignored;
 *  - `null` as a value: the key must be absent (or null);
 *  - `"*"`: the key must be present, any value;
 *  - arrays match without order (each expected element needs its own actual element), unless the
 *    first expected element is "__ordered__"; with "__exactly__" first, the actual list may hold nothing more.
 * The result is a list of mismatches addressed by path ($->routes->172.31.2.1/32->dev), empty on a match.
 */
export interface Mismatch {
  path: string
  message: string
  expected: unknown
  actual: unknown
}

export const ANY = '*'
export const ORDERED = '__ordered__'
export const EXACTLY = '__exactly__'

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function show (v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v)
}

export function jsonSubset (actual: unknown, expected: unknown, path = '$'): Mismatch[] {
  if (expected === ANY) {
    return actual === undefined || actual === null ? [{ path, message: 'expected present, is absent', expected, actual }] : []
  }
  if (expected === null) {
    return actual === undefined || actual === null ? [] : [{ path, message: `expected absent, is ${show(actual)}`, expected, actual }]
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [{ path, message: `expected a list, is ${show(actual)}`, expected, actual }]
    if (expected[0] === ORDERED) return compareOrdered(actual, expected.slice(1), path)
    if (expected[0] === EXACTLY) {
      const out = compareUnordered(actual, expected.slice(1), path)
      if (out.length === 0 && actual.length !== expected.length - 1) out.push({ path, message: `expected exactly ${expected.length - 1} elements, has ${actual.length}: ${show(actual)}`, expected, actual })
      return out
    }
    return compareUnordered(actual, expected, path)
  }
  if (isObject(expected)) {
    if (!isObject(actual)) return [{ path, message: `expected an object, is ${show(actual)}`, expected, actual }]
    const out: Mismatch[] = []
    for (const [k, e] of Object.entries(expected)) {
      const p = `${path}->${k}`
      const a = actual[k]
      if (e !== null && e !== ANY && a === undefined) {
        out.push({ path: p, message: `missing, expected ${show(e)}`, expected: e, actual: undefined })
        continue
      }
      out.push(...jsonSubset(a, e, p))
    }
    return out
  }
  return actual === expected ? [] : [{ path, message: `expected ${show(expected)}, is ${show(actual)}`, expected, actual }]
}

function compareOrdered (actual: unknown[], expected: unknown[], path: string): Mismatch[] {
  const out: Mismatch[] = []
  expected.forEach((e, i) => {
    if (i >= actual.length) out.push({ path: `${path}[${i}]`, message: `missing, expected ${show(e)}`, expected: e, actual: undefined })
    else out.push(...jsonSubset(actual[i], e, `${path}[${i}]`))
  })
  return out
}

/**
 * Each expected element needs a distinct matching actual element: a bipartite matching (augmenting
 * paths; lists here are short). An unmatched element is reported with its closest candidate's diff.
 */
function compareUnordered (actual: unknown[], expected: unknown[], path: string): Mismatch[] {
  const fits = expected.map(e => actual.map(a => jsonSubset(a, e).length === 0))
  const owner = new Array<number>(actual.length).fill(-1)
  const assign = (i: number, seen: boolean[]): boolean => {
    for (let j = 0; j < actual.length; j++) {
      if (!fits[i][j] || seen[j]) continue
      seen[j] = true
      if (owner[j] === -1 || assign(owner[j], seen)) { owner[j] = i; return true }
    }
    return false
  }
  const out: Mismatch[] = []
  expected.forEach((e, i) => {
    if (assign(i, new Array<boolean>(actual.length).fill(false))) return
    let closest: Mismatch[] | undefined
    actual.forEach((a, j) => {
      const d = jsonSubset(a, e, `${path}[${j}]`)
      if (closest === undefined || d.length < closest.length) closest = d
    })
    const near = closest !== undefined && closest.length > 0 ? `; closest: ${closest.map(m => `${m.path}: ${m.message}`).join(', ')}` : ''
    out.push({ path: `${path}[?]`, message: `no element matches ${show(e)}${near}`, expected: e, actual })
  })
  return out
}

/** One line per mismatch, FRR style: "> $->main->172.31.2.1/32->dev: expected "eth1", is "eth2"". */
export function formatMismatches (ms: readonly Mismatch[]): string {
  return ms.map(m => `> ${m.path}: ${m.message}`).join('\n')
}

export type { Json }
