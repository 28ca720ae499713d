import test from 'ava'
import { Logger, parseComponentLevels } from '../src/util/logger'
import { parseNtkdArgs } from '../src/node'

// ntkd's per-component loggers: the line format, the thresholds (global and per component), and how the command
// line, the configuration file and NTKD_LOG set them, with errors naming the flag and the allowed values.

const AT = Date.UTC(2026, 11, 7, 5, 1, 2, 345)

function capture (thresholds: ConstructorParameters<typeof Logger>[0]): { logger: Logger, lines: string[] } {
  const lines: string[] = []
  return { logger: new Logger(thresholds, l => { lines.push(l) }, () => AT), lines }
}

test('each line is "<ISO time> <level> ntkd:<component> <message>"; plain lines are info, failures warn', t => {
  const { logger, lines } = capture({ level: 'info' })
  const qspn = logger.of('qspn')
  qspn('identity 0: QSPN dropped arc a1')
  logger.of('kernel')('kernel apply failed: RTNETLINK answers: File exists')
  logger.of('peers').error('listener threw')
  t.deepEqual(lines, [
    '2026-12-07T05:01:02.345Z info ntkd:qspn identity 0: QSPN dropped arc a1',
    '2026-12-07T05:01:02.345Z warn ntkd:kernel kernel apply failed: RTNETLINK answers: File exists',
    '2026-12-07T05:01:02.345Z error ntkd:peers listener threw'
  ])
  t.is(logger.of('qspn'), qspn, 'one log function per component')
})

test('the threshold drops what is less severe; a component\'s own threshold wins over the global one', t => {
  const { logger, lines } = capture({ level: 'warn', components: { qspn: 'debug', kernel: 'error' } })
  logger.of('neighborhood').info('arc added')
  logger.of('neighborhood').warn('arc cost unknown')
  logger.of('qspn').debug('etp received')
  logger.of('kernel').warn('kernel rescan: put right')
  logger.of('kernel').error('kernel apply failed')
  t.deepEqual(lines.map(l => l.split(' ').slice(1).join(' ')), [
    'warn ntkd:neighborhood arc cost unknown',
    'debug ntkd:qspn etp received',
    'error ntkd:kernel kernel apply failed'
  ])
  t.true(logger.of('qspn').enabled('debug'))
  t.false(logger.of('neighborhood').enabled('info'))
})

test('NTKD_LOG-style settings: components with or without ntkd:, levels in any case; mistakes name the allowed values', t => {
  t.deepEqual(parseComponentLevels('qspn=debug, ntkd:kernel=WARN,,'), { qspn: 'debug', kernel: 'warn' })
  t.throws(() => parseComponentLevels('qspn'), { message: '"qspn" is not COMPONENT=LEVEL, e.g. qspn=debug' })
  t.throws(() => parseComponentLevels('routing=debug'), { message: /^"routing" is not a component \(one of neighborhood, identities, qspn, peers, coordinator, hooking, kernel, control, transport, daemon\)$/ })
  t.throws(() => parseComponentLevels('qspn=verbose'), { message: '"verbose" is not a log level (one of error, warn, info, debug)' })
})

test('ntkd: --log-level, --log (repeatable), NTKD_LOG and the file\'s logLevel/log; flags win over NTKD_LOG over the file', t => {
  const base = ['-i', 'eth1', '--topology', '2,1,1,1', '--address', '3.1.0.1']
  const files: Record<string, string> = {
    '/etc/ntkd.yaml': 'logLevel: warn\nlog: { qspn: info, peers: debug, hooking: error }\n',
    '/etc/bad-level.yaml': 'logLevel: loud\n',
    '/etc/bad-log.yaml': 'log: [qspn]\n'
  }
  const read = (p: string): string => { const f = files[p]; if (f === undefined) throw new Error('ENOENT'); return f }
  const config = (argv: string[], env: Record<string, string> = {}): unknown => {
    const cmd = parseNtkdArgs([...base, ...argv], read, env)
    if (cmd.action !== 'run') throw new Error(cmd.action)
    return { logLevel: cmd.config.logLevel, logComponents: cmd.config.logComponents }
  }
  t.deepEqual(config([]), { logLevel: 'info', logComponents: {} }, 'default: info for all')
  t.deepEqual(config(['--log-level', 'debug', '--log', 'kernel=warn', '--log=ntkd:qspn=error']), { logLevel: 'debug', logComponents: { kernel: 'warn', qspn: 'error' } })
  t.deepEqual(config([], { NTKD_LOG: 'qspn=debug,kernel=warn' }), { logLevel: 'info', logComponents: { qspn: 'debug', kernel: 'warn' } })
  t.deepEqual(config(['-c', '/etc/ntkd.yaml', '--log', 'qspn=error'], { NTKD_LOG: 'qspn=debug,peers=warn' }),
    { logLevel: 'warn', logComponents: { qspn: 'error', peers: 'warn', hooking: 'error' } })
  t.deepEqual(config(['-c', '/etc/ntkd.yaml', '--log-level', 'error']), { logLevel: 'error', logComponents: { qspn: 'info', peers: 'debug', hooking: 'error' } })

  const bad = (argv: string[], message: RegExp, env: Record<string, string> = {}): void => {
    t.throws(() => parseNtkdArgs([...base, ...argv], read, env), { name: 'ConfigError', message }, argv.join(' '))
  }
  bad(['--log-level', 'loud'], /^--log-level: "loud" is not a log level \(one of error, warn, info, debug\)$/)
  bad(['--log', 'qspn'], /^--log: "qspn" is not COMPONENT=LEVEL, e\.g\. qspn=debug$/)
  bad(['--log', 'route=debug'], /^--log: "route" is not a component \(one of neighborhood, .*, daemon\)$/)
  bad([], /^NTKD_LOG: "lots" is not a log level \(one of error, warn, info, debug\)$/, { NTKD_LOG: 'qspn=lots' })
  bad(['-c', '/etc/bad-level.yaml'], /^logLevel: "loud" is not a log level \(one of error, warn, info, debug\)$/)
  bad(['-c', '/etc/bad-log.yaml'], /^log: expected a mapping component -> level/)
  bad(['--log-level'], /^option --log-level needs a value$/)
})
