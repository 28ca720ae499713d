import type { NodeSpec } from '../model'

/**
 * What differs between node kinds, and only that. A kind fills in its own defaults (e.g. the
 * daemon's command) and checks what only it understands (its `config` keys). Both run after the
 * file's defaults, kinds and node fields are merged, and must be pure: validation creates nothing.
 */
export interface Kind {
  readonly name: string
  /** Returns the node with the kind's defaults filled in (the node's own fields win). */
  applyDefaults (node: NodeSpec): NodeSpec
  /** What is wrong with a node of this kind, in words; [] when nothing is. */
  check (node: NodeSpec): string[]
}

export class DuplicateKindError extends Error {
  constructor (readonly kind: string) {
    super(`kind ${JSON.stringify(kind)} is already registered`)
    this.name = 'DuplicateKindError'
  }
}

export class UnknownKindError extends Error {
  constructor (readonly kind: string, readonly supported: string[]) {
    super(`unknown kind ${JSON.stringify(kind)} (supported kinds: ${supported.join(', ')})`)
    this.name = 'UnknownKindError'
  }
}

/** The kinds a topology may use. A value handed to whoever needs it, never a global. */
export class KindRegistry {
  readonly #kinds = new Map<string, Kind>()

  register (kind: Kind): void {
    if (this.#kinds.has(kind.name)) throw new DuplicateKindError(kind.name)
    this.#kinds.set(kind.name, kind)
  }

  get (name: string): Kind {
    const kind = this.#kinds.get(name)
    if (kind === undefined) throw new UnknownKindError(name, this.names())
    return kind
  }

  has (name: string): boolean {
    return this.#kinds.has(name)
  }

  /** Registered kind names, sorted. */
  names (): string[] {
    return [...this.#kinds.keys()].sort()
  }
}
