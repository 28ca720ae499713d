// Kernel apply times of the largest layout (2,4,8,8 bits: 528 destinations, one ntk table and four ntk_from tables)
// in a throwaway namespace; prints a markdown table. Needs root.
// Usage: npx ts-node --transpile-only bench/kernel-apply.ts [--runs 5]
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { Topology, parseNaddr } from '../daemon/src/addressing'
import { LinuxKernel, SYSTEM_NS, TableAllocator, plan, type KernelState, type NamespaceState, type RouteItem } from '../daemon/src/kernel'
import { type NeighbourArc, type Path, destinationSet, hcKey, mainIdentityState } from '../daemon/src/routes'

const sh = (...argv: string[]): string => execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' })

function largestState (): KernelState {
  const topology = Topology.fromBits([2, 4, 8, 8])
  const naddr = parseNaddr('1·2·3·4')
  const nic = { name: 'eth1', mac: '00:16:3E:1A:C4:45', linkLocal: '169.254.253.216' }
  const arcs: NeighbourArc[] = [
    { dev: 'eth1', peerMac: '00:16:3E:00:00:01', peerLinkLocal: '169.254.0.1', peerNaddr: parseNaddr('1·2·3·5') },
    { dev: 'eth1', peerMac: '00:16:3E:00:00:02', peerLinkLocal: '169.254.0.2', peerNaddr: parseNaddr('1·2·4·1') },
    { dev: 'eth1', peerMac: '00:16:3E:00:00:03', peerLinkLocal: '169.254.0.3', peerNaddr: parseNaddr('1·3·0·0') },
    { dev: 'eth1', peerMac: '00:16:3E:00:00:04', peerLinkLocal: '169.254.0.4', peerNaddr: parseNaddr('2·0·0·0') }
  ]
  const paths = new Map<string, Path[]>()
  destinationSet({ topology, naddr, main: true }).forEach((d, i) => {
    paths.set(hcKey(d.hc), [0, 1].map(k => ({ viaMac: arcs[(i + k) % 4].peerMac, hops: [{ lvl: d.hc.lvl, pos: d.hc.pos }] })))
  })
  return { namespaces: new Map([[SYSTEM_NS, mainIdentityState({ topology, naddr, nics: [nic], serveAnonymous: true, arcs, paths })]]) }
}

function oneRouteChanged (s: KernelState, flip: boolean): KernelState {
  const n = s.namespaces.get(SYSTEM_NS) as NamespaceState
  let done = false
  const routes = n.routes.map((r): RouteItem => {
    if (done || r.table !== 'ntk' || r.type !== 'unicast') return r
    done = true
    return flip ? { ...r, via: r.via === '169.254.0.1' ? '169.254.0.2' : '169.254.0.1' } : r
  })
  return { namespaces: new Map([[SYSTEM_NS, { ...n, routes }]]) }
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } })
  const runs = Number(values.runs)
  const desired = largestState()
  const n = desired.namespaces.get(SYSTEM_NS) as NamespaceState
  const rows: string[] = []
  const first: number[] = []
  const change: number[] = []
  const noop: number[] = []
  const rescan: number[] = []
  let firstCmds = 0
  let changeCmds = 0
  for (let run = 0; run < runs; run++) {
    const ns = `ntkb-${randomBytes(3).toString('hex')}`
    try {
      sh('ip', 'netns', 'add', ns)
      sh('ip', '-n', ns, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'peer1')
      sh('ip', '-n', ns, 'link', 'set', 'eth1', 'up')
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
      const kernel = new LinuxKernel({ allocator: new TableAllocator(), netns: ns, nestedPrefix: `${ns}-` })
      const a = await kernel.apply(desired)
      first.push(a.ms); firstCmds = a.commands
      const b = await kernel.apply(oneRouteChanged(desired, true))
      change.push(b.ms); changeCmds = b.commands
      if (b.ops !== 1) throw new Error(`one-route change planned ${b.ops} ops`)
      const c = await kernel.apply(oneRouteChanged(desired, true))
      noop.push(c.ms)
      if (c.commands !== 0) throw new Error(`repeated apply ran ${c.commands} commands`)
      const d = await kernel.apply(oneRouteChanged(desired, true), { rescan: true })
      rescan.push(d.ms)
      if (d.commands !== 0) throw new Error(`rescanned apply ran ${d.commands} commands`)
      await kernel.close()
    } finally {
      try { sh('ip', 'netns', 'del', ns) } catch { /* not created */ }
    }
  }
  const t0 = performance.now()
  const ops = plan(desired, { namespaces: new Map([[SYSTEM_NS, n]]) })
  const planMs = performance.now() - t0
  const med = (xs: number[]): string => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)].toFixed(1)
  const max = (xs: number[]): string => Math.max(...xs).toFixed(1)
  const tables = new Set(n.routes.map(r => r.table))
  rows.push('| case | routes | tables | commands | median ms | max ms | target |')
  rows.push('|---|---:|---:|---:|---:|---:|---|')
  rows.push(`| first apply (read + plan + ip -batch + iptables-restore + sysctl) | ${n.routes.length} | ${tables.size} | ${firstCmds} | ${med(first)} | ${max(first)} | ≤ 1000 ms |`)
  rows.push(`| one-route change (plan against the last apply + ip -batch session) | 1 | 1 | ${changeCmds} | ${med(change)} | ${max(change)} | ≤ 20 ms |`)
  rows.push(`| repeated apply, nothing to do (plan only) | 0 | 0 | 0 | ${med(noop)} | ${max(noop)} | 0 commands |`)
  rows.push(`| repeated apply with rescan (ip -j read + iptables-save + plan) | 0 | 0 | 0 | ${med(rescan)} | ${max(rescan)} | 0 commands |`)
  rows.push(`| plan() alone, desired vs identical actual | ${n.routes.length} | - | 0 | ${planMs.toFixed(1)} | - | ${ops.length} ops |`)
  console.log(`Largest layout 2,4,8,8 bits, ${runs} runs, ${n.routes.length} routes (528 destinations x CIDRs x 5 tables):\n`)
  console.log(rows.join('\n'))
}

main().catch(err => { console.error(err); process.exitCode = 1 })
