// Structural validation with the published JSON Schema (lab/schema/topology.schema.json).
import Ajv, { type ErrorObject } from 'ajv'
import topologySchema from '../../schema/topology.schema.json'
import type { KeyPath } from './yaml-locate'

export { topologySchema }

/** A problem before it has a file position. */
export interface PathProblem { path: KeyPath; message: string }

// Values whose patterns resolve.ts re-checks with a message that says which rule is broken
// (checks.ts); the schema's "must match pattern ..." for them would only repeat it less clearly.
const CHECKED_BY_RESOLVE = ['labName', 'nodeName', 'ifname', 'endpoint', 'mac', 'ipv4Cidr', 'rate']
  .map(d => `#/definitions/${d}/`)

// Compiled once: ajv compiles the schema to a function, which is the costly part. Immutable.
const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true }).compile(topologySchema)

function pointerToPath (pointer: string): Array<string | number> {
  if (pointer === '') return []
  return pointer.slice(1).split('/').map(s => {
    const seg = s.replace(/~1/g, '/').replace(/~0/g, '~')
    return /^(0|[1-9][0-9]*)$/.test(seg) ? Number(seg) : seg
  })
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string', number: 'a number', integer: 'an integer', boolean: 'true or false',
  object: 'a map (key: value)', array: 'a list', null: 'empty'
}

function describe (e: ErrorObject): PathProblem | undefined {
  const path = pointerToPath(e.instancePath)
  const p = e.params as Record<string, unknown>
  if (e.keyword === 'pattern' || e.keyword === 'maxLength') {
    if (CHECKED_BY_RESOLVE.some(prefix => e.schemaPath.startsWith(prefix))) return undefined
  }
  // Errors about a map key (propertyNames) come twice: the inner rule with `propertyName`, and a
  // summary; the inner one says more.
  if (e.keyword === 'propertyNames') return undefined
  // if/then/else (radio links, pairs): the branch's own errors say what is wrong; "must match then" says nothing.
  if (e.keyword === 'if') return undefined
  if (e.propertyName !== undefined) {
    return { path: [...path, e.propertyName], message: `key ${JSON.stringify(e.propertyName)} ${e.message ?? 'is not valid'}` }
  }
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty)
      const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties
      const allowed = props === undefined ? '' : ` (allowed: ${Object.keys(props).join(', ')})`
      return { path: [...path, key], message: `unknown key ${JSON.stringify(key)}${allowed}` }
    }
    case 'required':
      return { path: [...path, String(p.missingProperty)], message: 'missing (required)' }
    case 'type': {
      if (path.length === 0) return { path, message: 'a topology is a map with name, nodes, links (and optionally description, defaults, kinds, timeline)' }
      const types = String(p.type).split(',').map(t => TYPE_WORDS[t] ?? t)
      return { path, message: `must be ${types.join(' or ')}` }
    }
    case 'enum':
      return { path, message: `must be one of: ${(p.allowedValues as unknown[]).map(v => String(v)).join(', ')}` }
    case 'minItems':
    case 'maxItems':
      if (path[path.length - 1] === 'endpoints') {
        if (e.schemaPath.includes('/then/')) return { path, message: 'a radio segment has at least two endpoints, [node:ifname, node:ifname, ...]' }
        return { path, message: 'a link has exactly two endpoints, [node:ifname, node:ifname] (several nodes on one segment: kind: radio)' }
      }
      if (path[path.length - 2] === 'hears' || path[path.length - 1] === 'pair') return { path, message: 'a pair names two nodes of the segment, e.g. [alfa, beta]' }
      if (p.limit === 1) return { path, message: 'must not be empty' }
      return { path, message: e.message ?? e.keyword }
    case 'minLength':
      if (p.limit === 1) return { path, message: 'must not be empty' }
      return { path, message: e.message ?? e.keyword }
    default:
      return { path, message: e.message ?? e.keyword }
  }
}

/** Everything the schema finds wrong in the parsed data (not only the first). */
export function schemaProblems (data: unknown): PathProblem[] {
  if (validate(data)) return []
  return (validate.errors ?? []).map(describe).filter((p): p is PathProblem => p !== undefined)
}
