import type { IdentityArc, LocalIdentity } from '../identities'
import type { Arc } from '../neighborhood'
import type { NodeSystem } from './node'

/**
 * `ntkctl monitor` (as babeld's local socket): what changes in a running node, one event at a time. Every event has
 * the time on the daemon's clock (ms) and a type; the other fields depend on the type:
 * - `arc_added` / `arc_changed` / `arc_removed`: a physical arc (Neighborhood): id, nic, peerMac, peerLinkLocal, cost
 * - `identity_added` / `identity_removed`: id, index, netns
 * - `identity_arc_added` / `identity_arc_removed`: id, identity, peerId, peerMac, peerLinkLocal (qspn when asked)
 * - `hooking:<type>`: every Hooking event (`ntkctl events`) with its own fields
 * - `routes`: an apply changed the kernel: ops, rescan, and the changes when the kernel lists them
 */
export interface MonitorEvent {
  readonly at: number
  readonly type: string
  readonly [field: string]: unknown
}

/** Subscribes `emit` to the node's changes; returns what unsubscribes every listener. */
export function subscribeMonitor (system: NodeSystem, emit: (e: MonitorEvent) => void): () => void {
  const at = (): number => system.ports.clock.now()
  const arc = (type: string) => (a: Arc): void => {
    emit({ at: at(), type, id: a.id, nic: a.nic, peerMac: a.peerMac.toUpperCase(), peerLinkLocal: a.peerLinklocal, cost: a.cost ?? null })
  }
  const identity = (type: string) => ({ identity: i }: { identity: LocalIdentity }): void => {
    emit({ at: at(), type, id: i.id, index: i.index, netns: i.netns })
  }
  const identityArc = (type: string) => ({ arc: a, qspn }: { arc: IdentityArc, qspn?: boolean }): void => {
    emit({ at: at(), type, id: a.id, identity: a.identityId, peerId: a.peerId, peerMac: a.peerMac, peerLinkLocal: a.peerLinkLocal, ...(qspn === true ? { qspn } : {}) })
  }
  const nb = system.neighborhood
  const ids = system.identities
  const off = [
    nb.on('arc_added', arc('arc_added')),
    nb.on('arc_changed', arc('arc_changed')),
    nb.on('arc_removed', arc('arc_removed')),
    ids.on('identity_added', identity('identity_added')),
    ids.on('identity_removed', identity('identity_removed')),
    ids.on('identity_arc_added', identityArc('identity_arc_added')),
    ids.on('identity_arc_removed', identityArc('identity_arc_removed')),
    system.hooking.events.on(e => { emit({ ...e, type: `hooking:${e.type}` }) }),
    system.sync.onApplied(a => { emit({ at: at(), type: 'routes', ...a }) })
  ]
  return () => { for (const f of off) f() }
}
