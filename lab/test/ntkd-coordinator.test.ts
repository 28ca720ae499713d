import test from 'ava'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { deployLab, type RunningLab } from '../src/lab'
import { defaultKinds, loadTopology } from '../src/topology'
import { ntkctlArgv } from '../src/topology/kinds/ntkd'
import type { ResolvedLab } from '../src/topology/model'
import { backendMissing, checkedBackend, leftovers, runnableIf, uniqueLabName } from './helpers/lab-fixture'
import { expectedCoordinator } from '../../daemon/test/helpers/peers-oracle'
import type { TopologySpec } from '../../daemon/src/sim/topologies'
import type { CoordinatorView } from '../../daemon/src/node/peers-attach'

// Real ntkd daemons on the netns backend: PeerServices and the Coordinator over the kernel's routes (the contact back
// is a TCP connection to the client's internal 10.x address). `ntkctl coordinator` on every node names, per level,
// the servant the spec prescribes (the node nearest to 0·…·0 inside that g-node) and the g-node's number of nodes;
// when the network Coordinator's daemon stops, the role moves to the next node and the shared memory stays.
const dir = path.join(__dirname, '..', '..', 'topologies')

/** The lab's nodes as the PeerServices oracle takes them (positions level 0 first). */
function specOf (lab: ResolvedLab): TopologySpec {
  const first = lab.nodes[0].config as { topology: number[] }
  const gsizes = [...first.topology].reverse().map(b => 2 ** b)
  return {
    gsizes,
    nodes: lab.nodes.map(n => ({ name: n.name, naddr: String((n.config as { address: string }).address).split('.').map(Number).reverse() })),
    links: []
  }
}

async function views (lab: RunningLab, names: readonly string[]): Promise<Map<string, CoordinatorView | string>> {
  const out = new Map<string, CoordinatorView | string>()
  await Promise.all(names.map(async n => {
    const r = await lab.exec(n, ntkctlArgv(['--json', 'coordinator']), { check: false })
    out.set(n, r.code === 0 ? JSON.parse(r.stdout) as CoordinatorView : `exit ${r.code}: ${r.stderr.trim()}`)
  }))
  return out
}

/** What is wrong with the nodes' views (empty: every node names the prescribed servant and count per level). */
function problems (spec: TopologySpec, got: Map<string, CoordinatorView | string>, live: (n: string) => boolean): string[] {
  const wrong: string[] = []
  const dotted = (naddr: readonly number[]): string => [...naddr].reverse().join('.')
  for (const [name, v] of got) {
    if (typeof v === 'string') { wrong.push(`${name}: ${v}`); continue }
    const me = spec.nodes.find(n => n.name === name)!
    for (const l of v.levels) {
      const want = dotted(expectedCoordinator(spec, name, l.lvl, n => live(n.name))?.naddr ?? [])
      const members = spec.nodes.filter(n => live(n.name) && n.naddr.slice(l.lvl).join('.') === me.naddr.slice(l.lvl).join('.')).length
      if (l.servant !== want || l.nodesInside !== members) wrong.push(`${name} level ${l.lvl}: servant ${l.servant ?? l.error ?? '?'} nodes ${String(l.nodesInside)}, expected ${want} nodes ${members}`)
    }
  }
  return wrong
}

async function until (what: string, budgetMs: number, check: () => Promise<string[]>): Promise<string[]> {
  const deadline = Date.now() + budgetMs
  let last: string[] = []
  for (;;) {
    last = await check()
    if (last.length === 0 || Date.now() >= deadline) return last.map(l => `${what}: ${l}`)
    await new Promise(resolve => setTimeout(resolve, 1000))
  }
}

for (const file of ['ntkd-ring6.yaml', 'ntkd-grid3x3.yaml']) {
  const title = `netns: ${file}: ntkctl coordinator on every node names the same servant per g-node and its count; stopping the network's servant moves the role and keeps the memory`
  runnableIf(test.serial, backendMissing('netns'))(title, async t => {
    const backend = await checkedBackend('netns')
    const base = loadTopology(path.join(dir, file), defaultKinds())
    const lab0: ResolvedLab = { ...base, name: uniqueLabName('ntkc') }
    const spec = specOf(lab0)
    const names = spec.nodes.map(n => n.name)
    const levels = spec.gsizes.length
    let lab: RunningLab | undefined
    const pids: number[] = []
    t.teardown(async () => {
      await lab?.destroy().catch(() => {})
      await backend.removeLab(lab0.name).catch(() => {})
    })
    lab = await deployLab(lab0, backend)
    for (const n of lab.nodes.values()) pids.push(n.pid)
    try {
      const started = Date.now()
      t.deepEqual(await until('converged', 120_000, async () => problems(spec, await views(lab!, names), () => true)), [])
      t.log(`every node names the prescribed servants ${Date.now() - started} ms after deploy`)

      // a booking in the whole network's memory, made from the node farthest from its servant
      const top = expectedCoordinator(spec, names[0], levels)!
      const client = names.find(n => n !== top.name && !spec.nodes.find(x => x.name === n)!.naddr.slice(1).every((p, k) => p === top.naddr[k + 1]))!
      const r = await lab.exec(client, ntkctlArgv(['--json', 'coordinator', 'reserve', String(levels), '77']))
      const booked = JSON.parse(r.stdout) as { newPos: number, newEldership: number }
      // replicas: the next node nearest to 0·…·0 holds a copy
      const next = expectedCoordinator(spec, names[0], levels, n => n.name !== top.name)!
      t.deepEqual(await until('replicated', 30_000, async () => {
        const v = (await views(lab!, [next.name])).get(next.name)
        const copy = typeof v === 'string' ? undefined : v?.levels.find(l => l.lvl === levels)
        return copy?.localCopy === true ? [] : [`${next.name} holds no copy yet`]
      }), [])

      const t0 = Date.now()
      await lab.stopNode(top.name)
      const live = (n: string): boolean => n !== top.name
      const survivors = names.filter(live)
      t.deepEqual(await until('after stop', 60_000, async () => {
        const got = await views(lab!, survivors)
        const wrong = problems(spec, got, live)
        for (const [name, v] of got) {
          if (typeof v === 'string') continue
          const mem = v.levels.find(l => l.lvl === levels)
          if (mem?.reservations.length !== 1 || mem.reservations[0].reserveRequestId !== 77 || mem.reservations[0].newPos !== booked.newPos) wrong.push(`${name}: the network's memory holds ${JSON.stringify(mem?.reservations ?? null)}`)
        }
        return wrong
      }), [])
      t.log(`${top.name} stopped: ${next.name} serves the network with the booking, seen by every node ${Date.now() - t0} ms later`)
      // the same id gets the same booking from the new servant
      const again = JSON.parse((await lab.exec(client, ntkctlArgv(['--json', 'coordinator', 'reserve', String(levels), '77']))).stdout) as unknown
      t.deepEqual(again, booked)
    } catch (e) {
      for (const n of names) t.log(`--- ${n} log\n${(await readFile(lab.logFile(n) ?? '/dev/null', 'utf8').catch(() => '')).slice(-2000)}`)
      throw e
    }
    await lab.destroy()
    lab = undefined
    t.deepEqual(await leftovers(lab0.name, pids), [])
  })
}
