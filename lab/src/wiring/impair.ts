import { randomBytes } from 'node:crypto'
import type { NodeHandle } from '../backend/backend'
import type { Impairment, ResolvedLab } from '../topology/model'
import { run, type RunResult } from '../util/exec'
import { findLink, linkEnds, netnsPath, type LinkEnd } from './endpoints'
import { ImpairmentUnsupportedError, InvalidImpairmentError, WiringError } from './errors'

/**
 * What this machine can do for impairments. netem (loss and rate in one qdisc) is the first
 * choice; without it (our development machines), loss is an iptables `statistic` drop rule and
 * rate a tbf qdisc.
 */
export interface ImpairmentSupport {
  netem: boolean
  tbf: boolean
  statistic: boolean
  /** `iptables -V` as seen inside a fresh namespace, e.g. "iptables v1.8.9 (nf_tables)". */
  iptables: string
  /** Why a feature is missing, by feature name (the kernel's or the tool's message). */
  reason: Record<string, string>
}

export interface ImpairOptions {
  signal?: AbortSignal
  /** Result of probeImpairments(); absent: netem is tried first and the fallbacks on "unknown qdisc". */
  support?: ImpairmentSupport
  /** iptables front end used for loss rules (default "iptables", the Debian alternative). */
  iptables?: string
}

/** Prefix of the per-interface filter chain holding our drop rule; the name marks it as ours. */
export const LOSS_CHAIN_PREFIX = 'NTKLAB-LOSS-'

/**
 * Probes netem, tbf and the iptables statistic match inside a throwaway namespace
 * `ntklab-probe-<random>` with a veth pair; the namespace is removed before this returns.
 */
export async function probeImpairments (o: { signal?: AbortSignal, iptables?: string } = {}): Promise<ImpairmentSupport> {
  const ns = `ntklab-probe-${randomBytes(4).toString('hex')}`
  const ipt = o.iptables ?? 'iptables'
  const reason: Record<string, string> = {}
  const attempt = async (feature: string, argv: string[]): Promise<boolean> => {
    const r = await run(argv, { signal: o.signal, check: false })
    if (r.code !== 0) reason[feature] = (r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`).split('\n')[0]
    return r.code === 0
  }
  await run(['ip', 'netns', 'add', ns], { signal: o.signal })
  try {
    await run(['ip', '-n', ns, '-batch', '-'], { input: 'link add ntkp0 type veth peer name ntkp1\nlink set dev ntkp0 up\nlink set dev ntkp1 up\n', signal: o.signal })
    const netem = await attempt('netem', ['tc', '-n', ns, 'qdisc', 'replace', 'dev', 'ntkp0', 'root', 'netem', 'loss', '1%'])
    const tbf = await attempt('tbf', ['tc', '-n', ns, 'qdisc', 'replace', 'dev', 'ntkp1', 'root', 'tbf', 'rate', '1mbit', 'burst', '4096', 'latency', '50ms'])
    const statistic = await attempt('statistic', ['nsenter', `--net=/run/netns/${ns}`, '--', ipt, '-w', '-t', 'filter', '-A', 'OUTPUT', '-o', 'ntkp0',
      '-m', 'statistic', '--mode', 'random', '--probability', '0.5', '-j', 'DROP'])
    const v = await run(['nsenter', `--net=/run/netns/${ns}`, '--', ipt, '-V'], { signal: o.signal, check: false })
    return { netem, tbf, statistic, iptables: (v.stdout.trim() || v.stderr.trim()).split('\n')[0], reason }
  } finally {
    // Deleting the namespace removes the veths, qdiscs and the iptables rule with it.
    await run(['ip', 'netns', 'delete', ns], { check: false })
  }
}

/**
 * Applies an impairment on egress of both ends of a link, replacing whatever impairment was there;
 * `undefined` (or an empty impairment) clears it. Only our own qdisc on the interface's root and our
 * own chain are touched. A missing feature raises ImpairmentUnsupportedError.
 */
export async function applyImpairment (lab: ResolvedLab, nodes: ReadonlyMap<string, NodeHandle>, linkId: string, imp: Impairment | undefined, o: ImpairOptions = {}): Promise<void> {
  const link = findLink(lab, linkId)
  if (link.segment !== undefined) throw new InvalidImpairmentError(linkId, `a pair of radio segment ${link.segment} cannot be impaired (impairments apply to veth links: they shape a whole interface, which a segment shares among its pairs)`)
  const ends = linkEnds(lab, nodes, link)
  const plan = planImpairment(linkId, imp)
  await Promise.all(ends.map(async e => { await impairEnd(linkId, e, plan, o) }))
}

interface ImpairPlan {
  /** Drop probability 0..1 (0: no loss). */
  loss: number
  rate?: { text: string, bytesPerSecond: number }
}

function planImpairment (linkId: string, imp: Impairment | undefined): ImpairPlan {
  const loss = imp?.loss ?? 0
  if (!Number.isFinite(loss) || loss < 0 || loss > 100) throw new InvalidImpairmentError(linkId, `loss ${loss} is not a percentage between 0 and 100`)
  const plan: ImpairPlan = { loss: loss / 100 }
  if (imp?.rate !== undefined) {
    const bytesPerSecond = parseTcRate(imp.rate)
    if (bytesPerSecond === undefined || bytesPerSecond <= 0) throw new InvalidImpairmentError(linkId, `rate "${imp.rate}" is not a tc rate (e.g. 512kbit, 10mbit, 1gbit, 100kbps)`)
    plan.rate = { text: imp.rate, bytesPerSecond }
  }
  return plan
}

const RATE_UNITS: Record<string, number> = {
  bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, tbit: 1e12, kibit: 1024, mibit: 1024 ** 2, gibit: 1024 ** 3, tibit: 1024 ** 4,
  bps: 8, kbps: 8e3, mbps: 8e6, gbps: 8e9, tbps: 8e12, kibps: 8 * 1024, mibps: 8 * 1024 ** 2, gibps: 8 * 1024 ** 3, tibps: 8 * 1024 ** 4
}

/** A tc rate ("10mbit", "512kbit", "100kbps", a bare number of bits/s) in bytes per second. */
export function parseTcRate (text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([a-z]*)$/i.exec(text.trim())
  if (m === null) return undefined
  const unit = m[2].toLowerCase() === '' ? 'bit' : m[2].toLowerCase()
  const bits = RATE_UNITS[unit]
  return bits === undefined ? undefined : Number(m[1]) * bits / 8
}

async function impairEnd (linkId: string, e: LinkEnd, plan: ImpairPlan, o: ImpairOptions): Promise<void> {
  const where = `link ${linkId} at ${e.node.name}:${e.ifname}`
  await clearQdisc(e, o.signal)
  await setLossRule(e, 0, o)
  if (plan.loss === 0 && plan.rate === undefined) return

  if (o.support?.netem !== false) {
    const args = ['netem']
    if (plan.loss > 0) args.push('loss', `${plan.loss * 100}%`)
    if (plan.rate !== undefined) args.push('rate', plan.rate.text)
    const r = await tc(e, ['qdisc', 'replace', 'dev', e.ifname, 'root', ...args], o.signal)
    if (r.code === 0) return
    if (!unknownQdisc(r)) throw new WiringError(`${where}: tc netem failed: ${r.stderr.trim()}`)
  }
  if (plan.rate !== undefined) {
    if (o.support?.tbf === false) throw new ImpairmentUnsupportedError('tbf', `${where}: rate needs netem or tbf, which this kernel lacks (${o.support.reason.tbf ?? 'probe failed'})`)
    // Burst: 10 ms worth of the rate, at least a few full frames, or tbf never lets a frame through.
    const burst = Math.max(4096, Math.ceil(plan.rate.bytesPerSecond / 100))
    const r = await tc(e, ['qdisc', 'replace', 'dev', e.ifname, 'root', 'tbf', 'rate', plan.rate.text, 'burst', String(burst), 'latency', '50ms'], o.signal)
    if (r.code !== 0) {
      if (unknownQdisc(r)) throw new ImpairmentUnsupportedError('tbf', `${where}: rate needs netem or tbf, which this kernel lacks (${r.stderr.trim()})`)
      throw new WiringError(`${where}: tc tbf failed: ${r.stderr.trim()}`)
    }
  }
  if (plan.loss > 0) {
    if (plan.loss < 1 && o.support?.statistic === false) throw new ImpairmentUnsupportedError('statistic', `${where}: loss below 100% needs netem or the iptables statistic match, which this machine lacks (${o.support.reason.statistic ?? 'probe failed'})`)
    await setLossRule(e, plan.loss, o)
  }
}

function unknownQdisc (r: RunResult): boolean {
  return /unknown|not supported|No such file/i.test(r.stderr)
}

async function tc (e: LinkEnd, args: string[], signal?: AbortSignal): Promise<RunResult> {
  return await run(['tc', '-n', e.node.netns, ...args], { signal, check: false })
}

async function clearQdisc (e: LinkEnd, signal?: AbortSignal): Promise<void> {
  const r = await run(['tc', '-n', e.node.netns, '-j', 'qdisc', 'show', 'dev', e.ifname, 'root'], { signal, check: false })
  if (r.code !== 0) throw new WiringError(`${e.node.name}:${e.ifname}: reading qdiscs failed: ${r.stderr.trim()}`)
  const root = (JSON.parse(r.stdout || '[]') as Array<{ kind: string, root?: boolean }>).find(q => q.root === true)
  // Only our kinds: a qdisc someone else put there (e.g. the daemon's) stays.
  if (root !== undefined && (root.kind === 'netem' || root.kind === 'tbf')) {
    const d = await tc(e, ['qdisc', 'del', 'dev', e.ifname, 'root'], signal)
    if (d.code !== 0) throw new WiringError(`${e.node.name}:${e.ifname}: removing the ${root.kind} qdisc failed: ${d.stderr.trim()}`)
  }
}

/**
 * Replaces our drop rule for packets leaving the interface (locally generated: OUTPUT; forwarded:
 * FORWARD) with one of the given probability; 0 removes the chain and its jumps. One
 * iptables-save and at most one iptables-restore --noflush inside the node's namespace.
 */
async function setLossRule (e: LinkEnd, probability: number, o: ImpairOptions): Promise<void> {
  const ipt = o.iptables ?? 'iptables'
  const chain = `${LOSS_CHAIN_PREFIX}${e.ifname}`
  const enter = ['nsenter', `--net=${netnsPath(e.node)}`, '--']
  const saved = await run([...enter, `${ipt}-save`, '-t', 'filter'], { signal: o.signal, check: false })
  const text = saved.code === 0 ? saved.stdout : ''
  const hasChain = text.split('\n').some(l => l.startsWith(`:${chain} `))
  const jump = `-o ${e.ifname} -j ${chain}`
  const hasJump = (from: string): boolean => text.split('\n').some(l => l.trim() === `-A ${from} ${jump}`)
  const lines = ['*filter']
  if (probability === 0) {
    if (!hasChain) return
    for (const from of ['OUTPUT', 'FORWARD']) if (hasJump(from)) lines.push(`-D ${from} ${jump}`)
    lines.push(`-F ${chain}`, `-X ${chain}`)
  } else {
    lines.push(`:${chain} - [0:0]`) // declaring a chain under --noflush empties it
    const match = probability >= 1 ? '' : `-m statistic --mode random --probability ${probability.toFixed(6)} `
    lines.push(`-A ${chain} ${match}-j DROP`)
    for (const from of ['OUTPUT', 'FORWARD']) if (!hasJump(from)) lines.push(`-I ${from} 1 ${jump}`)
  }
  lines.push('COMMIT', '')
  const r = await run([...enter, `${ipt}-restore`, '-w', '--noflush'], { input: lines.join('\n'), signal: o.signal, check: false })
  if (r.code === 0) return
  if (probability > 0 && probability < 1 && /statistic/i.test(r.stderr)) {
    throw new ImpairmentUnsupportedError('statistic', `${e.node.name}:${e.ifname}: loss below 100% needs netem or the iptables statistic match, which this machine lacks (${r.stderr.trim()})`)
  }
  throw new WiringError(`${e.node.name}:${e.ifname}: ${ipt}-restore failed: ${r.stderr.trim()}`)
}
