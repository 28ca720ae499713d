import test from 'ava'
import {
  distanceOf, epsilonOf, findShortestMig, migrationsOf, tupleKey,
  type GnodeTuple, type MigrationProber, type SearchAnswer, type Solution
} from '../src/hooking/migration-path'
import { components, describeHooking, reservationProblems, settled, startUnconfigured, type Edge } from './helpers/hooking-networks'
import { runUntil } from './helpers/inprocess-network'

// Migration paths (§6.3 item 8): when no g-node around the neighbour v has room, border g-nodes migrate one g-node
// further each until one with a free place, and the entering g-node takes the place the first one freed.

test('epsilon per level as the original ntkd computes it (levels until 5 bits are covered, plus one)', t => {
  t.is(epsilonOf([2, 2, 2, 2, 2, 2, 2], 0), 6)
  t.is(epsilonOf([256, 2, 2, 2], 0), 2, '8 bits cover 5 at once')
  t.is(epsilonOf([16, 4, 2, 2], 0), 3)
  t.is(epsilonOf([2, 2, 2], 0), 4, 'not 5 bits in the whole address: every level, plus one')
})

/**
 * A synthetic network seen at level l+1 = 1: level-1 g-nodes (by their top-first name "a.b"), how many of their
 * gsize[0] positions are taken, and which are adjacent. The fake prober answers as nodes inside would: bookings
 * (a free real position of the lowest g-node with room up to the maximum asked) and the adjacent g-nodes.
 */
function syntheticProber (gsizes: number[], taken: Record<string, number>, adjacent: Array<[string, string]>): MigrationProber & { asked: string[] } {
  const levels = gsizes.length
  const tuple = (name: string): GnodeTuple => { const positions = name.split('.').map(Number).reverse(); return { positions, elderships: positions.map(() => 0) } }
  const asked: string[] = []
  return {
    levels,
    gsizes,
    asked,
    search: async (gnode, _askLevel, maxHostLevel): Promise<SearchAnswer | null> => {
      const name = [...gnode.positions].reverse().join('.')
      asked.push(name)
      const roomAt = (lvl: number): boolean => {
        if (lvl === 1) return (taken[name] ?? 0) < gsizes[0]
        // level-(lvl-1) g-nodes inside my g-node of level lvl
        const mine = gnode.positions.slice(lvl - 1).join('.')
        const kids = new Set(Object.keys(taken).map(n => tuple(n).positions).filter(q => q.slice(lvl - 1).join('.') === mine).map(q => q.slice(lvl - 2).join('.')))
        return kids.size < gsizes[lvl - 1]
      }
      if (roomAt(1)) return { minHostLevel: 1, real: { hostLevel: 1, pos: taken[name], eldership: 7 }, adjacent: [] }
      let real: SearchAnswer['real']
      for (let hl = 2; hl <= maxHostLevel && real === undefined; hl++) if (roomAt(hl)) real = { hostLevel: hl, pos: 99, eldership: 7 }
      const adj = adjacent.filter(([a, b]) => a === name || b === name).map(([a, b]) => a === name ? b : a)
      return { minHostLevel: 1, conn: { pos: gsizes[0], eldership: 5 }, adjacent: adj.map(n => ({ gnode: tuple(n), border: 1 })), ...(real === undefined ? {} : { real }) }
    },
    deleteReserve: async () => {}
  }
}

const pathOf = (s: Solution): string[] => { const out: string[] = []; for (let x: Solution['leaf'] | null = s.leaf; x !== null; x = x.parent) out.unshift([...x.gnode.positions].reverse().join('.')); return out }

test('breadth first: the nearest g-node with room is found through saturated ones; the migrations chain the places', async t => {
  // gsizes [2,2,2,2]: level-1 g-nodes named t3.t2.t1; a line 0.0.0 - 0.0.1 - 0.1.0 - 0.1.1 (all full but the last)
  // and every g-node above saturated (all level-2 and level-3 g-nodes hold both children)
  const taken = { '0.0.0': 2, '0.0.1': 2, '0.1.0': 2, '0.1.1': 1, '1.0.0': 2, '1.0.1': 2, '1.1.0': 2, '1.1.1': 2 }
  const p = syntheticProber([2, 2, 2, 2], taken, [['0.0.0', '0.0.1'], ['0.0.1', '0.1.0'], ['0.1.0', '0.1.1'], ['0.0.0', '1.0.0']])
  const root: GnodeTuple = { positions: [0, 0, 0], elderships: [0, 0, 0] }
  const out = await findShortestMig(p, root, 0, 0 + epsilonOf([2, 2, 2, 2], 0), 77)
  const sol = out.solutions[out.solutions.length - 1]
  t.truthy(sol)
  t.deepEqual(pathOf(sol), ['0.0.0', '0.0.1', '0.1.0', '0.1.1'])
  t.is(distanceOf(sol.leaf), 3)
  t.is(sol.hostLevel, 1)
  const ids = [11, 12, 13]
  const { orders, entry } = migrationsOf(4, sol, () => ids.shift() as number)
  t.is(orders.length, 3)
  // β_1 (border 1 of 0.0.0) goes into 0.0.1 at the place β_2 (border 1 of 0.0.1) frees; the last one at the free place
  t.deepEqual(orders.map(o => [[...o.gnode.positions].reverse().join('.'), [...o.host.positions].reverse().join('.'), o.pos]), [
    ['0.0.0.1', '0.0.1', 1],
    ['0.0.1.1', '0.1.0', 1],
    ['0.1.0.1', '0.1.1', 1]
  ])
  t.true(orders.every(o => o.connPos === 2), 'the old identities keep a virtual position')
  t.deepEqual(entry, { pos: 1, eldership: 5, host: root }, 'the entering g-node takes β_1\'s place in v\'s g-node')
  t.false(p.asked.includes('1.0.1'), 'the search stopped at the first solution within ε')
})

test('a place high up is kept only until a nearer-level one is found; far paths beyond +5 and 30 % are not explored', async t => {
  // level-1 g-node 0.0.0 full, its level-2 parent full, its level-3 parent with room: a solution of distance 0 at host
  // level 3; with ε = 1 (ok host level 1) the search goes on and prefers the level-1 room two g-nodes away
  const taken = { '0.0.0': 2, '0.0.1': 2, '1.0.0': 2, '1.0.1': 1 }
  const p = syntheticProber([2, 2, 2, 2], taken, [['0.0.0', '0.0.1'], ['0.0.1', '1.0.0'], ['1.0.0', '1.0.1']])
  const out = await findShortestMig(p, { positions: [0, 0, 0], elderships: [0, 0, 0] }, 0, 1, 5)
  t.deepEqual(out.solutions.map(s => [distanceOf(s.leaf), s.hostLevel]), [[0, 3], [3, 1]])
  // a graph where the only level-1 room is 12 g-nodes away: after the distance-0 solution at level 3 the search
  // stops once the distance reaches 5 (0 + 5 and 0 · 1.3)
  const line: Array<[string, string]> = []
  const far: Record<string, number> = { '0.0.0': 2, '0.0.1': 2, '0.1.0': 2, '0.1.1': 2 }
  const names = Array.from({ length: 13 }, (_, k) => `${(k >> 2) + 2}.${(k >> 1) & 1}.${k & 1}`)
  for (const n of names) far[n] = 2
  far[names[12]] = 1
  line.push(['0.0.0', names[0]])
  for (let k = 0; k + 1 < names.length; k++) line.push([names[k], names[k + 1]])
  const p2 = syntheticProber([2, 2, 2, 8], { ...far }, line)
  const out2 = await findShortestMig(p2, { positions: [0, 0, 0], elderships: [0, 0, 0] }, 0, 1, 5)
  t.deepEqual(out2.solutions.map(s => [distanceOf(s.leaf), s.hostLevel]), [[0, 4]], 'only the place high up')
  t.true(p2.asked.length <= 6, `asked ${p2.asked.join(' ')}`)
  t.deepEqual(out2.booked.map(b => tupleKey(b.gnode)), ['0.0.0', ...names.slice(0, 4).map(n => n.split('.').reverse().join('.'))], 'every g-node asked booked')
})

// In process: a network of 7 daemons (topology 4·2, room for 8) formed by Hooking one daemon at a time along a
// line; a lone daemon meets the member farthest from the one free place: no g-node around it has room, so border
// daemons migrate one g-node further each (distance ≥ 2) and the newcomer takes the place the first one freed.
test('a lone daemon enters a network with one free place two or more g-nodes away: a migration path frees a place next to it', async t => {
  const bits = [2, 1]
  const names = ['j0', 'j1', 'j2', 'j3', 'j4', 'j5', 'j6', 'g']
  const line: Edge[] = names.slice(0, 6).map((n, k) => ({ a: n, b: names[k + 1] }))
  const candidates: Edge[] = names.slice(0, 7).map(n => ({ a: 'g', b: n }))
  const { dn, setEdge } = await startUnconfigured(names, [], [...line, ...candidates], { seed: 41, bits })
  t.teardown(async () => await dn.stopAll())
  const up: Edge[] = []
  for (const e of line) {
    setEdge(e, true)
    up.push(e)
    const r = await settled(dn, [...components(names.slice(0, 7), up), ['g']], 60_000)
    t.deepEqual(r.problems, [], `after ${e.a}-${e.b}\n${describeHooking(dn)}`)
  }
  // the free place and the level-1 g-node graph of the network formed
  const gnodeOf = (n: string): string => String(dn.get(n).naddr[1])
  const members = new Map<string, string[]>()
  for (const n of names.slice(0, 7)) members.set(gnodeOf(n), [...(members.get(gnodeOf(n)) ?? []), n])
  const free = [...members].find(([, m]) => m.length < 2)?.[0]
  t.truthy(free, `one level-1 g-node with room: ${JSON.stringify([...members])}`)
  const dist = new Map<string, number>([[free as string, 0]])
  for (let frontier = [free as string]; frontier.length > 0;) {
    const next: string[] = []
    for (const g of frontier) {
      for (const e of line) {
        const [x, y] = [gnodeOf(e.a), gnodeOf(e.b)]
        const other = x === g ? y : y === g ? x : null
        if (other !== null && !dist.has(other)) { dist.set(other, (dist.get(g) as number) + 1); next.push(other) }
      }
    }
    frontier = next
  }
  // v: an end of the line (its g-node's border toward the rest is its neighbour, which migrates; v stays by the newcomer)
  const v = ['j0', 'j6'].sort((a, b) => (dist.get(gnodeOf(b)) ?? 0) - (dist.get(gnodeOf(a)) ?? 0))[0]
  const d = dist.get(gnodeOf(v)) ?? 0
  t.true(d >= 2, `the farthest member ${v} is ${d} g-nodes from the free place (${JSON.stringify([...members])})`)
  const before = new Map(names.slice(0, 7).map(n => [n, gnodeOf(n)]))
  setEdge({ a: 'g', b: v }, true)
  up.push({ a: 'g', b: v })
  const r = await settled(dn, [names], 120_000, up)
  t.deepEqual(r.problems, [], describeHooking(dn))
  t.log(`merged ${String(r.ms)} ms after the link; v = ${v}, ${d} g-nodes from the free place`)
  const vEvents = dn.get(v).node.system.hooking.events.list()
  const path = vEvents.find(e => e.type === 'migration_path')
  t.truthy(path, vEvents.map(e => e.type).join(','))
  t.true((path?.distance as number) >= 2, JSON.stringify(path))
  const migrated = names.slice(0, 7).filter(n => dn.get(n).node.system.hooking.events.list().some(e => e.type === 'migrated'))
  t.is(migrated.length, path?.distance as number, `migrated: ${migrated.join(',')}`)
  t.true(migrated.every(n => before.get(n) !== gnodeOf(n)), 'each migrating daemon is in another g-node now')
  t.is(gnodeOf('g'), gnodeOf(v), 'the newcomer sits in v\'s g-node')
  // every connectivity identity went after its check; every booking went (used, deleted or expired)
  t.not(await runUntil(dn.clock, () => reservationProblems(dn).length === 0, { budgetMs: 70_000, stepMs: 1000 }), null, reservationProblems(dn).join('; '))
  const again = await settled(dn, [names], 10_000, up)
  t.deepEqual(again.problems, [])
})
