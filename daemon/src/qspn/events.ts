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
  /** Communication over the arc failed; QSPN dropped it (badLink: the link itself looks broken). */
  arc_removed: { arcId: string, badLink: boolean }
}

export type QspnEventName = keyof QspnEvents
type Listener<K extends QspnEventName> = (e: QspnEvents[K]) => void

/** A minimal typed emitter; listeners run synchronously in registration order. */
export class QspnEventEmitter {
  readonly #listeners = new Map<QspnEventName, Array<Listener<any>>>()

  on<K extends QspnEventName> (name: K, fn: Listener<K>): () => void {
    const list = this.#listeners.get(name) ?? []
    list.push(fn)
    this.#listeners.set(name, list)
    return () => { const l = this.#listeners.get(name); if (l !== undefined) l.splice(l.indexOf(fn), 1) }
  }

  hasListeners (name: QspnEventName): boolean { return (this.#listeners.get(name)?.length ?? 0) > 0 }

  emit<K extends QspnEventName> (name: K, e: QspnEvents[K]): void {
    const list = this.#listeners.get(name)
    if (list === undefined) return
    for (const fn of [...list]) fn(e)
  }
}
