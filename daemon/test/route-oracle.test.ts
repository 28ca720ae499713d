import test from 'ava'
import { hcKey } from '../src/addressing'
import { type DirectedArc, RouteOracle } from './helpers/route-oracle'

// The route oracle the in-process tests compare every daemon's map with (daemon/test/helpers/route-oracle.ts) must
// answer in bounded time where the cheapest paths are not valid for QSPN (they leave a g-node and come back): a
// merged network of 100 + 100 daemons had such destinations, and the oracle's search threw "took too long" there,
// so the merge looked unconverged although every map was right.

/** Symmetric arcs of cost `cost` between each pair. */
const both = (pairs: ReadonlyArray<readonly [string, string]>, cost = 1): DirectedArc[] => pairs.flatMap(([a, b]) => [{ from: a, to: b, cost }, { from: b, to: a, cost }])

/**
 * m and a2 form g-node A (level 1); a grid of 6x6 nodes is g-node B, D alone is g-node C (all in one g-node of
 * level 2). m reaches a2 directly at cost 1000, or over the grid at cost 12; D hangs off a2. The path over the grid
 * to a2 and D leaves A and comes back, so QSPN can hold only m-a2-D (cost 1001), while plain distances say 13 via the
 * grid: proving that no valid path exists through the grid means ruling out every one of its million simple paths
 * unless the search sees that a2 is out of reach once A is left.
 */
function leftAndBack (): RouteOracle {
  const side = 6
  const g = (i: number, j: number): string => `g${i}_${j}`
  const nodes = [
    { name: 'm', naddr: [0, 0, 0] },
    { name: 'a2', naddr: [1, 0, 0] },
    { name: 'D', naddr: [0, 2, 0] },
    ...Array.from({ length: side * side }, (_, k) => ({ name: g(Math.floor(k / side), k % side), naddr: [k, 1, 0] }))
  ]
  const grid: Array<[string, string]> = []
  for (let i = 0; i < side; i++) {
    for (let j = 0; j < side; j++) {
      if (i + 1 < side) grid.push([g(i, j), g(i + 1, j)])
      if (j + 1 < side) grid.push([g(i, j), g(i, j + 1)])
    }
  }
  return new RouteOracle(nodes, [...both([['m', 'a2']], 1000), ...both([['a2', 'D'], ['m', g(0, 0)], [g(side - 1, side - 1), 'a2'], ...grid])])
}

test('the oracle finds the only QSPN-valid path when the cheapest ones leave a g-node and come back, in bounded time', t => {
  const started = Date.now()
  const want = leftAndBack().destinations('m')
  const d = want.get(hcKey({ lvl: 1, pos: 2 }))
  t.is(d?.cost, 1001, 'to g-node C (D): over a2 only, the grid path re-enters g-node A')
  t.deepEqual([...d?.firstHops ?? []], ['a2'])
  const a2 = want.get(hcKey({ lvl: 0, pos: 1 }))
  t.is(a2?.cost, 1000, 'to a2 inside g-node A: the direct arc (the grid is outside A)')
  const grid = want.get(hcKey({ lvl: 1, pos: 1 }))
  t.is(grid?.cost, 1, 'to g-node B: its nearest node')
  t.deepEqual([...grid?.firstHops ?? []], ['g0_0'])
  t.true(Date.now() - started < 10_000, `answered in ${Date.now() - started} ms`)
})
