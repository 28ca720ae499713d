import { REJECTION_REASONS } from '../../../src/wire'
import type { Daemon, DaemonNetwork } from '../inprocess-network'

/*
 * What a node did with one message, read from its own counters: which rejection counters moved (the codec's
 * wire.rejected.*, QSPN's etpRejected with the validator's reason, the identity demultiplexer's messages for an
 * identity the node does not have, the Identities' requests from no arc, the Neighborhood's ignored.* and refused
 * nops), or none (accepted). The demultiplexer's messages from an identity with no identity-arc are refused only
 * after waiting for the arc (arcTimeoutMs): they move `identities unknown-arc` later, which is counted per epoch
 * (DEFERRED_REASON), never charged to the message being judged then.
 */

export const DEFERRED_REASON = 'identities unknown-arc'

interface NodeCountersView {
  wire: { rejected: Record<string, number> } | null
  neighborhood: { ignored: Record<string, number>, listenerErrors: number }
  qspn: { etpRejected: number, etpIgnored: number }
  identities: { rejected: number, unknownIdentity: number, unknownArc: number, handlerErrors: number }
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

/** The count behind DEFERRED_REASON. */
export function deferredRejections (d: Daemon): number {
  return (d.node.counters() as unknown as NodeCountersView).identities.unknownArc
}
