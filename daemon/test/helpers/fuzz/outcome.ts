import { REJECTION_REASONS } from '../../../src/wire'
import type { Daemon, DaemonNetwork } from '../inprocess-network'

/*
 * What a node did with one message, read from its own counters: which rejection counters moved (the codec's
 * wire.rejected.*, QSPN's etpRejected with the validator's reason, the identity demultiplexer's messages for an
 * identity the node does not have, the Identities' requests from no arc, the Neighborhood's ignored.* and refused
 * nops), or none (accepted). Two refusals come late, counted per epoch (DEFERRED_REASONS), never charged to the
 * message being judged then: the demultiplexer's messages from an identity with no identity-arc are refused only
 * after waiting for the arc (arcTimeoutMs: `identities unknown-arc`), and the Identities' claims (an identity-arc
 * to add, a neighbour's duplication) only after the neighbour's identity list did not bear them out
 * (`identities unverified`).
 */

export const DEFERRED_REASONS = ['identities unknown-arc', 'identities unverified'] as const
export type DeferredReason = typeof DEFERRED_REASONS[number]

interface NodeCountersView {
  wire: { rejected: Record<string, number> } | null
  neighborhood: { ignored: Record<string, number>, listenerErrors: number }
  qspn: { etpRejected: number, etpIgnored: number }
  identities: { rejected: number, unverified: number, unknownIdentity: number, unknownArc: number, handlerErrors: number }
  kernel: { applyErrors: number, repairs: number }
}

/** A node's rejection counters as one flat record. */
export type RejectionVector = Record<string, number>

export function rejectionVector (dn: DaemonNetwork, d: Daemon): RejectionVector {
  const c = d.node.counters() as unknown as NodeCountersView
  const v: RejectionVector = {}
  for (const r of REJECTION_REASONS) v[`wire ${r}`] = c.wire?.rejected[r] ?? 0
  for (const [r, n] of Object.entries(c.neighborhood.ignored)) v[`neighbourhood ${r}`] = n
  v['qspn etp rejected'] = c.qspn.etpRejected
  v['identities unknown-identity'] = c.identities.unknownIdentity
  v['identities no-arc'] = c.identities.rejected
  v['qspn etp ignored'] = c.qspn.etpIgnored
  return v
}

/** Counters that must stay 0 for the whole run: kernel applies that failed or repaired, Neighborhood listeners that threw. */
export function healthProblems (d: Daemon): string[] {
  const c = d.node.counters() as unknown as NodeCountersView
  const out: string[] = []
  if (c.kernel.applyErrors > 0) out.push(`${d.name}: ${c.kernel.applyErrors} kernel applies failed`)
  // nobody touches an in-memory kernel behind the daemon: a rescan that repairs means an apply was lost
  if (c.kernel.repairs > 0) out.push(`${d.name}: ${c.kernel.repairs} kernel rescans found the kernel behind the desired state`)
  if (c.identities.handlerErrors > 0) out.push(`${d.name}: ${c.identities.handlerErrors} identity message handlers threw`)
  if (c.neighborhood.listenerErrors > 0) out.push(`${d.name}: ${c.neighborhood.listenerErrors} Neighborhood listeners threw`)
  return out
}

/** The validator's reason as a category: the field's path with indices dropped ("$.paths[].cost"). */
export function qspnReason (d: Daemon): string {
  const last = [...d.node.system.runtimes.values()].map(r => r.qspn.stats.lastRejectReason).find(x => x !== null) ?? ''
  const m = /at (\S+?):/.exec(last)
  return m === null ? 'other' : m[1].replace(/\[\d+\]/g, '[]')
}

/** By how much each rejection counter grew between two vectors ('qspn etp ignored' left out). */
export function rejectionDeltas (before: RejectionVector, after: RejectionVector): Array<[string, number]> {
  return Object.entries(after).filter(([k, n]) => k !== 'qspn etp ignored' && n > before[k]).map(([k, n]) => [k, n - before[k]])
}

/**
 * Reasons whose counters grew between two vectors ('qspn etp ignored' is a protocol drop, not a rejection: it is
 * reported apart). `qspnDetail` names the validator's reason for 'qspn etp rejected'.
 */
export function movedReasons (before: RejectionVector, after: RejectionVector, qspnDetail: () => string): { rejected: string[], ignored: boolean } {
  const rejected: string[] = []
  let ignored = false
  for (const [k, n] of Object.entries(after)) {
    if (n === before[k]) continue
    if (k === 'qspn etp ignored') { ignored = true; continue }
    rejected.push(k === 'qspn etp rejected' ? `qspn etp ${qspnDetail()}` : k)
  }
  return { rejected, ignored }
}

/** The counts behind DEFERRED_REASONS. */
export function deferredRejections (d: Daemon): Record<DeferredReason, number> {
  const c = (d.node.counters() as unknown as NodeCountersView).identities
  return { 'identities unknown-arc': c.unknownArc, 'identities unverified': c.unverified }
}

/** Whether the node holds a message to refuse or take later: waiting for an identity-arc, or checking a claim. */
export function holding (d: Daemon): number {
  return d.node.system.demux.waiting() + d.node.system.identities.verifying()
}
