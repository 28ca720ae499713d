/** The identity is still bootstrapping at the asked level (§4.8); the caller may retry later. */
export class QspnBootstrapInProgressError extends Error {
  constructor (readonly where: string) {
    super(`QSPN bootstrap in progress (${where})`)
    this.name = 'QspnBootstrapInProgressError'
  }
}

/** A full ETP was requested over an arc this identity does not know (not added within arc_timeout). */
export class QspnNotAcceptedError extends Error {
  constructor (readonly arcId: string) {
    super(`QSPN request not accepted: arc ${arcId} is unknown`)
    this.name = 'QspnNotAcceptedError'
  }
}

/** An API call named an arc this identity does not have. */
export class QspnUnknownArcError extends Error {
  constructor (readonly arcId: string) {
    super(`unknown QSPN arc ${arcId}`)
    this.name = 'QspnUnknownArcError'
  }
}
