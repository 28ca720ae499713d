import test from 'ava'
import { cidrContains } from '../src/addressing'
import {
  InMemoryKernel, SYSTEM_NS, TABLE_MAIN, TABLE_NTK, TableAllocator, ntkFromTable,
  type KernelHop, type KernelState, type Op, type RouteItem, type RouteType
} from '../src/kernel'
import { SeededRandom } from '../src/util/random'

// InMemoryKernel.nextHop (the in-process network forwards every routed unicast hop by it) answers from each table's
// longest-prefix index and the namespace's maps; here it must answer exactly as the scan it replaced, on random
// tables changed by random adds, replaces and deletes.

/** The scan the simulator used before (daemon/test/helpers/inprocess-network.ts kernelNextHop), over read(). */
function scanNextHop (state: KernelState, ip: string, arrival?: { nic: string, fromMac?: string }): KernelHop {
  let ns = SYSTEM_NS
  if (arrival !== undefined) for (const [name, n] of state.namespaces) if (n.pseudoInterfaces.some(p => p.name === arrival.nic)) ns = name
  const s = state.namespaces.get(ns)
  if (s === undefined) return null
  if (s.addresses.some(a => a.ip.split('/')[0] === ip)) return 'local'
  let table: string | undefined
  const mark = arrival?.fromMac === undefined ? undefined : s.marks.find(m => m.mac.toUpperCase() === arrival.fromMac?.toUpperCase())?.markOf
  if (mark !== undefined && s.rules.some(r => r.fwmarkOf === mark)) table = s.rules.find(r => r.fwmarkOf === mark)?.table
  else if (s.rules.some(r => r.table === TABLE_NTK && r.fwmarkOf === undefined)) table = TABLE_NTK
  if (table === undefined) return null
  let best: RouteItem | undefined
  let bestLen = -1
  for (const r of s.routes) {
    if (r.table !== table || !cidrContains(r.dst, ip)) continue
    const len = Number(r.dst.split('/')[1])
    if (len > bestLen) { best = r; bestLen = len }
  }
  if (best === undefined || best.type !== 'unicast' || best.via === undefined || best.dev === undefined) return null
  return { nic: best.dev, via: best.via, ...(best.src === undefined ? {} : { src: best.src }) }
}

const MACS = ['02:00:00:00:00:01', '02:00:00:00:00:02', '02:00:00:00:00:03']
const NESTED = 'ntkv0'
const PSEUDO = 'ntkv0_eth1'
const GATEWAYS = ['169.254.1.1', '169.254.1.2', '169.254.7.9']

const ipText = (v: number): string => `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`

/** Addresses of a small space (10.0.0.0/22 and a little beyond) so that prefixes overlap often. */
function randomIp (rnd: SeededRandom): number { return ((10 << 24) | rnd.int(1 << 11)) >>> 0 }

/** A prefix containing or near `v`: a random length, host bits zeroed, or (one in ten) left set. */
function randomDst (rnd: SeededRandom, v: number): string {
  const len = rnd.int(10) === 0 ? rnd.int(33) : 20 + rnd.int(13)
  const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0
  const base = rnd.int(10) === 0 ? v : (v & mask) >>> 0
  return `${ipText(base)}/${len}`
}

interface World { k: InMemoryKernel, routes: Map<string, RouteItem>, rnd: SeededRandom }

/** One random op on the world's kernel (ns SYSTEM_NS or the nested one); ops the kernel refuses are skipped. */
function randomOp (w: World): Op | undefined {
  const { rnd } = w
  const ns = rnd.int(3) === 0 ? NESTED : SYSTEM_NS
  const dev = ns === NESTED ? PSEUDO : 'eth1'
  const roll = rnd.int(20)
  const tables = [TABLE_NTK, TABLE_NTK, ntkFromTable(MACS[0]), ntkFromTable(MACS[1]), TABLE_MAIN]
  if (roll < 12) {
    const table = tables[rnd.int(tables.length)]
    const type: RouteType = rnd.int(6) === 0 ? 'unreachable' : rnd.int(8) === 0 ? 'blackhole' : 'unicast'
    const item: RouteItem = type !== 'unicast' ? { table, dst: randomDst(rnd, randomIp(rnd)), type } : { table, dst: randomDst(rnd, randomIp(rnd)), type, via: GATEWAYS[rnd.int(GATEWAYS.length)], dev, ...(rnd.int(2) === 0 ? { src: '10.0.0.1' } : {}) }
    const key = `${ns} ${table} ${item.dst}`
    const op: Op = { kind: 'route', op: w.routes.has(key) ? 'replace' : 'add', ns, item, why: 'missing' }
    w.routes.set(key, item)
    return op
  }
  if (roll < 17) {
    const keys = [...w.routes.keys()]
    if (keys.length === 0) return undefined
    const key = keys[rnd.int(keys.length)]
    const item = w.routes.get(key) as RouteItem
    w.routes.delete(key)
    return { kind: 'route', op: 'del', ns: key.startsWith(NESTED) ? NESTED : SYSTEM_NS, item, why: 'unwanted' }
  }
  if (roll === 17) return { kind: 'rule', op: rnd.int(2) === 0 ? 'add' : 'del', ns, item: rnd.int(2) === 0 ? { table: TABLE_NTK } : { table: ntkFromTable(MACS[rnd.int(2)]), fwmarkOf: ntkFromTable(MACS[rnd.int(2)]) }, why: 'missing' }
  if (roll === 18) return { kind: 'mark', op: rnd.int(2) === 0 ? 'add' : 'del', ns, item: { mac: MACS[rnd.int(MACS.length)].toLowerCase(), markOf: ntkFromTable(MACS[rnd.int(2)]) }, why: 'missing' }
  return { kind: 'address', op: rnd.int(3) === 0 ? 'del' : 'add', ns, item: { dev, ip: ipText(randomIp(rnd)) }, why: 'missing' }
}

async function newWorld (seed: number): Promise<World> {
  const allocator = new TableAllocator()
  for (const m of MACS.slice(0, 2)) allocator.acquire('test', m)
  const k = new InMemoryKernel({ allocator, devices: ['eth1'] })
  const connected = (ns: string, dev: string): Op => ({ kind: 'route', op: 'add', ns, item: { table: TABLE_MAIN, dst: '169.254.0.0/16', type: 'unicast', dev }, why: 'missing' })
  k.applyOps([
    { kind: 'address', op: 'add', ns: SYSTEM_NS, item: { dev: 'eth1', ip: '10.0.0.1' }, why: 'missing' },
    connected(SYSTEM_NS, 'eth1'),
    { kind: 'netns', op: 'add', ns: NESTED, why: 'missing' },
    { kind: 'pseudo', op: 'add', ns: NESTED, item: { name: PSEUDO, parent: 'eth1', mac: MACS[2] }, why: 'missing' },
    { kind: 'address', op: 'add', ns: NESTED, item: { dev: PSEUDO, ip: '10.0.0.1' }, why: 'missing' },
    connected(NESTED, PSEUDO)
  ])
  return { k, routes: new Map(), rnd: new SeededRandom(seed) }
}

test('nextHop answers as the scan of every route did, on random tables, rules, marks and namespaces', async t => {
  let compared = 0
  let routed = 0
  for (let seed = 1; seed <= 20; seed++) {
    const w = await newWorld(seed)
    for (let step = 0; step < 300; step++) {
      const op = randomOp(w)
      if (op !== undefined) try { w.k.applyOps([op]) } catch { /* refused as Linux would (exists, missing): no change */ }
      if (op?.kind === 'route' && op.op !== 'del') w.routes.set(`${op.ns} ${op.item.table} ${op.item.dst}`, op.item)
      // the kernel is the truth of which routes exist (a refused add or delete left it as it was)
      const state = await w.k.read()
      w.routes = new Map([...state.namespaces].flatMap(([ns, n]) => n.routes.filter(r => r.table !== TABLE_MAIN || r.dst !== '169.254.0.0/16').map(r => [`${ns} ${r.table} ${r.dst}`, r] as [string, RouteItem])))
      for (let q = 0; q < 8; q++) {
        const ip = ipText(randomIp(w.rnd))
        const arrivals = [undefined, { nic: 'eth1' }, { nic: 'eth1', fromMac: MACS[w.rnd.int(3)] }, { nic: PSEUDO, fromMac: MACS[w.rnd.int(3)].toLowerCase() }, { nic: 'eth1', fromMac: '02:00:00:00:00:99' }]
        const arrival = arrivals[w.rnd.int(arrivals.length)]
        const want = scanNextHop(state, ip, arrival)
        const got = w.k.nextHop(ip, arrival)
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          t.fail(`seed ${seed} step ${step}: ${ip} arriving ${JSON.stringify(arrival)}: nextHop ${JSON.stringify(got)}, scan ${JSON.stringify(want)}`)
          return
        }
        compared++
        if (want !== null && want !== 'local') routed++
      }
    }
  }
  t.is(compared, 20 * 300 * 8)
  // the tables were not trivially empty: a good share of the lookups found a gateway
  t.true(routed > compared / 10, `only ${routed} of ${compared} lookups found a route`)
})

test('nextHop takes the longest prefix, follows replaces and deletes, and ignores a prefix with host bits set', t => {
  const allocator = new TableAllocator()
  const k = new InMemoryKernel({ allocator, devices: ['eth1'] })
  const route = (op: 'add' | 'replace' | 'del', dst: string, via = '169.254.1.1'): Op => ({ kind: 'route', op, ns: SYSTEM_NS, item: { table: TABLE_NTK, dst, type: 'unicast', via, dev: 'eth1' }, why: 'missing' })
  k.applyOps([
    { kind: 'route', op: 'add', ns: SYSTEM_NS, item: { table: TABLE_MAIN, dst: '169.254.0.0/16', type: 'unicast', dev: 'eth1' }, why: 'missing' },
    { kind: 'rule', op: 'add', ns: SYSTEM_NS, item: { table: TABLE_NTK }, why: 'missing' },
    route('add', '10.0.0.0/8', '169.254.1.1'),
    route('add', '10.1.0.0/16', '169.254.1.2'),
    route('add', '10.1.2.3/16', '169.254.1.3')
  ])
  t.deepEqual(k.nextHop('10.1.2.3'), { nic: 'eth1', via: '169.254.1.2' })
  t.deepEqual(k.nextHop('10.2.0.1'), { nic: 'eth1', via: '169.254.1.1' })
  k.applyOps([route('replace', '10.1.0.0/16', '169.254.1.4')])
  t.deepEqual(k.nextHop('10.1.2.3'), { nic: 'eth1', via: '169.254.1.4' })
  k.applyOps([route('del', '10.1.0.0/16')])
  t.deepEqual(k.nextHop('10.1.2.3'), { nic: 'eth1', via: '169.254.1.1' })
  k.applyOps([{ kind: 'route', op: 'add', ns: SYSTEM_NS, item: { table: TABLE_NTK, dst: '10.1.2.0/24', type: 'unreachable' }, why: 'missing' }])
  t.is(k.nextHop('10.1.2.3'), null)
  t.is(k.nextHop('11.0.0.1'), null)
})
