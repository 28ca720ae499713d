import test from 'ava'
import { wireLinks } from '../src/wiring/veth'
import { setLinkState, waitLinkReady } from '../src/wiring/links'
import { applyImpairment, parseTcRate, probeImpairments } from '../src/wiring/impair'
import { ImpairmentUnsupportedError, InvalidImpairmentError, UnknownLinkError, WiringError } from '../src/wiring/errors'
import { observeNode } from '../src/observe'
import { run } from '../src/util/exec'
import { firstMissing, missingRoot, missingTools, runnableIf } from '../../daemon/test/helpers/requires'
import { inNode, lineLab, makeTestNodes, pings } from './wiring-fixture'

const rootTest = runnableIf(test, firstMissing(missingRoot(), missingTools('ip', 'nsenter', 'unshare')))
const AB = 'a:eth1--b:eth1'
const BC = 'b:eth2--c:eth1'

rootTest('wireLinks gives every end its MAC and addresses, and neighbours reach each other', async t => {
  const lab = lineLab()
  // As docker leaves a container: IPv6 disabled. wireLinks turns it back on for link-local addresses.
  const nodes = await makeTestNodes(t, ['a', 'b', 'c'], { setup: 'sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1' })
  await wireLinks(lab, nodes)
  const b = await observeNode(nodes.get('b')!)
  const eth1 = b.links.find(l => l.ifname === 'eth1')
  const eth2 = b.links.find(l => l.ifname === 'eth2')
  t.is(eth1?.mac, '02:00:00:0b:00:01')
  t.is(eth2?.mac, '02:00:00:0b:00:02')
  t.true(eth1?.flags.includes('UP'))
  t.true(b.links.find(l => l.ifname === 'lo')?.flags.includes('UP'))
  t.deepEqual(b.addresses.filter(a => a.family === 'inet' && a.ifname !== 'lo').map(a => `${a.ifname} ${a.address}/${a.prefixlen}`).sort(),
    ['eth1 169.254.10.2/30', 'eth2 169.254.10.5/30'])
  // Connected routes come from the addresses; the local table is left out by default.
  t.truthy(b.routes.find(r => r.table === 'main' && r.dst === '169.254.10.0/30' && r.dev === 'eth1' && r.protocol === 'kernel'))
  t.false(b.routes.some(r => r.table === 'local'))
  // IPv6 is enabled, so the interfaces get link-local addresses.
  await waitLinkReady(lab, nodes, AB, { budgetMs: 10_000 })
  const a = await observeNode(nodes.get('a')!)
  t.truthy(a.addresses.find(x => x.ifname === 'eth1' && x.family === 'inet6' && x.scope === 'link' && x.tentative !== true))
  t.true(await pings(nodes.get('a'), '169.254.10.2'))
  t.true(await pings(nodes.get('c'), '169.254.10.5'))
  // a and c are not neighbours and nothing routes between them.
  t.false(await pings(nodes.get('a'), '169.254.10.6'))
})

rootTest('the lab\'s links skip IPv6 DAD: each end\'s fe80:: is usable as soon as it exists (a daemon\'s first multicast is not refused)', async t => {
  const lab = lineLab()
  const nodes = await makeTestNodes(t, ['a', 'b', 'c'])
  // as deploy wires them (the backends made the nodes with IPv6 on)
  await wireLinks(lab, nodes, { enableIpv6: false })
  const until = Date.now() + 3000
  let ll: Array<{ tentative?: boolean }> = []
  while (Date.now() < until) {
    ll = (await observeNode(nodes.get('b')!)).addresses.filter(x => x.family === 'inet6' && x.scope === 'link')
    if (ll.length >= 2) break
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  t.is(ll.length, 2, 'both of b\'s ends have their fe80::')
  t.true(ll.every(x => x.tentative !== true), 'none tentative, not even at first sight (DAD would keep it so for about a second)')
})

rootTest('a link declared down keeps both ends down; setLinkState takes it up and down', async t => {
  const lab = lineLab({ secondLinkDown: true })
  const nodes = await makeTestNodes(t, ['a', 'b', 'c'])
  await wireLinks(lab, nodes)
  const c = await observeNode(nodes.get('c')!)
  t.false(c.links.find(l => l.ifname === 'eth1')?.flags.includes('UP'))
  t.is(c.links.find(l => l.ifname === 'eth1')?.mac, '02:00:00:0c:00:01')
  t.true(c.addresses.some(a => a.address === '169.254.10.6'), 'addresses are set even on a link that is down')
  t.false(await pings(nodes.get('c'), '169.254.10.5'))

  await setLinkState(lab, nodes, BC, 'up')
  const ready = await waitLinkReady(lab, nodes, BC, { budgetMs: 10_000 })
  t.log(`link ${BC} ready (carrier + IPv6 DAD) after ${ready.afterMs} ms`)
  t.true(await pings(nodes.get('c'), '169.254.10.5'))

  await setLinkState(lab, nodes, AB, 'down')
  t.false(await pings(nodes.get('a'), '169.254.10.2'))
  const b = await observeNode(nodes.get('b')!)
  t.false(b.links.find(l => l.ifname === 'eth1')?.flags.includes('LOWER_UP'), 'the peer of a downed end loses carrier')
  await setLinkState(lab, nodes, AB, 'up')
  await waitLinkReady(lab, nodes, AB, { budgetMs: 10_000 })
  t.true(await pings(nodes.get('a'), '169.254.10.2'))

  const err = await t.throwsAsync(setLinkState(lab, nodes, 'a:eth9--b:eth9', 'up'), { instanceOf: UnknownLinkError })
  t.regex(err?.message ?? '', /unknown link a:eth9--b:eth9; the lab has: a:eth1--b:eth1, b:eth2--c:eth1/)
})

rootTest('a failing veth names its link and the kernel, and the veths already made are removed', async t => {
  const lab = lineLab()
  // Two links want the same interface b:eth1.
  lab.links[1] = { id: 'b:eth1--c:eth1', endpoints: [{ node: 'b', ifname: 'eth1' }, { node: 'c', ifname: 'eth1' }], state: 'up' }
  const nodes = await makeTestNodes(t, ['a', 'b', 'c'])
  const err = await t.throwsAsync(wireLinks(lab, nodes), { instanceOf: WiringError })
  t.regex(err?.message ?? '', /^link b:eth1--c:eth1: .*exists/i)
  const links = await inNode(nodes.get('a'), ['ip', '-j', 'link'], true)
  t.deepEqual((JSON.parse(links.stdout) as Array<{ ifname: string }>).map(l => l.ifname), ['lo'])

  const bad = lineLab()
  bad.links[0].endpoints[0].ifname = 'an-interface-name-too-long'
  await t.throwsAsync(wireLinks(bad, nodes), { instanceOf: WiringError, message: /interface name "an-interface-name-too-long" of a/ })
})

rootTest('loss 100 cuts a link, clearing restores it; rate puts a tbf (or netem) qdisc on both ends', async t => {
  const support = await probeImpairments()
  t.log(`impairment support: netem=${String(support.netem)} tbf=${String(support.tbf)} statistic=${String(support.statistic)} iptables="${support.iptables}" ${JSON.stringify(support.reason)}`)
  t.true(support.netem || (support.statistic && support.tbf), 'this machine has netem or (statistic and tbf)')
  t.false((await run(['ip', 'netns', 'list'])).stdout.includes('ntklab-probe-'), 'the probe namespace is gone')

  const lab = lineLab()
  const nodes = await makeTestNodes(t, ['a', 'b', 'c'])
  await wireLinks(lab, nodes)
  t.true(await pings(nodes.get('a'), '169.254.10.2'))

  await applyImpairment(lab, nodes, AB, { loss: 100 }, { support })
  t.false(await pings(nodes.get('a'), '169.254.10.2'))
  t.false(await pings(nodes.get('b'), '169.254.10.1'))
  t.true(await pings(nodes.get('b'), '169.254.10.6'), 'the other link of b is untouched')
  // Without probe results, applyImpairment finds its way by itself (netem first, then fallbacks).
  await applyImpairment(lab, nodes, AB, { loss: 30 })
  if (!support.netem) {
    const a = await observeNode(nodes.get('a')!)
    t.truthy(a.iptables.rules.find(r => r.table === 'filter' && r.chain === 'NTKLAB-LOSS-eth1' && /statistic --mode random --probability 0\.(2999\d*|30*) /.test(r.spec)))
    t.truthy(a.iptables.rules.find(r => r.chain === 'OUTPUT' && r.spec === '-o eth1 -j NTKLAB-LOSS-eth1'))
    t.truthy(a.iptables.rules.find(r => r.chain === 'FORWARD' && r.spec === '-o eth1 -j NTKLAB-LOSS-eth1'))
  }
  await applyImpairment(lab, nodes, AB, undefined)
  t.true(await pings(nodes.get('a'), '169.254.10.2'))
  const cleared = await observeNode(nodes.get('a')!)
  t.deepEqual(cleared.iptables.rules, [], 'clearing removes our chain and its jumps')

  await applyImpairment(lab, nodes, AB, { rate: '2mbit' }, { support })
  for (const [name, ifname] of [['a', 'eth1'], ['b', 'eth1']] as const) {
    const q = await run(['tc', '-n', nodes.get(name)!.netns, '-j', 'qdisc', 'show', 'dev', ifname])
    const root = (JSON.parse(q.stdout) as Array<{ kind: string, root?: boolean, options?: { rate?: number } }>).find(x => x.root === true)
    t.is(root?.kind, support.netem ? 'netem' : 'tbf', `${name}:${ifname}`)
    if (root?.kind === 'tbf') t.is(root.options?.rate, 250_000, '2mbit is 250000 bytes/s')
  }
  t.true(await pings(nodes.get('a'), '169.254.10.2'), 'a rate limit still passes pings')
  await applyImpairment(lab, nodes, AB, {})
  const q = await run(['tc', '-n', nodes.get('a')!.netns, '-j', 'qdisc', 'show', 'dev', 'eth1'])
  t.false((JSON.parse(q.stdout) as Array<{ kind: string }>).some(x => x.kind === 'tbf' || x.kind === 'netem'))

  await t.throwsAsync(applyImpairment(lab, nodes, AB, { loss: 150 }), { instanceOf: InvalidImpairmentError, message: /link a:eth1--b:eth1: loss 150/ })
  await t.throwsAsync(applyImpairment(lab, nodes, AB, { rate: 'fast' }), { instanceOf: InvalidImpairmentError, message: /rate "fast"/ })
  const lacking = { ...support, netem: false, tbf: false, reason: { tbf: 'Specified qdisc kind is unknown.' } }
  await t.throwsAsync(applyImpairment(lab, nodes, AB, { rate: '1mbit' }, { support: lacking }), { instanceOf: ImpairmentUnsupportedError, message: /rate needs netem or tbf, which this kernel lacks/ })
})

test('parseTcRate reads tc units as bytes per second', t => {
  t.is(parseTcRate('8bit'), 1)
  t.is(parseTcRate('10mbit'), 1_250_000)
  t.is(parseTcRate('512kbit'), 64_000)
  t.is(parseTcRate('1kibit'), 128)
  t.is(parseTcRate('100kbps'), 100_000)
  t.is(parseTcRate('8000'), 1000)
  t.is(parseTcRate('10 furlongs'), undefined)
  t.is(parseTcRate('3parsecs'), undefined)
})
