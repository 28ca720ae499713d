import test from 'ava'
import fc from 'fast-check'
import {
  DuplicateMessageKindError, MessageRegistry, WireCodec, defineMessage, frame, FrameReader,
  type RejectionReason, type WireMessage
} from '../src/wire'

interface Hello extends WireMessage { kind: 'hello', name: string, port: number }
const hello = defineMessage<Hello>('hello', {
  properties: { name: { type: 'string', maxLength: 32 }, port: { type: 'integer', minimum: 0, maximum: 65535 } },
  required: ['name', 'port']
})

function codec (networkKey?: string, maxFrameBytes?: number): WireCodec {
  const registry = new MessageRegistry()
  registry.register(hello)
  return new WireCodec({ registry, networkKey, maxFrameBytes })
}
const good: Hello = { v: 1, kind: 'hello', name: 'alpha', port: 60269 }
const bytes = (s: string): Buffer => Buffer.from(s, 'utf8')

function onlyRejected (t: { deepEqual: (a: unknown, b: unknown) => void }, c: WireCodec, reason: RejectionReason): void {
  const snap = c.counters.snapshot()
  t.deepEqual(snap.accepted, 0)
  t.deepEqual(Object.entries(snap.rejected).filter(([, n]) => n > 0), [[reason, 1]])
}

test('a valid message round-trips and is counted as accepted', t => {
  const c = codec()
  const r = c.decodeFrame(c.encodeFrame(good))
  t.deepEqual(r, { ok: true, message: good })
  t.is(c.counters.snapshot().accepted, 1)
})

const cases: Array<[string, RejectionReason, (c: WireCodec) => ReturnType<WireCodec['decode']>, string?]> = [
  ['a frame shorter than its length prefix', 'truncated', c => c.decodeFrame(c.encodeFrame(good).subarray(0, 10))],
  ['a frame of 3 bytes', 'truncated', c => c.decodeFrame(Buffer.from([0, 0, 1]))],
  ['an announced length over the maximum', 'oversized', c => c.decodeFrame(Buffer.from([0xff, 0xff, 0xff, 0xf0, 0x7b]))],
  ['a datagram over the maximum', 'oversized', c => c.decode(Buffer.alloc(2048, 0x20))],
  ['bytes that are not JSON', 'bad-json', c => c.decode(bytes('{"v":1,'))],
  ['an unknown kind', 'unknown-kind', c => c.decode(bytes('{"v":1,"kind":"launch_missiles"}'))],
  ['another wire version', 'bad-version', c => c.decode(bytes('{"v":2,"kind":"hello","name":"a","port":1}'))],
  ['a missing version', 'bad-version', c => c.decode(bytes('{"kind":"hello","name":"a","port":1}'))],
  ['a field of the wrong type', 'invalid', c => c.decode(bytes('{"v":1,"kind":"hello","name":"a","port":"x"}')), '/port'],
  ['an extra field', 'invalid', c => c.decode(bytes('{"v":1,"kind":"hello","name":"a","port":1,"evil":true}')), '/'],
  ['a JSON array', 'invalid', c => c.decode(bytes('[1,2]')), '/']
]
for (const [what, reason, run, path] of cases) {
  test(`${what} is rejected as '${reason}', counted, and nothing else`, t => {
    const c = codec(undefined, 1024)
    const r = run(c)
    t.false(r.ok)
    if (r.ok) return
    t.is(r.reason, reason)
    if (path !== undefined) t.is(r.path, path)
    onlyRejected(t, c, reason)
  })
}

test('with a network key: unsigned and wrongly signed messages are unauthenticated, signed ones pass', t => {
  const mine = codec('net-secret')
  const foreign = codec('other-secret')
  const open = codec()
  t.like(mine.decode(open.encode(good)), { ok: false, reason: 'unauthenticated' })
  t.like(mine.decode(foreign.encode(good)), { ok: false, reason: 'unauthenticated' })
  const signed = JSON.parse(mine.encode(good).toString()) as Record<string, unknown>
  t.regex(String(signed.mac), /^[0-9a-f]{64}$/)
  // tampering with any field breaks the code
  t.like(mine.decode(bytes(JSON.stringify({ ...signed, port: 1 }))), { ok: false, reason: 'unauthenticated' })
  // key order on the wire does not matter: the code is over canonical JSON
  const reordered = { mac: signed.mac, port: 60269, name: 'alpha', kind: 'hello', v: 1 }
  t.deepEqual(mine.decode(bytes(JSON.stringify(reordered))), { ok: true, message: good })
  t.deepEqual(mine.counters.snapshot().rejected.unauthenticated, 3)
  t.is(mine.counters.snapshot().accepted, 1)
})

test('key rollover: a codec holding [B, A] signs with B, accepts A and B, counts what came with A, and changes keys at run time', t => {
  const registry = new MessageRegistry()
  registry.register(hello)
  const onA = new WireCodec({ registry, networkKey: 'key A' })
  const onB = new WireCodec({ registry, networkKey: 'key B' })
  const rolling = new WireCodec({ registry, networkKeys: ['key B', 'key A'] })
  t.deepEqual(rolling.decode(onA.encode(good)), { ok: true, message: good }, 'the old key is still accepted')
  t.deepEqual(rolling.decode(onB.encode(good)), { ok: true, message: good })
  t.like(rolling.decode(new WireCodec({ registry, networkKey: 'key C' }).encode(good)), { ok: false, reason: 'unauthenticated' })
  t.like(rolling.counters.snapshot(), { accepted: 2, acceptedWithOlderKey: 1 })
  t.like(onB.decode(rolling.encode(good)), { ok: true }, 'it signs with its first key')
  t.like(onA.decode(rolling.encode(good)), { ok: false, reason: 'unauthenticated' })
  t.deepEqual(rolling.keyFingerprints.length, 2)
  t.regex(rolling.keyFingerprints[0], /^[0-9a-f]{8}$/)
  t.false(rolling.keyFingerprints.some(f => f.includes('key')), 'fingerprints do not show the keys')
  // the last step of a rollover: A is dropped at run time
  rolling.setNetworkKeys(['key B'])
  t.like(rolling.decode(onA.encode(good)), { ok: false, reason: 'unauthenticated' })
  rolling.setNetworkKeys([])
  t.like(rolling.decode(bytes(JSON.stringify(good))), { ok: true }, 'no keys: unsigned messages are taken')
  t.throws(() => new WireCodec({ registry, networkKey: 'a', networkKeys: ['b'] }), { message: /networkKey or networkKeys, not both/ })
})

test('a kind cannot be registered twice, and a module registers its own kinds without touching wire/', t => {
  const r = new MessageRegistry()
  r.register(hello)
  t.throws(() => r.register(hello), { instanceOf: DuplicateMessageKindError })
  t.deepEqual(r.kinds(), ['hello', 'void'])
})

test('sending a message that breaks its own schema throws before any byte is written', t => {
  const c = codec()
  t.throws(() => c.encode({ v: 1, kind: 'hello', name: 'a' }), { name: 'UnsendableMessageError', message: /port/ })
})

test('FrameReader splits a stream at any chunking and stops at an oversized length', t => {
  const c = codec()
  const stream = Buffer.concat([c.encodeFrame(good), c.encodeFrame({ ...good, name: 'beta' })])
  for (let cut = 1; cut < stream.length; cut += 7) {
    const reader = new FrameReader()
    const events = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))]
    t.deepEqual(events.map(e => e.type === 'frame' ? c.decode(e.payload) : e), [
      { ok: true, message: good }, { ok: true, message: { ...good, name: 'beta' } }])
    t.false(reader.end())
  }
  const reader = new FrameReader(100)
  t.deepEqual(reader.push(Buffer.concat([frame(Buffer.alloc(101)), c.encodeFrame(good)])), [{ type: 'oversized', announced: 101 }])
  t.deepEqual(reader.push(c.encodeFrame(good)), [])
  const partial = new FrameReader()
  partial.push(c.encodeFrame(good).subarray(0, 6))
  t.true(partial.end())
})

test('random bytes never throw out of decode or decodeFrame, and every call is counted once', t => {
  const c = codec('k')
  let calls = 0
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (b, framed) => {
    calls++
    const r = framed ? c.decodeFrame(b) : c.decode(b)
    return typeof r.ok === 'boolean'
  }), { numRuns: 2000 })
  // also near-valid JSON objects
  fc.assert(fc.property(fc.record({ v: fc.oneof(fc.constant(1), fc.anything()), kind: fc.oneof(fc.constant('hello'), fc.string()), name: fc.anything(), port: fc.anything() }, { requiredKeys: [] }), o => {
    calls++
    const s = JSON.stringify(o)
    const r = c.decode(bytes(s ?? 'null'))
    return !r.ok || r.message.kind === 'hello'
  }), { numRuns: 1000 })
  const snap = c.counters.snapshot()
  t.is(snap.accepted + Object.values(snap.rejected).reduce((a, b) => a + b, 0), calls)
})
