/**
 * ntkd's loggers: one per component (`ntkd:qspn`, `ntkd:kernel`, ...), each line `<ISO time> <level> <component>
 * <message>`, kept or dropped by a threshold (error < warn < info < debug) that a component may have of its own.
 * The modules log through a plain `(line) => void`: a component's log function is one, and it files the plain lines
 * as info, or as warn when they report a failure (the modules word their failures that way), so no call site changes.
 */

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const
export type LogLevel = typeof LOG_LEVELS[number]

/** The components of ntkd, without the `ntkd:` prefix (`daemon`: the process itself, `transport`: the sockets). */
export const LOG_COMPONENTS = ['neighborhood', 'identities', 'qspn', 'peers', 'coordinator', 'hooking', 'kernel', 'control', 'transport', 'daemon'] as const
export type LogComponent = typeof LOG_COMPONENTS[number]

export interface LogThresholds {
  /** Threshold of every component without one of its own. */
  readonly level: LogLevel
  readonly components?: Readonly<Partial<Record<LogComponent, LogLevel>>>
}

/** A component's log: called as a function it logs at info (warn for a failure), or at the level named. */
export interface ComponentLog {
  (line: string): void
  readonly component: LogComponent
  error: (line: string) => void
  warn: (line: string) => void
  info: (line: string) => void
  debug: (line: string) => void
  /** Whether a line of this level would be written (to skip building costly debug lines). */
  enabled: (level: LogLevel) => boolean
}

/** A bad level or component in a log setting; the configuration turns it into a ConfigError naming the flag. */
export class LogSettingError extends Error {
  constructor (message: string) { super(message); this.name = 'LogSettingError' }
}

const rank = (l: LogLevel): number => LOG_LEVELS.indexOf(l)

/** A level as written by a user (case-insensitive). */
export function parseLogLevel (v: unknown): LogLevel {
  const s = typeof v === 'string' ? v.trim().toLowerCase() : v
  if (typeof s === 'string' && (LOG_LEVELS as readonly string[]).includes(s)) return s as LogLevel
  throw new LogSettingError(`${JSON.stringify(v)} is not a log level (one of ${LOG_LEVELS.join(', ')})`)
}

/** A component as written by a user: `qspn` or `ntkd:qspn`. */
export function parseLogComponent (v: string): LogComponent {
  const s = v.trim().toLowerCase().replace(/^ntkd:/, '')
  if ((LOG_COMPONENTS as readonly string[]).includes(s)) return s as LogComponent
  throw new LogSettingError(`"${v}" is not a component (one of ${LOG_COMPONENTS.join(', ')})`)
}

/** `qspn=debug,kernel=warn` (NTKD_LOG, or one `--log` each): component levels. Empty items are ignored. */
export function parseComponentLevels (spec: string): Partial<Record<LogComponent, LogLevel>> {
  const out: Partial<Record<LogComponent, LogLevel>> = {}
  for (const item of spec.split(',').map(s => s.trim()).filter(s => s !== '')) {
    const m = /^([^=]+)=(.*)$/.exec(item)
    if (m === null) throw new LogSettingError(`"${item}" is not COMPONENT=LEVEL, e.g. qspn=debug`)
    out[parseLogComponent(m[1])] = parseLogLevel(m[2])
  }
  return out
}

/** The level of a plain line: warn when it reports a failure, info otherwise. */
export function levelOfLine (line: string): LogLevel {
  return /\b(failed|threw|cannot|refused|error)\b/i.test(line) ? 'warn' : 'info'
}

export class Logger {
  readonly #cache = new Map<LogComponent, ComponentLog>()

  constructor (
    readonly thresholds: LogThresholds,
    private readonly write: (line: string) => void = line => { process.stderr.write(line + '\n') },
    private readonly now: () => number = () => Date.now()
  ) {}

  threshold (component: LogComponent): LogLevel {
    return this.thresholds.components?.[component] ?? this.thresholds.level
  }

  /** The log function of one component (the same object for every call). */
  of (component: LogComponent): ComponentLog {
    const known = this.#cache.get(component)
    if (known !== undefined) return known
    const enabled = (level: LogLevel): boolean => rank(level) <= rank(this.threshold(component))
    const at = (level: LogLevel) => (line: string): void => {
      if (enabled(level)) this.write(`${new Date(this.now()).toISOString()} ${level} ntkd:${component} ${line}`)
    }
    const log = Object.assign((line: string): void => { at(levelOfLine(line))(line) }, {
      component, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), enabled
    })
    this.#cache.set(component, log)
    return log
  }
}

/** A component's log that writes lines as they are to `write` (no prefix; debug dropped): nodes without a Logger. */
export function plainLog (component: LogComponent, write: (line: string) => void): ComponentLog {
  return Object.assign((line: string): void => { write(line) }, {
    component, error: write, warn: write, info: write, debug: () => {}, enabled: (level: LogLevel) => level !== 'debug'
  })
}
