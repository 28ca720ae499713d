import test from 'ava'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { defaultKinds, loadTopology, parseTopology, TopologyError } from '../src/topology'
import { babeldKind, registerBabeld } from '../src/topology/kinds/babeld'
import { parseScenarioFile } from '../src/scenario/scenario-file'
import type { NodeSpec } from '../src/topology/model'

const dir = path.join(__dirname, '..', '..', 'topologies', 'scenarios')

function kinds (): ReturnType<typeof defaultKinds> {
  const k = defaultKinds()
  if (!k.has('babeld')) registerBabeld(k)
  return k
}

const node = (over: Partial<NodeSpec> = {}): NodeSpec => ({
  name: 'r1', kind: 'babeld', env: {}, config: { address: '172.31.1.1/32' }, interfaces: {}, exec: [], privileged: false, ...over
})

test('babeld runs without pid or state file, announces only its own address, on the node\'s interfaces', t => {
  const n = babeldKind().applyDefaults(node({ interfaces: { eth2: { ipv4: [] }, eth1: { ipv4: [] } }, config: { address: '172.31.1.1/32', 'hello-interval': 1 } }))
  t.deepEqual(n.command, ['babeld', '-I', '', '-S', '', '-d', '0',
    '-C', 'default type wired hello-interval 1',
    '-C', 'redistribute local ip 172.31.1.1/32 allow',
    '-C', 'redistribute local deny',
    'eth1', 'eth2'])
  t.true(n.exec.includes('ip addr replace 172.31.1.1/32 dev lo'))
  t.true(n.exec.some(e => /ip_forward=1/.test(e)))
  t.true(n.exec.some(e => /ip -6 addr show tentative/.test(e)), 'waits for DAD before babeld starts')
})

test('a topology\'s link interfaces reach the babeld command (kinds apply after links are resolved)', t => {
  const text = 'name: two\ndefaults: { kind: babeld }\nnodes:\n  a: { config: { address: 172.31.1.1/32 } }\n  b: { config: { address: 172.31.2.1/32 } }\nlinks:\n  - endpoints: [a:eth1, b:eth7]\n'
  const lab = parseTopology(text, 'two.yaml', kinds())
  t.deepEqual(lab.nodes.find(n => n.name === 'a')?.command?.slice(-1), ['eth1'])
  t.deepEqual(lab.nodes.find(n => n.name === 'b')?.command?.slice(-1), ['eth7'])
})

test('the node\'s own command and exec win or come last', t => {
  const n = babeldKind().applyDefaults(node({ command: ['babeld', '-V'], exec: ['echo mine'] }))
  t.deepEqual(n.command, ['babeld', '-V'])
  t.is(n.exec[n.exec.length - 1], 'echo mine')
})

test('check names a missing or bad address and unknown config keys', t => {
  const k = babeldKind()
  t.deepEqual(k.check(node()), [])
  t.deepEqual(k.check(node({ config: {} })), ['config.address is required: the address babeld announces, e.g. 172.31.1.1/32'])
  t.regex(k.check(node({ config: { address: '172.31.1.300/32' } }))[0], /^config\.address: address "172\.31\.1\.300\/32" is not an IPv4 address/)
  t.deepEqual(k.check(node({ config: { address: '172.31.1.1/32', helo: 1 } })), ['unknown config key "helo" for kind babeld (known: address, hello-interval, debug)'])
})

test('a topology of babeld nodes reports a kind problem with its file and line', t => {
  const text = 'name: bad\nnodes:\n  a: { kind: babeld }\n  b: { kind: babeld, config: { address: 172.31.2.1/32 } }\nlinks:\n  - endpoints: [a:eth1, b:eth1]\n'
  const err = t.throws(() => parseTopology(text, 'bad.yaml', kinds()), { instanceOf: TopologyError })
  t.regex(err?.message ?? '', /bad\.yaml:3: nodes\.a: kind babeld: config\.address is required/)
})

test('the shipped ring6 topology and its scenarios compile', async t => {
  const lab = loadTopology(path.join(dir, 'ring6-babeld.yaml'), kinds())
  t.is(lab.nodes.length, 6)
  t.true(lab.nodes.every(n => n.kind === 'babeld' && n.command !== undefined))
  for (const f of ['ring6-cuts.yaml', 'ring6-fails.yaml']) {
    const full = path.join(dir, f)
    const s = parseScenarioFile(await readFile(full, 'utf8'), full)
    t.is(s.topology, path.join(dir, 'ring6-babeld.yaml'))
    t.true(s.compile(lab).steps.length >= 5, f)
  }
})
