import test from 'ava'
import { decodeEtp, validateEtp, validateFullEtpRequest, EtpValidationError, type EtpMessage } from '../src/qspn/etp'
import { buildNetwork, lineTopology } from '../src/sim/topologies'
import { mapSnapshot } from '../src/sim/check'

const gsizes = [2, 2, 2, 4]
const fp = (level: number, id = 7): unknown => ({ id, level, elderships: new Array(4 - level).fill(0), eldershipsSeed: new Array(level).fill(0) })
const good = (): any => ({
  kind: 'etp',
  nodeAddress: [1, 0, 1, 3],
  fingerprints: [fp(0), fp(1), fp(2), fp(3)],
  nodesInside: [1, 2, 3, 4],
  hops: [{ lvl: 1, pos: 0 }],
  paths: [{
    hops: [{ lvl: 0, pos: 0 }, { lvl: 2, pos: 1 }],
    arcs: [11, 12],
    cost: 3000,
    fingerprint: fp(2, 9),
    nodesInside: 2,
    ignoreOutside: [false, true, false, false]
  }]
})

test('a well-formed ETP passes and comes back typed, without unknown fields', t => {
  const obj = good()
  obj.extra = 'dropped'
  const m: EtpMessage = validateEtp(obj, gsizes)
  t.deepEqual(m.nodeAddress, [1, 0, 1, 3])
  t.is(m.paths[0].cost, 3000)
  t.false('extra' in m)
  t.deepEqual(validateEtp(JSON.parse(JSON.stringify(m)), gsizes), m)
})

test('a dead path (cost -1) is valid, other negative costs are not', t => {
  const obj = good(); obj.paths[0].cost = -1
  t.is(validateEtp(obj, gsizes).paths[0].cost, -1)
  obj.paths[0].cost = -5
  t.throws(() => validateEtp(obj, gsizes), { instanceOf: EtpValidationError, message: /\$\.paths\[0\]\.cost/ })
})

const bad: Array<[string, (o: any) => unknown, RegExp]> = [
  ['not an object', () => 42, /\$: expected an object/],
  ['unknown kind', o => ({ ...o, kind: 'hello' }), /\$\.kind: unknown message kind/],
  ['missing address', o => { delete o.nodeAddress; return o }, /\$\.nodeAddress: expected an array/],
  ['address of wrong length', o => ({ ...o, nodeAddress: [1, 0, 1] }), /\$\.nodeAddress: expected 4 entries/],
  ['position as string', o => { o.nodeAddress[2] = '1'; return o }, /\$\.nodeAddress\[2\]: expected an integer/],
  ['fractional position', o => { o.nodeAddress[0] = 0.5; return o }, /\$\.nodeAddress\[0\]/],
  ['hop level out of range', o => { o.hops[0].lvl = 4; return o }, /\$\.hops\[0\]\.lvl/],
  ['fingerprint of the wrong level', o => { o.fingerprints[2] = fp(1); return o }, /\$\.fingerprints\[2\]\.level/],
  ['arcs and hops disagree', o => { o.paths[0].arcs = [1]; return o }, /\$\.paths\[0\]\.arcs: expected 2 entries/],
  ['empty path', o => { o.paths[0].hops = []; o.paths[0].arcs = []; return o }, /needs at least its destination/],
  ['repeated hop', o => { o.paths[0].hops = [{ lvl: 2, pos: 1 }, { lvl: 2, pos: 1 }]; return o }, /appears twice/],
  ['repeated hop in a long path', o => {
    o.paths[0].hops = [...Array.from({ length: 20 }, (_, k) => ({ lvl: 0, pos: k })), { lvl: 0, pos: 7 }, { lvl: 2, pos: 1 }]
    o.paths[0].arcs = o.paths[0].hops.map(() => 1)
    return o
  }, /\$\.paths\[0\]\.hops: g-node 0:7 appears twice/],
  ['bad position deep in a path', o => { o.paths[0].hops[1].pos = -2; return o }, /\$\.paths\[0\]\.hops\[1\]\.pos: expected an integer/],
  ['bad eldership in a path fingerprint', o => { o.paths[0].fingerprint.elderships[0] = 'x'; return o }, /\$\.paths\[0\]\.fingerprint\.elderships\[0\]: expected an integer/],
  ['ignoreOutside not boolean', o => { o.paths[0].ignoreOutside[1] = 1; return o }, /ignoreOutside\[1\]: expected a boolean/],
  ['path fingerprint level differs from destination', o => { o.paths[0].fingerprint = fp(1); return o }, /fingerprint\.level: expected level 2/],
  ['huge hop list', o => {
    o.paths[0].hops = Array.from({ length: 5000 }, (_, k) => ({ lvl: 0, pos: k }))
    o.paths[0].arcs = Array.from({ length: 5000 }, () => 1)
    return o
  }, /\$\.paths\[0\]\.hops: too many entries/],
  ['too many paths', o => ({ ...o, paths: Array.from({ length: 100000 }, () => o.paths[0]) }), /\$\.paths: too many entries/]
]

for (const [what, mutate, reason] of bad) {
  test(`rejects an ETP with ${what}`, t => {
    const e = t.throws(() => validateEtp(mutate(good()), gsizes), { instanceOf: EtpValidationError })
    t.is(e?.name, 'EtpValidationError')
    t.regex(e?.message ?? '', reason)
  })
}

test('truncated JSON is a validation error, not a crash', t => {
  const text = JSON.stringify(good())
  t.throws(() => decodeEtp(text.slice(0, text.length - 7), gsizes), { instanceOf: EtpValidationError, message: /not JSON/ })
  t.notThrows(() => decodeEtp(text, gsizes))
})

test('full-ETP requests are validated too', t => {
  t.deepEqual(validateFullEtpRequest({ kind: 'get_full_etp', requesterAddress: [0, 1, 0, 2] }, gsizes).requesterAddress, [0, 1, 0, 2])
  t.throws(() => validateFullEtpRequest({ kind: 'get_full_etp', requesterAddress: [0, 1] }, gsizes), { instanceOf: EtpValidationError })
})

test('bad messages injected into a converged network are counted and change nothing', async t => {
  const spec = lineTopology(6, gsizes)
  const net = buildNetwork(spec, { seed: 11 })
  await net.runUntilQuiescent()
  const [a, b] = [spec.nodes[2].name, spec.nodes[3].name]
  const before = spec.nodes.map(n => mapSnapshot(net, n.name))
  const traffic = { ...net.traffic }
  const rejected0 = net.node(b).manager.stats.etpRejected
  const valid = JSON.stringify({ ...good(), nodeAddress: [...spec.nodes[2].naddr] })
  const samples = [
    valid.slice(0, 50),
    '{"kind":"etp"}',
    JSON.stringify({ ...JSON.parse(valid), kind: 'gossip' }),
    JSON.stringify({ ...JSON.parse(valid), nodesInside: ['many', 2, 3, 4] }),
    JSON.stringify({ ...JSON.parse(valid), paths: [{ ...good().paths[0], hops: Array.from({ length: 3000 }, (_, k) => ({ lvl: 0, pos: k })), arcs: Array.from({ length: 3000 }, () => 1) }] }),
    // well-formed but claims the receiver's own address
    JSON.stringify({ ...JSON.parse(valid), nodeAddress: [...net.node(b).naddr] }),
    'null',
    ''
  ]
  for (const s of samples) net.injectEtpText(b, a, s)
  await net.runUntilQuiescent()
  t.is(net.node(b).manager.stats.etpRejected - rejected0, samples.length)
  t.deepEqual(spec.nodes.map(n => mapSnapshot(net, n.name)), before)
  t.is(net.traffic.messages, traffic.messages, 'nothing was forwarded')
})
