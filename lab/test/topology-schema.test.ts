import test from 'ava'
import Ajv from 'ajv'
import fc from 'fast-check'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'
import { checkIfname, checkIpv4Cidr, checkLabName, checkMac, checkNodeName, checkRate, parseEndpoint } from '../src/topology/checks'
import schema from '../schema/topology.schema.json'

const root = path.join(__dirname, '..', '..')
const schemaFile = path.join(root, 'lab', 'schema', 'topology.schema.json')

function makeAjv (): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true })
  ajv.addSchema(schema, 'topology')
  return ajv
}

test('the published schema is a valid draft-07 schema and compiles in strict mode', t => {
  const onDisk: unknown = JSON.parse(readFileSync(schemaFile, 'utf8'))
  const ajv = new Ajv({ strict: true, allowUnionTypes: true })
  t.true(ajv.validateSchema(onDisk as object) as boolean, JSON.stringify(ajv.errors))
  t.notThrows(() => ajv.compile(onDisk as object))
})

test('every property in the schema has a description (editors show it as help)', t => {
  const defs = (schema as { definitions: Record<string, { description?: string }> }).definitions
  const missing: string[] = []
  const walk = (node: unknown, where: string): void => {
    if (typeof node !== 'object' || node === null) return
    const n = node as Record<string, unknown>
    if (typeof n.properties === 'object' && n.properties !== null) {
      for (const [key, prop] of Object.entries(n.properties as Record<string, Record<string, unknown>>)) {
        const ref = typeof prop.$ref === 'string' ? defs[prop.$ref.replace('#/definitions/', '')] : undefined
        if (typeof prop.description !== 'string' && typeof ref?.description !== 'string') missing.push(`${where}.${key}`)
      }
    }
    for (const [k, v] of Object.entries(n)) walk(v, `${where}.${k}`)
  }
  walk(schema, '#')
  t.deepEqual(missing, [])
})

const examples = readdirSync(path.join(root, 'topologies')).filter(f => /\.ya?ml$/.test(f))

test('the examples are there', t => {
  for (const f of ['demo.yaml', 'line3.yaml', 'ring4.yaml']) t.true(examples.includes(f), f)
})

for (const f of examples) {
  test(`example ${f} validates against the schema, and its $schema comment points at it`, t => {
    const text = readFileSync(path.join(root, 'topologies', f), 'utf8')
    const validate = makeAjv().getSchema('topology')
    t.truthy(validate)
    t.true(validate?.(parse(text)), JSON.stringify(validate?.errors, null, 2))
    const m = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text)
    t.truthy(m, 'has a yaml-language-server $schema comment')
    if (m !== null) t.true(existsSync(path.join(root, 'topologies', m[1])), `${m[1]} exists`)
  })
}

// The schema's patterns (for editors) and checks.ts (for messages) must accept the same values.
function agree (t: import('ava').ExecutionContext, def: string, check: (s: string) => boolean, values: fc.Arbitrary<string>, known: string[]): void {
  const validate = makeAjv().getSchema(`topology#/definitions/${def}`)
  if (validate === undefined) throw new Error(`no definition ${def}`)
  for (const v of known) t.is(validate(v), check(v), `${def}: ${JSON.stringify(v)}`)
  t.notThrows(() => fc.assert(fc.property(values, v => validate(v) === check(v)), { numRuns: 2000 }))
}

const charsOf = (chars: string, maxLength: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...chars), { maxLength }).map(a => a.join(''))

const ifnameChars = 'abelo0123456789.-_/: \tÉ@'
const ifnames = fc.oneof(charsOf(ifnameChars, 18), fc.constantFrom('lo', '.', '..', 'eth1', 'a'.repeat(15), 'a'.repeat(16)))

test('schema and checks agree: interface names', t => {
  agree(t, 'ifname', s => checkIfname(s) === undefined, ifnames,
    ['eth1', 'lo', 'lo0', '.', '..', '...', 'e', '', 'eth/1', 'eth 1', 'eth:1', 'ethé', 'a'.repeat(15), 'a'.repeat(16), 'br-lan.100'])
})

test('schema and checks agree: MAC addresses', t => {
  const hex = (n: number): string => n.toString(16).padStart(2, '0')
  const macs = fc.oneof(
    fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }).map(o => o.map(hex).join(':')),
    fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 6, maxLength: 6 }).map(o => o.map(hex).join(':')),
    charsOf('0123456789abcdefABCDEFg:-', 20)
  )
  agree(t, 'mac', s => checkMac(s) === undefined, macs,
    ['02:00:00:00:00:01', '0A:00:00:00:00:0A', '01:00:5e:00:00:01', '03:00:00:00:00:00', '00:00:00:00:00:00', '02:00:00:00:00:1', '02-00-00-00-00-01', 'ff:ff:ff:ff:ff:ff'])
})

test('schema and checks agree: IPv4 addresses with prefix', t => {
  const cidrs = fc.oneof(
    fc.tuple(fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 40 }))
      .map(([o, len]) => `${o.join('.')}/${len}`),
    charsOf('0123456789./', 20)
  )
  agree(t, 'ipv4Cidr', s => checkIpv4Cidr(s) === undefined, cidrs,
    ['169.254.1.1/30', '0.0.0.0/0', '255.255.255.255/32', '169.254.1.300/30', '169.254.1.1', '169.254.1.1/33', '01.2.3.4/8', '1.2.3/8', '1.2.3.4/08'])
})

test('schema and checks agree: tc rates', t => {
  const rates = fc.oneof(
    fc.tuple(fc.constantFrom('0', '1', '10', '0.5', '0.0', '512', '1.'), fc.constantFrom('', 'k', 'M', 'gi', 'Ti', 'x'), fc.constantFrom('bit', 'bps', 'BIT', 'b', ''))
      .map(([n, p, u]) => n + p + u),
    charsOf('0123456789.kmgbitps', 10)
  )
  agree(t, 'rate', s => checkRate(s) === undefined, rates, ['10mbit', '512kbit', '1gbit', '100kbps', '1Mibit', '0bit', 'fast', '10', '10 mbit'])
})

test('schema and checks agree: lab, node names and endpoints', t => {
  const names = fc.oneof(charsOf('abz09-_A.', 26), fc.constantFrom('a'.repeat(20), 'a'.repeat(21), 'a'.repeat(24), 'a'.repeat(25)))
  agree(t, 'labName', s => checkLabName(s) === undefined, names, ['demo', 'line3', '-a', 'a_b', 'A', ''])
  agree(t, 'nodeName', s => checkNodeName(s) === undefined, names, ['a', 'n1x1', 'a_b-c', '_a', 'Alpha', ''])
  const endpointOk = (s: string): boolean => {
    const ep = parseEndpoint(s)
    return ep !== undefined && checkNodeName(ep.node) === undefined && checkIfname(ep.ifname) === undefined
  }
  const endpoints = fc.tuple(names, fc.constantFrom(':', '', '::'), ifnames).map(([n, sep, i]) => n + sep + i)
  agree(t, 'endpoint', endpointOk, endpoints, ['a:eth1', 'a:lo', 'a:', ':eth1', 'a:eth:1', 'A:eth1', 'a:eth 1', 'ab'])
})
