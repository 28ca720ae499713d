/** The only wire version this daemon speaks; a message with another `v` is rejected as 'bad-version'. */
export const WIRE_VERSION = 1

/**
 * Every message on the wire: a JSON object with a version, a kind and the kind's own fields.
 * `mac` is the optional shared-key authentication code (see auth.ts); it is stripped before handlers see a message.
 */
export interface WireMessage {
  readonly v: typeof WIRE_VERSION
  readonly kind: string
  readonly [field: string]: unknown
}

/** The kind a unicast handler's "nothing to say" travels as, so every request gets exactly one reply frame. */
export const VOID_KIND = 'void'
export const voidMessage = (): WireMessage => ({ v: WIRE_VERSION, kind: VOID_KIND })
