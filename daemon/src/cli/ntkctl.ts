#!/usr/bin/env node
// ntkctl: asks a running ntkd over its control socket. Exit codes: 0 ok, 1 daemon error or unreachable, 2 usage.
import { CONTROL_COMMANDS, DEFAULT_CONTROL_SOCKET, controlRequest } from '../node'
import { formatReply } from './ntkctl-format'

const USAGE = `usage: ntkctl [--control PATH] [--json] ${CONTROL_COMMANDS.join('|')}
       ntkctl [--control PATH] [--json] coordinator reserve|delete-reserve LEVEL ID`

async function main (argv: string[]): Promise<number> {
  let control = DEFAULT_CONTROL_SOCKET
  let json = false
  let cmd: string | undefined
  const args: string[] = []
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]
    if (a === '--json') json = true
    else if (a === '--control') control = argv[++k] ?? ''
    else if (a.startsWith('--control=')) control = a.slice('--control='.length)
    else if (a === '-h' || a === '--help') { process.stdout.write(USAGE + '\n'); return 0 } else if (cmd === undefined && !a.startsWith('-')) cmd = a
    else if (cmd === 'coordinator' && !a.startsWith('-')) args.push(a)
    else { process.stderr.write(`ntkctl: unexpected argument ${a}\n${USAGE}\n`); return 2 }
  }
  if (args.length > 0 && (args.length !== 3 || !['reserve', 'delete-reserve'].includes(args[0]))) {
    process.stderr.write(`ntkctl: coordinator ${args.join(' ')}: expected reserve|delete-reserve LEVEL ID\n${USAGE}\n`)
    return 2
  }
  if (cmd === undefined || !(CONTROL_COMMANDS as readonly string[]).includes(cmd) || control === '') {
    process.stderr.write(`ntkctl: ${cmd === undefined ? 'no command' : `unknown command ${cmd}`}\n${USAGE}\n`)
    return 2
  }
  try {
    // the Coordinator answers through routed requests, which may wait for timeouts
    const r = await controlRequest(control, cmd, { args, timeoutMs: cmd === 'coordinator' ? 60_000 : 5_000 })
    process.stdout.write((json ? JSON.stringify(r, null, 2) : formatReply(args.length > 0 ? `coordinator ${args[0]}` : cmd, r)) + '\n')
    return 0
  } catch (e) {
    process.stderr.write(`ntkctl: ${(e as Error).message}\n`)
    return 1
  }
}

main(process.argv.slice(2)).then(code => process.exit(code), (e: Error) => { process.stderr.write(`ntkctl: ${e.message}\n`); process.exit(1) })
