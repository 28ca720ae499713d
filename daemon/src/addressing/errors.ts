/** Which rule of spec §1.1 a topology breaks. */
export type TopologyRule = 'empty' | 'not-power-of-two' | 'too-many-bits' | 'top-gsize-too-small'

export class TopologyError extends Error {
  constructor (readonly rule: TopologyRule, message: string) {
    super(`invalid topology (${rule}): ${message}`)
    this.name = 'TopologyError'
  }
}

export class AddressError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'AddressError'
  }
}
