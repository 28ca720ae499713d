// Test nodes for the wiring and observe tests: a network namespace plus a private mount namespace
// (own tmpfs /run/netns, optionally own /etc/iproute2), held by a `sleep` we start, attached on the
// host as ntkwt-<random>-<n> so NodeHandle.netns works as with the real backends.
import { spawn } from 'node:child_process'
import { promises as fs } from 'node:fs'
import { randomBytes } from 'node:crypto'
import type { ExecutionContext } from 'ava'
import type { NodeHandle } from '../src/backend/backend'
import type { NodeSpec, ResolvedLab } from '../src/topology/model'
import { linkId } from '../src/topology/model'
import { run, type RunResult } from '../src/util/exec'
import { killAndWait } from '../src/util/proc'

export const isRoot = process.getuid?.() === 0

export interface TestNodeOptions {
  /** Host directory bind-mounted over the node's /etc/iproute2. */
  iproute2Dir?: string
  /** Shell run inside the node (its net and mount namespaces) before it is handed out. */
  setup?: string
}

/** Starts `count` nodes; everything is removed in t.teardown, also when the test fails. */
export async function makeTestNodes (t: ExecutionContext, names: string[], o: TestNodeOptions = {}): Promise<Map<string, NodeHandle>> {
  await fs.mkdir('/run/netns', { recursive: true })
  const tag = randomBytes(3).toString('hex')
  const nodes = new Map<string, NodeHandle>()
  const started = await Promise.all(names.map(async (name, i) => {
    const netns = `ntkwt-${tag}-${i}`
    const pid = await startHolder(o)
    t.teardown(async () => {
      await killAndWait(pid, { signal: 'SIGKILL', graceMs: 0 }).catch(() => {})
      await run(['ip', 'netns', 'delete', netns], { check: false })
    })
    return { name, netns, pid }
  }))
  await run(['ip', '-batch', '-'], { input: started.map(n => `netns attach ${n.netns} ${n.pid}\n`).join('') })
  for (const n of started) nodes.set(n.name, { name: n.name, kind: 'linux', netns: n.netns, pid: n.pid })
  return nodes
}

async function startHolder (o: TestNodeOptions): Promise<number> {
  const script = [
    'set -e',
    'mount -t tmpfs -o size=1m ntkwt-netns /run/netns',
    ...(o.iproute2Dir !== undefined ? [`mount --bind '${o.iproute2Dir}' /etc/iproute2`] : []),
    o.setup ?? 'true',
    'echo ready',
    'exec sleep 600'
  ].join('\n')
  const child = spawn('unshare', ['--net', '--mount', '--propagation', 'private', '--', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] })
  const pid = child.pid
  if (pid === undefined) throw new Error('unshare did not start')
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
  await new Promise<void>((resolve, reject) => {
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; if (out.includes('ready')) resolve() })
    child.on('exit', code => { reject(new Error(`test node holder exited ${String(code)}: ${err}`)) })
  })
  child.stdout.destroy()
  child.stderr.destroy()
  child.unref()
  return pid
}

/** Runs argv in the node's network namespace (host filesystem). */
export async function inNode (node: NodeHandle | undefined, argv: string[], check = false): Promise<RunResult> {
  if (node === undefined) throw new Error('no such test node')
  return await run(['nsenter', `--net=/run/netns/${node.netns}`, '--', ...argv], { check })
}

export async function pings (from: NodeHandle | undefined, address: string): Promise<boolean> {
  return (await inNode(from, ['ping', '-c', '1', '-W', '1', '-q', address])).code === 0
}

export function nodeSpec (name: string, interfaces: NodeSpec['interfaces']): NodeSpec {
  return { name, kind: 'linux', env: {}, config: {}, interfaces, exec: [], privileged: false }
}

/**
 * A line a -- b -- c: a:eth1 169.254.10.1/30 -- b:eth1 .2/30, b:eth2 .5/30 -- c:eth1 .6/30, fixed MACs.
 */
export function lineLab (o: { secondLinkDown?: boolean } = {}): ResolvedLab {
  const ep = (node: string, ifname: string): { node: string, ifname: string } => ({ node, ifname })
  return {
    name: 'wiring-line',
    nodes: [
      nodeSpec('a', { eth1: { mac: '02:00:00:0a:00:01', ipv4: ['169.254.10.1/30'] } }),
      nodeSpec('b', { eth1: { mac: '02:00:00:0b:00:01', ipv4: ['169.254.10.2/30'] }, eth2: { mac: '02:00:00:0b:00:02', ipv4: ['169.254.10.5/30'] } }),
      nodeSpec('c', { eth1: { mac: '02:00:00:0c:00:01', ipv4: ['169.254.10.6/30'] } })
    ],
    links: [
      { id: linkId(ep('a', 'eth1'), ep('b', 'eth1')), endpoints: [ep('a', 'eth1'), ep('b', 'eth1')], state: 'up' },
      { id: linkId(ep('b', 'eth2'), ep('c', 'eth1')), endpoints: [ep('b', 'eth2'), ep('c', 'eth1')], state: o.secondLinkDown === true ? 'down' : 'up' }
    ],
    timeline: []
  }
}
