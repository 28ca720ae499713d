/**
 * What happens when an event listener throws (a bug in the listener, never a protocol condition): it is logged and
 * counted by whoever owns the emitter, and rethrown where tests ask for it (`NTK_RETHROW_LISTENER_ERRORS=1`, set by
 * the test runner), so a failing listener fails the test instead of leaving a half-updated state unnoticed.
 */
export type ListenerErrorHandler = (event: string, error: unknown) => void

export const RETHROW_LISTENER_ERRORS = process.env.NTK_RETHROW_LISTENER_ERRORS === '1'

/** Counts of listener errors of the emitters without an owner of their own (tests of a module alone). */
export const unownedListenerErrors = { count: 0, last: null as string | null }

export const defaultListenerErrorHandler: ListenerErrorHandler = (event, error) => {
  unownedListenerErrors.count++
  unownedListenerErrors.last = `${event}: ${error instanceof Error ? error.message : String(error)}`
  process.stderr.write(`listener of ${event} threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  if (RETHROW_LISTENER_ERRORS) throw error
}

/** Runs every listener; each error goes to `onError` after all ran (so one bad listener does not starve others). */
export function runListeners<T> (event: string, listeners: Iterable<(p: T) => void>, payload: T, onError: ListenerErrorHandler): void {
  let errors: unknown[] | undefined
  for (const fn of [...listeners]) {
    try { fn(payload) } catch (e) { (errors ??= []).push(e) }
  }
  if (errors !== undefined) for (const e of errors) onError(event, e)
}
