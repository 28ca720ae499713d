import test from 'ava'
import path from 'node:path'
import { defaultKinds, loadTopology, parseTopology, type ResolvedLab, TopologyError } from '../src/topology'
import { adjacency, components, findPair, initialState } from '../src/scenario/lab-state'
import { compileTimeline } from '../src/scenario/timeline'
import { parseScenarioFile, ScenarioError } from '../src/scenario/scenario-file'
import { expectRoutes, defaultRouteModels } from '../src/scenario/route-model'
import { renderDot, renderMermaid } from '../src/report/graph'
import { radioRuleset } from '../src/wiring/radio'
import { ManualClock } from '../src/scenario/clock'
import { runScenario } from '../src/scenario/runner'
import { SimulatedLab } from '../src/scenario/simulated-lab'
import { formatSummary } from '../src/report/summary'

// Radio segments in the topology (no kernel): validation with located errors, the pairs as links for
// the route models, partitions and graphs, the `hear` timeline event, and the nft ruleset they make.

const root = path.join(__dirname, '..', '..')
const fixture = (name: string): string => path.join('lab', 'test', 'fixtures', 'topologies', name)

function load (file: string): ResolvedLab {
  const cwd = process.cwd()
  process.chdir(root)
  try { return loadTopology(file) } finally { process.chdir(cwd) }
}

function problems (file: string): string[] {
  try { load(file) } catch (err) {
    if (err instanceof TopologyError) return err.problems.map(p => `${p.line} ${p.path}: ${p.message}`)
    throw err
  }
  throw new Error(`${file} loaded without error`)
}

test('a radio segment resolves to its endpoints and one link per declared pair, in its initial state', t => {
  const lab = load(fixture('radio-ok.yaml'))
  t.deepEqual(lab.segments, [{ name: 'air', endpoints: ['a', 'b', 'c', 'd'].map(node => ({ node, ifname: 'eth1' })) }])
  t.deepEqual(lab.links.map(l => [l.id, l.state, l.segment]), [
    ['a:eth1--b:eth1', 'up', 'air'],
    ['b:eth1--c:eth1', 'up', 'air'],
    ['a:eth1--c:eth1', 'down', 'air'],
    ['d:eth2--e:eth1', 'up', undefined]
  ])
  // every node on the segment has the interface, also d, which hears nobody
  t.deepEqual(Object.keys(lab.nodes.find(n => n.name === 'd')?.interfaces ?? {}).sort(), ['eth1', 'eth2'])
  t.is(lab.nodes.find(n => n.name === 'a')?.interfaces.eth1.mac, '02:00:00:00:0a:01')
})

test('every mistake in a radio segment is reported with its line and key', t => {
  t.deepEqual(problems(fixture('bad-radio.yaml')), [
    '10 links[0].endpoints[2]: node a is on segment air twice (also endpoints[0]): a node has one interface on a segment',
    '10 links[0].endpoints[3]: unknown node "ghost" (nodes: a, b, c)',
    '11 links[0].state: state belongs to a veth link: each pair of a radio segment has its own ({ pair: [a, b], state: down })',
    '14 links[0].hears[1]: pair b–a is listed twice (first at hears[0])',
    '15 links[0].hears[2][1]: node c is not on segment air (its endpoints: a:eth1, b:eth1)',
    '16 links[0].hears[3]: a pair joins two different nodes, not a with itself',
    '17 links[0].hears[4][1]: "b:eth1" is not a node name: a pair names two nodes of the segment, e.g. [a, b]',
    '18 links[0].hears[5].pair[1]: unknown node "zed" (nodes: a, b, c)',
    '19 links[0].hears[6]: a pair names two nodes of the segment, e.g. [alfa, beta]',
    '21 links[1].name: duplicate segment name "air": links[0] has it already',
    '25 links[2].name: segment name "Bad.Name" must be lower-case letters, digits, \'-\' and \'_\', starting with a letter or digit',
    '26 links[2].endpoints: a radio segment has at least two endpoints, [node:ifname, node:ifname, ...]',
    '28 links[3].endpoints[1]: interface b:eth1 is already used by links[0]',
    '29 links[3].hears: hears belongs to a radio segment (kind: radio); a veth link has two endpoints and no hears',
    '30 links[4].hears: missing (required)',
    '30 links[4].name: missing (required)'
  ])
})

test('a veth link with three endpoints points to kind: radio', t => {
  const text = 'name: x\ndefaults: { kind: linux }\nnodes: { a: {}, b: {}, c: {} }\nlinks:\n  - endpoints: [a:eth1, b:eth1, c:eth1]\n'
  const err = t.throws(() => parseTopology(text, 'x.yaml', defaultKinds()), { instanceOf: TopologyError })
  t.regex(err?.message ?? '', /x\.yaml:5: links\[0\]\.endpoints: a link has exactly two endpoints, \[node:ifname, node:ifname\] \(several nodes on one segment: kind: radio\)/)
})

test('the pairs that hear each other are the links of the graph: adjacency, partitions, route model, drawing', t => {
  const lab = load(fixture('radio-ok.yaml'))
  const state = initialState(lab)
  const adj = adjacency(lab, state)
  t.deepEqual(adj.get('b')?.map(a => `${a.neighbour} via ${a.ifname}`).sort(), ['a via eth1', 'c via eth1'])
  t.deepEqual(adj.get('a')?.map(a => a.neighbour), ['b'], 'a does not hear c (pair down) nor d (no pair)')
  t.deepEqual(components(lab, state), [['a', 'b', 'c'], ['d', 'e']])
  state.links.set('b:eth1--c:eth1', 'down')
  t.deepEqual(components(lab, state), [['a', 'b'], ['c'], ['d', 'e']])
  state.links.set('a:eth1--c:eth1', 'up')
  t.deepEqual(components(lab, state), [['a', 'b', 'c'], ['d', 'e']], 'the new arc a–c joins c again')

  const mermaid = renderMermaid(lab, state)
  t.regex(mermaid, /n_a -\.-\|"air \(radio\) eth1 \/ eth1"\| n_b/)
  t.regex(mermaid, /n_b -\.-\|"air \(radio\) eth1 \/ eth1 DEAF"\| n_c/)
  t.regex(mermaid, /n_d ---\|"eth2 \/ eth1"\| n_e/)
  const dot = renderDot(lab, state)
  t.regex(dot, /"a" -- "c" \[label="air \(radio\) eth1 \/ eth1", color="#3366cc", style=dotted, penwidth=2\]/)
  t.regex(dot, /"b" -- "c" \[label="air \(radio\) eth1 \/ eth1 DEAF", color="#dd0000"/)
})

test('ntkd over a radio segment: the model routes via the hearing neighbours on the shared interface', t => {
  const text = `name: r3
defaults: { kind: ntkd }
nodes:
  a: { config: { topology: [2, 1, 1, 1], address: "3.1.0.1", linkLocals: { eth1: 169.254.69.30 } } }
  b: { config: { topology: [2, 1, 1, 1], address: "3.1.0.0" } }
  c: { config: { topology: [2, 1, 1, 1], address: "3.0.1.0" } }
links:
  - { kind: radio, name: air, endpoints: [a:eth1, b:eth1, c:eth1], hears: [[a, b], [b, c]] }
`
  const lab = parseTopology(text, 'r3.yaml', defaultKinds())
  const a = lab.nodes.find(n => n.name === 'a')
  t.true(a?.command?.join(' ').includes('--link-local eth1=169.254.69.30 -i eth1'), a?.command?.join(' '))
  const exp = expectRoutes(lab, initialState(lab), defaultRouteModels()).get('a')
  // c (3.0.1.0) is in a's level-2 sibling g-node 3·0·, 10.0.0.24/30 and its internal CIDRs
  const toC = exp?.routes.filter(r => r.owner.includes('(c)'))
  t.true((toC?.length ?? 0) > 0)
  for (const r of toC ?? []) t.like(r, { hops: 2, ifnames: ['eth1'], neighbours: ['b'] }, `a reaches c (${r.dst}) through b, which hears both`)
  t.true(exp?.routes.some(r => r.dst === '10.0.0.24/30'))
})

test('the ntkd kind checks linkLocals: managed NICs, link-local range, no address twice', t => {
  const base = (ll: string): string => `name: x
defaults: { kind: ntkd }
nodes:
  a: { config: { topology: [2, 1, 1, 1], address: "3.1.0.1", linkLocals: ${ll} } }
  b: { config: { topology: [2, 1, 1, 1], address: "3.1.0.0" } }
links:
  - endpoints: [a:eth1, b:eth1]
  - endpoints: [a:eth2, b:eth2]
`
  const bad = (ll: string, message: RegExp): void => { t.throws(() => parseTopology(base(ll), 'x.yaml', defaultKinds()), { message }, ll) }
  bad('{ eth3: 169.254.1.1 }', /x\.yaml:4: nodes\.a: kind ntkd: config\.linkLocals: eth3 is not an interface of this node \(the daemon manages eth1, eth2\)/)
  bad('{ eth1: 10.0.0.1 }', /config\.linkLocals\.eth1: "10\.0\.0\.1" is not an address in 169\.254\.0\.0\/16/)
  bad('{ eth1: 169.254.1.1, eth2: 169.254.1.1 }', /config\.linkLocals: 169\.254\.1\.1 is given to both eth1 and eth2/)
  bad('[169.254.1.1]', /config\.linkLocals must map interface names to link-local addresses/)
  t.notThrows(() => parseTopology(base('{ eth1: 169.254.1.1, eth2: 169.254.1.2 }'), 'x.yaml', defaultKinds()))
})

test('timeline: hear turns a declared pair on or off; undeclared pairs, strangers and impairments are refused', t => {
  const lab = load(fixture('radio-ok.yaml'))
  const { steps, problems } = compileTimeline([
    { hear: ['c', 'a'], state: 'up' },
    { hear: ['a:eth1', 'b:eth1'], state: 'down', segment: 'air' },
    { link: ['a:eth1', 'c:eth1'], state: 'down' }
  ], lab)
  t.deepEqual(problems, [])
  t.deepEqual(steps.map(s => [s.label, s.event]), [
    ['hear a–c up', { type: 'link', link: 'a:eth1--c:eth1', state: 'up' }],
    ['hear a–b down', { type: 'link', link: 'a:eth1--b:eth1', state: 'down' }],
    ['link a:eth1--c:eth1 down', { type: 'link', link: 'a:eth1--c:eth1', state: 'down', impair: undefined }]
  ])
  const bad = compileTimeline([
    { hear: ['a', 'd'], state: 'up' },
    { hear: ['a', 'e'], state: 'up' },
    { hear: ['a', 'b'], state: 'up', segment: 'sky' },
    { hear: ['a', 'b'] },
    { link: ['a:eth1', 'b:eth1'], impair: { loss: 10 } }
  ], lab).problems.map(p => `${p.path.join('.')}: ${p.message}`)
  t.deepEqual(bad, [
    'timeline.0.hear: a and d are both on segment air but the pair is not declared: list it in its hears (as { pair: [a, d], state: down } to start deaf)',
    'timeline.1.hear: a and e are not on one radio segment (segments: air: a, b, c, d)',
    'timeline.2.hear: no radio segment "sky" in the topology (segments: air)',
    'timeline.3.hear: a hear step needs state: up (they hear each other) or down (they do not)',
    'timeline.4.impair: a pair of radio segment air cannot be impaired (impairments apply to veth links)'
  ])
  t.true('link' in findPair(lab, 'b', 'a'))
})

test('a scenario file with hear steps is checked by the schema too', t => {
  const lab = load(fixture('radio-ok.yaml'))
  const sf = parseScenarioFile('topology: radio-ok.yaml\ntimeline:\n  - { hear: [a, c], state: up }\n', 's.yaml')
  t.is(sf.compile(lab).steps[0].label, 'hear a–c up')
  const err = t.throws(() => parseScenarioFile('topology: radio-ok.yaml\ntimeline:\n  - { hear: [a, b, c], state: on }\n', 's.yaml'), { instanceOf: ScenarioError })
  t.regex(err?.message ?? '', /s\.yaml:3: timeline\[0\]\.hear: must NOT have more than 2 items/)
  t.regex(err?.message ?? '', /s\.yaml:3: timeline\[0\]\.state: must be one of "up", "down"/)
})

test('the nft ruleset of a segment: drop by default, both directions of every pair that hears', t => {
  const lab = load(fixture('radio-ok.yaml'))
  const air = lab.segments?.[0]
  if (air === undefined) { t.fail('no segment'); return }
  const rules = radioRuleset(lab, air, l => l.state === 'up')
  t.regex(rules, /chain forward \{ type filter hook forward priority 0; policy drop; iifname \. oifname @hears accept; \}/)
  t.regex(rules, /add element bridge ntklab hears \{ "p0" \. "p1", "p1" \. "p0", "p1" \. "p2", "p2" \. "p1" \}/)
  t.notRegex(rules, /"p0" \. "p2"/, 'a and c start deaf')
  t.notRegex(radioRuleset(lab, air, () => false), /add element/, 'nobody hears anybody')
})

test('a scenario over a radio segment (simulated daemons): routes and pings follow the pairs as they change', async t => {
  const text = `name: rsim
defaults: { kind: babeld }
nodes:
  a: { config: { address: 172.31.0.1/32 } }
  b: { config: { address: 172.31.0.2/32 } }
  c: { config: { address: 172.31.0.3/32 } }
links:
  - { kind: radio, name: air, endpoints: [a:eth1, b:eth1, c:eth1], hears: [[a, b], [b, c], { pair: [a, c], state: down }] }
`
  const lab = parseTopology(text, 'rsim.yaml', defaultKinds())
  const sf = parseScenarioFile([
    'topology: rsim.yaml',
    'timeline:',
    '  - wait: { converged: true, reachability: all }',
    '  - expect: { routes: { a: { main: { 172.31.0.3/32: { dev: eth1, gateway: "fe80::b" } } } } }',
    '  - { hear: [b, c], state: down }',
    '  - wait: { converged: true, reachability: partitions }',
    '  - expect: { components: [[a, b], [c]] }',
    '  - { hear: [a, c], state: up }',
    '  - wait: { converged: true, reachability: all }',
    '  - expect: { routes: { a: { main: { 172.31.0.3/32: { gateway: "fe80::c" } } } } }'
  ].join('\n'), 'rsim-scenario.yaml')
  const clock = new ManualClock()
  const r = await runScenario(sf.compile(lab), new SimulatedLab(lab, { clock, convergeMs: 1000 }), { clock, seed: 1 })
  t.true(r.passed, formatSummary(r))
  t.deepEqual(r.steps.map(s => s.label).filter(l => l.startsWith('hear')), ['hear b–c down', 'hear a–c up'])
})

test('the ntkd kind checks costs: only interfaces of the node (the daemon refuses any other and would not start)', t => {
  const base = (costs: string): string => `name: x
defaults: { kind: ntkd, config: { topology: [2, 1, 1, 1], costs: ${costs} } }
nodes:
  a: { config: { address: "3.1.0.1" } }
  b: { config: { address: "3.1.0.0", costs: { eth1: 900 } } }
links:
  - endpoints: [a:eth1, b:eth1]
`
  t.throws(() => parseTopology(base('{ eth1: 1000, eth3: 1000 }'), 'x.yaml', defaultKinds()), { message: /nodes\.a: kind ntkd: config\.costs: eth3 is not an interface of this node \(the daemon manages eth1\)/ })
  t.throws(() => parseTopology(base('{ eth1: 0 }'), 'x.yaml', defaultKinds()), { message: /config\.costs\.eth1 must be a positive whole number of microseconds/ })
  const lab = parseTopology(base('{ eth1: 1000 }'), 'x.yaml', defaultKinds())
  t.deepEqual(lab.nodes.map(n => [n.name, n.config.costs]), [['a', { eth1: 1000 }], ['b', { eth1: 900 }]], 'a node\'s costs replace the defaults\'')
})
