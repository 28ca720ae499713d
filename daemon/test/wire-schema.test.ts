import test from 'ava'
import Ajv from 'ajv'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ntkdMessageRegistry } from '../src/node'
import { InvalidMessageSchemaError, MessageRegistry, SchemaCompileError, compileSchema, defineMessage, envelopeSchema, type WireMessage } from '../src/wire'
import { SeededRandom } from '../src/util/random'
import { Signer } from './helpers/fuzz/delivery'
import { FUZZ_NETWORK_KEY, captureCorpus } from './helpers/fuzz/campaign'
import { TREE_CLASSES, mutateTree, serialise, type Json } from './helpers/fuzz/mutate'
import { copyTree } from './helpers/fuzz/corpus'

const execFileP = promisify(execFile)

// The daemon's schema validator (src/wire/schema.ts) replaced ajv, which compiled code for every kind at start.
// ajv stays the reference here: on every message kind, captured messages and structure-aware mutations of them
// must be accepted or refused by both alike.

test('every kind: captured messages and 400 mutations of each are accepted or refused exactly as ajv decides', async t => {
  const registry = ntkdMessageRegistry()
  const ajv = new Ajv({ strict: true, allErrors: false })
  const reference = new Map(registry.definitions().map(d => [d.kind, ajv.compile(envelopeSchema(d))]))
  const { corpus } = await captureCorpus(16, new Signer(FUZZ_NETWORK_KEY))
  const rnd = new SeededRandom(15)
  const kinds = registry.kinds()
  const differ: string[] = []
  let valid = 0
  let invalid = 0
  const judge = (kind: string, m: Json, how: string): void => {
    if (m === null || typeof m !== 'object' || Array.isArray(m) || typeof m.kind !== 'string' || !reference.has(m.kind)) return
    const ours = registry.check(m as Record<string, unknown> & { kind: string })
    const theirs = reference.get(m.kind)?.(m) === true
    if (ours.ok) valid++; else invalid++
    if (ours.ok !== theirs && differ.length < 10) differ.push(`${kind} ${how}: ours ${ours.ok ? 'ok' : `${ours.path} ${ours.message}`}, ajv ${theirs ? 'ok' : JSON.stringify(reference.get(m.kind)?.errors?.[0])}: ${serialise(m).slice(0, 300)}`)
  }
  for (const kind of corpus.kinds()) {
    const seeds = corpus.byKind.get(kind) ?? []
    for (const s of seeds) judge(kind, copyTree(s), 'captured')
    for (let k = 0; k < 400; k++) {
      const cls = TREE_CLASSES[rnd.int(TREE_CLASSES.length)]
      const m = mutateTree(copyTree(seeds[rnd.int(seeds.length)]), cls, { rnd, dictionary: corpus.dictionary, kinds, sibling: () => copyTree(seeds[rnd.int(seeds.length)]) })
      if (m === undefined) continue
      // what the wire carries: raw number tokens (1e999, -0) become what JSON.parse makes of them
      let parsed: Json
      try { parsed = JSON.parse(serialise(m.tree)) as Json } catch { continue }
      judge(kind, parsed, `${cls} at ${m.where}`)
    }
  }
  t.deepEqual(differ, [])
  t.true(corpus.kinds().length >= 40, `kinds captured: ${corpus.kinds().length}`)
  t.true(valid > 1_000 && invalid > 5_000, `both outcomes exercised: ${valid} valid, ${invalid} invalid`)
})

test('refusals name the field and the rule, as ajv worded them', t => {
  interface Hello extends WireMessage { kind: 'hello', name: string, port: number, tags?: string[] }
  const r = new MessageRegistry()
  r.register(defineMessage<Hello>('hello', {
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 4, pattern: '^[a-z]+$' },
      port: { type: 'integer', minimum: 1, maximum: 65535 },
      tags: { type: 'array', items: { enum: ['a', 'b'] }, maxItems: 2 }
    },
    required: ['name', 'port']
  }))
  const check = (fields: Record<string, unknown>): unknown => r.check({ v: 1, kind: 'hello', ...fields })
  t.deepEqual(check({ name: 'ab', port: 1, tags: ['a'] }), { ok: true })
  t.deepEqual(check({ name: 'ab' }), { ok: false, path: '/', message: "must have required property 'port'" })
  t.deepEqual(check({ name: 'ab', port: 1.5 }), { ok: false, path: '/port', message: 'must be integer' })
  t.deepEqual(check({ name: 'ab', port: 0 }), { ok: false, path: '/port', message: 'must be >= 1' })
  t.deepEqual(check({ name: 'ab', port: 65536 }), { ok: false, path: '/port', message: 'must be <= 65535' })
  t.deepEqual(check({ name: 'abcde', port: 1 }), { ok: false, path: '/name', message: 'must NOT have more than 4 characters' })
  t.deepEqual(check({ name: 'AB', port: 1 }), { ok: false, path: '/name', message: 'must match pattern "^[a-z]+$"' })
  t.deepEqual(check({ name: 'ab', port: 1, tags: ['a', 'c'] }), { ok: false, path: '/tags/1', message: 'must be equal to one of the allowed values' })
  t.deepEqual(check({ name: 'ab', port: 1, tags: ['a', 'a', 'b'] }), { ok: false, path: '/tags', message: 'must NOT have more than 2 items' })
  t.deepEqual(check({ name: 'ab', port: 1, evil: true }), { ok: false, path: '/', message: "must NOT have additional properties 'evil'" })
  t.deepEqual(r.check({ v: 2, kind: 'hello', name: 'ab', port: 1 }), { ok: false, path: '/v', message: 'must be equal to constant' })
  // a required field is an own field: one inherited from Object.prototype does not count
  t.deepEqual(r.check(JSON.parse('{"v":1,"kind":"hello","port":1,"__proto__":{"name":"ab"}}') as { kind: string }), { ok: false, path: '/', message: "must have required property 'name'" })
})

test('a schema outside the subset is refused when its kind is registered, naming the kind and the problem', t => {
  const bad = (schema: Record<string, unknown>, required: string[] = []): void => {
    const r = new MessageRegistry()
    t.throws(() => r.register(defineMessage('x', { properties: { f: schema }, required })), { instanceOf: InvalidMessageSchemaError, message: /^schema of message kind 'x' does not compile: .+/ })
  }
  bad({ type: 'string', format: 'email' })
  bad({ type: 'str' })
  bad({ type: 'string', pattern: '(' })
  bad({ type: 'array', maxItems: -1 })
  bad({ type: 'string' }, ['g'])
  t.throws(() => compileSchema({ oneOf: [] }), { instanceOf: SchemaCompileError, message: '#: unknown keyword "oneOf"' })
  t.throws(() => compileSchema({ properties: { a: { type: 'object', properties: { b: { minimum: 'x' } } } } }), { message: '#/properties/a/properties/b: minimum must be a number' })
})

test('the ntkd program started with flags loads neither ajv nor yaml; a configuration file loads yaml', async t => {
  // ajv compiled code for every kind at start (0.26 s of CPU, about 4 MiB per daemon), yaml is 70 modules
  const dir = await mkdtemp(join(tmpdir(), 'ntkd-modules-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const preload = join(dir, 'list-modules.js')
  await writeFile(preload, "process.on('exit', () => { process.stderr.write('\\nMODULES ' + JSON.stringify(Object.keys(require.cache))) })\n")
  const config = join(dir, 'ntkd.yaml')
  await writeFile(config, 'topology: [2, 1, 1, 1]\n')
  const modules = async (args: string[]): Promise<string[]> => {
    const r = await execFileP(process.execPath, ['-r', 'ts-node/register/transpile-only', '-r', preload, join(__dirname, '..', 'src', 'cli', 'ntkd.ts'), ...args], { env: { ...process.env, TS_NODE_PROJECT: join(__dirname, '..', '..', 'tsconfig.json') } })
      .catch((e: { stderr?: string }) => ({ stderr: e.stderr ?? '' }))
    const line = /\nMODULES (.*)$/.exec(r.stderr)
    if (line === null) throw new Error(`no module list: ${r.stderr}`)
    return (JSON.parse(line[1]) as string[]).map(m => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(m)?.[1]).filter((m): m is string => m !== undefined && m !== 'ts-node' && !m.startsWith('@'))
  }
  const withFlags = new Set(await modules(['--help']))
  t.false(withFlags.has('ajv'), [...withFlags].join(', '))
  t.false(withFlags.has('yaml'), [...withFlags].join(', '))
  // with a configuration file the YAML parser is loaded (the daemon then fails on the missing interfaces: exit 2)
  t.true((await modules(['-c', config])).includes('yaml'))
})

test('a registry of every kind builds in milliseconds (in-process networks build one per node)', t => {
  const t0 = performance.now()
  for (let k = 0; k < 20; k++) ntkdMessageRegistry()
  const ms = (performance.now() - t0) / 20
  t.log(`one registry of every kind in ${ms.toFixed(2)} ms`)
  t.true(ms < 50, `one registry of every kind in ${ms.toFixed(2)} ms (ajv: about 260 ms)`)
})
