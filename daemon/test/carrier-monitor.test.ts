import test from 'ava'
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { firstMissing, missingRoot, missingTools, runnableIf } from './helpers/requires'

const missing = firstMissing(missingRoot(), missingTools('ip'))
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

runnableIf(test.serial, missing)('ipMonitorCarrierChanges tells the NIC that went down, in its own namespace only, and stops its ip process', async t => {
  const ns = `ntkcm-${randomBytes(3).toString('hex')}`
  const other = `${ns}-o`
  ip('netns', 'add', ns)
  ip('netns', 'add', other)
  t.teardown(() => { for (const n of [ns, other]) { try { ip('netns', 'del', n) } catch {} } })
  ip('-n', ns, 'link', 'add', 'cm1', 'type', 'veth', 'peer', 'name', 'cm2')
  ip('-n', ns, 'link', 'set', 'cm1', 'up')
  ip('-n', ns, 'link', 'set', 'cm2', 'up')
  ip('-n', other, 'link', 'add', 'om1', 'type', 'veth', 'peer', 'name', 'om2')
  // the monitor runs in the namespace (Node cannot setns): it prints each NIC it is told of, and its ip child's pid
  const src = join(__dirname, '..', 'src', 'neighborhood', 'carrier.ts')
  const script = `const { ipMonitorCarrierChanges } = require(${JSON.stringify(src)});
const stop = ipMonitorCarrierChanges(nic => console.log('nic ' + nic));
setTimeout(() => console.log('ready'), 300);
process.stdin.on('data', () => { stop(); console.log('stopped'); setTimeout(() => process.exit(0), 200) })`
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-r', 'ts-node/register/transpile-only', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'], cwd: join(__dirname, '..', '..') })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const lines: string[] = []
  const waitFor = async (want: string, ms: number): Promise<boolean> => {
    const until = Date.now() + ms
    while (Date.now() < until) { if (lines.includes(want)) return true; await new Promise(resolve => setTimeout(resolve, 20)) }
    return false
  }
  createInterface({ input: child.stdout }).on('line', l => lines.push(l))
  t.true(await waitFor('ready', 20_000), 'the monitor started')
  ip('-n', other, 'link', 'set', 'om1', 'up') // another namespace: not told
  ip('-n', ns, 'link', 'set', 'cm2', 'down')
  t.true(await waitFor('nic cm2', 3000), lines.join('\n'))
  t.true(await waitFor('nic cm1', 3000), `cm1 lost its carrier: ${lines.join('\n')}`)
  t.false(lines.some(l => l.startsWith('nic om')), lines.join('\n'))
  child.stdin.write('stop\n')
  t.true(await waitFor('stopped', 3000))
  // no `ip monitor` left in the namespace
  await new Promise(resolve => setTimeout(resolve, 300))
  const left = ip('netns', 'pids', ns).trim().split('\n').filter(p => p !== '' && p !== String(child.pid))
    .filter(p => { try { return execFileSync('cat', [`/proc/${p}/cmdline`], { encoding: 'utf8' }).includes('monitor') } catch { return false } })
  t.deepEqual(left, [])
})
