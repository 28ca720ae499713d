import type { Endpoint } from '../../../src/transport'
import { PeersRedoFromStartError, PeersRefuseExecutionError } from '../../../src/peers'
import { type DaemonNetwork, runFor, startDaemons, startSpec } from '../inprocess-network'
import type { Corpus } from './corpus'
import type { Signer } from './delivery'
import { RING6 } from './network'

/*
 * The scenarios whose traffic is the fuzzer's seed corpus, all in process with the campaign's network key:
 *   - the ring (the network that is fuzzed, same seeds): forming, a link failing and healing, strangers answered,
 *     Coordinator reservations (PeerServices requests forwarded hop by hop, answers routed back), graceful stops;
 *   - lone daemons without an address meeting (Hooking: network data, evaluation by the Coordinator, migration path,
 *     entry; the Identities' duplications, identity-arcs added and removed, QSPN refusals while bootstrapping and
 *     the destroy signals of a dismissed identity). Their messages name identities of another network: the campaign
 *     re-addresses them to the ring's (see Placement) or delivers them as they are.
 * Each scenario records, per daemon, every identity id, MAC and link-local it had, so that the campaign knows whose
 * values a seed carries.
 */

/** Values that name one daemon of a capture (its identities, MACs, link-locals), by daemon. */
export type Owners = Map<string, { network: string, node: string }>

/** Notes every identity id, MAC and link-local each daemon of `dn` has now as owned by it. */
export function noteOwners (dn: DaemonNetwork, network: string, owners: Owners): void {
  for (const d of dn.list()) {
    const mine = { network, node: d.name }
    for (const i of d.node.identities()) {
      owners.set(i.id, mine)
      for (const n of i.nics) { owners.set(n.mac.toUpperCase(), mine); if (n.linkLocal != null) owners.set(n.linkLocal, mine) }
    }
    for (const n of d.node.status().nics) if (n.linkLocal != null) owners.set(n.linkLocal, mine)
    for (const nic of d.config.interfaces) owners.set(d.macOf(nic).toUpperCase(), mine)
  }
}

/** Runs the clock while `p` is pending (at most `budgetMs` of virtual time); its result, or undefined if it failed. */
async function drive<T> (dn: DaemonNetwork, p: Promise<T>, budgetMs = 30_000): Promise<T | undefined> {
  let done = false
  const watched = p.then(v => v, () => undefined).finally(() => { done = true })
  for (let waited = 0; !done && waited < budgetMs; waited += 50) await runFor(dn.clock, 50)
  return await watched
}

/** Runs the clock in steps, noting owners after each (identities come and go while networks merge). */
async function runNoting (dn: DaemonNetwork, ms: number, network: string, owners: Owners): Promise<void> {
  for (let t = 0; t < ms; t += 500) { await runFor(dn.clock, 500); noteOwners(dn, network, owners) }
}

/** The ring's traffic: forming, a link down and up, strangers, Coordinator reservations, graceful stops. */
export async function captureRing (seed: number, networkKey: string, signer: Signer, corpus: Corpus, owners: Owners): Promise<void> {
  const dn = await startSpec(RING6, { seed, networkKey })
  dn.net.tap = leg => corpus.record(leg, 'ring')
  try {
    await runFor(dn.clock, 20_000)
    noteOwners(dn, 'ring', owners)
    const cd: Endpoint = { node: 'c', nic: dn.get('c').config.interfaces[1] }
    const dc = dn.peerOf(cd.node, cd.nic)
    dn.setLinkUp(cd, dc, false)
    await runFor(dn.clock, 6_000)
    dn.setLinkUp(cd, dc, true)
    await runFor(dn.clock, 10_000)
    // each kind of request once from a stranger to each node: the refusals a node answers with
    const stranger: Endpoint = { node: 'stranger', nic: 'x0' }
    const asked = new Set<string>()
    for (const s of corpus.where(x => x.via === 'unicast')) {
      if (asked.has(`${s.kind} ${s.to.node}`)) continue
      asked.add(`${s.kind} ${s.to.node}`)
      const reply = await dn.net.injectRequest(stranger, s.to, signer.sign(s.text), '169.254.254.254')
      if (reply !== undefined) corpus.add(JSON.parse(reply.toString('utf8')), s.to, stranger, 'reply', 'ring', s.kind)
    }
    await runFor(dn.clock, 1_000)
    // Coordinator requests: each node books a place in each of its g-nodes and frees it again (PeerServices'
    // requests travel hop by hop to the servant, its answers come back routed)
    for (const d of dn.list()) {
      for (let lvl = 1; lvl < dn.topology.levels; lvl++) {
        const id = 1000 + lvl
        await drive(dn, d.node.coordinatorCommand(['reserve', String(lvl), String(id)]))
        await drive(dn, d.node.coordinatorCommand(['delete-reserve', String(lvl), String(id)]))
      }
    }
    await runFor(dn.clock, 2_000)
    await peersExtras(dn, corpus, signer)
    await signals(dn)
    // graceful stops: each node tells its neighbours still running to remove their arcs (f first, then the rest)
    await dn.stop('f')
    await runFor(dn.clock, 2_000)
    await dn.stopAll()
  } finally {
    dn.net.tap = undefined
    await dn.stopAll()
  }
  // the same ring again, stopped in the other order: remove_arc in the other direction of every link
  const again = await startSpec(RING6, { seed, networkKey })
  try {
    await runFor(again.clock, 20_000)
    again.net.tap = leg => corpus.record(leg, 'ring')
    for (const d of again.list().reverse()) await again.stop(d.name)
  } finally {
    again.net.tap = undefined
    await again.stopAll()
  }
}

const OPTIONAL = 90
const REFUSING = 91
/**
 * What the Coordinator's requests do not show: an optional service (participants flooded, a g-node that does not
 * take part), a servant that refuses or asks to redo, and clients answering what they no longer wait for.
 */
async function peersExtras (dn: DaemonNetwork, corpus: Corpus, signer: Signer): Promise<void> {
  let served = 0
  for (const d of dn.list()) {
    const peers = d.node.system.main.peers.peers
    peers.register({ pId: OPTIONAL, optional: true, exec: () => 'ok' })
    peers.register({
      pId: REFUSING,
      optional: false,
      exec: () => {
        if (served++ % 2 === 0) throw new PeersRedoFromStartError('moving')
        throw new PeersRefuseExecutionError('generic', 'not here')
      }
    })
  }
  dn.get('a').node.system.main.peers.peers.participate(OPTIONAL)
  await runFor(dn.clock, 3_000)
  // a stops taking part: the others' maps still name it until they expire, and requests reaching it are turned back
  dn.get('a').node.system.main.peers.peers.participants.stopParticipating(OPTIONAL)
  for (const d of dn.list()) {
    const peers = d.node.system.main.peers.peers
    for (const pId of [OPTIONAL, REFUSING]) {
      await drive(dn, peers.contactPeer(pId, peers.perfectTuple(`${d.name} ${pId}`), { q: d.name }, { timeoutExecMs: 2_000 }), 20_000)
    }
  }
  // routed messages replayed to their receivers: a client no longer waiting answers peers_unknown_message
  for (const s of corpus.where(x => x.via === 'routed' && x.origin === 'ring')) {
    if (!dn.daemons.has(s.to.node) || s.source === undefined) continue
    const reply = await drive(dn, dn.net.injectRouted(s.to.node, s.source, signer.sign(s.text)), 5_000)
    if (reply !== undefined) corpus.add(JSON.parse(reply.toString('utf8')), s.to, s.from, 'reply', 'ring', s.kind, s.source)
  }
}

/** QSPN's destroy signals, sent by the messenger of each node's main identity over one of its arcs. */
async function signals (dn: DaemonNetwork): Promise<void> {
  for (const d of dn.list()) {
    const r = d.node.system.main
    const arcs = [...r.qspnArcs.keys()].slice(0, 1)
    r.messenger.sendSignal(arcs, d.name < 'd' ? 'prepare_destroy' : 'destroy')
  }
  await runFor(dn.clock, 5_000)
}

/**
 * Lone daemons meeting: a line of three (n0-n1-n2) and a pair (n3-n4), each merging into one network, then the two
 * networks joined by a link n2-n3 (a g-node of several nodes enters the other network: propagations inside it, the
 * migration path, duplications on both sides of an arc).
 */
export async function captureMerge (seed: number, networkKey: string, corpus: Corpus, owners: Owners): Promise<DaemonNetwork> {
  const plan = { n0: ['e0'], n1: ['e0', 'e1'], n2: ['e0', 'e1'], n3: ['e0', 'e1'], n4: ['e0'] }
  const dn = await startDaemons(Object.fromEntries(Object.entries(plan).map(([n, nics]) => [n, { nics }])), { topologyBits: [2, 1, 1, 1], seed: seed + 1, networkKey })
  dn.net.tap = leg => corpus.record(leg, 'merge')
  try {
    dn.link({ node: 'n0', nic: 'e0' }, { node: 'n1', nic: 'e0' })
    dn.link({ node: 'n1', nic: 'e1' }, { node: 'n2', nic: 'e0' })
    dn.link({ node: 'n3', nic: 'e1' }, { node: 'n4', nic: 'e0' })
    await runNoting(dn, 40_000, 'merge', owners)
    dn.link({ node: 'n2', nic: 'e1' }, { node: 'n3', nic: 'e0' })
    await runNoting(dn, 60_000, 'merge', owners)
    // a link of the merged network fails and heals: arcs and identity-arcs removed and made again
    dn.setLinkUp({ node: 'n1', nic: 'e1' }, { node: 'n2', nic: 'e0' }, false)
    await runNoting(dn, 10_000, 'merge', owners)
    dn.setLinkUp({ node: 'n1', nic: 'e1' }, { node: 'n2', nic: 'e0' }, true)
    await runNoting(dn, 20_000, 'merge', owners)
    // an identity-arc added by hand (ntkctl add-identity-arc): the neighbour lists its identities, then is asked
    const n0 = dn.get('n0').node
    await drive(dn, n0.ops.addIdentityArc(String(n0.identities()[0].index), 'e0', dn.get('n1').macOf('e0'), 'main'))
    await runNoting(dn, 2_000, 'merge', owners)
  } finally {
    dn.net.tap = undefined
  }
  return dn
}
