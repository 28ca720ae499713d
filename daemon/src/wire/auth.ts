import type * as Crypto from 'node:crypto'
import { canonicalJson } from './canonical'

/**
 * node:crypto, loaded with the first key: a daemon without network keys never needs it, and loading it (OpenSSL's
 * bindings) costs about 1 MiB of resident memory.
 */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const crypto = (): typeof Crypto => require('node:crypto') as typeof Crypto

/** Field carrying the HMAC-SHA256 (hex) of the canonical message without this field. */
export const MAC_FIELD = 'mac'

/**
 * Shared-key authentication: keeps foreign nodes out of a network (DESIGN §3 "never trust the wire").
 * It authenticates membership, not individual nodes, and does not hide content or stop replays.
 */
export class MessageAuthenticator {
  readonly #key: Buffer
  constructor (key: string | Buffer) { this.#key = typeof key === 'string' ? Buffer.from(key, 'utf8') : key }

  sign (body: Record<string, unknown>): string {
    return crypto().createHmac('sha256', this.#key).update(canonicalJson(withoutMac(body))).digest('hex')
  }

  verify (message: Record<string, unknown>): boolean {
    const mac = message[MAC_FIELD]
    if (typeof mac !== 'string' || !/^[0-9a-f]{64}$/.test(mac)) return false
    const want = Buffer.from(this.sign(message), 'hex')
    return crypto().timingSafeEqual(want, Buffer.from(mac, 'hex'))
  }
}

export function withoutMac (message: Record<string, unknown>): Record<string, unknown> {
  if (!(MAC_FIELD in message)) return message
  const { [MAC_FIELD]: _mac, ...rest } = message
  return rest
}

/**
 * The keys a node holds during a key rollover: the first signs what it sends, any of them verifies what it receives.
 * A network moves from key A to key B without losing an arc: every node takes [A, B], then [B, A], then [B].
 */
export class KeyRing {
  readonly #auths: MessageAuthenticator[]
  readonly fingerprints: readonly string[]

  constructor (keys: ReadonlyArray<string | Buffer>) {
    if (keys.length === 0) throw new RangeError('a key ring needs at least one key')
    this.#auths = keys.map(k => new MessageAuthenticator(k))
    this.fingerprints = keys.map(keyFingerprint)
  }

  sign (body: Record<string, unknown>): string { return this.#auths[0].sign(body) }

  /** Index of the key whose code the message carries (0: the signing key), or -1. */
  verify (message: Record<string, unknown>): number {
    for (let k = 0; k < this.#auths.length; k++) if (this.#auths[k].verify(message)) return k
    return -1
  }
}

/** A short public name of a key (the first 8 hex digits of its SHA-256), to tell keys apart without showing them. */
export function keyFingerprint (key: string | Buffer): string {
  return crypto().createHash('sha256').update(typeof key === 'string' ? Buffer.from(key, 'utf8') : key).digest('hex').slice(0, 8)
}
