import { defaultListenerErrorHandler, runListeners, type ListenerErrorHandler } from '../util/listener-errors'
import type { HCoord } from './types'
import type { NodePath } from './node-path'

/** Typed events of a QspnManager (§4.4, §4.8). Payloads are snapshots; listeners must not mutate them. */
export interface QspnEvents {
  destination_added: { hc: HCoord }
  destination_removed: { hc: HCoord }
  path_added: { path: NodePath }
  path_changed: { path: NodePath }
  path_removed: { path: NodePath }
  changed_fp: { lvl: number }
  changed_nodes_inside: { lvl: number }
  bootstrap_complete: Record<string, never>
  /** A second after the first full ETP went out at the end of a bootstrap (§4.8). */
  presence_notified: Record<string, never>
  /** A member of my connectivity g-node started its dismissal and the wait passed: remove this identity (§4.9). */
  remove_identity: Record<string, never>
  /** Communication over the arc failed; QSPN dropped it (badLink: the link itself looks broken). */
  arc_removed: { arcId: string, badLink: boolean }
  /**
   * My neighbour over `arcId` is in an island of destination `hc` that split from it (§4.7): the g-node carries two
   * fingerprints, and the neighbour's one (`fingerprintId`) is not the eldest. Repeated while it lasts.
   */
  gnode_splitted: { arcId: string, hc: HCoord, fingerprintId: number }
}

export type QspnEventName = keyof QspnEvents
type Listener<K extends QspnEventName> = (e: QspnEvents[K]) => void

/**
 * A minimal typed emitter; listeners run synchronously in registration order. A listener that throws does not stop
 * the others nor QSPN: its error goes to `onError` (logged and counted by the owner, rethrown in tests).
 */
export class QspnEventEmitter {
  readonly #listeners = new Map<QspnEventName, Array<Listener<any>>>()
  onError: ListenerErrorHandler = defaultListenerErrorHandler

  on<K extends QspnEventName> (name: K, fn: Listener<K>): () => void {
    const list = this.#listeners.get(name) ?? []
    list.push(fn)
    this.#listeners.set(name, list)
    return () => { const l = this.#listeners.get(name); if (l !== undefined) l.splice(l.indexOf(fn), 1) }
  }

  hasListeners (name: QspnEventName): boolean { return (this.#listeners.get(name)?.length ?? 0) > 0 }

  emit<K extends QspnEventName> (name: K, e: QspnEvents[K]): void {
    const list = this.#listeners.get(name)
    if (list === undefined || list.length === 0) return
    runListeners(name, list as Array<Listener<K>>, e, this.onError)
  }
}
