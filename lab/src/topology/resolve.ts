// Raw, then resolved (containerlab's RawLink -> Link): the data as the file says it becomes a
// ResolvedLab, with defaults and kinds applied and every cross-reference checked. Pure: it takes
// parsed data (already checked by the schema, but it trusts none of it) and returns data.
import { checkIfname, checkIpv4Cidr, checkLabName, checkMac, checkNodeName, checkRate, parseEndpoint } from './checks'
import type { Kind, KindRegistry } from './kinds/registry'
import { type Endpoint, type Impairment, type InterfaceSpec, type LinkSpec, linkId, type NodeSpec, type ResolvedLab, type SegmentSpec } from './model'
import { resolveRadio } from './resolve-radio'
import type { PathProblem } from './schema'
import type { KeyPath } from './yaml-locate'

type Fields = Record<string, unknown>

function isFields (v: unknown): v is Fields {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function fieldsAt (v: unknown): Fields {
  return isFields(v) ? v : {}
}

function strings (v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []
}

/** A source of node fields, least specific first: defaults, kinds.<kind>, nodes.<name>. */
interface Layer { path: KeyPath; fields: Fields }

interface ResolvedNode {
  spec: NodeSpec
  /** Where each interface entry was written, to point at it when no link uses it. */
  interfaceOrigin: Map<string, KeyPath>
}

const endpointKey = (e: Endpoint): string => `${e.node}:${e.ifname}`

/** The values checked where they are written (once, even when many nodes inherit them). */
function checkLayer (layer: Layer, add: (path: KeyPath, message: string) => void): void {
  const interfaces = layer.fields.interfaces
  if (!isFields(interfaces)) return
  for (const [ifname, spec] of Object.entries(interfaces)) {
    const at = [...layer.path, 'interfaces', ifname]
    const bad = checkIfname(ifname)
    if (bad !== undefined) add(at, bad)
    if (!isFields(spec)) continue
    if (typeof spec.mac === 'string') {
      const badMac = checkMac(spec.mac)
      if (badMac !== undefined) add([...at, 'mac'], badMac)
    }
    if (Array.isArray(spec.ipv4)) {
      spec.ipv4.forEach((a, i) => {
        const badAddress = typeof a === 'string' ? checkIpv4Cidr(a) : undefined
        if (badAddress !== undefined) add([...at, 'ipv4', i], badAddress)
      })
    }
  }
}

function command (v: unknown): string[] | undefined {
  if (typeof v === 'string') return ['/bin/sh', '-c', v]
  if (Array.isArray(v)) return strings(v)
  return undefined
}

/** Merges the layers: scalars and lists from the most specific layer, maps key by key. */
function mergeNode (name: string, kind: string, layers: Layer[]): ResolvedNode {
  const last = (key: string): unknown => {
    for (let i = layers.length - 1; i >= 0; i--) {
      if (layers[i].fields[key] !== undefined) return layers[i].fields[key]
    }
    return undefined
  }
  const env: Record<string, string> = {}
  const config: Record<string, unknown> = {}
  const interfaces: Record<string, InterfaceSpec> = {}
  const interfaceOrigin = new Map<string, KeyPath>()
  for (const layer of layers) {
    for (const [k, v] of Object.entries(fieldsAt(layer.fields.env))) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') env[k] = String(v)
    }
    Object.assign(config, fieldsAt(layer.fields.config))
    for (const [ifname, raw] of Object.entries(fieldsAt(layer.fields.interfaces))) {
      const f = fieldsAt(raw)
      const spec: InterfaceSpec = { ipv4: strings(f.ipv4) }
      if (typeof f.mac === 'string') spec.mac = f.mac
      interfaces[ifname] = spec
      interfaceOrigin.set(ifname, [...layer.path, 'interfaces', ifname])
    }
  }
  const image = last('image')
  const cmd = command(last('command'))
  const spec: NodeSpec = {
    name,
    kind,
    env,
    config,
    interfaces,
    exec: strings(last('exec')),
    privileged: last('privileged') === true
  }
  if (typeof image === 'string') spec.image = image
  if (cmd !== undefined) spec.command = cmd
  return { spec, interfaceOrigin }
}

export interface Resolution {
  /** Present exactly when there are no problems. */
  lab?: ResolvedLab
  problems: PathProblem[]
}

/** Turns parsed topology data into a ResolvedLab, or says everything that is wrong with it. */
export function resolve (data: unknown, kinds: KindRegistry): Resolution {
  const problems: PathProblem[] = []
  const add = (path: KeyPath, message: string): void => { problems.push({ path, message }) }
  const supported = `supported kinds: ${kinds.names().join(', ')}`

  const top = fieldsAt(data)
  const name = typeof top.name === 'string' ? top.name : undefined
  if (isFields(data) && top.name === undefined) add(['name'], 'missing (required)')
  if (name !== undefined) {
    const bad = checkLabName(name)
    if (bad !== undefined) add(['name'], bad)
  }
  const defaults = fieldsAt(top.defaults)
  const kindFields = fieldsAt(top.kinds)
  const rawNodes = fieldsAt(top.nodes)
  const nodeNames = Object.keys(rawNodes)

  checkLayer({ path: ['defaults'], fields: defaults }, add)
  if (typeof defaults.kind === 'string' && !kinds.has(defaults.kind)) {
    add(['defaults', 'kind'], `unknown kind ${JSON.stringify(defaults.kind)} (${supported})`)
  }
  for (const [kind, fields] of Object.entries(kindFields)) {
    if (!kinds.has(kind)) add(['kinds', kind], `unknown kind ${JSON.stringify(kind)} (${supported})`)
    checkLayer({ path: ['kinds', kind], fields: fieldsAt(fields) }, add)
  }

  const resolved: ResolvedNode[] = []
  const kindOf = new Map<string, Kind>()
  for (const [nodeName, raw] of Object.entries(rawNodes)) {
    const badName = checkNodeName(nodeName)
    if (badName !== undefined) add(['nodes', nodeName], badName)
    if (!isFields(raw)) continue // the schema said so
    const own = raw
    checkLayer({ path: ['nodes', nodeName], fields: own }, add)
    const kindName = own.kind ?? defaults.kind
    if (kindName === undefined) {
      add(['nodes', nodeName], `node ${nodeName} has no kind: set kind on the node or in defaults (${supported})`)
      continue
    }
    if (typeof kindName !== 'string' || !kinds.has(kindName)) {
      // An unknown kind in defaults was reported once, above.
      if (own.kind !== undefined && typeof kindName === 'string') add(['nodes', nodeName, 'kind'], `unknown kind ${JSON.stringify(kindName)} (${supported})`)
      continue
    }
    const kind = kinds.get(kindName)
    const node = mergeNode(nodeName, kindName, [
      { path: ['defaults'], fields: defaults },
      { path: ['kinds', kindName], fields: fieldsAt(kindFields[kindName]) },
      { path: ['nodes', nodeName], fields: own }
    ])
    kindOf.set(nodeName, kind)
    resolved.push(node)
  }

  const links: LinkSpec[] = []
  const segments: SegmentSpec[] = []
  const usedBy = new Map<string, number>() // "a:eth1" -> index of the link using it
  const pairs = new Map<string, number>() // sorted endpoint pair -> index of the link
  const segmentNames = new Map<string, number>()
  const rawLinks = Array.isArray(top.links) ? top.links : []
  rawLinks.forEach((raw, i) => {
    if (!isFields(raw)) return
    if (raw.kind === 'radio') {
      const radio = resolveRadio(raw, i, { nodeNames, usedBy, segmentNames, add })
      if (radio !== undefined) { segments.push(radio.segment); links.push(...radio.pairs) }
      return
    }
    for (const key of ['hears', 'name']) {
      if (raw[key] !== undefined) add(['links', i, key], `${key} belongs to a radio segment (kind: radio); a veth link has two endpoints and no ${key}`)
    }
    const rawEndpoints: unknown[] = Array.isArray(raw.endpoints) ? raw.endpoints : []
    // Parsed ends (undefined: not node:ifname) and whether each names a real node and a valid name.
    const parsed = rawEndpoints.map(text => typeof text === 'string' ? parseEndpoint(text) : undefined)
    const valid = rawEndpoints.map((text, j): boolean => {
      const at = ['links', i, 'endpoints', j]
      const ep = parsed[j]
      if (typeof text !== 'string') return false // the schema said so
      if (ep === undefined) {
        add(at, `endpoint ${JSON.stringify(text)} is not node:ifname, e.g. a:eth1`)
        return false
      }
      let ok = true
      if (!nodeNames.includes(ep.node)) {
        add(at, `unknown node ${JSON.stringify(ep.node)} (nodes: ${nodeNames.join(', ')})`)
        ok = false
      }
      const badIfname = checkIfname(ep.ifname)
      if (badIfname !== undefined) {
        add(at, badIfname)
        ok = false
      }
      return ok
    })

    const [a, b] = parsed
    const complete = parsed.length === 2 && a !== undefined && b !== undefined
    let duplicateLink = false
    if (complete) {
      if (endpointKey(a) === endpointKey(b)) {
        add(['links', i, 'endpoints'], `both endpoints are ${endpointKey(a)}: a link joins two different nodes`)
      } else if (a.node === b.node) {
        add(['links', i, 'endpoints'], `link to itself: both endpoints are on node ${a.node} (a link joins two different nodes)`)
      }
      const pair = [endpointKey(a), endpointKey(b)].sort().join(' ')
      const first = pairs.get(pair)
      if (first !== undefined) {
        add(['links', i], `duplicate link: same endpoints as links[${first}]`)
        duplicateLink = true
      } else {
        pairs.set(pair, i)
      }
    }
    if (!duplicateLink) {
      // Also ends with a bad name: their interface entry is then used, and not reported twice.
      parsed.forEach((ep, j) => {
        if (ep === undefined) return
        if (j === 1 && a !== undefined && endpointKey(a) === endpointKey(ep)) return // said above
        const prev = usedBy.get(endpointKey(ep))
        if (prev !== undefined) add(['links', i, 'endpoints', j], `interface ${endpointKey(ep)} is already used by links[${prev}]`)
        else usedBy.set(endpointKey(ep), i)
      })
    }

    const impairment: Impairment = {}
    const rawImpairment = fieldsAt(raw.impairment)
    if (typeof rawImpairment.loss === 'number') impairment.loss = rawImpairment.loss
    if (typeof rawImpairment.rate === 'string') {
      const badRate = checkRate(rawImpairment.rate)
      if (badRate !== undefined) add(['links', i, 'impairment', 'rate'], badRate)
      impairment.rate = rawImpairment.rate
    }
    if (complete && valid.every(v => v)) {
      const link: LinkSpec = { id: linkId(a, b), endpoints: [a, b], state: raw.state === 'down' ? 'down' : 'up' }
      if (Object.keys(impairment).length > 0) link.impairment = impairment
      links.push(link)
    }
  })

  for (const { spec, interfaceOrigin } of resolved) {
    for (const ifname of Object.keys(spec.interfaces)) {
      if (!usedBy.has(`${spec.name}:${ifname}`)) {
        add(interfaceOrigin.get(ifname) ?? ['nodes', spec.name], `interface ${ifname} of node ${spec.name} is not used by any link`)
      }
    }
    // Every interface a link gives the node is listed, so consumers need not look at the links.
    for (const ep of [...links.flatMap(l => l.endpoints), ...segments.flatMap(s => s.endpoints)]) {
      if (ep.node === spec.name && spec.interfaces[ep.ifname] === undefined) spec.interfaces[ep.ifname] = { ipv4: [] }
    }
  }
  // Kinds see the complete node, interfaces included (babeld and ntkd list them in their commands).
  for (const node of resolved) {
    const kind = kindOf.get(node.spec.name)
    if (kind === undefined) continue
    node.spec = kind.applyDefaults(node.spec)
    for (const message of kind.check(node.spec)) add(['nodes', node.spec.name], `kind ${kind.name}: ${message}`)
  }

  if (problems.length > 0 || name === undefined) return { problems } // name: reported above
  const lab: ResolvedLab = {
    name,
    nodes: resolved.map(n => n.spec),
    links,
    ...(segments.length > 0 ? { segments } : {}),
    timeline: Array.isArray(top.timeline) ? top.timeline : []
  }
  if (typeof top.description === 'string') lab.description = top.description
  return { lab, problems }
}
