import test, { type ExecutionContext } from 'ava'
import {
  distanceOf, epsilonOf, findShortestMig, migrationsOf, tupleKey,
  type GnodeTuple, type MigrationProber, type SearchAnswer, type Solution
} from '../src/hooking/migration-path'
import { components, describeHooking, reservationProblems, settled, startHookingNetworks, type Edge } from './helpers/hooking-networks'
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

/**
 * In process: a network of `line` daemons formed by Hooking one daemon at a time along a line, in a topology where
 * it leaves one place for a g-node of level `lvl` (the newcomers' network, formed apart: `lvl` 0 a lone daemon,
 * 1 two daemons); the newcomers meet the end of the line farthest from that place. No g-node around that end has
 * room, so border g-nodes of level `lvl` migrate one g-node further each and the newcomers take the place the first
 * one freed.
 */
async function meetAtTheFarEnd (t: ExecutionContext, o: { bits: number[], line: number, newcomers: number, lvl: number, seed: number, minDistance: number }): Promise<void> {
  const js = Array.from({ length: o.line }, (_, k) => `j${k}`)
  const gs = Array.from({ length: o.newcomers }, (_, k) => `g${k}`)
  const names = [...js, ...gs]
  const line: Edge[] = js.slice(0, -1).map((n, k) => ({ a: n, b: js[k + 1] }))
  const theirs: Edge[] = gs.slice(0, -1).map((n, k) => ({ a: n, b: gs[k + 1] }))
  const ends: Edge[] = [{ a: 'g0', b: js[0] }, { a: 'g0', b: js[js.length - 1] }]
  const { dn, setEdge } = await startHookingNetworks(names, [], [...line, ...theirs, ...ends], { seed: o.seed, bits: o.bits })
  t.teardown(async () => await dn.stopAll())
  const up: Edge[] = []
  for (const e of [...line, ...theirs]) {
    setEdge(e, true)
    up.push(e)
    const r = await settled(dn, components(names, up), 60_000)
    t.deepEqual(r.problems, [], `after ${e.a}-${e.b}\n${describeHooking(dn)}`)
  }
  // the host g-nodes (level lvl+1) of the line, the one with room for a g-node of level lvl, and its distance
  // (over the host g-nodes the line crosses) from each end
  const hostOf = (n: string): string => dn.get(n).naddr.slice(o.lvl + 1).join('.')
  const children = new Map<string, Set<string>>()
  for (const n of js) children.set(hostOf(n), new Set([...(children.get(hostOf(n)) ?? []), dn.get(n).naddr.slice(o.lvl).join('.')]))
  const free = [...children].find(([, c]) => c.size < dn.topology.gsizes[o.lvl])?.[0]
  const layout = js.map(n => `${n}=${[...dn.get(n).naddr].reverse().join('.')}`).join(' ')
  t.truthy(free, `one g-node of level ${o.lvl + 1} with room: ${layout}`)
  const seq = js.map(hostOf).filter((g, k, a) => k === 0 || a[k - 1] !== g)
  const hops = (n: string): number => Math.abs(seq.indexOf(hostOf(n)) - seq.lastIndexOf(free as string))
  const v = hops(js[0]) >= hops(js[js.length - 1]) ? js[0] : js[js.length - 1]
  const d = hops(v)
  t.true(d >= o.minDistance, `the end ${v} is ${d} g-nodes of level ${o.lvl + 1} from the free place (${layout})`)
  const before = new Map(js.map(n => [n, hostOf(n)]))
  setEdge({ a: 'g0', b: v }, true)
  up.push({ a: 'g0', b: v })
  const r = await settled(dn, [names], 120_000, up)
  t.deepEqual(r.problems, [], describeHooking(dn))
  t.log(`${layout}; merged ${String(r.ms)} ms after the link; v = ${v}, ${d} g-nodes from the free place`)
  const vEvents = dn.get(v).node.system.hooking.events.list()
  const path = vEvents.find(e => e.type === 'migration_path')
  t.truthy(path, vEvents.map(e => e.type).join(','))
  t.is(path?.distance, d, JSON.stringify(path))
  const migrated = js.filter(n => dn.get(n).node.system.hooking.events.list().some(e => e.type === 'migrated' && e.guestLevel === o.lvl))
  t.is(migrated.length, d * (o.lvl === 0 ? 1 : 2), `migrated: ${migrated.join(',')}`)
  t.true(migrated.every(n => before.get(n) !== hostOf(n)), 'each migrating daemon is in another g-node now')
  t.true(gs.every(g => hostOf(g) === hostOf(v)), 'the newcomers sit in v\'s g-node')
  // every booking went (used, deleted or expired); the invariants still hold
  t.not(await runUntil(dn.clock, () => reservationProblems(dn).length === 0, { budgetMs: 70_000, stepMs: 1000 }), null, reservationProblems(dn).join('; '))
  const again = await settled(dn, [names], 10_000, up)
  t.deepEqual(again.problems, [])
}

test('a lone daemon enters a network with one free place three g-nodes away (4·2, room for 8): single daemons migrate to make room', async t => {
  await meetAtTheFarEnd(t, { bits: [2, 1], line: 7, newcomers: 1, lvl: 0, seed: 41, minDistance: 2 })
})

test('two daemons enter as one g-node of level 1 (4·2·2, room for 8 such g-nodes, 7 held): g-nodes of level 1 migrate, every member by the propagation', async t => {
  await meetAtTheFarEnd(t, { bits: [2, 1, 1], line: 14, newcomers: 2, lvl: 1, seed: 43, minDistance: 1 })
})

test('a network over several top-level g-nodes enters by its g-nodes of level L-1: the search for their place asks the whole network\'s Coordinator (4·2)', async t => {
  // such a network enters at level L-1 (it is no single g-node below the top), and the search's g-node is then the
  // whole network (no positions): the request was refused as malformed ("migration path: search in : generic:
  // malformed migration request", in many lab logs) and the network entered one daemon at a time
  for (const seed of [5, 6]) {
    const js = ['j0', 'j1', 'j2', 'j3']
    const gs = ['g0', 'g1', 'g2']
    const names = [...js, ...gs]
    const inside: Edge[] = [{ a: 'j0', b: 'j1' }, { a: 'j1', b: 'j2' }, { a: 'j2', b: 'j3' }, { a: 'g0', b: 'g1' }, { a: 'g1', b: 'g2' }]
    const join: Edge = { a: 'g0', b: 'j0' }
    const lines: string[] = []
    const { dn, setEdge } = await startHookingNetworks(names, [], [...inside, join], { seed, bits: [2, 1], log: (node, line) => { if (line.includes('migration path')) lines.push(`${node}: ${line}`) } })
    try {
      for (const e of inside) setEdge(e, true)
      const apart = await settled(dn, components(names, inside), 60_000)
      t.deepEqual(apart.problems, [], `seed ${seed}: formed apart`)
      // three daemons fill no g-node of level 1 (room for 2): the newcomers' network spans two of them
      t.is(new Set(gs.map(g => dn.get(g).naddr[1])).size, 2, `seed ${seed}: the newcomers are in two g-nodes of level 1`)
      setEdge(join, true)
      const r = await settled(dn, [names], 120_000, [...inside, join])
      t.deepEqual(r.problems, [], `seed ${seed}: ${describeHooking(dn)}`)
      const levels = gs.flatMap(g => dn.get(g).node.system.hooking.events.list().filter(e => e.type === 'entered').map(e => (e as { guestLevel?: number }).guestLevel))
      t.true(levels.includes(1), `seed ${seed}: a g-node of level 1 entered whole (levels of the entries: ${levels.join(', ')})`)
      t.deepEqual(lines.filter(l => l.includes('malformed')), [], `seed ${seed}: no search refused`)
      t.log(`seed ${seed}: merged ${String(r.ms)} ms after the link; entries at levels ${levels.join(', ')}`)
    } finally {
      await dn.stopAll()
    }
  }
})
