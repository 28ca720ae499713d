import test from 'ava'
import { selectPaths, type SelectionContext } from '../src/qspn/path-selection'
import { pathKey, type NodePath } from '../src/qspn/node-path'
import { DEAD, hcKey, type HCoord } from '../src/qspn/types'
import type { Fingerprint } from '../src/qspn/fingerprint'
import { constructUp, isElder } from '../src/qspn/fingerprint'

const fp = (id: number, level = 0, e = 0): Fingerprint => ({ id, level, elderships: [e], eldershipsSeed: [] })

/** A path through level-0 hops `hops` (positions), arc ids `arcs`; the destination is the last hop. */
function path (hops: number[], arcs: number[], cost: number, f = fp(1)): NodePath {
  const hs: HCoord[] = hops.map(pos => ({ lvl: 0, pos }))
  return { arcId: `arc${arcs[0]}`, hops: hs, arcs, cost, fingerprint: f, nodesInside: 1, key: pathKey(hs, arcs) }
}

function ctx (known: number[], neighbours: number[] = [], maxPaths = 5): SelectionContext {
  const k = new Set(known.map(pos => hcKey({ lvl: 0, pos })))
  return { maxPaths, maxCommonHopsRatio: 0.6, neighbourGnodes: neighbours.map(pos => ({ lvl: 0, pos })), isKnown: h => k.has(hcKey(h)), nodesInside: h => k.has(hcKey(h)) ? 1 : 0 }
}

const D = { lvl: 0, pos: 9 }

test('the cheapest path is always kept first and the result is sorted by cost', t => {
  const a = path([1, 9], [10, 19], 5000)
  const b = path([2, 9], [20, 29], 3000)
  const c = path([3, 9], [30, 39], 4000)
  t.deepEqual(selectPaths(D, [a, b, c], ctx([1, 2, 3, 9])).map(p => p.cost), [3000, 4000, 5000])
})

test('a path sharing the gateway and its arcs with a cheaper one is not disjoint and is dropped', t => {
  const best = path([1, 9], [10, 19], 2000)
  const sameStart = path([1, 2, 9], [10, 12, 29], 3000) // enters hop 1 by the same arc: ratio 1 > 0.6
  t.deepEqual(selectPaths(D, [sameStart, best], ctx([1, 2, 9])).map(p => p.key), [best.key])
})

test('a path with a new fingerprint is kept even if it is not disjoint (one per fingerprint)', t => {
  const best = path([1, 9], [10, 19], 2000, fp(1))
  const other = path([1, 2, 9], [10, 12, 29], 3000, fp(2))
  t.is(selectPaths(D, [best, other], ctx([1, 2, 9])).length, 2)
})

test('for each neighbour a path avoiding its g-node is kept (mandatory)', t => {
  // Both paths leave through g-node 1 and 2 by the same arcs (2 of 3 weighted hops in common > 0.6), but only
  // the second avoids g-node 4, which is a neighbour's max-distinct g-node.
  const best = path([1, 2, 4, 9], [10, 12, 24, 49], 2000)
  const avoid4 = path([1, 2, 5, 9], [10, 12, 25, 59], 3000)
  t.deepEqual(selectPaths(D, [best, avoid4], ctx([1, 2, 4, 5, 9])).map(p => p.cost), [2000], 'without the rule it is not disjoint enough')
  t.deepEqual(selectPaths(D, [best, avoid4], ctx([1, 2, 4, 5, 9], [4])).map(p => p.cost), [2000, 3000])
})

test('dead paths and paths through hops missing from the map are dropped', t => {
  const dead = path([1, 9], [10, 19], DEAD)
  const viaUnknown = path([2, 7, 9], [20, 27, 79], 1000)
  const ok = path([3, 9], [30, 39], 5000)
  t.deepEqual(selectPaths(D, [dead, viaUnknown, ok], ctx([1, 2, 3, 9])).map(p => p.key), [ok.key])
})

test('fingerprints: the eldest member passes its id up; a null eldership is younger than anything', t => {
  const mine: Fingerprint = { id: 5, level: 0, elderships: [1, 0], eldershipsSeed: [] }
  const sib: Fingerprint = { id: 8, level: 0, elderships: [0, 0], eldershipsSeed: [] }
  const up = constructUp(mine, [sib])
  t.deepEqual(up, { id: 8, level: 1, elderships: [0], eldershipsSeed: [0] })
  t.true(isElder(sib, mine))
  t.false(isElder({ ...sib, elderships: [-1, 0] }, mine))
})
