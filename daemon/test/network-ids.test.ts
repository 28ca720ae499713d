import test from 'ava'
import { NetworkIds } from '../src/hooking/network-id'
import type { QspnManager } from '../src/qspn/manager'

// The network id an entered identity holds, and when it takes its map's top fingerprint instead (a split, or the
// eldest changed). A stand-in map: the top fingerprint and the fingerprint ids on paths at level 0.

function map (top: number, onPaths: number[]): QspnManager {
  return {
    isBootstrapComplete: () => true,
    getFingerprint: (lvl: number) => ({ id: lvl === 2 ? top : 1000 + lvl }),
    getKnownDestinations: (lvl: number) => lvl === 0 ? onPaths.map((_, pos) => ({ lvl: 0, pos })) : [],
    getAllPathsTo: (hc: { pos: number }) => [{ fingerprint: { id: onPaths[hc.pos] } }]
  } as unknown as QspnManager
}

test('an identity that just entered and has not seen its network\'s id yet waits five tolerances before it calls a split', t => {
  const ids = new NetworkIds(2, 2000)
  ids.hold('x', 7)
  const young = map(3, [3]) // its map shows only its own g-node's fingerprint so far (the entered block's, 3)
  t.is(ids.watch('x', young, 0), null)
  t.is(ids.watch('x', young, 2000), null, 'one tolerance is not enough for what was never seen')
  t.is(ids.watch('x', young, 9999), null)
  t.deepEqual(ids.watch('x', young, 10_000), { previous: 7, networkId: 3, lost: true }, 'never seen for five tolerances: its own part is a network')
  t.is(ids.of('x', young), 3)
})

test('once the network\'s id was in sight, losing it for one tolerance is a split; an id in sight all along is followed', t => {
  const ids = new NetworkIds(2, 2000)
  ids.hold('x', 7)
  t.is(ids.watch('x', map(7, [7, 3]), 0), null, 'its map shows the network\'s eldest: seen')
  t.is(ids.watch('x', map(3, [3]), 100), null)
  t.deepEqual(ids.watch('x', map(3, [3]), 2100), { previous: 7, networkId: 3, lost: true }, 'out of sight for the tolerance: a split')
  ids.hold('y', 7)
  t.is(ids.watch('y', map(5, [7, 5]), 0), null)
  t.deepEqual(ids.watch('y', map(5, [7, 5]), 2000), { previous: 7, networkId: 5, lost: false }, 'the top changed with 7 still in sight: follow it')
  ids.hold('y', 9)
  t.is(ids.watch('y', map(5, [5]), 3000), null, 'a new hold starts unseen again')
  t.is(ids.watch('y', map(5, [5]), 5000), null)
})
