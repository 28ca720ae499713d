#!/usr/bin/env node
// ntkctl: asks a running ntkd over its control socket. Exit codes: 0 ok, 1 daemon error or unreachable, 2 usage,
// 3 check-connectivity says the identity is still needed.
import { CONTROL_COMMANDS, CONTROL_USAGE, DEFAULT_CONTROL_SOCKET, argumentCounts, controlMonitor, controlRequest } from '../node'
import { formatMonitorEvent, formatReply } from './ntkctl-format'

const USAGE = `usage: ntkctl [--control PATH] [--json] COMMAND [ARGS]
commands (<id>: an identity's index, NodeID or namespace):
${CONTROL_COMMANDS.map(c => `  ${c}${c === 'monitor' ? ' [--count N]    (events as they come, until interrupted or N came)' : CONTROL_USAGE[c] === '' ? '' : ' ' + CONTROL_USAGE[c]}`).join('\n')}`

/** `ntkctl monitor`: prints each event as it comes (a line each; --json: the daemon's JSON lines). */
async function monitor (control: string, json: boolean, count: number | undefined): Promise<number> {
  const m = controlMonitor(control, (e, line) => { process.stdout.write((json ? line : formatMonitorEvent(e)) + '\n') }, count === undefined ? {} : { count })
  const stop = (): void => { m.close() }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  await m.done
  return 0
}

async function main (argv: string[]): Promise<number> {
  let control = DEFAULT_CONTROL_SOCKET
  let json = false
  let cmd: string | undefined
  const args: string[] = []
  let count: string | undefined
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]
    if (a === '--json') json = true
    else if (a === '--count') count = argv[++k] ?? ''
    else if (a.startsWith('--count=')) count = a.slice('--count='.length)
    else if (a === '--control') control = argv[++k] ?? ''
    else if (a.startsWith('--control=')) control = a.slice('--control='.length)
    else if (a === '-h' || a === '--help') { process.stdout.write(USAGE + '\n'); return 0 } else if (cmd === undefined && !a.startsWith('-')) cmd = a
    else if (cmd !== undefined) args.push(a)
    else { process.stderr.write(`ntkctl: unexpected argument ${a}\n${USAGE}\n`); return 2 }
  }
  if (cmd === undefined || !CONTROL_COMMANDS.includes(cmd) || control === '') {
    process.stderr.write(`ntkctl: ${cmd === undefined ? 'no command' : `unknown command ${cmd}`}\n${USAGE}\n`)
    return 2
  }
  if (count !== undefined && (cmd !== 'monitor' || !/^[1-9]\d*$/.test(count))) {
    process.stderr.write(`ntkctl: ${cmd !== 'monitor' ? '--count goes with monitor only' : `--count "${count}" is not a positive whole number`}\n`)
    return 2
  }
  const usage = CONTROL_USAGE[cmd]
  const { least, most } = argumentCounts(usage)
  const badCoordinator = cmd === 'coordinator' && args.length !== 0 && (args.length !== most || !['reserve', 'delete-reserve'].includes(args[0]))
  if (args.length < least || args.length > most || badCoordinator) {
    process.stderr.write(`ntkctl: ${cmd} takes ${usage === '' ? 'no arguments' : usage}${args.length === 0 ? '' : `; got ${args.join(' ')}`}\n`)
    return 2
  }
  try {
    if (cmd === 'monitor') return await monitor(control, json, count === undefined ? undefined : Number(count))
    // the Coordinator answers through routed requests, and the operations talk to neighbours: both may wait for
    // timeouts; the queries answer at once
    const query = ['status', 'arcs', 'identities', 'map', 'kernel', 'counters', 'peers', 'hooking', 'events'].includes(cmd)
    const r = await controlRequest(control, cmd, { args, timeoutMs: query ? 5_000 : 60_000 })
    process.stdout.write((json ? JSON.stringify(r, null, 2) : formatReply(cmd === 'coordinator' && args.length > 0 ? `coordinator ${args[0]}` : cmd, r)) + '\n')
    // check-connectivity answers "not yet" with its own exit code, so scripts and timelines can wait on it
    if (cmd === 'check-connectivity' && (r as { ok?: boolean }).ok === false) return 3
    return 0
  } catch (e) {
    process.stderr.write(`ntkctl: ${(e as Error).message}\n`)
    return 1
  }
}

main(process.argv.slice(2)).then(code => process.exit(code), (e: Error) => { process.stderr.write(`ntkctl: ${e.message}\n`); process.exit(1) })
