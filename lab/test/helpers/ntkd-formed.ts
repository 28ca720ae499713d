import type { ExecutionContext } from 'ava'
import { deployLab, type RunningLab } from '../../src/lab'
import { defaultKinds, parseTopology } from '../../src/topology'
import type { ResolvedLab } from '../../src/topology/model'
import { scenarioFromLab } from '../../src/scenario/scenario-file'
import { runScenario } from '../../src/scenario/runner'
import { kernelView } from '../../src/scenario/kernel-view'
import { checkedBackend, uniqueLabName } from './lab-fixture'

// The lab tests of ntkd without addresses share two steps: deploy a topology and wait until it has formed one
// network (every table the model's), and, at the end, find nothing stale on any node.

/** `yaml` deployed on netns under a unique name, formed within 120 s; destroyed in the test's teardown if still up. */
export async function deployFormed (t: ExecutionContext, yaml: string, file: string, prefix: string): Promise<{ spec: ResolvedLab, lab: RunningLab, pids: number[] }> {
  const backend = await checkedBackend('netns')
  const form = `timeline:
  - name: the network forms
    wait: { network: single, identities: main, addresses: unique, converged: true }
    within: 120s
    interval: 500ms
`
  const spec = { ...parseTopology(yaml + form, file, defaultKinds()), name: uniqueLabName(prefix) }
  const lab = await deployLab(spec, backend)
  t.teardown(async () => { await lab.destroy().catch(() => {}) })
  const pids = [...lab.nodes.values()].map(n => n.pid)
  const formed = await runScenario(scenarioFromLab(spec), lab, { seed: 1 })
  t.true(formed.passed, `formed: ${formed.steps.find(s => s.status === 'failed')?.error ?? ''}`)
  return { spec, lab, pids }
}

/** No ntkv* namespace and no pseudo-interface left on any node of the lab (after the identities that moved went). */
export async function assertNothingStale (t: ExecutionContext, lab: RunningLab, nodes: readonly string[]): Promise<void> {
  for (const n of nodes) {
    const v = kernelView(await lab.observe(n))
    t.deepEqual(Object.keys(v), ['default'], `${n}: no ntkv* namespace left`)
    t.deepEqual(Object.keys(v.default.links).filter(l => !/^(lo|eth\d+)$/.test(l)), [], `${n}: no pseudo-interface left`)
  }
}
