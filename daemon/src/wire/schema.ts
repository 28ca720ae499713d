/*
 * The JSON Schema subset the message kinds use, compiled into closures: `type` (one or several), `properties`,
 * `required`, `additionalProperties` (false or a schema), `items` (one schema for every element), `minItems`,
 * `maxItems`, `minimum`, `maximum`, `minLength`, `maxLength` (in code points), `pattern` (unicode), `enum`, `const`,
 * `not`, and `{}` (anything). It replaces ajv in the daemon: ajv generated and compiled JavaScript for each of the
 * 43 kinds at start, 0.26 s of CPU and about 4 MiB resident per daemon (25 daemons start at once on the lab's two
 * cores), where these closures take under a millisecond. Errors read as ajv's did (`must be integer`, `must have
 * required property 'x'`); an unknown keyword, a bad pattern or a `required` name without its property is refused
 * at compile time (as ajv's strict mode did). daemon/test/wire-schema.test.ts checks it against ajv on mutations.
 */

export interface SchemaError {
  /** JSON pointer of the offending value, '' for the message itself. */
  readonly instancePath: string
  readonly keyword: string
  readonly message: string
  /** The field an `additionalProperties: false` refused. */
  readonly additionalProperty?: string
}

/** null when the value satisfies the schema, otherwise the first error found. */
export type Validator = (value: unknown, path?: string) => SchemaError | null

export class SchemaCompileError extends Error {}

const KEYWORDS = new Set(['type', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'enum', 'const', 'not'])
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'])

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

function isType (v: unknown, type: string): boolean {
  switch (type) {
    case 'string': return typeof v === 'string'
    case 'integer': return typeof v === 'number' && Number.isInteger(v)
    case 'number': return typeof v === 'number' && Number.isFinite(v)
    case 'boolean': return typeof v === 'boolean'
    case 'object': return isObject(v)
    case 'array': return Array.isArray(v)
    default: return v === null
  }
}

/** Structural equality of JSON values (for `enum` and `const`). */
function jsonEqual (a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, k) => jsonEqual(x, (b as unknown[])[k]))
  const ka = Object.keys(a)
  return ka.length === Object.keys(b).length && ka.every(k => Object.hasOwn(b, k) && jsonEqual((a as Json)[k], (b as Json)[k]))
}

/** String length in code points, as JSON Schema counts it. */
function codePoints (s: string): number {
  let n = 0
  for (let k = 0; k < s.length; k++) {
    n++
    const c = s.charCodeAt(k)
    if (c >= 0xd800 && c <= 0xdbff && k + 1 < s.length) {
      const d = s.charCodeAt(k + 1)
      if (d >= 0xdc00 && d <= 0xdfff) k++
    }
  }
  return n
}

const pointer = (path: string, key: string | number): string => `${path}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`

function num (schema: Json, key: string, where: string): number | undefined {
  const v = schema[key]
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new SchemaCompileError(`${where}: ${key} must be a number`)
  if (['minItems', 'maxItems', 'minLength', 'maxLength'].includes(key) && !(Number.isInteger(v) && v >= 0)) throw new SchemaCompileError(`${where}: ${key} must be a non-negative integer`)
  return v
}

/** Compiles a schema; throws SchemaCompileError naming the problem for what this subset does not know. */
export function compileSchema (schema: unknown, where = '#'): Validator {
  if (!isObject(schema)) throw new SchemaCompileError(`${where}: a schema must be an object`)
  for (const k of Object.keys(schema)) if (!KEYWORDS.has(k)) throw new SchemaCompileError(`${where}: unknown keyword "${k}"`)
  const checks: Validator[] = []
  const fail = (path: string, keyword: string, message: string, extra?: string): SchemaError =>
    extra === undefined ? { instancePath: path, keyword, message } : { instancePath: path, keyword, message, additionalProperty: extra }

  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type]
    for (const t of types) if (typeof t !== 'string' || !TYPES.has(t)) throw new SchemaCompileError(`${where}: unknown type ${JSON.stringify(t)}`)
    const named = (types as string[]).join(',')
    checks.push((v, p = '') => (types as string[]).some(t => isType(v, t)) ? null : fail(p, 'type', `must be ${named}`))
  }
  if (schema.const !== undefined) {
    const c = schema.const
    checks.push((v, p = '') => jsonEqual(v, c) ? null : fail(p, 'const', 'must be equal to constant'))
  }
  if (schema.enum !== undefined) {
    if (!Array.isArray(schema.enum) || schema.enum.length === 0) throw new SchemaCompileError(`${where}: enum must be a non-empty array`)
    const values = schema.enum as unknown[]
    checks.push((v, p = '') => values.some(x => jsonEqual(v, x)) ? null : fail(p, 'enum', 'must be equal to one of the allowed values'))
  }
  const minimum = num(schema, 'minimum', where)
  const maximum = num(schema, 'maximum', where)
  if (minimum !== undefined || maximum !== undefined) {
    checks.push((v, p = '') => {
      if (typeof v !== 'number') return null
      if (maximum !== undefined && !(v <= maximum)) return fail(p, 'maximum', `must be <= ${maximum}`)
      if (minimum !== undefined && !(v >= minimum)) return fail(p, 'minimum', `must be >= ${minimum}`)
      return null
    })
  }
  const minLength = num(schema, 'minLength', where)
  const maxLength = num(schema, 'maxLength', where)
  if (minLength !== undefined || maxLength !== undefined) {
    checks.push((v, p = '') => {
      if (typeof v !== 'string') return null
      const n = codePoints(v)
      if (maxLength !== undefined && n > maxLength) return fail(p, 'maxLength', `must NOT have more than ${maxLength} characters`)
      if (minLength !== undefined && n < minLength) return fail(p, 'minLength', `must NOT have fewer than ${minLength} characters`)
      return null
    })
  }
  if (schema.pattern !== undefined) {
    if (typeof schema.pattern !== 'string') throw new SchemaCompileError(`${where}: pattern must be a string`)
    let re: RegExp
    try { re = new RegExp(schema.pattern, 'u') } catch (e) { throw new SchemaCompileError(`${where}: pattern ${schema.pattern}: ${(e as Error).message}`) }
    const source = schema.pattern
    checks.push((v, p = '') => typeof v !== 'string' || re.test(v) ? null : fail(p, 'pattern', `must match pattern "${source}"`))
  }
  const minItems = num(schema, 'minItems', where)
  const maxItems = num(schema, 'maxItems', where)
  if (minItems !== undefined || maxItems !== undefined) {
    checks.push((v, p = '') => {
      if (!Array.isArray(v)) return null
      if (maxItems !== undefined && v.length > maxItems) return fail(p, 'maxItems', `must NOT have more than ${maxItems} items`)
      if (minItems !== undefined && v.length < minItems) return fail(p, 'minItems', `must NOT have fewer than ${minItems} items`)
      return null
    })
  }
  if (schema.items !== undefined) {
    const item = compileSchema(schema.items, `${where}/items`)
    checks.push((v, p = '') => {
      if (!Array.isArray(v)) return null
      for (let k = 0; k < v.length; k++) {
        const e = item(v[k], pointer(p, k))
        if (e !== null) return e
      }
      return null
    })
  }
  const properties = new Map<string, Validator>()
  if (schema.properties !== undefined) {
    if (!isObject(schema.properties)) throw new SchemaCompileError(`${where}: properties must be an object`)
    for (const [k, s] of Object.entries(schema.properties)) properties.set(k, compileSchema(s, `${where}/properties/${k}`))
  }
  if (schema.required !== undefined) {
    const required = schema.required
    if (!Array.isArray(required) || !required.every(r => typeof r === 'string')) throw new SchemaCompileError(`${where}: required must be an array of names`)
    for (const r of required as string[]) if (!properties.has(r)) throw new SchemaCompileError(`${where}: required property "${r}" is not defined in properties`)
    checks.push((v, p = '') => {
      if (!isObject(v)) return null
      for (const r of required as string[]) if (!Object.hasOwn(v, r)) return fail(p, 'required', `must have required property '${r}'`)
      return null
    })
  }
  const additional = schema.additionalProperties
  if (additional !== undefined && additional !== true) {
    const extra = additional === false ? null : compileSchema(additional, `${where}/additionalProperties`)
    checks.push((v, p = '') => {
      if (!isObject(v)) return null
      for (const k of Object.keys(v)) {
        if (properties.has(k)) continue
        if (extra === null) return fail(p, 'additionalProperties', 'must NOT have additional properties', k)
        const e = extra(v[k], pointer(p, k))
        if (e !== null) return e
      }
      return null
    })
  }
  if (properties.size > 0) {
    const entries = [...properties]
    checks.push((v, p = '') => {
      if (!isObject(v)) return null
      for (const [k, check] of entries) {
        if (!Object.hasOwn(v, k)) continue
        const e = check(v[k], pointer(p, k))
        if (e !== null) return e
      }
      return null
    })
  }
  if (schema.not !== undefined) {
    const not = compileSchema(schema.not, `${where}/not`)
    checks.push((v, p = '') => not(v, p) === null ? fail(p, 'not', 'must NOT be valid') : null)
  }
  return (value, path = '') => {
    for (const check of checks) {
      const e = check(value, path)
      if (e !== null) return e
    }
    return null
  }
}
