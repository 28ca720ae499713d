import test from 'ava'
import ipaddr from 'ipaddr.js'
import { stringify } from 'yaml'
import { defaultKinds, gridTopology, parseTopology, type ResolvedLab } from '../src/topology'
import { linkSubnet } from '../src/topology/generate'

/** The lab back as a topology file: what a user would write for it. */
function toYaml (lab: ResolvedLab): string {
  return stringify({
    name: lab.name,
    nodes: Object.fromEntries(lab.nodes.map(n => [n.name, { kind: n.kind, interfaces: n.interfaces }])),
    links: lab.links.map(l => ({ endpoints: l.endpoints.map(e => `${e.node}:${e.ifname}`), state: l.state }))
  })
}

test('gridTopology: 3x4 grid, nodes n<r>x<c>, links east and south', t => {
  const lab = gridTopology('grid', 3, 4)
  t.is(lab.nodes.length, 12)
  t.is(lab.links.length, 3 * 3 + 4 * 2)
  t.deepEqual(lab.nodes.slice(0, 5).map(n => n.name), ['n1x1', 'n1x2', 'n1x3', 'n1x4', 'n2x1'])
  t.deepEqual(lab.links.slice(0, 3).map(l => l.id), ['n1x1:e1--n1x2:e3', 'n1x1:e2--n2x1:e4', 'n1x2:e1--n1x3:e3'])
  const corner = lab.nodes.find(n => n.name === 'n1x1')
  t.deepEqual(Object.keys(corner?.interfaces ?? {}).sort(), ['e1', 'e2'])
  const inner = lab.nodes.find(n => n.name === 'n2x2')
  t.deepEqual(Object.keys(inner?.interfaces ?? {}).sort(), ['e1', 'e2', 'e3', 'e4'])
  t.deepEqual(corner?.interfaces.e1, { ipv4: ['169.254.1.1/30'] })
  t.deepEqual(lab.nodes.find(n => n.name === 'n1x2')?.interfaces.e3, { ipv4: ['169.254.1.2/30'] })
})

test('gridTopology: every link its own link-local /30, both ends in it', t => {
  const lab = gridTopology('grid', 5, 5)
  const seen = new Set<string>()
  for (const l of lab.links) {
    const [a, b] = l.endpoints.map(e => lab.nodes.find(n => n.name === e.node)?.interfaces[e.ifname].ipv4[0] ?? '')
    const [ipA, len] = ipaddr.IPv4.parseCIDR(a)
    t.is(len, 30)
    t.true(ipaddr.IPv4.parseCIDR(b)[0].match(ipA, 30), `${l.id}: ${a} ${b}`)
    const net = ipaddr.IPv4.networkAddressFromCIDR(a).toString()
    t.false(seen.has(net), `${net} used once`)
    seen.add(net)
  }
  t.deepEqual(linkSubnet(64), ['169.254.2.1/30', '169.254.2.2/30'], 'subnets carry over into the next /24')
})

test('gridTopology: what it generates passes the topology validation unchanged', t => {
  const lab = gridTopology('grid', 4, 3, { state: 'down' })
  const parsed = parseTopology(toYaml(lab), 'grid.yaml', defaultKinds())
  t.deepEqual(parsed, lab)
})

test('gridTopology: options reach every node', t => {
  const lab = gridTopology('g', 1, 2, { kind: 'ntkd', image: 'ntklab-node', command: ['ntkd', '-v'], env: { A: '1' }, config: { topology: [2, 2] } })
  for (const n of lab.nodes) {
    t.is(n.kind, 'ntkd')
    t.is(n.image, 'ntklab-node')
    t.deepEqual(n.command, ['ntkd', '-v'])
    t.deepEqual(n.env, { A: '1' })
    t.deepEqual(n.config, { topology: [2, 2] })
  }
  t.not(lab.nodes[0].env, lab.nodes[1].env, 'nodes do not share mutable maps')
})

test('gridTopology: bad arguments are refused', t => {
  t.throws(() => gridTopology('Bad Name', 2, 2), { instanceOf: RangeError, message: /lab name/ })
  t.throws(() => gridTopology('g', 0, 2), { instanceOf: RangeError, message: /rows must be a positive integer/ })
  t.throws(() => gridTopology('g', 2, 1.5), { instanceOf: RangeError, message: /cols/ })
  t.throws(() => gridTopology('g', 100, 100), { instanceOf: RangeError, message: /19800 links/ })
  t.notThrows(() => gridTopology('g', 1, 1))
})
