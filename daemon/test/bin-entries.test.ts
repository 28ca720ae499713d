import test from 'ava'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

// The programs package.json installs (`npm link`, `npm install -g`): each bin entry is the compiled CLI, whose
// shebang runs it as the kernel would (interpreter, its one optional argument, the file, the arguments); and
// this checkout's bin/ wrappers still run the build.
const root = join(__dirname, '..', '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }

async function exec (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number, out: string }> {
  return await new Promise(resolve => {
    execFile(cmd, args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: stdout + stderr })
    })
  })
}

test('package.json installs ntkd, ntkctl and ntklab from dist', t => {
  t.deepEqual(pkg.bin, { ntklab: 'dist/lab/src/cli/ntklab.js', ntkd: 'dist/daemon/src/cli/ntkd.js', ntkctl: 'dist/daemon/src/cli/ntkctl.js' })
})

for (const name of ['ntkd', 'ntkctl', 'ntklab']) {
  test(`${name}: the installed file's shebang runs it`, async t => {
    const file = join(root, pkg.bin[name])
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`make build\` (or npx tsc -p tsconfig.json) before the tests`)
    const m = /^#!(\S+)(?: (.+))?\n/.exec(readFileSync(file, 'utf8'))
    if (m === null) { t.fail(`${file} has no shebang`); return }
    const r = await exec(m[1], [...(m[2] === undefined ? [] : [m[2]]), file, '--help'])
    t.is(r.code, 0, r.out)
    t.regex(r.out, new RegExp(`^usage: ${name} `, 'm'))
  })
}

test('ntkd keeps its small young generation and V8 lite mode when started through its shebang or bin/ntkd, without a warning', async t => {
  const flags = '--max-semi-space-size=1 --lite-mode --no-expose-wasm'
  t.true(readFileSync(join(root, 'daemon', 'src', 'cli', 'ntkd.ts'), 'utf8').startsWith(`#!/usr/bin/env -S node ${flags}\n`))
  t.true(readFileSync(join(root, 'bin', 'ntkd'), 'utf8').includes(`flags='${flags}'`))
  // lite mode alone prints "Warning: disabling flag --expose_wasm" at every start, into the daemon's log
  const r = await exec(join(root, 'bin', 'ntkd'), ['--help'], { ...process.env, NTK_FROM_SOURCE: '' })
  t.is(r.code, 0, r.out)
  t.notRegex(r.out, /Warning/)
})

for (const name of ['ntkd', 'ntkctl']) {
  test(`bin/${name} runs the build (and the sources with NTK_FROM_SOURCE=1)`, async t => {
    const built = await exec(join(root, 'bin', name), ['--help'], { ...process.env, NTK_FROM_SOURCE: '' })
    t.is(built.code, 0, built.out)
    t.regex(built.out, new RegExp(`^usage: ${name} `, 'm'))
    const source = await exec(join(root, 'bin', name), ['--help'], { ...process.env, NTK_FROM_SOURCE: '1' })
    t.is(source.code, 0, source.out)
    t.regex(source.out, new RegExp(`^usage: ${name} `, 'm'))
  })
}
