import { canonicalState } from '../../../src/kernel'
import type { TopologySpec } from '../../../src/sim/topologies'
import { type DaemonNetwork, runFor, startSpec } from '../inprocess-network'
import { kernelProblems, mapProblems } from '../daemon-checks'
import { RouteOracle } from '../route-oracle'

/**
 * The network the fuzzer attacks: topologies/ntkd-ring6.yaml in process (4·2·2·2, addresses spanning g-nodes at
 * every level, fixed costs all different so every best path is unique). Level 0 first here.
 */
export const RING6: TopologySpec = {
  gsizes: [2, 2, 2, 4],
  nodes: [
    { name: 'a', naddr: [1, 0, 1, 3] },
    { name: 'b', naddr: [0, 0, 1, 3] },
    { name: 'c', naddr: [0, 1, 1, 3] },
    { name: 'd', naddr: [0, 1, 0, 3] },
    { name: 'e', naddr: [0, 0, 0, 1] },
    { name: 'f', naddr: [0, 0, 1, 1] }
  ],
  links: [
    { a: 'a', b: 'b', cost: 1000 },
    { a: 'b', b: 'c', cost: 1200 },
    { a: 'c', b: 'd', cost: 1500 },
    { a: 'd', b: 'e', cost: 2000 },
    { a: 'e', b: 'f', cost: 1100 },
    { a: 'f', b: 'a', cost: 1250 }
  ]
}

/** Starts the ring with a network key and lets it form; throws when its maps or kernels are not the truth. */
export async function startRing (seed: number, networkKey: string, log?: (node: string, line: string) => void): Promise<DaemonNetwork> {
  const dn = await startSpec(RING6, { seed, networkKey, ...(log === undefined ? {} : { log }) })
  await runFor(dn.clock, 20_000)
  await dn.syncKernels()
  const oracle = RouteOracle.ofSpec(RING6)
  const problems = [...mapProblems(dn, oracle), ...await kernelProblems(dn, oracle)]
  if (problems.length > 0) throw new Error(`the ring did not form:\n${problems.join('\n')}`)
  return dn
}

/**
 * Everything the fuzz must not change, per daemon, as text: arcs, identities, the map (paths by neighbour arc, cost
 * and hops; QSPN's random arc ids are left out, they differ after an arc is made again) and the kernel state.
 */
export async function observable (dn: DaemonNetwork): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const d of dn.list()) {
    const st = d.node.status()
    out.set(d.name, JSON.stringify({
      arcs: d.node.arcs(),
      identities: d.node.identities(),
      nics: st.nics,
      bootstrap: st.bootstrapComplete,
      map: d.node.map(),
      kernel: canonicalState(await d.kernel.read(d.node.desiredState()))
    }))
  }
  return out
}

/** Per daemon, where two observations differ (the first differing characters in context), empty when equal. */
export function differences (want: Map<string, string>, have: Map<string, string>): string[] {
  const out: string[] = []
  for (const [name, w] of want) {
    const h = have.get(name)
    if (h === w) continue
    if (h === undefined) { out.push(`${name}: missing`); continue }
    let k = 0
    while (k < w.length && w[k] === h[k]) k++
    out.push(`${name}: differs at ${k}: want …${w.slice(Math.max(0, k - 80), k + 120)}… have …${h.slice(Math.max(0, k - 80), k + 120)}…`)
  }
  return out
}
