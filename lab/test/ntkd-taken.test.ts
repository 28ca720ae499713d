import test from 'ava'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { ntkdStatuses } from '../src/scenario/ntkd-taken'
import { controlQuery, hostControlSocket } from '../src/scenario/ntkd-control'
import { createServer } from 'node:net'
import type { ScenarioLab } from '../src/scenario/scenario-lab'
import { addressesCheck, assertionsCheck } from '../src/scenario/assertions'
import { initialState } from '../src/scenario/lab-state'
import { defaultKinds, parseTopology } from '../src/topology'

// A lab stand-in whose daemons answer (or not) from a table; only exec and logFile are used by ntkdStatuses.
function fakeLab (answers: Record<string, { code: number, stdout: string, stderr?: string }>, logs: Record<string, string>): ScenarioLab {
  return {
    spec: { name: 'x', nodes: [], links: [] },
    exec: async (name: string) => ({ ...answers[name], stderr: answers[name].stderr ?? '' }),
    logFile: (name: string) => logs[name]
  } as unknown as ScenarioLab
}

test('a daemon that does not answer is reported with the fatal line of its log (why it died at start)', async t => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ntk-taken-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(path.join(dir, 'a.log'), 'starting\nntkd: costs: eth3 is not a managed NIC (eth1, eth2)\n')
  await writeFile(path.join(dir, 'b.log'), 'still starting\n')
  const lab = fakeLab({
    a: { code: 1, stdout: '', stderr: 'ntkctl: cannot talk to ntkd at /run/ntkd/ntkd.sock' },
    b: { code: 1, stdout: '', stderr: 'ntkctl: cannot talk to ntkd at /run/ntkd/ntkd.sock' },
    c: { code: 0, stdout: JSON.stringify({ address: '1.0.0.2', networkId: 7, identities: [{ kind: 'main' }] }) }
  }, { a: path.join(dir, 'a.log'), b: path.join(dir, 'b.log') })
  const s = await ntkdStatuses(lab, ['a', 'b', 'c'])
  t.is(s.get('a'), 'a: ntkctl status failed (1): ntkctl: cannot talk to ntkd at /run/ntkd/ntkd.sock (its log: ntkd: costs: eth3 is not a managed NIC (eth1, eth2))')
  t.is(s.get('b'), 'b: ntkctl status failed (1): ntkctl: cannot talk to ntkd at /run/ntkd/ntkd.sock')
  t.like(s.get('c'), { address: '1.0.0.2', networkId: 7 })
})

test('the lab asks an ntkd control socket directly: a reply, a refusal and silence each come back as such', async t => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ntk-ctl-'))
  const sock = path.join(dir, 'ntkd.sock')
  const server = createServer(c => {
    c.on('data', d => {
      const { cmd } = JSON.parse(d.toString().split('\n')[0]) as { cmd: string }
      if (cmd === 'status') c.end(JSON.stringify({ ok: true, result: { address: '1.2.3', networkId: 5, identities: [] } }) + '\n')
      else if (cmd === 'bad') c.end(JSON.stringify({ ok: false, error: 'unknown command bad' }) + '\n')
      // 'silent': no answer
    })
  })
  await new Promise<void>(resolve => server.listen(sock, resolve))
  t.teardown(async () => { server.close(); await rm(dir, { recursive: true, force: true }) })
  t.deepEqual(await controlQuery(sock, 'status'), { address: '1.2.3', networkId: 5, identities: [] })
  await t.throwsAsync(controlQuery(sock, 'bad'), { message: 'ntkd bad: unknown command bad' })
  await t.throwsAsync(controlQuery(sock, 'silent', 200), { message: /no answer from .* to silent within 200 ms/ })
  await t.throwsAsync(controlQuery(path.join(dir, 'none.sock'), 'status'), { message: /cannot talk to ntkd at/ })
  // this process's namespace runs no lab daemon here: no socket, and ntkdStatuses falls back to ntkctl
  t.is(await hostControlSocket(999_999_999), undefined)
  // a daemon whose socket the host sees is asked there only: its error is the status line, no ntkctl is started
  let execs = 0
  const lab = {
    nodes: new Map([['a', { pid: 1 }], ['b', { pid: 2 }]]),
    exec: async () => { execs++; return { code: 1, stdout: '', stderr: 'ntkctl: should not run' } },
    logFile: () => undefined
  } as unknown as ScenarioLab
  // a answers at the fake socket; b's socket is gone (its daemon died)
  const statuses = await ntkdStatuses(lab, ['a', 'b'], 8, async pid => pid === 1 ? sock : path.join(dir, 'gone.sock'))
  t.like(statuses.get('a'), { address: '1.2.3' })
  t.regex(statuses.get('b') as string, /^b: cannot talk to ntkd at .*gone\.sock/)
  t.is(execs, 0, 'no ntkctl started for a daemon the host can ask itself')
})

test('addresses: unique compares ntkd global addresses inside each connected component: networks apart may repeat one', async t => {
  const yaml = `name: x
defaults: { kind: ntkd, config: { topology: [2, 1] } }
nodes: { a: {}, b: {}, c: {} }
links:
  - endpoints: [a:eth1, b:eth1]
  - endpoints: [b:eth2, c:eth1]
    state: down
`
  const spec = parseTopology(yaml, 'x.yaml', defaultKinds())
  const lab = (taken: Record<string, string>): ScenarioLab => ({
    spec,
    exec: async (name: string) => ({ code: 0, stdout: JSON.stringify({ address: taken[name], networkId: name === 'c' ? 2 : 1, identities: [{ kind: 'main' }] }), stderr: '' }),
    observe: async () => { observed++; return { addresses: [], routes: [], links: [] } },
    logFile: () => undefined
  } as unknown as ScenarioLab)
  let observed = 0
  const check = (taken: Record<string, string>) => addressesCheck({ lab: lab(taken), state: () => initialState(spec), models: {} as never }, { unique: true })
  t.is(await check({ a: '1.0', b: '1.1', c: '1.0' })(), null, 'c is another network (its link is down): 1.0 twice is no conflict')
  const dup = await check({ a: '1.0', b: '1.0', c: '2.1' })()
  t.deepEqual(dup?.lines, ['10.0.0.2 is on a (global address of 1.0) and b (global address of 1.0)'])
  t.is(observed, 0, 'the addresses of ntkd nodes are read from their daemons: no node\'s kernel is observed')
  // a quick poll stops at the first failing part, the cheap ones first; a full check runs every part
  const ctx = { lab: lab({ a: '1.0', b: '1.0', c: '2.1' }), state: () => initialState(spec), models: {} as never }
  const all = assertionsCheck(ctx, { addresses: { unique: true }, network: 'single', routes: { a: { main: { '10.9.9.9': { dev: 'eth1' } } } } }, { nextHops: false })
  const quick = await all(undefined, { quick: true })
  t.is(quick?.summary, 'addresses: 1 address problems', 'network ids hold (read first), addresses fail: the routes are not read')
  t.is(observed, 0)
  const full = await all()
  t.is(full?.summary, 'addresses: 1 address problems; routes: routes of a do not match')
  t.is(observed, 1, 'a full check observes what the routes part needs')
})
