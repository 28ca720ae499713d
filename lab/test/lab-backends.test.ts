import test from 'ava'
import path from 'node:path'
import { loadTopology } from '../src/topology'
import { deployLab } from '../src/lab'
import type { ResolvedLab } from '../src/topology/model'
import { backendMissing, checkedBackend, firstMissing, leftovers, linkAddresses, missingTools, pings, pingsWithin, runnableIf, uniqueLabName } from './helpers/lab-fixture'

// The same behaviour is required of every backend (a compliance suite, STYLE.md §5).
const root = path.join(__dirname, '..', '..')

for (const backendName of ['netns', 'docker'] as const) {
  const serial = runnableIf(test.serial, firstMissing(backendMissing(backendName), missingTools('ping')))
  for (const file of ['line3.yaml', 'ring4.yaml']) {
    serial(`${backendName}: ${file}: neighbours ping, non-neighbours do not, link down/up, destroy leaves nothing`, async t => {
      const backend = await checkedBackend(backendName)
      const spec: ResolvedLab = { ...loadTopology(path.join(root, 'topologies', file)), name: uniqueLabName(backendName === 'netns' ? 'tn' : 'td') }
      const pids: number[] = []
      t.teardown(async () => { await backend.removeLab(spec.name) })
      const lab = await deployLab(spec, backend)
      for (const n of lab.nodes.values()) pids.push(n.pid)
      try {
        const links = linkAddresses(spec)
        // Neighbours: both directions over every link.
        for (const l of links) {
          t.true(await pingsWithin(lab, l.aNode, l.b, 5000), `${l.aNode} pings ${l.bNode} at ${l.b} over ${l.link}`)
          t.true(await pings(lab, l.bNode, l.a), `${l.bNode} pings ${l.aNode} at ${l.a} over ${l.link}`)
        }
        // Non-neighbours: no daemon runs, so nobody routes for anybody else.
        const neighbours = new Set(links.flatMap(l => [`${l.aNode}>${l.bNode}`, `${l.bNode}>${l.aNode}`]))
        for (const from of spec.nodes) {
          for (const l of links) {
            for (const [owner, addr] of [[l.aNode, l.a], [l.bNode, l.b]] as const) {
              if (owner === from.name || neighbours.has(`${from.name}>${owner}`)) continue
              t.false(await pings(lab, from.name, addr), `${from.name} must not reach non-neighbour ${owner} at ${addr}`)
            }
          }
        }
        // A link taken down stops the ping; up again restores it.
        const first = links[0]
        await lab.setLinkState(first.link, 'down')
        t.false(await pings(lab, first.aNode, first.b), `${first.link} down: no ping`)
        const obs = await lab.observe(first.aNode)
        const ifname = spec.links[0].endpoints[0].ifname
        t.is(obs.links.find(x => x.ifname === ifname)?.state, 'DOWN', 'the interface is down as seen from the host')
        await lab.setLinkState(first.link, 'up')
        t.true(await pingsWithin(lab, first.aNode, first.b, 5000), `${first.link} up again: ping restored`)
      } finally {
        await lab.destroy()
      }
      await lab.destroy() // idempotent
      t.deepEqual(await leftovers(spec.name, pids), [], 'destroy leaves no namespace, mount, container or process')
    })
  }
}
