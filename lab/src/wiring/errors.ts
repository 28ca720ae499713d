/** A veth, address or link-state operation failed; the message names the link or node and the kernel's words. */
export class WiringError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'WiringError'
  }
}

/** A link id the lab does not have. */
export class UnknownLinkError extends Error {
  constructor (readonly linkId: string, readonly known: string[]) {
    super(`unknown link ${linkId}; the lab has: ${known.length === 0 ? '(no links)' : known.join(', ')}`)
    this.name = 'UnknownLinkError'
  }
}

/** An impairment needs a kernel or iptables feature this machine lacks. */
export class ImpairmentUnsupportedError extends Error {
  constructor (readonly feature: string, message: string) {
    super(message)
    this.name = 'ImpairmentUnsupportedError'
  }
}

/** An impairment whose values make no sense (loss outside 0..100, a rate tc cannot read). */
export class InvalidImpairmentError extends Error {
  constructor (readonly linkId: string, message: string) {
    super(`link ${linkId}: ${message}`)
    this.name = 'InvalidImpairmentError'
  }
}
