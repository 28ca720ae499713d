import test from 'ava'
import path from 'node:path'
import ipaddr from 'ipaddr.js'
import { LineCounter, parseDocument } from 'yaml'
import {
  defaultKinds, DuplicateKindError, formatPath, KindRegistry, loadTopology, locate, parseTopology,
  registerLinux, type ResolvedLab, TopologyError, UnknownKindError
} from '../src/topology'

const root = path.join(__dirname, '..', '..')
const example = (name: string): string => path.join(root, 'topologies', name)
const fixture = (name: string): string => path.join('lab', 'test', 'fixtures', 'topologies', name)

/** Runs from the repository root so fixture paths in messages are relative, as a user types them. */
function load (file: string, kinds = defaultKinds()): ResolvedLab {
  const cwd = process.cwd()
  process.chdir(root)
  try {
    return loadTopology(file, kinds)
  } finally {
    process.chdir(cwd)
  }
}

function loadError (file: string, kinds = defaultKinds()): TopologyError {
  try {
    load(file, kinds)
  } catch (err) {
    if (err instanceof TopologyError) return err
    throw err
  }
  throw new Error(`${file} loaded without error`)
}

function node (lab: ResolvedLab, name: string): ResolvedLab['nodes'][number] {
  const n = lab.nodes.find(x => x.name === name)
  if (n === undefined) throw new Error(`no node ${name}`)
  return n
}

/** For every link: both ends share one subnet, and no two links share a subnet. */
function assertOneSubnetPerLink (t: import('ava').ExecutionContext, lab: ResolvedLab): void {
  const subnets: Array<[ipaddr.IPv4, number, string]> = []
  for (const link of lab.links) {
    const [a, b] = link.endpoints.map(e => node(lab, e.node).interfaces[e.ifname].ipv4)
    t.is(a.length, 1, `${link.id}: one address on ${link.endpoints[0].node}`)
    t.is(b.length, 1, `${link.id}: one address on ${link.endpoints[1].node}`)
    const [ipA, lenA] = ipaddr.IPv4.parseCIDR(a[0])
    const [ipB, lenB] = ipaddr.IPv4.parseCIDR(b[0])
    t.is(lenA, 30, `${link.id}: /30`)
    t.is(lenB, 30, `${link.id}: /30`)
    t.true(ipB.match(ipA, lenA), `${link.id}: ${a[0]} and ${b[0]} are in one subnet`)
    t.not(a[0], b[0])
    t.true(ipA.match(ipaddr.IPv4.parse('169.254.0.0'), 16), `${link.id}: link-local`)
    for (const [other, len, id] of subnets) t.false(ipA.match(other, len), `${link.id} and ${id} must not share a subnet`)
    subnets.push([ipA, lenA, link.id])
  }
}

test('line3.yaml: a - b - c, each link its own /30', t => {
  const lab = load(example('line3.yaml'))
  t.is(lab.name, 'line3')
  t.is(lab.file, example('line3.yaml'))
  t.deepEqual(lab.nodes.map(n => [n.name, n.kind]), [['a', 'linux'], ['b', 'linux'], ['c', 'linux']])
  t.deepEqual(lab.links.map(l => l.id), ['a:eth1--b:eth1', 'b:eth2--c:eth1'])
  t.deepEqual(lab.links.map(l => l.state), ['up', 'up'])
  t.deepEqual(node(lab, 'a').interfaces, { eth1: { ipv4: ['169.254.1.1/30'] } })
  t.deepEqual(node(lab, 'b').interfaces, { eth1: { ipv4: ['169.254.1.2/30'] }, eth2: { ipv4: ['169.254.2.1/30'] } })
  t.deepEqual(node(lab, 'c').interfaces, { eth1: { ipv4: ['169.254.2.2/30'] } })
  t.is(node(lab, 'a').command, undefined, 'linux runs no command of its own')
  t.deepEqual(lab.timeline, [])
  assertOneSubnetPerLink(t, lab)
})

test('ring4.yaml: four nodes in a ring, fixed MACs on a:eth1 and b:eth1', t => {
  const lab = load(example('ring4.yaml'))
  t.is(lab.name, 'ring4')
  t.deepEqual(lab.links.map(l => l.id), ['a:eth1--b:eth1', 'b:eth2--c:eth1', 'c:eth2--d:eth1', 'd:eth2--a:eth2'])
  t.is(node(lab, 'a').interfaces.eth1.mac, '02:00:00:00:00:01')
  t.is(node(lab, 'b').interfaces.eth1.mac, '02:00:00:00:00:02')
  t.is(node(lab, 'c').interfaces.eth1.mac, undefined)
  // Every node has exactly two links.
  for (const n of lab.nodes) t.is(lab.links.filter(l => l.endpoints.some(e => e.node === n.name)).length, 2, n.name)
  assertOneSubnetPerLink(t, lab)
})

test('demo.yaml: a tail and a ring, 10% loss on c - d, env precedence', t => {
  const lab = load(example('demo.yaml'))
  t.is(lab.name, 'demo')
  t.is(lab.nodes.length, 4)
  t.is(lab.links.length, 4)
  const lossy = lab.links.filter(l => l.impairment !== undefined)
  t.deepEqual(lossy.map(l => [l.id, l.impairment]), [['c:eth2--d:eth1', { loss: 10 }]])
  t.deepEqual(node(lab, 'a').env, { LAB: 'demo', ROLE: 'edge' }, 'node beats kind beats defaults')
  t.deepEqual(node(lab, 'b').env, { LAB: 'demo', ROLE: 'plain' }, 'kind beats defaults')
  t.truthy(lab.description)
  assertOneSubnetPerLink(t, lab)
})

test('precedence: node > kinds[kind] > defaults; maps merge by key; string command runs through sh', t => {
  const lab = load(fixture('precedence.yaml'))
  const a = node(lab, 'a')
  const b = node(lab, 'b')
  t.is(a.image, 'kind:1', 'kinds beat defaults')
  t.is(b.image, 'own:2', 'the node beats kinds')
  t.deepEqual(a.command, ['/usr/bin/env', 'sleep', '10'], 'a list is the argv')
  t.deepEqual(b.command, ['/bin/sh', '-c', 'sleep infinity'], 'a string runs through /bin/sh -c')
  t.deepEqual(a.env, { A: 'defaults', B: 'kind', C: 'node', N: '1' }, 'numbers become strings')
  t.deepEqual(b.env, { A: 'defaults', B: 'kind', C: 'kind', N: '1' })
  t.deepEqual(a.config, { x: 'defaults', y: 'kind', z: 'node' })
  t.deepEqual(a.exec, ['echo a'], 'lists are replaced, not appended')
  t.deepEqual(b.exec, ['echo defaults'])
  t.true(a.privileged)
  t.false(b.privileged)
  t.deepEqual(a.interfaces, { eth1: { mac: '0A:00:00:00:00:0A', ipv4: ['169.254.1.1/30', '169.254.100.1/24'] } })
  t.deepEqual(b.interfaces, { eth1: { ipv4: [] } }, 'an interface a link gives the node is listed even without settings')
  t.deepEqual(lab.links, [{
    id: 'a:eth1--b:eth1',
    endpoints: [{ node: 'a', ifname: 'eth1' }, { node: 'b', ifname: 'eth1' }],
    state: 'down',
    impairment: { loss: 2.5, rate: '10mbit' }
  }])
  t.deepEqual(lab.timeline, [{ at: '5s', link: ['a:eth1', 'b:eth1'], state: 'up' }], 'the timeline is passed through raw')
  t.is(lab.description, 'defaults < kinds < node')
})

// One fixture per problem: the message names the file, the line and the key path.
const invalid: Array<{ file: string; line: number; path: string; says: string }> = [
  { file: 'unknown-node.yaml', line: 12, path: 'links[2].endpoints[1]', says: 'unknown node "x" (nodes: a, b, c)' },
  { file: 'interface-twice.yaml', line: 9, path: 'links[1].endpoints[1]', says: 'interface a:eth1 is already used by links[0]' },
  { file: 'same-endpoint.yaml', line: 6, path: 'links[0].endpoints', says: 'both endpoints are a:eth1' },
  { file: 'self-link.yaml', line: 8, path: 'links[1].endpoints', says: 'link to itself: both endpoints are on node a' },
  { file: 'bad-ifnames.yaml', line: 7, path: 'nodes.b.interfaces.verylonginterface', says: 'longer than 15 characters (kernel IFNAMSIZ)' },
  { file: 'bad-ifnames.yaml', line: 9, path: 'links[0].endpoints[1]', says: 'longer than 15 characters' },
  { file: 'bad-ifnames.yaml', line: 10, path: 'links[1].endpoints[0]', says: 'contains \'/\'' },
  { file: 'bad-ifnames.yaml', line: 11, path: 'links[2].endpoints[0]', says: 'contains whitespace' },
  { file: 'bad-ifnames.yaml', line: 12, path: 'links[3].endpoints[0]', says: '"lo" is the loopback' },
  { file: 'bad-ifnames.yaml', line: 13, path: 'links[4].endpoints[0]', says: 'contains \':\'' },
  { file: 'unknown-kind.yaml', line: 6, path: 'nodes.b.kind', says: 'unknown kind "frr" (supported kinds: babeld, linux, ntkd)' },
  { file: 'no-kind.yaml', line: 3, path: 'nodes.a', says: 'node a has no kind' },
  { file: 'bad-mac.yaml', line: 6, path: 'nodes.a.interfaces.eth1.mac', says: 'MAC "02:00:00:00:00:1" is not six colon-separated hex octets' },
  { file: 'bad-mac.yaml', line: 10, path: 'nodes.b.interfaces.eth1.mac', says: 'multicast bit set' },
  { file: 'duplicate-node.yaml', line: 6, path: 'nodes.a', says: 'duplicate node "a" (first defined at line 4)' },
  { file: 'duplicate-link.yaml', line: 8, path: 'links[1]', says: 'duplicate link: same endpoints as links[0]' },
  { file: 'unused-interface.yaml', line: 7, path: 'nodes.a.interfaces.eth9', says: 'interface eth9 of node a is not used by any link' },
  { file: 'bad-address.yaml', line: 8, path: 'nodes.a.interfaces.eth1.ipv4[0]', says: '"169.254.1.300/30" is not an IPv4 address' },
  { file: 'bad-address.yaml', line: 9, path: 'nodes.a.interfaces.eth1.ipv4[1]', says: 'needs a prefix length' },
  { file: 'bad-address.yaml', line: 10, path: 'nodes.a.interfaces.eth1.ipv4[2]', says: 'prefix length that is not 0..32' },
  { file: 'bad-names.yaml', line: 1, path: 'name', says: 'longer than 20 characters' },
  { file: 'bad-names.yaml', line: 4, path: 'nodes.Alpha', says: 'node name "Alpha" must be lower-case' },
  { file: 'typos.yaml', line: 5, path: 'nodes.a.imgae', says: 'unknown key "imgae" (allowed: kind, image,' },
  { file: 'typos.yaml', line: 9, path: 'links[0].state', says: 'must be one of: up, down' },
  { file: 'typos.yaml', line: 10, path: 'links[0].impairment.loss', says: '<= 100' },
  { file: 'typos.yaml', line: 10, path: 'links[0].impairment.rate', says: 'rate "fast" is not a tc rate' },
  { file: 'typos.yaml', line: 11, path: 'links[1].endpoints', says: 'exactly two endpoints' },
  { file: 'syntax.yaml', line: 8, path: '', says: 'YAML syntax: Flow sequence' }
]

for (const c of invalid) {
  test(`invalid: ${c.file}:${c.line}: ${c.path}: ${c.says}`, t => {
    const err = loadError(fixture(c.file))
    t.is(err.name, 'TopologyError')
    const where = c.path === '' ? `${fixture(c.file)}:${c.line}: ` : `${fixture(c.file)}:${c.line}: ${c.path}: `
    const line = err.message.split('\n').find(l => l.includes(where) && l.includes(c.says))
    t.truthy(line, `expected a line with "${where}" and "${c.says}" in:\n${err.message}`)
    const p = err.problems.find(p => p.line === c.line && p.path === c.path && p.message.includes(c.says))
    t.truthy(p, 'and the same as a Problem')
    t.is(p?.file, fixture(c.file))
    t.true((p?.column ?? 0) >= 1)
  })
}

test('each invalid fixture reports exactly its problems (nothing spurious)', t => {
  const expected = new Map<string, number>()
  for (const c of invalid) expected.set(c.file, (expected.get(c.file) ?? 0) + 1)
  for (const [file, count] of expected) {
    t.is(loadError(fixture(file)).problems.length, count, `${file}:\n${loadError(fixture(file)).message}`)
  }
})

test('several errors in one file are all reported, in file order', t => {
  const err = loadError(fixture('many-errors.yaml'))
  t.deepEqual(err.problems.map(p => [p.line, p.path]), [
    [6, 'nodes.a.interfaces.eth1.mac'],
    [8, 'nodes.b.kind'],
    [12, 'links[1].endpoints[1]'],
    [13, 'links[2].endpoints']
  ])
  t.regex(err.message, /\(4 problems\)/)
  t.regex(err.message, /many-errors\.yaml:8: nodes\.b\.kind: unknown kind "quagga" \(supported kinds: babeld, linux, ntkd\)/)
  t.regex(err.message, /many-errors\.yaml:12: links\[1\]\.endpoints\[1\]: unknown node "zz" \(nodes: a, b, c\)/)
})

test('a missing file is an error naming the path', t => {
  const err = t.throws(() => loadTopology('/nonexistent/topo.yaml'), { instanceOf: TopologyError })
  t.regex(err?.message ?? '', /\/nonexistent\/topo\.yaml: cannot read topology file: no such file/)
})

test('parseTopology: schema errors, the JSON path and the line', t => {
  const text = 'name: x\nnodes:\n  a: { kind: linux, env: { ok: 1, "BAD-NAME": x } }\n  b: { kind: linux, privileged: yes }\nlinks: []\nextra: 1\n'
  const err = t.throws(() => parseTopology(text, 'inline.yaml', defaultKinds()), { instanceOf: TopologyError })
  const lines = err?.message.split('\n').slice(1).map(l => l.trim())
  t.deepEqual(lines, [
    'inline.yaml:3: nodes.a.env.BAD-NAME: key "BAD-NAME" must match pattern "^[A-Za-z_][A-Za-z0-9_]*$"',
    'inline.yaml:4: nodes.b.privileged: must be true or false',
    'inline.yaml:6: extra: unknown key "extra" (allowed: name, description, defaults, kinds, nodes, links, timeline)'
  ])
})

test('parseTopology: a missing required key points at the map lacking it', t => {
  const err = t.throws(() => parseTopology('nodes: {}\n', 'f.yaml', defaultKinds()), { instanceOf: TopologyError })
  t.deepEqual(err?.problems.map(p => `${p.line}:${p.path}:${p.message}`), ['1:name:missing (required)'])
})

test('parseTopology: a duplicate key outside nodes is reported with the first line', t => {
  const text = 'name: x\ndefaults:\n  kind: linux\n  env:\n    A: 1\n    A: 2\nnodes: {}\n'
  const err = t.throws(() => parseTopology(text, 'f.yaml', defaultKinds()), { instanceOf: TopologyError })
  t.deepEqual(err?.problems.map(p => `${p.line}:${p.path}:${p.message}`), ['6:defaults.env.A:duplicate key "A" (first defined at line 5)'])
})

test('parseTopology: an interface from defaults no link uses is reported at defaults, naming the node', t => {
  const text = 'name: x\ndefaults:\n  kind: linux\n  interfaces:\n    eth1: { ipv4: [] }\nnodes: { a: {}, b: {}, c: {} }\nlinks:\n  - endpoints: [a:eth1, b:eth1]\n'
  const err = t.throws(() => parseTopology(text, 'f.yaml', defaultKinds()), { instanceOf: TopologyError })
  t.deepEqual(err?.problems.map(p => `${p.line}:${p.path}:${p.message}`), ['5:defaults.interfaces.eth1:interface eth1 of node c is not used by any link'])
})

test('kinds: applyDefaults and check of a registered kind run on every node of that kind', t => {
  const kinds = defaultKinds()
  kinds.register({
    name: 'daemon',
    applyDefaults: n => ({ ...n, command: n.command ?? ['daemon', '--foreground'], config: { timers: 'default', ...n.config } }),
    check: n => typeof n.config.level === 'number' ? [] : ['config.level must be a number']
  })
  const text = 'name: x\nnodes:\n  a: { kind: daemon, config: { level: 1 } }\n  b: { kind: daemon, command: [other] }\n  c: { kind: linux }\nlinks: [{ endpoints: [a:eth1, b:eth1] }]\n'
  const err = t.throws(() => parseTopology(text, 'k.yaml', kinds), { instanceOf: TopologyError })
  t.deepEqual(err?.problems.map(p => `${p.line}:${p.path}:${p.message}`), ['4:nodes.b:kind daemon: config.level must be a number'])
  const lab = parseTopology(text.replace('command: [other]', 'config: { level: 2, timers: lab }'), 'k.yaml', kinds)
  t.deepEqual(node(lab, 'a').command, ['daemon', '--foreground'])
  t.deepEqual(node(lab, 'a').config, { timers: 'default', level: 1 })
  t.deepEqual(node(lab, 'b').config, { timers: 'lab', level: 2 }, 'the file beats the kind default')
  t.is(node(lab, 'c').command, undefined)
})

test('kinds: an unknown kind lists what the registry given supports', t => {
  const kinds = new KindRegistry()
  kinds.register({ name: 'zeta', applyDefaults: n => n, check: () => [] })
  registerLinux(kinds)
  const err = t.throws(() => parseTopology('name: x\ndefaults: { kind: ntkd }\nnodes: { a: {} }\n', 'f.yaml', kinds), { instanceOf: TopologyError })
  t.deepEqual(err?.problems.map(p => `${p.line}:${p.path}:${p.message}`), ['2:defaults.kind:unknown kind "ntkd" (supported kinds: linux, zeta)'])
  const err2 = t.throws(() => parseTopology('name: x\nkinds: { frr: { image: frr } }\nnodes: { a: { kind: linux } }\n', 'f.yaml', kinds), { instanceOf: TopologyError })
  t.deepEqual(err2?.problems.map(p => `${p.line}:${p.path}:${p.message}`), ['2:kinds.frr:unknown kind "frr" (supported kinds: linux, zeta)'])
})

test('KindRegistry: a duplicate name is an error, an unknown one lists the supported kinds', t => {
  const r = defaultKinds()
  t.deepEqual(r.names(), ['babeld', 'linux', 'ntkd'])
  t.is(r.get('linux').name, 'linux')
  const dup = t.throws(() => { registerLinux(r) }, { instanceOf: DuplicateKindError })
  t.is(dup?.name, 'DuplicateKindError')
  const unknown = t.throws(() => r.get('frr'), { instanceOf: UnknownKindError })
  t.is(unknown?.name, 'UnknownKindError')
  t.is(unknown?.message, 'unknown kind "frr" (supported kinds: babeld, linux, ntkd)')
  t.not(defaultKinds(), r, 'each call gives a fresh registry (no shared global)')
})

test('locate: a key, a list item, a missing key, an alias', t => {
  const text = 'name: x\nnodes:\n  a: &base\n    env: { A: "1" }\n  b: *base\nlinks:\n  - endpoints: [a:eth1,\n      b:eth1]\n'
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter })
  t.deepEqual(locate(doc, ['name'], lineCounter), { line: 1, column: 1 })
  t.deepEqual(locate(doc, ['nodes', 'a', 'env', 'A'], lineCounter), { line: 4, column: 12 })
  t.deepEqual(locate(doc, ['links', 0, 'endpoints', 1], lineCounter), { line: 8, column: 7 })
  t.deepEqual(locate(doc, ['nodes', 'a', 'image'], lineCounter), { line: 3, column: 3 }, 'missing: the map that lacks it')
  t.deepEqual(locate(doc, ['nodes', 'b', 'env'], lineCounter), { line: 4, column: 5 }, 'through an alias: where the anchor is')
  t.deepEqual(locate(doc, [], lineCounter), { line: 1, column: 1 })
})

test('formatPath: dots for plain keys, brackets for indexes and other keys', t => {
  t.is(formatPath(['links', 2, 'endpoints', 1]), 'links[2].endpoints[1]')
  t.is(formatPath(['nodes', 'a-1', 'interfaces', 'eth0.100']), 'nodes.a-1.interfaces["eth0.100"]')
  t.is(formatPath([]), '')
})

test('a topology that fails validation returns nothing and leaves its input untouched', t => {
  const text = 'name: x\nnodes: { a: { kind: linux } }\nlinks: [{ endpoints: [a:eth1, q:eth1] }]\n'
  const kinds = defaultKinds()
  t.throws(() => parseTopology(text, 'f.yaml', kinds), { instanceOf: TopologyError })
  t.deepEqual(kinds.names(), ['babeld', 'linux', 'ntkd'])
  // the same text parses twice to the same problems: no hidden state between calls
  const a = t.throws(() => parseTopology(text, 'f.yaml', kinds))
  const b = t.throws(() => parseTopology(text, 'f.yaml', kinds))
  t.is(a?.message, b?.message)
})

test('anchors: x- keys hold shared fields, merged with <<', t => {
  const text = [
    'name: x',
    'x-node: &node { kind: linux, env: { A: "1" } }',
    'nodes:',
    '  a: { <<: *node, env: { B: "2" } }',
    '  b: *node',
    'links: [{ endpoints: [a:eth1, b:eth1] }]'
  ].join('\n')
  const lab = parseTopology(text, 'f.yaml', defaultKinds())
  t.deepEqual(lab.nodes.map(n => [n.name, n.kind, n.env]), [['a', 'linux', { B: '2' }], ['b', 'linux', { A: '1' }]])
})

test('an alias to an anchor that does not exist points at the alias', t => {
  const err = t.throws(() => parseTopology('name: x\nnodes:\n  b: {}\n  a: *nope\n', 'f.yaml', defaultKinds()), { instanceOf: TopologyError })
  t.regex(err?.message ?? '', /f\.yaml:4: YAML: Unresolved alias/)
})
