// G-nodes of a lab of unaddressed ntkd, from the addresses the daemons took, and a cut that leaves one of them in
// pieces inside while the lab stays connected (a g-node split): shared by lab/test/ntkd-split.test.ts and
// bench/split-lab.ts.

/** A link between two nodes and their interfaces. */
export interface Link { a: string, b: string, ifa: string, ifb: string }

/** Whether `members` reach each other over `links` among themselves. */
export const connected = (members: readonly string[], links: readonly Link[]): boolean => {
  const inside = new Set(members)
  const seen = new Set([members[0]])
  const todo = [members[0]]
  while (todo.length > 0) {
    const u = todo.pop() as string
    for (const l of links) {
      const v = l.a === u ? l.b : l.b === u ? l.a : undefined
      if (v !== undefined && inside.has(v) && !seen.has(v)) { seen.add(v); todo.push(v) }
    }
  }
  return seen.size === members.length
}

/** G-nodes (levels 1..) as member lists, from addresses written top level first. */
export function gnodes (addresses: ReadonlyMap<string, string>): string[][] {
  const out = new Map<string, string[]>()
  for (const [n, a] of addresses) {
    const pos = a.split('.') // top level first
    for (let lvl = 1; lvl < pos.length; lvl++) {
      const k = `${lvl}|${pos.slice(0, pos.length - lvl).join('.')}`
      out.set(k, [...(out.get(k) ?? []), n])
    }
  }
  return [...out.values()].filter(m => m.length > 1)
}

/** One or two links inside a g-node whose loss leaves its members apart inside while the grid stays connected. */
export function gnodeCut (addresses: ReadonlyMap<string, string>, links: readonly Link[]): Link[] | null {
  const all = [...addresses.keys()]
  for (const members of gnodes(addresses)) {
    const inside = links.filter(l => members.includes(l.a) && members.includes(l.b))
    const tries: Link[][] = [...inside.map(l => [l]), ...inside.flatMap((l, i) => inside.slice(i + 1).map(m => [l, m]))]
    for (const cut of tries) {
      const left = links.filter(l => !cut.includes(l))
      if (!connected(members, left) && connected(all, left)) return cut
    }
  }
  return null
}
