import test from 'ava'
import { existsSync, promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import Docker from 'dockerode'
import { ImageBuildError, NodeImageBuilder, buildImageFromContext, findProjectRoot, IMAGE_NODE_BIN } from '../src/image/build'
import { productionPackages, sharedLibraries } from '../src/image/rootfs'
import { elfDependencies } from '../src/image/elf'
import { engineMissing, runnableIf } from './helpers/lab-fixture'

const missing = engineMissing()
const engine = missing === undefined
const serial = runnableIf(test.serial, missing)

const docker = new Docker({ socketPath: '/var/run/docker.sock' })
// A repository of its own, so this file builds cold every run and removes only what it made.
const repo = `ntklab-test-${randomBytes(3).toString('hex')}`

test.after.always(async () => {
  if (!engine) return
  const images = await docker.listImages({ filters: { reference: [repo] } })
  for (const tag of images.flatMap(i => i.RepoTags ?? [])) await docker.getImage(tag).remove({ force: true }).catch(() => {})
})

/** Runs a throwaway container of the image (no network) and returns its output. */
async function runInImage (image: string, cmd: string[]): Promise<{ code: number, out: string }> {
  const c = await docker.createContainer({ Image: image, Cmd: cmd, Labels: { 'ntklab.lab': repo }, HostConfig: { NetworkMode: 'none' } })
  try {
    const chunks: Buffer[] = []
    const sink = new Writable({ write (chunk: Buffer, _e, cb) { chunks.push(chunk); cb() } })
    const stream = await c.attach({ stream: true, stdout: true, stderr: true })
    docker.modem.demuxStream(stream, sink, sink)
    await c.start()
    const { StatusCode } = await c.wait() as { StatusCode: number }
    await new Promise(resolve => setTimeout(resolve, 50))
    return { code: StatusCode, out: Buffer.concat(chunks).toString('utf8') }
  } finally {
    await c.remove({ force: true })
  }
}

test('production packages follow dependencies, not devDependencies', async t => {
  const pkgs = await productionPackages(await findProjectRoot())
  for (const p of ['node_modules/dockerode', 'node_modules/docker-modem', 'node_modules/yaml', 'node_modules/ajv', 'node_modules/tar-fs']) t.true(pkgs.includes(p), p)
  for (const p of ['node_modules/ava', 'node_modules/typescript', 'node_modules/ts-node', 'node_modules/fast-check']) t.false(pkgs.includes(p), p)
})

test('libraries resolved from ELF headers are exactly what ldd finds', async t => {
  const files = ['/usr/bin/node', '/usr/sbin/ip', '/usr/sbin/tc', '/usr/bin/ping', '/usr/sbin/iptables', '/usr/bin/dash']
    .concat(existsSync('/usr/lib/x86_64-linux-gnu/xtables/libxt_conntrack.so') ? ['/usr/lib/x86_64-linux-gnu/xtables/libxt_conntrack.so'] : [])
  const fromHeaders = await elfDependencies(files, ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib'])
  t.deepEqual(fromHeaders.unresolved, [])
  const real = async (ps: string[]): Promise<string[]> => [...new Set(await Promise.all(ps.map(async p => await fs.realpath(p))))].sort()
  t.deepEqual(await real(fromHeaders.libraries), await real(await sharedLibraries(files)))
  t.deepEqual(await elfDependencies(['/etc/protocols'], ['/lib']), { libraries: [], unresolved: ['/etc/protocols'] })
})

serial('the node image builds offline from host files, then the same content is the fast path', async t => {
  const builder = new NodeImageBuilder(docker, { projectRoot: await findProjectRoot(), repo })
  const cold = await builder.ensure()
  t.true(cold.built)
  t.regex(cold.tag, new RegExp(`^${repo}:[0-9a-f]{16}$`))
  const warm = await builder.ensure()
  t.false(warm.built)
  t.is(warm.tag, cold.tag)
  t.log(`cold build ${cold.ms} ms, fast path ${warm.ms} ms`)
  const info = await docker.getImage(cold.tag).inspect()
  t.is(info.Config.Labels.ntklab, '1')
  t.is(info.Config.Labels['ntklab.dist'], cold.dist ? 'present' : 'absent')
  t.is((await docker.getImage(`${repo}:latest`).inspect()).Id, info.Id)

  // The host's tools run in the image: libraries, loader, the iptables alternatives chain, the
  // xtables modules (-m conntrack loads one), and node with the project's runtime packages.
  const script = [
    'set -e', 'ip -V', 'tc -V', 'sysctl --version', 'iptables -V', 'iptables-save -V', 'iptables-restore -V',
    'iptables -m conntrack --help', 'ping -V', 'cat /etc/iproute2/rt_tables',
    `${IMAGE_NODE_BIN} -e 'require("/opt/ntk/node_modules/dockerode"); require("/opt/ntk/node_modules/yaml"); console.log("node-ok", process.version)'`
  ].join('\n')
  const r = await runInImage(cold.tag, ['/bin/sh', '-c', script])
  t.is(r.code, 0, r.out)
  for (const want of [/iproute2/, /iptables v[0-9.]+ \(nf_tables\)/, /conntrack match options:[\s\S]*--ctstate/, /ping from iputils/, /^255\s+local$/m, new RegExp(`node-ok ${process.version}`)]) t.regex(r.out, want)
})

const babeldSerial = runnableIf(test.serial, missing ?? (existsSync('/usr/sbin/babeld') ? undefined : 'babeld is not installed at /usr/sbin/babeld'))
babeldSerial('the host\'s babeld runs in the image', async t => {
  const image = await new NodeImageBuilder(docker, { projectRoot: await findProjectRoot(), repo }).ensure()
  const r = await runInImage(image.tag, ['/usr/sbin/babeld', '-V'])
  t.is(r.code, 0, r.out)
})

serial('a failing build step throws ImageBuildError with the engine message', async t => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ntklab-badctx-'))
  t.teardown(async () => { await fs.rm(dir, { recursive: true, force: true }) })
  await fs.writeFile(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY no-such-file /x\n')
  const err = await t.throwsAsync(buildImageFromContext(docker, dir, { tag: `${repo}:broken` }), { instanceOf: ImageBuildError })
  t.is(err?.name, 'ImageBuildError')
  t.regex(err?.message ?? '', /no-such-file/)
  t.regex(err?.message ?? '', new RegExp(`^building image ${repo}:broken failed: COPY failed`))
})

serial('a RUN step that exits non-zero throws ImageBuildError, not success', async t => {
  const builder = new NodeImageBuilder(docker, { projectRoot: await findProjectRoot(), repo })
  const base = (await builder.ensure()).tag
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ntklab-badctx-'))
  t.teardown(async () => { await fs.rm(dir, { recursive: true, force: true }) })
  await fs.writeFile(path.join(dir, 'Dockerfile'), `FROM ${base}\nRUN false\n`)
  const err = await t.throwsAsync(buildImageFromContext(docker, dir, { tag: `${repo}:runfalse` }), { instanceOf: ImageBuildError })
  t.regex(err?.message ?? '', /returned a non-zero code: 1/)
  t.is(await docker.getImage(`${repo}:runfalse`).inspect().then(() => 'exists', () => 'absent'), 'absent')
  // forcerm: the failed step's container is gone too. (Lab tests running at the same time have
  // containers of the same image: only the RUN step's own command identifies ours.)
  const leftover = (await docker.listContainers({ all: true, filters: { ancestor: [base] } })).filter(c => /\bfalse$/.test(c.Command))
  t.deepEqual(leftover, [])
})
