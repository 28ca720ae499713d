import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { answerControl, controlMonitor, startControlServer, type MonitorEvent } from '../src/node'
import { formatMonitorEvent } from '../src/cli/ntkctl-format'
import { Logger } from '../src/util/logger'
import { startBin } from './helpers/bin'
import { runFor, runUntil, startDaemons } from './helpers/inprocess-network'

// ntkctl monitor: the control socket streams a node's changes as JSON lines (babeld's local socket does the same).
// In-process daemons on a virtual clock; the control socket and the client are real (a unix socket in a temp dir).

/** Waits in real time (the socket is real I/O) for a condition, at most `ms`. */
async function waitReal (ms: number, cond: () => boolean): Promise<boolean> {
  const until = Date.now() + ms
  while (!cond()) {
    if (Date.now() > until) return false
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  return true
}

test('two lone daemons merging: arcs, identity-arcs, Hooking events and route changes arrive as JSON lines; the listeners go with the client', async t => {
  // a's log lines as ntkd writes them, each under its component
  const logged: string[] = []
  const aLogger = new Logger({ level: 'debug' }, l => { logged.push(l) })
  const dn = await startDaemons({ a: { nics: ['eth0'] }, b: { nics: ['eth0'] } }, { topologyBits: [2, 1, 1, 1], seed: 3, logger: n => n === 'a' ? c => aLogger.of(c) : c => new Logger({ level: 'error' }, () => {}).of(c) })
  const dir = await mkdtemp(join(tmpdir(), 'ntkctl-monitor-'))
  const sock = join(dir, 'ntkd.sock')
  const a = dn.get('a').node
  const close = await startControlServer(sock, a, { log: aLogger.of('control') })
  t.teardown(async () => { await close(); await dn.stopAll(); await rm(dir, { recursive: true, force: true }) })

  const events: MonitorEvent[] = []
  const lines: string[] = []
  const m = controlMonitor(sock, (e, line) => { events.push(e); lines.push(line) })
  t.true(await waitReal(5_000, () => close.monitors() === 1), 'the daemon counts one monitoring client')

  dn.link({ node: 'a', nic: 'eth0' }, { node: 'b', nic: 'eth0' })
  const has = (type: string | RegExp): boolean => events.some(e => typeof type === 'string' ? e.type === type : type.test(e.type))
  const ms = await runUntil(dn.clock, async () => {
    await new Promise(resolve => setTimeout(resolve, 5))
    return has('arc_added') && has('identity_arc_added') && has('hooking:entered') && has('routes')
  }, { budgetMs: 60_000, stepMs: 250 })
  t.not(ms, null, `events seen: ${[...new Set(events.map(e => e.type))].join(', ')}`)

  // every line is one JSON object with the time on the daemon's clock and a type
  t.true(lines.every(l => /^\{"at":\d+,"type":"[a-z_:]+"[,}]/.test(l) && !l.includes('\n')), lines.join('\n'))
  const arc = events.find(e => e.type === 'arc_added')
  t.like(arc, { nic: 'eth0', id: `eth0/${String(arc?.peerMac)}` })
  t.regex(String(arc?.peerLinkLocal), /^169\.254\.\d+\.\d+$/)
  const routes = events.find(e => e.type === 'routes')
  t.true(typeof routes?.ops === 'number' && routes.ops > 0, JSON.stringify(routes))
  const entered = events.find(e => e.type === 'hooking:entered')
  t.deepEqual(entered, { ...a.system.hooking.events.list().find(e => e.type === 'entered'), type: 'hooking:entered' }, 'the Hooking event as ntkctl events shows it')
  t.true(has('identity_added'), 'a entered: its new main identity is told too')
  t.log(`${events.length} events in ${String(ms)} ms of virtual time: ${[...new Set(events.map(e => e.type))].join(', ')}`)
  // the virtual clock starts at 0: its ms as they are (a wall clock shows as UTC time of day, see below)
  t.regex(formatMonitorEvent(arc as MonitorEvent), /^\d+ arc_added id=eth0\/\S+ nic=eth0 peerMac=\S+ peerLinkLocal=169\.254\.\S+ cost=\d+$/)

  // the node's lines came under their components, in ntkd's format
  const at = (component: string, text: RegExp): boolean => logged.some(l => new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z (info|warn|debug) ntkd:${component} `).test(l) && text.test(l))
  t.true(at('neighborhood', /arc added eth0\//), logged.join('\n'))
  t.true(at('identities', /identity-arc added /), logged.join('\n'))
  t.true(at('control', /monitor: a client subscribed \(1 now\)/), logged.join('\n'))

  m.close()
  t.is(await m.done, events.length)
  t.true(await waitReal(5_000, () => close.monitors() === 0), 'the client gone, its listeners are gone')
  t.true(at('control', /monitor: a client left \(0 now\)/), logged.join('\n'))
  const seen = events.length
  await dn.stop('b')
  await runFor(dn.clock, 5_000)
  t.is(events.length, seen, 'nothing more is delivered to a closed client')

  t.is(formatMonitorEvent({ at: Date.UTC(2026, 11, 7, 5, 1, 2, 345), type: 'routes', ops: 3, rescan: true, changes: ['- route 10.0.0.1/32', '+ route 10.0.0.2/32'] }),
    '05:01:02.345 routes ops=3 rescan=true changes=- route 10.0.0.1/32, + route 10.0.0.2/32')

  // the control command outside the socket says where to ask
  t.like(await answerControl(a, '{"cmd":"monitor"}'), { ok: false, error: 'monitor streams events: ask over the control socket (ntkctl monitor)' })
  t.like(await answerControl(a, '{"cmd":"monitor","args":["x"]}'), { ok: false, error: 'monitor takes no arguments; got x' })
})

test('the ntkctl program: monitor --count N prints N events (human or --json) and exits 0; --count elsewhere is a usage error', async t => {
  const nic = { nics: ['eth1'], costs: { eth1: 1000 } }
  const dn = await startDaemons({ a: { address: '3.1.0.1', ...nic }, b: { address: '3.1.0.0', ...nic } }, { topologyBits: [2, 1, 1, 1], seed: 3 })
  dn.link({ node: 'a', nic: 'eth1' }, { node: 'b', nic: 'eth1' })
  await runFor(dn.clock, 10_000)
  const dir = await mkdtemp(join(tmpdir(), 'ntkctl-monitor-'))
  const sock = join(dir, 'ntkd.sock')
  const close = await startControlServer(sock, dn.get('a').node)
  t.teardown(async () => { await close(); await dn.stopAll(); await rm(dir, { recursive: true, force: true }) })

  const out: string[] = []
  const json = startBin('ntkctl', ['--control', sock, '--json', 'monitor', '--count', '1'], undefined, c => out.push(c))
  const human = startBin('ntkctl', ['--control', sock, 'monitor', '--count=2'], undefined, c => out.push(c))
  t.true(await waitReal(30_000, () => close.monitors() === 2), `both programs monitor: ${json.stderr()} ${human.stderr()}`)
  // b goes: a's arc to it is removed, and the routes through it
  await dn.stop('b')
  await runFor(dn.clock, 5_000)
  t.is(await json.exited, 0, json.stderr())
  t.is(await human.exited, 0, human.stderr())
  const text = out.join('')
  t.regex(text, /^\{"at":\d+,"type":"[a-z_:]+".*\}$/m, 'a raw JSON line')
  t.regex(text, /^\d+ (arc_removed|identity_arc_removed|routes) .+$/m, 'a human line')
  t.true(await waitReal(5_000, () => close.monitors() === 0), 'the programs closed their connections')

  const bad = startBin('ntkctl', ['--control', sock, 'status', '--count', '1'])
  t.is(await bad.exited, 2)
  t.regex(bad.stderr(), /--count goes with monitor only/)
})
