// Lab hygiene: N deploy/destroy cycles per backend of a small lab (a line of 3 ntkd, a ring of 4 linux nodes),
// each destroyed once its daemons answer, then a count of what is left on the host per category. Prints a
// markdown table; exits 1 when anything is left (or a cycle failed). As root, under the lab lock.
// Usage: npx ts-node --transpile-only bench/lab-hygiene.ts [--netns 100] [--docker 20]
//        (the docker backend runs the compiled daemon from its image: build first, npx tsc -p tsconfig.json)
import { parseArgs } from 'node:util'
import { makeBackend } from '../lab/src/backend'
import { deployLab, destroyLab } from '../lab/src/lab'
import { HYGIENE_CATEGORIES, HYGIENE_WHAT, LeftoverTracker, daemonsAnswer, hygieneTopology, leftoverCount, type Leftovers } from '../lab/src/hygiene'

interface BackendRun { backend: string, cycles: number, failed: string[], seconds: number, deployMs: number[], destroyMs: number[], leftovers: Leftovers }

async function cycles (backendName: string, count: number): Promise<BackendRun> {
  const backend = makeBackend(backendName)
  await backend.check()
  const tracker = await LeftoverTracker.start()
  const failed: string[] = []
  const deployMs: number[] = []
  const destroyMs: number[] = []
  const started = Date.now()
  for (let i = 1; i <= count; i++) {
    const name = `hyg-${process.pid}-${backendName[0]}${i}`
    tracker.labs.add(name)
    try {
      const t0 = Date.now()
      const lab = await deployLab(hygieneTopology(name), backend)
      deployMs.push(Date.now() - t0)
      await tracker.recordDeployed(lab)
      const silent = await daemonsAnswer(lab, 30_000)
      if (silent.length > 0) failed.push(`${name}: daemons of ${silent.join(', ')} did not answer within 30 s`)
      const t1 = Date.now()
      await lab.destroy()
      destroyMs.push(Date.now() - t1)
    } catch (err) {
      failed.push(`${name}: ${(err as Error).message}`)
      await destroyLab(name, backend).catch(() => {})
    }
    await tracker.recordDestroyed(name)
    if (i % 10 === 0 || i === count) process.stderr.write(`${backendName}: ${i}/${count} cycles, ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
  }
  const seconds = (Date.now() - started) / 1000
  return { backend: backendName, cycles: count, failed, seconds, deployMs, destroyMs, leftovers: await tracker.count() }
}

const median = (xs: number[]): string => xs.length === 0 ? '-' : ([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] / 1000).toFixed(2)

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { netns: { type: 'string', default: '100' }, docker: { type: 'string', default: '20' } } })
  const plan = [['netns', Number(values.netns)], ['docker', Number(values.docker)]] as const
  for (const [b, n] of plan) if (!Number.isInteger(n) || n < 0) throw new Error(`--${b} takes a number of cycles, not ${String(n)}`)
  const runs: BackendRun[] = []
  for (const [b, n] of plan) if (n > 0) runs.push(await cycles(b, n))

  const head = `| left after | ${runs.map(r => `${r.backend} (${r.cycles} cycles)`).join(' | ')} | what is counted |`
  const rows = HYGIENE_CATEGORIES.map(c => `| ${c} | ${runs.map(r => String(r.leftovers[c].length)).join(' | ')} | ${HYGIENE_WHAT[c]} |`)
  rows.push(`| failed cycles | ${runs.map(r => String(r.failed.length)).join(' | ')} | deploy, daemons answering, destroy |`)
  rows.push(`| median deploy / destroy (s) | ${runs.map(r => `${median(r.deployMs)} / ${median(r.destroyMs)}`).join(' | ')} | |`)
  rows.push(`| wall time (s) | ${runs.map(r => r.seconds.toFixed(0)).join(' | ')} | |`)
  process.stdout.write([head, `|---|${runs.map(() => '---|').join('')}---|`, ...rows].join('\n') + '\n')

  let bad = false
  for (const r of runs) {
    for (const f of r.failed) { bad = true; process.stdout.write(`${r.backend}: failed cycle ${f}\n`) }
    if (leftoverCount(r.leftovers) > 0) bad = true
    for (const c of HYGIENE_CATEGORIES) for (const x of r.leftovers[c].slice(0, 10)) process.stdout.write(`${r.backend}: left: ${c}: ${x}\n`)
  }
  process.exitCode = bad ? 1 : 0
}

main().catch((err: unknown) => {
  process.stderr.write(`lab-hygiene: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
