// Tests that need root, a tool or a backend are decided when the file loads: registered as usual when all is
// there, skipped with the reason in the title when not (`... (skipped: babeld is not installed)`), never a
// pass that did not run. Under NTK_REQUIRE_BACKENDS=1 (set by .ci/run, which installs every backend) a test
// that cannot run fails instead, naming what is missing.
import { spawnSync } from 'node:child_process'
import type { ImplementationFn } from 'ava'

export const REQUIRE_BACKENDS_ENV = 'NTK_REQUIRE_BACKENDS'

/** The first reason given, or undefined when every check found what it needs. */
export function firstMissing (...reasons: Array<string | undefined>): string | undefined {
  return reasons.find(r => r !== undefined)
}

/** 'it needs root' unless this process runs as root. */
export function missingRoot (): string | undefined {
  return process.getuid?.() === 0 ? undefined : 'it needs root'
}

const found = new Map<string, boolean>()
/** 'X is not installed' for the first tool of `tools` that is not on PATH. */
export function missingTools (...tools: string[]): string | undefined {
  for (const tool of tools) {
    if (!/^[\w.+-]+$/.test(tool)) throw new Error(`not a tool name: ${tool}`)
    let ok = found.get(tool)
    if (ok === undefined) {
      ok = spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore', timeout: 5000 }).status === 0
      found.set(tool, ok)
    }
    if (!ok) return `${tool} is not installed`
  }
  return undefined
}

type Register<C> = ((title: string, impl: ImplementationFn<[], C>) => void) & { skip: (title: string, impl: ImplementationFn<[], C>) => void }

/**
 * `register` itself when `missing` is undefined; otherwise a registrar that skips with the reason in the title,
 * or, when NTK_REQUIRE_BACKENDS=1, registers a test that fails naming the reason.
 */
export function runnableIf<C> (register: Register<C>, missing: string | undefined): (title: string, impl: ImplementationFn<[], C>) => void {
  if (missing === undefined) return (title, impl) => { register(title, impl) }
  if (process.env[REQUIRE_BACKENDS_ENV] === '1') {
    return (title) => {
      register(`${title} (cannot run: ${missing})`, t => { t.fail(`${REQUIRE_BACKENDS_ENV}=1 and this test cannot run: ${missing}`) })
    }
  }
  return (title, impl) => { register.skip(`${title} (skipped: ${missing})`, impl) }
}
