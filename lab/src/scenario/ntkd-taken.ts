import { readFile } from 'node:fs/promises'
import type { NodeSpec, ResolvedLab } from '../topology/model'
import { ntkctlArgv } from '../topology/kinds/ntkd'
import { controlQuery, hostControlSocket } from './ntkd-control'
import { mapBounded } from '../util/pool'
import { components, type LabState } from './lab-state'
import type { ScenarioLab } from './scenario-lab'

/**
 * ntkd nodes started without `config.address` take one by themselves (Hooking, spec §6.3), and those of a configured
 * network may take another when their network enters a bigger one, so the expectations
 * that need addresses (the `ntk` table model, the ping targets) are computed from the addresses the daemons took,
 * read through `ntkctl status --json` at check time. Only the address is read from the daemon: the model still
 * computes destinations, CIDRs and routes from the spec on its own.
 */

/** What `ntkctl status --json` tells about one node (the parts the lab reads). */
export interface NtkdStatus {
  readonly address: string
  readonly networkId: number | null
  readonly identities: ReadonlyArray<{ readonly kind: string }>
}

/**
 * Whether the lab reads the node's address from its daemon: none configured, or a configured one that Hooking may
 * change (a configured network id, or qspnArcs hooking: the node's network may enter another and take new addresses).
 */
export const addressFromDaemon = (n: NodeSpec): boolean => n.kind === 'ntkd' && (n.config.address === undefined || n.config.networkId !== undefined || n.config.qspnArcs === 'hooking')

/**
 * The status of each named node's daemon; a node whose daemon does not answer gets an error line instead.
 * `socketOf`: where the host sees a daemon's control socket (tests give their own).
 */
export async function ntkdStatuses (lab: ScenarioLab, nodes: readonly string[], concurrency = 8, socketOf = hostControlSocket): Promise<Map<string, NtkdStatus | string>> {
  const out = await mapBounded([...nodes], concurrency, async n => {
    // straight to the daemon's socket when the host sees it (netns backend); else ntkctl inside the node. A daemon
    // that answers wrongly or not in time is not asked again through ntkctl: on a loaded machine that started a
    // Node.js process per slow daemon and check, slowing every daemon further (lab 2x25 formations)
    const pid = lab.nodes?.get(n)?.pid
    const direct = pid === undefined ? undefined : await socketOf(pid)
    if (direct !== undefined) {
      try {
        const s = await controlQuery(direct, 'status') as NtkdStatus
        return typeof s?.address === 'string' ? s : `${n}: ntkd status gave no address`
      } catch (e) { return `${n}: ${(e as Error).message}${await fatalLine(lab, n)}` }
    }
    const r = await lab.exec(n, ntkctlArgv(['--json', 'status']), { check: false })
    if (r.code !== 0) return `${n}: ntkctl status failed (${r.code}): ${(r.stderr ?? r.stdout ?? '').trim().slice(0, 200)}${await fatalLine(lab, n)}`
    try {
      const s = JSON.parse(r.stdout) as NtkdStatus
      if (typeof s.address !== 'string') return `${n}: ntkctl status gave no address`
      return s
    } catch { return `${n}: ntkctl status is not JSON: ${r.stdout.slice(0, 120)}` }
  })
  return new Map(nodes.map((n, i) => [n, out[i]]))
}

/** The daemon's fatal line from the node's log (a daemon that died at start says why there), or nothing. */
async function fatalLine (lab: ScenarioLab, node: string): Promise<string> {
  const file = lab.logFile(node)
  if (file === undefined) return ''
  const text = await readFile(file, 'utf8').catch(() => '')
  const fatal = text.split('\n').filter(l => /ntkd fatal|^ntkd: /.test(l)).pop()
  return fatal === undefined ? '' : ` (its log: ${fatal.trim().slice(0, 300)})`
}

/**
 * The lab's spec with the address each running unaddressed ntkd took (positions top level first, as config.address
 * is written). A node that has not settled on a real address yet (a position beyond its g-node's size: a
 * connectivity or entering identity) is a problem, and the spec is then not usable for expectations.
 */
export async function withTakenAddresses (lab: ScenarioLab, running: ReadonlySet<string>): Promise<{ spec: ResolvedLab, problems: string[] }> {
  const spec = lab.spec
  const need = spec.nodes.filter(n => addressFromDaemon(n) && running.has(n.name))
  if (need.length === 0) return { spec, problems: [] }
  const statuses = await ntkdStatuses(lab, need.map(n => n.name))
  const problems: string[] = []
  const taken = new Map<string, string>()
  for (const n of need) {
    const s = statuses.get(n.name)
    if (typeof s === 'string' || s === undefined) { problems.push(s ?? `${n.name}: no status`); continue }
    const bits = (n.config.topology as number[]).map(Number)
    const positions = s.address.split('.').map(Number)
    if (positions.length !== bits.length || positions.some((p, i) => !Number.isInteger(p) || p >= 2 ** bits[i])) {
      problems.push(`${n.name}: address ${s.address} is not a real address of the topology yet`)
      continue
    }
    taken.set(n.name, s.address)
  }
  const nodes = spec.nodes.map(n => taken.has(n.name) ? { ...n, config: { ...n.config, address: taken.get(n.name) } } : n)
  return { spec: { ...spec, nodes }, problems }
}

/**
 * `network: single`: the running ntkd nodes of each connected component share one network id, and two components
 * never share one (a network cut in two becomes two networks). Lines name what differs.
 */
export async function networkProblems (lab: ScenarioLab, state: LabState): Promise<string[]> {
  const ntkd = new Set(lab.spec.nodes.filter(n => n.kind === 'ntkd' && !state.stopped.has(n.name)).map(n => n.name))
  const statuses = await ntkdStatuses(lab, [...ntkd])
  const lines: string[] = []
  const owner = new Map<number, number>()
  components(lab.spec, state).map(c => c.filter(n => ntkd.has(n))).filter(c => c.length > 0).forEach((comp, k) => {
    const ids = new Map<string, string[]>()
    for (const n of comp) {
      const s = statuses.get(n)
      if (typeof s === 'string' || s === undefined) { lines.push(s ?? `${n}: no status`); continue }
      const id = s.networkId === null ? 'unknown' : String(s.networkId)
      ids.set(id, [...(ids.get(id) ?? []), n])
    }
    if (ids.size > 1) lines.push(`component {${comp.join(', ')}} holds ${ids.size} networks: ${[...ids].map(([id, ns]) => `${id} (${ns.join(', ')})`).join('; ')}`)
    for (const id of ids.keys()) {
      if (id === 'unknown') { lines.push(`${(ids.get(id) ?? []).join(', ')}: network id not known yet`); continue }
      const other = owner.get(Number(id))
      if (other !== undefined && other !== k) lines.push(`network ${id} spans two components that are not linked`)
      owner.set(Number(id), k)
    }
  })
  return lines
}

/** `identities: main`: every running ntkd node holds its main identity only (no connectivity identity left). */
export async function identityProblems (lab: ScenarioLab, state: LabState): Promise<string[]> {
  const ntkd = lab.spec.nodes.filter(n => n.kind === 'ntkd' && !state.stopped.has(n.name)).map(n => n.name)
  const statuses = await ntkdStatuses(lab, ntkd)
  const lines: string[] = []
  for (const n of ntkd) {
    const s = statuses.get(n)
    if (typeof s === 'string' || s === undefined) { lines.push(s ?? `${n}: no status`); continue }
    const others = s.identities.filter(i => i.kind !== 'main')
    if (others.length > 0 || s.identities.length !== 1) lines.push(`${n}: ${s.identities.length} identities (${s.identities.map(i => i.kind).join(', ')})`)
  }
  return lines
}
