import test from 'ava'
import { SeededRandom } from '../src/util/random'
import { components, randomConnected, settled, startUnconfigured } from './helpers/hooking-networks'
test('dbg', async t => {
  const seed = 900
  const rnd = new SeededRandom(seed)
  const A = Array.from({ length: 25 }, (_, i) => `a${i}`); const B = Array.from({ length: 25 }, (_, i) => `b${i}`)
  const inner = [...randomConnected(A, 6, rnd), ...randomConnected(B, 6, rnd)]
  const { dn } = await startUnconfigured([...A, ...B], inner, [], { seed, bits: [3, 3, 3, 4] })
  const r = await settled(dn, components([...A, ...B], inner), 60_000)
  for (const d of dn.list()) {
    for (const e of d.node.system.hooking.events.list()) if (e.type === 'place_reserved' || e.type === 'entered' || e.type === 'enter') console.log(d.name, JSON.stringify(e))
  }
  console.log(inner.filter(e => ['b17', 'b19'].includes(e.a) || ['b17', 'b19'].includes(e.b)))
  await dn.stopAll()
  t.log(r.problems)
  t.pass()
})
