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
 * A tiny typed event emitter, one per Neighborhood (no globals). A throwing listener does not stop the others: its
 * error is counted (`listenerErrors`) and handed to `onError` (the daemon logs it).
 */
export class TypedEvents<E> {
  readonly #listeners = new Map<keyof E, Set<Listener<never>>>()
  #errors = 0
  onError: ((event: keyof E, error: unknown) => void) | undefined

  get listenerErrors (): number { return this.#errors }

  on<K extends keyof E> (event: K, fn: Listener<E[K]>): () => void {
    let set = this.#listeners.get(event)
    if (set === undefined) { set = new Set(); this.#listeners.set(event, set) }
    set.add(fn as Listener<never>)
    return () => { set.delete(fn as Listener<never>) }
  }

  emit<K extends keyof E> (event: K, payload: E[K]): void {
    for (const fn of [...(this.#listeners.get(event) ?? [])]) {
      try { (fn as Listener<E[K]>)(payload) } catch (e) { this.#errors++; this.onError?.(event, e) }
    }
  }
}
