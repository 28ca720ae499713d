import test from 'ava'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { compareStrings } from '../src/util/compare'
import { canonicalState, emptyNamespace } from '../src/kernel/state'
import { firstMissing, missingRoot, missingTools, runnableIf } from './helpers/requires'

// What a running ntkd holds (issue 15: at most 50 MiB resident per daemon). Every module of Node's that the daemon
// loads puts its code in the resident set (the sources sit in the node binary, the compiled code in V8's heap), and
// a locale comparison loads ICU's collation data: 3 MiB per daemon, of 25 on a grid.

const root = join(__dirname, '..', '..')
const sh = (...argv: string[]): string => execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' })

test('strings are ordered by code unit: the kernel state and the arcs come out in one order on every host', t => {
  const words = ['b', 'B', 'a', 'ntk_from_0A', 'ntk', '_x', 'A2:b', 'a2:B']
  t.deepEqual([...words].sort(compareStrings), [...words].sort())
  const ns = emptyNamespace()
  const state = { namespaces: new Map([['ntkv2', ns], ['ntkv10', ns], ['', ns], ['Z', ns]]) }
  t.deepEqual((canonicalState(state) as Array<{ name: string }>).map(n => n.name), ['', 'Z', 'ntkv10', 'ntkv2'])
})

test('no daemon source compares by locale or uses Intl (ICU collation data: 3 MiB resident per daemon), and its code is Latin-1', t => {
  // the build drops comments (tsconfig removeComments); V8 holds a module's source as one byte a character unless one
  // character is outside Latin-1, then two: such characters are written as \u escapes in code
  const offenders: string[] = []
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (p.endsWith('.ts')) {
        readFileSync(p, 'utf8').split('\n').forEach((line, i) => {
          const code = /^\s*(\/\/|\*|\/\*)/.test(line) ? '' : line.replace(/ \/\/ .*$/, '')
          if (/\.localeCompare\(|\bIntl\.|\.toLocale\w*String\(|[^\x00-\xff]/.test(code)) offenders.push(`${p.slice(root.length + 1)}:${i + 1}: ${line.trim()}`)
        })
      }
    }
  }
  walk(join(root, 'daemon', 'src'))
  t.deepEqual(offenders, [])
})

const built = join(root, 'dist', 'daemon', 'src', 'cli', 'ntkd.js')
// Node's modules that a daemon without network keys never needs: each costs resident memory at every start
const UNNEEDED = ['crypto', 'fs/promises', 'perf_hooks', 'v8', 'vm', 'readline']

runnableIf(test, firstMissing(missingRoot(), missingTools('ip')))('a running daemon loads none of Node\'s modules it does not need and stays under 50 MiB resident', async t => {
  if (!existsSync(built)) throw new Error(`${built} is missing: run \`make build\` (or npx tsc -p tsconfig.json) before the tests`)
  const ns = `ntkfoot${process.pid}`
  const dir = await mkdtemp(join(tmpdir(), 'ntkfoot-'))
  const sock = join(dir, 'ntkd.sock')
  const loaded = join(dir, 'modules')
  // written when the daemon exits: the modules it loaded while it ran
  const preload = join(dir, 'modules.js')
  await writeFile(preload, `process.on('exit', () => { require('fs').writeFileSync(${JSON.stringify(loaded)}, process.moduleLoadList.join('\\n')) })\n`)
  sh('ip', 'netns', 'add', ns)
  let child: ReturnType<typeof spawn> | undefined
  t.teardown(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL')
    try { sh('ip', 'netns', 'del', ns) } catch { /* gone */ }
    await rm(dir, { recursive: true, force: true })
  })
  sh('ip', '-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1')
  sh('ip', '-n', ns, 'link', 'set', 'v1', 'up')
  const flags = /flags='([^']*)'/.exec(readFileSync(join(root, 'bin', 'ntkd'), 'utf8'))?.[1].split(' ') ?? []
  // `ip netns exec` shares the host's /etc: the daemon gets an rt_tables file of its own
  child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...flags, '-r', preload, built, '-i', 'v0', '--topology', '2,1,1,1', '--address', '3.1.0.1',
    '--timers', 'lab', '--control', sock, '--rt-tables', join(dir, 'rt_tables')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr?.on('data', (c: Buffer) => { err += c.toString('utf8') })
  const exited = new Promise<number>(resolve => child?.on('exit', code => resolve(code ?? 1)))
  const end = Date.now() + 60_000
  while (!/running: address/.test(err) && child.exitCode === null && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 100))
  t.regex(err, /running: address/, 'the daemon runs')
  // a few seconds of lab timers: announcements, a kernel rescan, the control socket answering
  await new Promise(resolve => setTimeout(resolve, 6000))
  const status = readFileSync(`/proc/${child.pid ?? 0}/status`, 'utf8')
  const rssMb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) / 1024
  t.log(`resident ${rssMb.toFixed(1)} MiB (${/^RssAnon:\s+(\d+) kB/m.exec(status)?.[1] ?? '?'} kB anonymous)`)
  child.kill('SIGTERM')
  t.is(await exited, 0, err)
  const modules = new Set((await readFile(loaded, 'utf8')).split('\n').filter(m => m.startsWith('NativeModule ')).map(m => m.slice('NativeModule '.length)))
  t.true(modules.has('dgram') && modules.has('net') && modules.has('child_process'), 'the list is the daemon\'s')
  t.deepEqual(UNNEEDED.filter(m => modules.has(m)), [])
  t.true(rssMb > 0 && rssMb <= 50, `resident ${rssMb.toFixed(1)} MiB`)
})
