import { defaultListenerErrorHandler, runListeners, type ListenerErrorHandler } from '../util/listener-errors'
import type { Arc } from './arc'

export interface NeighborhoodEvents {
  nic_address_set: { dev: string, address: string }
  nic_address_unset: { dev: string, address: string }
  /** After the first cost measurement: the arc is exposed. */
  arc_added: Arc
  /** The official cost changed (smoothing rule) or a fixed cost was applied. */
  arc_changed: Arc
  /** Before removal of an exposed arc; handlers must drop what depends on it synchronously. */
  arc_removing: { arc: Arc, stillUsable: boolean }
  arc_removed: Arc
}

type Listener<T> = (payload: T) => void

/**
 * A tiny typed event emitter (no globals). A throwing listener does not stop the others; its error goes to
 * `onError` (logged and counted by the owner; rethrown in tests), never swallowed.
 */
export class TypedEvents<E> {
  readonly #listeners = new Map<keyof E, Set<Listener<never>>>()
  onError: ListenerErrorHandler = defaultListenerErrorHandler
  #errors = 0

  /** How many times a listener threw (each also handed to onError). */
  get listenerErrors (): number { return this.#errors }

  on<K extends keyof E> (event: K, fn: Listener<E[K]>): () => void {
    let set = this.#listeners.get(event)
    if (set === undefined) { set = new Set(); this.#listeners.set(event, set) }
    set.add(fn as Listener<never>)
    return () => { set.delete(fn as Listener<never>) }
  }

  emit<K extends keyof E> (event: K, payload: E[K]): void {
    const set = this.#listeners.get(event)
    if (set === undefined || set.size === 0) return
    runListeners(String(event), set as Set<Listener<E[K]>>, payload, (name, error) => { this.#errors++; this.onError(name, error) })
  }
}
