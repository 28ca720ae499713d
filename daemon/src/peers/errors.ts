/** Errors of PeerServices (§5.4 error handling, `Gestione_errori`). */

/** Nobody (left) takes part in the service inside the search domain. */
export class PeersNoParticipantsError extends Error {
  constructor (readonly pId: number) {
    super(`service ${pId}: no participant left to serve the request`)
    this.name = 'PeersNoParticipantsError'
  }
}

/** Every servant tried refused (not exhaustive, out of memory, …): their messages, newest last. */
export class PeersDatabaseError extends Error {
  constructor (readonly pId: number, readonly refusals: readonly string[]) {
    super(`service ${pId}: every servant refused: ${refusals.join(' | ')}`)
    this.name = 'PeersDatabaseError'
  }
}

/** The request gave up after the configured number of choices (maps inconsistent, messages lost). */
export class PeersGaveUpError extends Error {
  constructor (readonly pId: number, readonly attempts: number) {
    super(`service ${pId}: no answer after ${attempts} attempts`)
    this.name = 'PeersGaveUpError'
  }
}

/** A client or servant must be a main identity whose QSPN bootstrap is complete (§5.1). */
export class PeersNotReadyError extends Error {
  constructor (what: string) {
    super(`${what}: this identity is not a main identity with a complete bootstrap`)
    this.name = 'PeersNotReadyError'
  }
}

export type RefuseReason = 'not-exhaustive' | 'out-of-memory' | 'generic'

/**
 * Thrown by a service's exec: this servant will not execute the request. The client excludes the servant's g-node
 * of `level` (0: the servant alone; a newly entered g-node refuses as a whole) and asks the next one.
 */
export class PeersRefuseExecutionError extends Error {
  constructor (readonly reason: RefuseReason, message: string, readonly level = 0) {
    super(`${reason}: ${message}`)
    this.name = 'PeersRefuseExecutionError'
  }
}

/** Thrown by a service's exec: the client must start the request again from scratch (records moving, §5.5). */
export class PeersRedoFromStartError extends Error {
  constructor (why = 'redo from start') {
    super(why)
    this.name = 'PeersRedoFromStartError'
  }
}

/** A request whose content the service cannot accept (it is dropped and counted). */
export class PeersInvalidRequestError extends Error {
  constructor (readonly pId: number, detail: string) {
    super(`service ${pId}: invalid request: ${detail}`)
    this.name = 'PeersInvalidRequestError'
  }
}
