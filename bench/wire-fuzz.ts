/*
 * Wire fuzzing of whole daemons in process (daemon/test/helpers/fuzz/campaign.ts): seeds of every message kind
 * captured from a ring of six ntkd (forming, failing, Coordinator and PeerServices requests, stopping) and from lone
 * daemons merging (Hooking, duplications), mutated structure-aware (fields removed, added, retyped, out of range, swapped with other nodes' values,
 * spliced, reordered, duplicated; envelopes broken; messages cut, bit-flipped, oversized; replayed, sent by the
 * wrong node or to the wrong node, unsigned or badly signed) and fed to the running daemons; replies are mutated by
 * an impostor that takes a neighbour's place. Prints the rate and markdown tables of counts per mutation class,
 * per message kind and per rejection reason; exits 1 when anything was found.
 *
 *   npx ts-node --transpile-only bench/wire-fuzz.ts [--mutations N] [--seed S] [--epoch N] [--findings N]
 */
import { runWireFuzz, type FuzzReport, type Row } from '../daemon/test/helpers/fuzz/campaign'

function arg (name: string, fallback: number): number {
  const k = process.argv.indexOf(`--${name}`)
  const inline = process.argv.find(a => a.startsWith(`--${name}=`))
  const v = inline !== undefined ? inline.slice(name.length + 3) : k >= 0 ? process.argv[k + 1] : undefined
  if (v === undefined) return fallback
  if (!/^\d+$/.test(v)) { process.stderr.write(`--${name}: "${v}" is not a whole number\n`); process.exit(2) }
  return Number(v)
}

const fmt = (n: number): string => n.toLocaleString('en-US')
const pct = (n: number, of: number): string => of === 0 ? '-' : `${(100 * n / of).toFixed(1)} %`

function rows (title: string, m: Map<string, Row>): string[] {
  const out = [`| ${title} | mutations | rejected | ignored (protocol) | held (judged later: arc wait, claim check) | accepted |`, '| --- | --- | --- | --- | --- | --- |']
  for (const [k, r] of [...m].sort((a, b) => b[1].mutations - a[1].mutations)) {
    out.push(`| ${k} | ${fmt(r.mutations)} | ${fmt(r.rejected)} (${pct(r.rejected, r.mutations)}) | ${fmt(r.ignored)} | ${fmt(r.held)} | ${fmt(r.accepted)} |`)
  }
  return out
}

function print (r: FuzzReport): void {
  const lines = [
    `## Wire fuzz, seed ${r.seed}`,
    '',
    `${fmt(r.mutations)} mutated messages (${fmt(r.unsolicited)} unsolicited, ${fmt(r.replies.mutated)} mutated replies) in ${(r.wallMs / 1000).toFixed(1)} s: ` +
      `**${fmt(Math.round(r.mutations / (r.wallMs / 1000)))} mutations/s** (capture, convergence checks and impostor sessions included); ` +
      `${r.epochs} epochs, each followed by a convergence check against the unfuzzed twin (slowest: back after ${fmt(r.worstSettleMs)} virtual ms). ` +
      `Impostor: ${fmt(r.replies.replayed)} replies replayed unchanged, ${fmt(r.replies.replays)} captured messages replayed to drive the victim.`,
    '',
    `Seeds: distinct messages seen per kind while capturing: ${Object.entries(r.corpus).map(([k, n]) => `${k} ${fmt(n)}`).join(', ')}.`,
    '',
    ...rows('class', r.byClass as Map<string, Row>),
    '',
    ...rows('kind (unsolicited)', r.byKind),
    '',
    '| mutated replies: kind | count |',
    '| --- | --- |',
    ...[...r.replies.byKind].sort((a, b) => b[1] - a[1]).map(([k, n]) => `| ${k} | ${fmt(n)} |`),
    '',
    '| rejection reason (counter that moved) | unsolicited | during impostor sessions |',
    '| --- | --- | --- |',
    ...[...new Set([...r.reasons.keys(), ...r.replyReasons.keys()])].sort((a, b) => (r.reasons.get(b) ?? 0) - (r.reasons.get(a) ?? 0))
      .map(k => `| ${k} | ${fmt(r.reasons.get(k) ?? 0)} | ${fmt(r.replyReasons.get(k) ?? 0)} |`),
    '',
    r.findings.length === 0 ? 'Findings: none (no exception escaped, nothing rejected changed state, every epoch came back to the twin\'s state).' : `Findings: ${r.findings.length}`,
    ...r.findings.slice(0, 20).map(f => `- ${f}`)
  ]
  process.stdout.write(lines.join('\n') + '\n')
}

let failed = false
let finished = false
// a campaign whose promises stop settling would let the process end quietly: say so instead
process.on('beforeExit', () => { if (!finished) { process.stderr.write('wire-fuzz: the run stalled (a promise never settled)\n'); process.exit(1) } })
process.on('unhandledRejection', e => { failed = true; process.stderr.write(`unhandled rejection: ${(e as Error)?.stack ?? String(e)}\n`) })
process.on('uncaughtException', e => { failed = true; process.stderr.write(`uncaught exception: ${e.stack ?? String(e)}\n`) })

runWireFuzz({
  mutations: arg('mutations', 1_000_000),
  seed: arg('seed', 1),
  epochSize: arg('epoch', 5_000),
  maxFindings: arg('findings', 50),
  progress: l => process.stderr.write(`${l}\n`)
}).then(r => {
  finished = true
  print(r)
  process.exit(r.findings.length > 0 || failed ? 1 : 0)
}, (e: Error) => {
  process.stderr.write(`wire-fuzz: ${e.stack ?? e.message}\n`)
  process.exit(1)
})
