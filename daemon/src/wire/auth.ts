import { createHmac, timingSafeEqual } from 'node:crypto'
import { canonicalJson } from './canonical'

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
    return createHmac('sha256', this.#key).update(canonicalJson(withoutMac(body))).digest('hex')
  }

  verify (message: Record<string, unknown>): boolean {
    const mac = message[MAC_FIELD]
    if (typeof mac !== 'string' || !/^[0-9a-f]{64}$/.test(mac)) return false
    const want = Buffer.from(this.sign(message), 'hex')
    return timingSafeEqual(want, Buffer.from(mac, 'hex'))
  }
}

export function withoutMac (message: Record<string, unknown>): Record<string, unknown> {
  if (!(MAC_FIELD in message)) return message
  const { [MAC_FIELD]: _mac, ...rest } = message
  return rest
}
