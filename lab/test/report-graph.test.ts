import test from 'ava'
import { GraphvizMissingError, renderGraph, dotToSvg } from '../src/report/graph'
import { initialState } from '../src/scenario/lab-state'
import { ringLab } from '../src/scenario/simulated-lab'
import { missingTools, runnableIf } from '../../daemon/test/helpers/requires'

const lab = ringLab(6)

test('an intact lab is drawn without partitions; every link appears once', async t => {
  const mmd = await renderGraph(lab, undefined, 'mermaid')
  t.regex(mmd, /^graph LR\n {2}%% lab ring6; 1 partition\n/)
  t.notRegex(mmd, /subgraph/)
  t.is((mmd.match(/ ---\|/g) ?? []).length, 6)
  const dot = await renderGraph(lab, undefined, 'dot')
  t.regex(dot, /^graph "ring6" \{/)
  t.is((dot.match(/ -- /g) ?? []).length, 6)
  t.notRegex(dot, /cluster/)
})

test('down links, impaired links, partitions and stopped nodes are marked', async t => {
  const s = initialState(lab)
  s.links.set('r1:eth2--r2:eth1', 'down')
  s.links.set('r4:eth2--r5:eth1', 'down')
  s.impaired.add('r2:eth2--r3:eth1')
  s.stopped.add('r6')
  const mmd = await renderGraph(lab, s, 'mermaid', { notes: { r3: '2 missing' } })
  t.regex(mmd, /%% lab ring6; 3 partitions/)
  t.regex(mmd, /subgraph partition_1\["partition 1"\]\n {4}n_r1\["r1 \(babeld\)"\]\n {2}end/)
  t.regex(mmd, /subgraph partition_3\["partition 3"\]\n {4}n_r5/)
  t.regex(mmd, /n_r1 -\.-\|"eth2 \/ eth1 DOWN"\| n_r2/)
  t.regex(mmd, /n_r2 ===\|"eth2 \/ eth1 impaired"\| n_r3/)
  t.regex(mmd, /linkStyle 0 stroke:#d00,stroke-dasharray:4/)
  t.regex(mmd, /class n_r6 stopped/)
  t.regex(mmd, /n_r3\["r3 \(babeld\)<br\/>2 missing"\]/)
  const dot = await renderGraph(lab, s, 'dot')
  t.regex(dot, /label="ring6 \(3 partitions\)"/)
  t.regex(dot, /subgraph cluster_partition_2 \{\n {4}label="partition 2"/)
  t.regex(dot, /"r1" -- "r2" \[label="eth2 \/ eth1 DOWN", color="#dd0000", style=dashed/)
  t.regex(dot, /"r2" -- "r3" \[label="eth2 \/ eth1 impaired", color="#ee9900"/)
  t.regex(dot, /"r6" \[label="r6\\nbabeld\\nSTOPPED"/)
})

runnableIf(test, missingTools('dot'))('SVG is produced through Graphviz', async t => {
  const s = initialState(lab)
  s.links.set('r1:eth2--r2:eth1', 'down')
  s.links.set('r4:eth2--r5:eth1', 'down')
  const svg = await renderGraph(lab, s, 'svg')
  t.regex(svg, /<svg /)
  t.regex(svg, /partition 2/)
  t.regex(svg, /DOWN/)
})

test('a missing dot binary is a GraphvizMissingError', async t => {
  await t.throwsAsync(dotToSvg('graph {}', { dotBinary: '/nonexistent/dot' }), { instanceOf: GraphvizMissingError })
})
