import Ajv, { type ValidateFunction } from 'ajv'
import { DuplicateMessageKindError, InvalidMessageSchemaError } from './errors'
import { MAC_FIELD } from './auth'
import { VOID_KIND, WIRE_VERSION, type WireMessage } from './message'

/** JSON Schema of one field (kept as a plain TS object, compiled by ajv). */
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

/**
 * The message kinds a node understands. A value, not a singleton: each node (or test) builds its own, and every
 * module registers its kinds into the registry it is handed (neighborhood, qspn, later hooking/peers/coordinator).
 */
export class MessageRegistry {
  readonly #ajv = new Ajv({ strict: true, allErrors: false })
  readonly #validators = new Map<string, ValidateFunction>()

  constructor () { this.register(defineMessage<WireMessage>(VOID_KIND, { properties: {} })) }

  register (def: MessageDef<WireMessage>): void {
    if (this.#validators.has(def.kind)) throw new DuplicateMessageKindError(def.kind)
    for (const reserved of ['v', 'kind', MAC_FIELD]) {
      if (reserved in def.schema.properties) throw new InvalidMessageSchemaError(def.kind, `field '${reserved}' is reserved`)
    }
    const schema = {
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
    try {
      this.#validators.set(def.kind, this.#ajv.compile(schema))
    } catch (e) {
      throw new InvalidMessageSchemaError(def.kind, (e as Error).message)
    }
  }

  has (kind: string): boolean { return this.#validators.has(kind) }
  kinds (): string[] { return [...this.#validators.keys()].sort() }

  /** Checks a parsed object against its kind's schema; the kind must be registered. */
  check (message: Record<string, unknown> & { kind: string }): SchemaCheck {
    const validate = this.#validators.get(message.kind)
    if (validate === undefined) return { ok: false, path: '/kind', message: `unknown kind '${message.kind}'` }
    if (validate(message)) return { ok: true }
    const err = validate.errors?.[0]
    const extra = err?.keyword === 'additionalProperties' ? ` '${String((err.params as { additionalProperty?: string }).additionalProperty)}'` : ''
    return { ok: false, path: err?.instancePath === '' || err === undefined ? '/' : err.instancePath, message: `${err?.message ?? 'invalid'}${extra}` }
  }
}
