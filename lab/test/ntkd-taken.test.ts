import test from 'ava'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { ntkdStatuses } from '../src/scenario/ntkd-taken'
import type { ScenarioLab } from '../src/scenario/scenario-lab'

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
