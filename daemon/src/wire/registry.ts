import { DuplicateMessageKindError, InvalidMessageSchemaError } from './errors'
import { MAC_FIELD } from './auth'
import { VOID_KIND, WIRE_VERSION, type WireMessage } from './message'
import { compileSchema, type Validator } from './schema'

/** JSON Schema of one field (a plain TS object in the subset ./schema.ts compiles). */
export type FieldSchema = Record<string, unknown>

/** What a module declares for one message kind: its fields besides `v`, `kind` and `mac`. */
export interface MessageSchema {
  readonly properties: Readonly<Record<string, FieldSchema>>
  readonly required?: readonly string[]
}

/**
 * A message kind with its TS type. `is` narrows a validated message; it trusts the registry to have checked
 * the schema, so only use it on what `WireCodec.decode` returned.
 */
export interface MessageDef<T extends WireMessage> {
  readonly kind: T['kind']
  readonly schema: MessageSchema
  is (m: WireMessage): m is T
}

export function defineMessage<T extends WireMessage> (kind: T['kind'], schema: MessageSchema): MessageDef<T> {
  return { kind, schema, is: (m: WireMessage): m is T => m.kind === kind }
}

export type SchemaCheck = { ok: true } | { ok: false, path: string, message: string }

/** The whole schema of a kind: its fields besides the envelope (`v`, `kind`, `mac`), nothing more. */
export function envelopeSchema (def: MessageDef<WireMessage>): Record<string, unknown> {
  return {
    type: 'object',
    properties: {
      v: { const: WIRE_VERSION },
      kind: { const: def.kind },
      [MAC_FIELD]: { type: 'string' },
      ...def.schema.properties
    },
    required: ['v', 'kind', ...(def.schema.required ?? [])],
    additionalProperties: false
  }
}

/**
 * The message kinds a node understands. A value, not a singleton: each node (or test) builds its own, and every
 * module registers its kinds into the registry it is handed (neighborhood, qspn, later hooking/peers/coordinator).
 */
export class MessageRegistry {
  readonly #validators = new Map<string, Validator>()
  readonly #defs = new Map<string, MessageDef<WireMessage>>()

  constructor () { this.register(defineMessage<WireMessage>(VOID_KIND, { properties: {} })) }

  register (def: MessageDef<WireMessage>): void {
    if (this.#validators.has(def.kind)) throw new DuplicateMessageKindError(def.kind)
    for (const reserved of ['v', 'kind', MAC_FIELD]) {
      if (reserved in def.schema.properties) throw new InvalidMessageSchemaError(def.kind, `field '${reserved}' is reserved`)
    }
    const schema = envelopeSchema(def)
    try {
      this.#validators.set(def.kind, compileSchema(schema))
      this.#defs.set(def.kind, def)
    } catch (e) {
      throw new InvalidMessageSchemaError(def.kind, (e as Error).message)
    }
  }

  /** The definitions registered, in registration order (tests compare the validators with a reference). */
  definitions (): Array<MessageDef<WireMessage>> { return [...this.#defs.values()] }

  has (kind: string): boolean { return this.#validators.has(kind) }
  kinds (): string[] { return [...this.#validators.keys()].sort() }

  /** Checks a parsed object against its kind's schema; the kind must be registered. */
  check (message: Record<string, unknown> & { kind: string }): SchemaCheck {
    const validate = this.#validators.get(message.kind)
    if (validate === undefined) return { ok: false, path: '/kind', message: `unknown kind '${message.kind}'` }
    const err = validate(message)
    if (err === null) return { ok: true }
    const extra = err.additionalProperty === undefined ? '' : ` '${err.additionalProperty}'`
    return { ok: false, path: err.instancePath === '' ? '/' : err.instancePath, message: `${err.message}${extra}` }
  }
}
