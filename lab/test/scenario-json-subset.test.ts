import test from 'ava'
import { formatMismatches, jsonSubset } from '../src/scenario/json-subset'

const routes = {
  main: {
    '172.31.2.1/32': { dev: 'eth1', gateway: 'fe80::1', protocol: 'babel' },
    '172.31.3.1/32': { dev: 'eth2', protocol: 'babel' }
  },
  list: [{ dst: 'a', dev: 'eth1' }, { dst: 'b', dev: 'eth2' }]
}

test('a subset with the keys it names matches; other keys are ignored', t => {
  t.deepEqual(jsonSubset(routes, { main: { '172.31.2.1/32': { dev: 'eth1' } } }), [])
})

test('a wrong value is reported with its path and both values', t => {
  const m = jsonSubset(routes, { main: { '172.31.2.1/32': { dev: 'eth2' } } })
  t.is(m.length, 1)
  t.is(m[0].path, '$->main->172.31.2.1/32->dev')
  t.is(formatMismatches(m), '> $->main->172.31.2.1/32->dev: expected "eth2", is "eth1"')
})

test('null asserts absence: absent passes, present fails', t => {
  t.deepEqual(jsonSubset(routes, { main: { '172.31.9.1/32': null } }), [])
  const m = jsonSubset(routes, { main: { '172.31.3.1/32': null } })
  t.is(m.length, 1)
  t.regex(m[0].message, /expected absent/)
})

test('"*" asserts presence with any value', t => {
  t.deepEqual(jsonSubset(routes, { main: { '172.31.3.1/32': '*' } }), [])
  const m = jsonSubset(routes, { main: { '172.31.4.1/32': '*' } })
  t.is(m[0].path, '$->main->172.31.4.1/32')
  t.regex(m[0].message, /expected present/)
})

test('a missing key is reported as missing', t => {
  const m = jsonSubset(routes, { main: { '172.31.4.1/32': { dev: 'eth1' } } })
  t.regex(m[0].message, /^missing/)
})

test('arrays match without order, each expected element needing its own actual element', t => {
  t.deepEqual(jsonSubset(routes, { list: [{ dst: 'b' }, { dst: 'a' }] }), [])
  t.deepEqual(jsonSubset([1, 2, 3], [3, 1]), [])
  // two expected elements cannot share one actual element
  t.is(jsonSubset([{ a: 1 }], [{ a: 1 }, { a: 1 }]).length, 1)
  // matching needs reassignment: {x:1} could take either, {x:1,y:2} only the second
  t.deepEqual(jsonSubset([{ x: 1, y: 2 }, { x: 1 }], [{ x: 1 }, { x: 1, y: 2 }]), [])
})

test('an unmatched array element names its closest candidate', t => {
  const m = jsonSubset(routes, { list: [{ dst: 'b', dev: 'eth9' }] })
  t.is(m.length, 1)
  t.is(m[0].path, '$->list[?]')
  t.regex(m[0].message, /closest: \$->list\[1\]->dev: expected "eth9", is "eth2"/)
})

test('__ordered__ asks for order', t => {
  t.deepEqual(jsonSubset([1, 2], ['__ordered__', 1, 2]), [])
  t.is(jsonSubset([1, 2], ['__ordered__', 2, 1]).length, 2)
})

test('type mismatches are reported', t => {
  t.regex(jsonSubset({ a: 1 }, { a: { b: 1 } })[0].message, /expected an object/)
  t.regex(jsonSubset({ a: 1 }, { a: [1] })[0].message, /expected a list/)
})
