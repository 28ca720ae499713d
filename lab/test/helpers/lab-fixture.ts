import { promises as fs } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import type { ResolvedLab } from '../../src/topology/model'
import type { Backend } from '../../src/backend/backend'
import { makeBackend } from '../../src/backend'
import { run } from '../../src/util/exec'
import { isAlive } from '../../src/util/proc'
import { firstMissing, missingRoot, missingTools } from '../../../daemon/test/helpers/requires'

export { firstMissing, missingTools, runnableIf } from '../../../daemon/test/helpers/requires'

/** The docker backend's socket (its DOCKER_SOCKET; not imported, so that dockerode loads only where Docker is used). */
const DOCKER_SOCKET = '/var/run/docker.sock'

/** Whether a Docker engine answers on its socket, asked synchronously (tests are registered when the file loads). */
function engineAnswers (): boolean {
  const ping = `require('node:http').get({ socketPath: ${JSON.stringify(DOCKER_SOCKET)}, path: '/_ping', timeout: 4000 }, r => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1)).on('timeout', () => process.exit(1))`
  return spawnSync(process.execPath, ['-e', ping], { stdio: 'ignore', timeout: 6000 }).status === 0
}

let engine: boolean | undefined
/** Why the Docker engine cannot be used, or undefined when it answers. */
export function engineMissing (): string | undefined {
  engine ??= engineAnswers()
  return engine ? undefined : `no Docker engine answers on ${DOCKER_SOCKET}`
}

/**
 * Why a backend cannot be used here, or undefined when it can: the same conditions as its `check()`, probed
 * synchronously so that a test file decides when it loads whether to run, skip or (under CI) fail a test.
 */
export function backendMissing (name: 'netns' | 'docker'): string | undefined {
  if (name === 'netns') return firstMissing(missingRoot(), missingTools('unshare', 'nsenter', 'ip'))
  return firstMissing(engineMissing(), missingRoot(), missingTools('ip'))
}

/** A lab name unique to this test run (lab names are at most 20 characters). */
export function uniqueLabName (prefix: string): string {
  return `${prefix}${randomBytes(3).toString('hex')}`.slice(0, 20)
}

/** The backend, checked (a test registered through `runnableIf(…, backendMissing(name))` expects it to be usable). */
export async function checkedBackend (name: string): Promise<Backend> {
  const backend = makeBackend(name)
  await backend.check()
  return backend
}

/** Every address of an interface on a link, without prefix: [addrA, addrB] per link. */
export function linkAddresses (lab: ResolvedLab): Array<{ link: string, a: string, b: string, aNode: string, bNode: string }> {
  const addr = (node: string, ifname: string): string => {
    const spec = lab.nodes.find(n => n.name === node)
    const a = spec?.interfaces[ifname]?.ipv4[0]
    if (a === undefined) throw new Error(`topology gives no address to ${node}:${ifname}`)
    return a.split('/')[0]
  }
  return lab.links.map(l => ({
    link: l.id,
    aNode: l.endpoints[0].node,
    bNode: l.endpoints[1].node,
    a: addr(l.endpoints[0].node, l.endpoints[0].ifname),
    b: addr(l.endpoints[1].node, l.endpoints[1].ifname)
  }))
}

/** What a lab leaves on the host: host netns names, mounts, containers, live processes. */
export async function leftovers (labName: string, pids: number[]): Promise<string[]> {
  const found: string[] = []
  // node namespaces ntklab-<lab>-<node>, radio segment namespaces ntklab-<lab>.<segment>
  const netns = (await fs.readdir('/run/netns').catch(() => [] as string[])).filter(n => n.startsWith(`ntklab-${labName}-`) || n.startsWith(`ntklab-${labName}.`))
  if (netns.length > 0) found.push(`netns: ${netns.join(', ')}`)
  const mounts = (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter(l => l.includes(`ntklab-${labName}-`) || l.includes(`/ntklab/netns/${labName}/`))
  if (mounts.length > 0) found.push(`mounts: ${mounts.join(' | ')}`)
  const docker = await run(['docker', 'ps', '-aq', '--filter', `label=ntklab.lab=${labName}`], { check: false })
  if (docker.code === 0 && docker.stdout.trim() !== '') found.push(`containers: ${docker.stdout.trim().split('\n').join(', ')}`)
  for (const pid of pids) if (await isAlive(pid)) found.push(`process ${pid} still alive`)
  return found
}

/** ping from inside a node; true when one echo reply came back within the timeout. */
export async function pings (lab: { exec: (n: string, argv: string[], o?: { check?: boolean }) => Promise<{ code: number }> }, from: string, to: string): Promise<boolean> {
  const r = await lab.exec(from, ['ping', '-n', '-q', '-c', '1', '-W', '1', to], { check: false })
  return r.code === 0
}

/** Retries a ping until it succeeds or the budget runs out (links take a moment to carry traffic). */
export async function pingsWithin (lab: Parameters<typeof pings>[0], from: string, to: string, budgetMs: number): Promise<boolean> {
  const deadline = Date.now() + budgetMs
  for (;;) {
    if (await pings(lab, from, to)) return true
    if (Date.now() >= deadline) return false
  }
}
