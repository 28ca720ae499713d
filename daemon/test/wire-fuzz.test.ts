import test from 'ava'
import { ntkdMessageRegistry } from '../src/node'
import { runWireFuzz } from './helpers/fuzz/campaign'
import { TREE_CLASSES, BYTE_CLASSES, DELIVERY_CLASSES } from './helpers/fuzz/mutate'

// The short, seeded variant of bench/wire-fuzz.ts (a million mutations there): the same campaign and oracle, 26,000
// mutations (kinds are drawn uniformly: 41 kinds need more than 20,500 for 500 of each, and a margin). See
// daemon/test/helpers/fuzz/campaign.ts for what is checked.

test('wire fuzz: 26,000 mutations of every message kind fed to a running ring change nothing they are rejected for, crash nothing, and the ring comes back to its unfuzzed twin', async t => {
  const r = await runWireFuzz({ mutations: 26_000, seed: 16, epochSize: 6_500, maxFindings: 10, progress: l => t.log(l) })
  t.deepEqual(r.findings, [], 'no findings')
  t.true(r.mutations >= 26_000)
  const kinds = ntkdMessageRegistry().kinds()
  for (const k of kinds) t.true((r.byKind.get(k)?.mutations ?? 0) >= 500, `${k}: fuzzed (${r.byKind.get(k)?.mutations ?? 0})`)
  for (const c of [...TREE_CLASSES, ...BYTE_CLASSES, ...DELIVERY_CLASSES]) t.true((r.byClass.get(c)?.mutations ?? 0) > 0, `class ${c} used`)
  for (const k of ['void', 'can_you_export_reply', 'qspn_full_etp']) t.true((r.replies.byKind.get(k) ?? 0) > 0, `mutated ${k} replies (${r.replies.byKind.get(k) ?? 0})`)
  // every layer refused something: the codec, QSPN's validator, the identity demultiplexer, the Neighborhood
  const reasons = [...r.reasons.keys()]
  // (the demultiplexer: identities it does not have, identity-arcs it does not have; the Identities: no arc, and
  // claims the sender's own identity list belied)
  for (const layer of ['wire invalid', 'wire bad-json', 'wire unauthenticated', 'wire oversized', 'qspn etp ', 'identities unknown-identity', 'identities unknown-arc', 'identities no-arc', 'identities unverified', 'neighbourhood not-for-us']) {
    t.true(reasons.some(k => k.startsWith(layer)), `${layer} rejections counted`)
  }
  // and some mutated messages were still valid and taken (so the twin comparison had something to judge)
  t.true([...r.byKind.values()].reduce((s, x) => s + x.accepted, 0) > 1_000)
  t.log(`${r.mutations} mutations in ${(r.wallMs / 1000).toFixed(1)} s; slowest return to the twin's state ${r.worstSettleMs} virtual ms`)
})
