import test from 'ava'
import { REQUIRE_BACKENDS_ENV, firstMissing, missingTools, runnableIf } from './helpers/requires'

// The helper that decides, when a test file loads, whether a test runs, is skipped saying why, or (under CI) fails.

interface Registered { how: 'run' | 'skip', title: string, impl: (t: never) => unknown }

function recorder (): { calls: Registered[], register: Parameters<typeof runnableIf>[0] } {
  const calls: Registered[] = []
  const register = Object.assign(
    (title: string, impl: (t: never) => unknown) => { calls.push({ how: 'run', title, impl }) },
    { skip: (title: string, impl: (t: never) => unknown) => { calls.push({ how: 'skip', title, impl }) } }
  )
  return { calls, register: register as unknown as Parameters<typeof runnableIf>[0] }
}

test.serial('nothing missing: the test is registered as written', t => {
  const { calls, register } = recorder()
  const impl = (): void => {}
  runnableIf(register, undefined)('title', impl)
  t.deepEqual(calls, [{ how: 'run', title: 'title', impl }])
})

test.serial('something missing: skipped with the reason in the title, never run', t => {
  const before = process.env[REQUIRE_BACKENDS_ENV]
  delete process.env[REQUIRE_BACKENDS_ENV]
  t.teardown(() => { if (before !== undefined) process.env[REQUIRE_BACKENDS_ENV] = before })
  const { calls, register } = recorder()
  runnableIf(register, 'babeld is not installed')('ring converges', () => {})
  t.is(calls.length, 1)
  t.like(calls[0], { how: 'skip', title: 'ring converges (skipped: babeld is not installed)' })
})

test.serial('something missing under NTK_REQUIRE_BACKENDS=1: a test that fails naming what is missing', t => {
  const before = process.env[REQUIRE_BACKENDS_ENV]
  process.env[REQUIRE_BACKENDS_ENV] = '1'
  t.teardown(() => { if (before === undefined) delete process.env[REQUIRE_BACKENDS_ENV]; else process.env[REQUIRE_BACKENDS_ENV] = before })
  const { calls, register } = recorder()
  let ran = false
  runnableIf(register, 'no Docker engine answers')('docker lab', () => { ran = true })
  t.is(calls.length, 1)
  t.like(calls[0], { how: 'run', title: 'docker lab (cannot run: no Docker engine answers)' })
  const failures: string[] = []
  calls[0].impl({ fail: (m: string) => { failures.push(m) } } as never)
  t.false(ran, 'the real body never runs')
  t.deepEqual(failures, ['NTK_REQUIRE_BACKENDS=1 and this test cannot run: no Docker engine answers'])
})

test('tools are looked up on PATH; the first missing one is named', t => {
  t.is(missingTools('sh'), undefined)
  t.is(missingTools('sh', 'ntk-no-such-tool'), 'ntk-no-such-tool is not installed')
  t.throws(() => missingTools('sh; rm -rf /'), { message: /not a tool name/ })
  t.is(firstMissing(undefined, 'a', 'b'), 'a')
  t.is(firstMissing(undefined, undefined), undefined)
})
