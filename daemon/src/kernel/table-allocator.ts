import { NTK_FROM_FIRST_ID, NTK_FROM_LAST_ID, NTK_TABLE_ID, MAIN_TABLE_ID, TABLE_MAIN, TABLE_NTK, type TableName, macOfNtkFromTable, ntkFromTable, normalizeMac } from './state'

export class TableExhaustedError extends Error {
  constructor (mac: string) {
    super(`no free ntk_from table id in ${NTK_FROM_LAST_ID}..${NTK_FROM_FIRST_ID} for MAC ${mac}`)
    this.name = 'TableExhaustedError'
  }
}

/**
 * ntk_from_<MAC> table ids of one system (spec §2.2): ids 250..200, first free from the top, reference-counted per
 * MAC across the system's namespaces (the rt_tables file is global, tables are per netns). One instance per system,
 * handed to its kernels; holders are namespace names, and acquiring twice for the same holder counts once.
 */
export class TableAllocator {
  readonly #byMac = new Map<string, { id: number; holders: Set<string> }>()

  /** The id for `mac`, allocating it if nobody holds it yet. */
  acquire (holder: string, mac: string): number {
    const m = normalizeMac(mac)
    let e = this.#byMac.get(m)
    if (e === undefined) {
      const used = new Set([...this.#byMac.values()].map(x => x.id))
      let id = NTK_FROM_FIRST_ID
      while (id >= NTK_FROM_LAST_ID && used.has(id)) id--
      if (id < NTK_FROM_LAST_ID) throw new TableExhaustedError(m)
      e = { id, holders: new Set() }
      this.#byMac.set(m, e)
    }
    e.holders.add(holder)
    return e.id
  }

  /** Drops `holder`'s reference; the id is free again when no holder is left. */
  release (holder: string, mac: string): void {
    const m = normalizeMac(mac)
    const e = this.#byMac.get(m)
    if (e === undefined) return
    e.holders.delete(holder)
    if (e.holders.size === 0) this.#byMac.delete(m)
  }

  /** MACs `holder` holds. */
  heldBy (holder: string): string[] {
    return [...this.#byMac].filter(([, e]) => e.holders.has(holder)).map(([m]) => m)
  }

  idOfMac (mac: string): number | undefined { return this.#byMac.get(normalizeMac(mac))?.id }

  refcount (mac: string): number { return this.#byMac.get(normalizeMac(mac))?.holders.size ?? 0 }

  /** Numeric id of a table name, or undefined for an ntk_from table not allocated. */
  idOf (table: TableName): number | undefined {
    if (table === TABLE_NTK) return NTK_TABLE_ID
    if (table === TABLE_MAIN) return MAIN_TABLE_ID
    const mac = macOfNtkFromTable(table)
    if (mac !== null) return this.idOfMac(mac)
    const raw = /^#(\d+)$/.exec(table)
    return raw === null ? undefined : Number(raw[1])
  }

  /** Symbolic name of a numeric id; '#<id>' when it is not ntk, main or an allocated ntk_from table. */
  nameOf (id: number): TableName {
    if (id === NTK_TABLE_ID) return TABLE_NTK
    if (id === MAIN_TABLE_ID) return TABLE_MAIN
    for (const [m, e] of this.#byMac) if (e.id === id) return ntkFromTable(m)
    return `#${id}`
  }

  /**
   * The rt_tables file with the daemon's lines: `251 ntk`, and for 250..200 either `<id> ntk_from_<MAC>` or
   * `<id> reserved_ntk_from_<id>`. Lines of other ids in `existing` are kept as they are.
   */
  renderRtTables (existing = ''): string {
    const ours = /^\s*(\d+)\s+(ntk|ntk_from_\S+|reserved_ntk_from_\d+)\s*(#.*)?$/
    const kept = existing.split('\n').filter(line => {
      const m = ours.exec(line)
      return m === null || !isOurId(Number(m[1]))
    })
    while (kept.length > 0 && kept[kept.length - 1].trim() === '') kept.pop()
    const lines = [`${NTK_TABLE_ID} ${TABLE_NTK}`]
    for (let id = NTK_FROM_FIRST_ID; id >= NTK_FROM_LAST_ID; id--) {
      const name = this.nameOf(id)
      lines.push(`${id} ${name.startsWith('#') ? `reserved_ntk_from_${id}` : name}`)
    }
    return [...kept, ...lines].join('\n') + '\n'
  }
}

/** Table ids the daemon owns outright: 251 (ntk) and 200..250 (ntk_from_*). */
export function isOurId (id: number): boolean {
  return id === NTK_TABLE_ID || (id >= NTK_FROM_LAST_ID && id <= NTK_FROM_FIRST_ID)
}
