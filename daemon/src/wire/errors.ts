export class DuplicateMessageKindError extends Error {
  constructor (readonly kind: string) {
    super(`message kind '${kind}' is already registered`)
    this.name = 'DuplicateMessageKindError'
  }
}

export class InvalidMessageSchemaError extends Error {
  constructor (readonly kind: string, detail: string) {
    super(`schema of message kind '${kind}' does not compile: ${detail}`)
    this.name = 'InvalidMessageSchemaError'
  }
}

/** Thrown by `encode` when a message we are about to send does not satisfy its own schema: a bug on our side. */
export class UnsendableMessageError extends Error {
  constructor (readonly kind: string, readonly reason: string) {
    super(`refusing to send message kind '${kind}': ${reason}`)
    this.name = 'UnsendableMessageError'
  }
}
