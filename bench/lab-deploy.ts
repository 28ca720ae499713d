// Deploy and destroy times of grid labs on each backend; prints a markdown table.
// Usage: node dist/bench/lab-deploy.js [--backends netns,docker] [--sizes 10,50,100]
import { parseArgs } from 'node:util'
import { gridTopology } from '../lab/src/topology/generate'
import { makeBackend } from '../lab/src/backend'
import { deployLab, destroyLab } from '../lab/src/lab'

const SHAPES: Record<number, [number, number]> = { 10: [2, 5], 25: [5, 5], 50: [5, 10], 100: [10, 10] }

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { backends: { type: 'string', default: 'netns,docker' }, sizes: { type: 'string', default: '10,50,100' } } })
  const rows: string[] = []
  for (const backendName of (values.backends as string).split(',')) {
    const backend = makeBackend(backendName)
    try {
      await backend.check()
    } catch (err) {
      rows.push(`| ${backendName} | - | - | - | - | skipped: ${(err as Error).message} |`)
      continue
    }
    for (const size of (values.sizes as string).split(',').map(Number)) {
      const shape = SHAPES[size]
      if (shape === undefined) throw new Error(`no grid shape for ${size} nodes (sizes: ${Object.keys(SHAPES).join(', ')})`)
      const spec = gridTopology(`bench${backendName[0]}${size}`, shape[0], shape[1])
      await destroyLab(spec.name, backend)
      const t0 = performance.now()
      const lab = await deployLab(spec, backend, { progress: msg => { process.stderr.write(`  ${spec.name}: ${msg}\n`) } })
      const up = performance.now() - t0
      const t1 = performance.now()
      await lab.destroy()
      const down = performance.now() - t1
      rows.push(`| ${backendName} | ${size} (${shape[0]}x${shape[1]}) | ${spec.links.length} | ${(up / 1000).toFixed(2)} | ${(down / 1000).toFixed(2)} | |`)
      process.stderr.write(rows[rows.length - 1] + '\n')
    }
  }
  process.stdout.write('| backend | nodes | links | deploy (s) | destroy (s) | note |\n|---|---|---|---|---|---|\n' + rows.join('\n') + '\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
