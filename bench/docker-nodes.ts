// Docker backend timings: image check, createNodes and removeLab for N nodes, holder memory,
// exec latency. Usage: npx ts-node -T bench/docker-nodes.ts [nodes=10]
import { promises as fs } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { DockerBackend } from '../lab/src/backend/docker'
import type { NodeSpec, ResolvedLab } from '../lab/src/topology/model'

async function rssKb (pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  return Number(/^VmRSS:\s*(\d+)/m.exec(status)?.[1] ?? 0)
}

/** RSS of a process and its direct children (the holder's sleep). */
async function treeRssKb (pid: number): Promise<number> {
  const children = (await fs.readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean).map(Number)
  let sum = await rssKb(pid)
  for (const c of children) sum += await rssKb(c)
  return sum
}

async function main (): Promise<void> {
  const n = Number(process.argv[2] ?? 10)
  const backend = new DockerBackend()
  await backend.check()
  let t = performance.now()
  const image = await backend.labImage()
  console.log(`image ${image}: ensure ${Math.round(performance.now() - t)} ms`)
  const node = (name: string): NodeSpec => ({ name, kind: 'linux', env: {}, config: {}, interfaces: {}, exec: [], privileged: false })
  const lab: ResolvedLab = { name: `dkb${randomBytes(3).toString('hex')}`, nodes: Array.from({ length: n }, (_, i) => node(`n${i}`)), links: [], timeline: [] }
  try {
    t = performance.now()
    const nodes = await backend.createNodes(lab)
    console.log(`createNodes ${n}: ${Math.round(performance.now() - t)} ms`)
    const rss = await Promise.all(nodes.map(async h => await treeRssKb(h.pid)))
    console.log(`holder RSS (sh + sleep): mean ${Math.round(rss.reduce((a, b) => a + b, 0) / rss.length)} kB`)
    t = performance.now()
    for (let i = 0; i < 10; i++) await backend.exec(nodes[i % nodes.length], ['ip', '-V'])
    console.log(`exec ip -V: ${Math.round((performance.now() - t) / 10)} ms each`)
  } finally {
    t = performance.now()
    await backend.removeLab(lab.name)
    console.log(`removeLab ${n}: ${Math.round(performance.now() - t)} ms`)
  }
}

main().catch((err) => { console.error(err); process.exitCode = 1 })
