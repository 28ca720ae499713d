/*
 * What Hooking did, as events (`ntkctl events`): another network seen, same network, the evaluation and election,
 * the entry with its positions, identities dismissed. Kept in a ring for late readers and given to live listeners.
 */

export interface HookingEvent {
  /** The daemon's clock, ms. */
  readonly at: number
  readonly type: string
  readonly [field: string]: unknown
}

import { defaultListenerErrorHandler, runListeners, type ListenerErrorHandler } from '../util/listener-errors'

export const EVENTS_KEPT = 1000

export class HookingEvents {
  readonly #ring: HookingEvent[] = []
  readonly #listeners = new Set<(e: HookingEvent) => void>()
  /** Events emitted so far (the ring keeps the last EVENTS_KEPT). */
  count = 0
  /** Who hears about a listener that threw (the system logs and counts it). */
  onError: ListenerErrorHandler = defaultListenerErrorHandler

  emit (e: HookingEvent): void {
    this.count++
    this.#ring.push(e)
    if (this.#ring.length > EVENTS_KEPT) this.#ring.shift()
    runListeners(`hooking ${e.type}`, this.#listeners, e, this.onError)
  }

  /** The events kept, oldest first. */
  list (): readonly HookingEvent[] { return [...this.#ring] }

  on (listener: (e: HookingEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }
}
