// A radio segment of the links list (`kind: radio`) -> a SegmentSpec and one LinkSpec per hearing
// pair. Part of resolve.ts: pure, trusts nothing the schema let through, reports every problem.
import { checkIfname, parseEndpoint } from './checks'
import { type Endpoint, type LinkSpec, linkId, type SegmentSpec } from './model'
import type { KeyPath } from './yaml-locate'

type Fields = Record<string, unknown>

/** Segment names become part of a host namespace name (ntklab-<lab>.<segment>). */
export const MAX_SEGMENT_NAME = 15

export function checkSegmentName (name: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) return `segment name ${JSON.stringify(name)} must be lower-case letters, digits, '-' and '_', starting with a letter or digit`
  if (name.length > MAX_SEGMENT_NAME) return `segment name ${JSON.stringify(name)} is longer than ${MAX_SEGMENT_NAME} characters`
  return undefined
}

export interface RadioContext {
  nodeNames: readonly string[]
  /** "node:ifname" -> index of the links entry using it (shared with the veth links). */
  usedBy: Map<string, number>
  /** Segment name -> index of the links entry defining it. */
  segmentNames: Map<string, number>
  add: (path: KeyPath, message: string) => void
}

const isFields = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v)
const endpointKey = (e: Endpoint): string => `${e.node}:${e.ifname}`

/** The pair and initial state of one `hears` entry: [a, b] or { pair: [a, b], state }. */
function hearing (raw: unknown): { pair: unknown[], state: 'up' | 'down', at: Array<string | number> } | undefined {
  if (Array.isArray(raw)) return { pair: raw, state: 'up', at: [] }
  if (isFields(raw) && Array.isArray(raw.pair)) return { pair: raw.pair, state: raw.state === 'down' ? 'down' : 'up', at: ['pair'] }
  return undefined // the schema said so
}

/**
 * Resolves `links[i]`, a radio segment. Returns the segment and its pairs when they are usable
 * (problems are reported through ctx.add either way).
 */
export function resolveRadio (raw: Fields, i: number, ctx: RadioContext): { segment: SegmentSpec, pairs: LinkSpec[] } | undefined {
  const { add } = ctx
  const at = (...p: Array<string | number>): KeyPath => ['links', i, ...p]
  let ok = true
  const name = typeof raw.name === 'string' ? raw.name : undefined
  if (name !== undefined) {
    const bad = checkSegmentName(name)
    const first = ctx.segmentNames.get(name)
    if (bad !== undefined) { add(at('name'), bad); ok = false } else if (first !== undefined) {
      add(at('name'), `duplicate segment name ${JSON.stringify(name)}: links[${first}] has it already`)
      ok = false
    } else ctx.segmentNames.set(name, i)
  } else ok = false // missing: the schema said so
  if (raw.state !== undefined) { add(at('state'), 'state belongs to a veth link: each pair of a radio segment has its own ({ pair: [a, b], state: down })'); ok = false }
  if (raw.impairment !== undefined) { add(at('impairment'), 'impairments apply to veth links, not to a radio segment'); ok = false }

  // Endpoints: one per node, each a real node and interface, not used by another link.
  const endpoints: Endpoint[] = []
  const ifnameOf = new Map<string, string>()
  const rawEndpoints: unknown[] = Array.isArray(raw.endpoints) ? raw.endpoints : []
  rawEndpoints.forEach((text, j) => {
    if (typeof text !== 'string') { ok = false; return } // the schema said so
    const ep = parseEndpoint(text)
    if (ep === undefined) { add(at('endpoints', j), `endpoint ${JSON.stringify(text)} is not node:ifname, e.g. a:eth1`); ok = false; return }
    const badIfname = checkIfname(ep.ifname)
    if (badIfname !== undefined) { add(at('endpoints', j), badIfname); ok = false }
    if (!ctx.nodeNames.includes(ep.node)) { add(at('endpoints', j), `unknown node ${JSON.stringify(ep.node)} (nodes: ${ctx.nodeNames.join(', ')})`); ok = false; return }
    const twice = endpoints.findIndex(e => e.node === ep.node)
    if (twice >= 0) {
      add(at('endpoints', j), `node ${ep.node} is on segment ${name ?? '?'} twice (also endpoints[${twice}]): a node has one interface on a segment`)
      ok = false
      return
    }
    const prev = ctx.usedBy.get(endpointKey(ep))
    if (prev !== undefined) { add(at('endpoints', j), `interface ${endpointKey(ep)} is already used by links[${prev}]`); ok = false } else ctx.usedBy.set(endpointKey(ep), i)
    endpoints.push(ep)
    ifnameOf.set(ep.node, ep.ifname)
  })

  // Pairs: two different nodes of this segment, each pair once (either order).
  const pairs: LinkSpec[] = []
  const seen = new Map<string, number>()
  const rawHears: unknown[] = Array.isArray(raw.hears) ? raw.hears : []
  rawHears.forEach((entry, k) => {
    const h = hearing(entry)
    if (h === undefined || h.pair.length !== 2 || !h.pair.every((n): n is string => typeof n === 'string')) { ok = false; return } // the schema said so
    const [a, b] = h.pair
    let pairOk = true
    h.pair.forEach((n, j) => {
      const where = at('hears', k, ...h.at, j)
      if (ifnameOf.has(n)) return
      pairOk = false
      if (n.includes(':')) add(where, `${JSON.stringify(n)} is not a node name: a pair names two nodes of the segment, e.g. [${endpoints[0]?.node ?? 'a'}, ${endpoints[1]?.node ?? 'b'}]`)
      else if (!ctx.nodeNames.includes(n)) add(where, `unknown node ${JSON.stringify(n)} (nodes: ${ctx.nodeNames.join(', ')})`)
      else add(where, `node ${n} is not on segment ${name ?? '?'} (its endpoints: ${endpoints.map(endpointKey).join(', ')})`)
    })
    if (a === b) { add(at('hears', k), `a pair joins two different nodes, not ${a} with itself`); pairOk = false }
    const key = [a, b].sort().join(' ')
    const first = seen.get(key)
    if (first !== undefined) { add(at('hears', k), `pair ${a}–${b} is listed twice (first at hears[${first}])`); pairOk = false } else seen.set(key, k)
    if (!pairOk) { ok = false; return }
    const ends: [Endpoint, Endpoint] = [{ node: a, ifname: ifnameOf.get(a) as string }, { node: b, ifname: ifnameOf.get(b) as string }]
    pairs.push({ id: linkId(ends[0], ends[1]), endpoints: ends, state: h.state, segment: name })
  })
  if (!ok || name === undefined) return undefined
  return { segment: { name, endpoints }, pairs }
}
