/**
 * Orders strings by UTF-16 code unit, as Array#sort does without a comparator. For the daemon's deterministic orders
 * (arcs, kernel state) instead of String#localeCompare: a locale comparison makes V8 load ICU's collation data, about
 * 3 MiB of a daemon's resident memory, for identifiers that need no locale.
 */
export function compareStrings (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
