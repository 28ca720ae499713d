import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import * as path from 'node:path'
import Ajv, { type ErrorObject } from 'ajv'
import { LineCounter, parseDocument, type Document } from 'yaml'
import type { ResolvedLab } from '../topology/model'
import { formatProblem, sortProblems, type Problem } from '../topology/problem'
import { formatPath, locate, yamlProblems, type KeyPath } from '../topology/yaml-locate'
import schema from '../../schema/scenario.schema.json'
import { compileTimeline, type Step, type StepProblem } from './timeline'

/** A scenario ready to run: steps checked against the lab they run on. */
export interface Scenario {
  name: string
  /** The file the steps come from (scenario or topology file). */
  file?: string
  /** Seed written in the file; the runner's option wins, else a fresh one. */
  seed?: number
  steps: Step[]
}

/** A scenario file that cannot be used; `.problems` holds every problem with file, line and key. */
export class ScenarioError extends Error {
  readonly problems: Problem[]
  constructor (readonly file: string, problems: Problem[]) {
    const sorted = sortProblems(problems)
    super(`invalid scenario ${file} (${sorted.length === 1 ? '1 problem' : `${sorted.length} problems`}):\n${sorted.map(p => `  ${formatProblem(p)}`).join('\n')}`)
    this.name = 'ScenarioError'
    this.problems = sorted
  }
}

interface Located { file: string, doc: Document, lc: LineCounter }

function problemAt (src: Located | undefined, file: string, p: StepProblem): Problem {
  if (src === undefined) return { file, line: 0, column: 0, path: formatPath(p.path), message: p.message }
  const { line, column } = locate(src.doc, p.path, src.lc)
  return { file, line, column, path: formatPath(p.path), message: p.message }
}

function pathOf (e: ErrorObject): Array<string | number> {
  return e.instancePath.split('/').slice(1).map(s => s.replace(/~1/g, '/').replace(/~0/g, '~')).map(s => /^[0-9]+$/.test(s) ? Number(s) : s)
}

/**
 * Ajv's errors as step problems: one per key (oneOf branches repeat themselves), worded for people.
 * An unknown key points at that key.
 */
function schemaProblems (errors: ErrorObject[]): StepProblem[] {
  const byPath = new Map<string, StepProblem>()
  for (const e of errors) {
    let p = pathOf(e)
    let message: string
    if (e.keyword === 'additionalProperties') {
      const key = (e.params as { additionalProperty: string }).additionalProperty
      p = [...p, key]
      message = `unknown key ${JSON.stringify(key)}`
    } else if (e.keyword === 'required') {
      message = `missing key ${JSON.stringify((e.params as { missingProperty: string }).missingProperty)}`
    } else if (e.keyword === 'enum') {
      message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map(v => JSON.stringify(v)).join(', ')}`
    } else if (e.keyword === 'pattern' && /duration/.test(e.schemaPath)) {
      message = 'not a duration (write e.g. 500ms, 2s, 1.5s, 1m)'
    } else {
      message = e.message ?? e.keyword
    }
    const key = JSON.stringify(p) + (e.keyword === 'additionalProperties' || e.keyword === 'required' ? message : '')
    // Keep the most specific message per key: enum/unknown-key/pattern beat the generic oneOf summary.
    const prev = byPath.get(key)
    if (prev === undefined || /must match exactly one schema|must be (string|number|array|object|null|boolean)/.test(prev.message)) byPath.set(key, { path: p, message })
  }
  return [...byPath.values()]
}

const ajv = (): Ajv => new Ajv({ allErrors: true, strict: false })

function parseYaml (text: string, file: string): { src: Located, data: unknown, problems: Problem[] } {
  const lc = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false })
  const src = { file, doc, lc }
  return { src, data: doc.errors.length === 0 ? doc.toJS() : undefined, problems: yamlProblems(doc, lc, file) }
}

/** Validates steps against the schema and the lab; throws ScenarioError naming file, line and key. */
export function compileSteps (raw: unknown, lab: ResolvedLab, file: string, src?: Located, base: KeyPath = ['timeline']): Step[] {
  const validate = ajv().compile({ ...schema.definitions.timeline, definitions: schema.definitions })
  if (!validate(raw)) {
    const shifted = schemaProblems(validate.errors ?? []).map(p => ({ ...p, path: [...base, ...p.path] }))
    throw new ScenarioError(file, shifted.map(p => problemAt(src, file, p)))
  }
  const { steps, problems } = compileTimeline(raw as unknown[], lab, base)
  if (problems.length > 0) throw new ScenarioError(file, problems.map(p => problemAt(src, file, p)))
  return steps.map(s => {
    if (src === undefined) return s
    const { line } = locate(src.doc, [...base, s.index], src.lc)
    return { ...s, source: { file, line } }
  })
}

/** The timeline written inside a topology file (re-reading the file, when known, for line numbers). */
export function scenarioFromLab (lab: ResolvedLab): Scenario {
  let src: Located | undefined
  const file = lab.file ?? `${lab.name} (topology)`
  if (lab.file !== undefined) {
    try { src = parseYaml(readFileSync(lab.file, 'utf8'), lab.file).src } catch { src = undefined }
  }
  return { name: lab.name, file: lab.file, steps: compileSteps(lab.timeline, lab, file, src) }
}

export interface ScenarioFile {
  name: string
  file: string
  /** Absolute path of the topology file it names. */
  topology: string
  seed?: number
  /** Compiles the steps against the lab loaded from `topology`. */
  compile: (lab: ResolvedLab) => Scenario
}

/** Parses a scenario file's text (schema only; steps are compiled once its topology is loaded). */
export function parseScenarioFile (text: string, file: string): ScenarioFile {
  const { src, data, problems } = parseYaml(text, file)
  if (problems.length > 0) throw new ScenarioError(file, problems)
  const validate = ajv().compile(schema)
  if (!validate(data)) throw new ScenarioError(file, schemaProblems(validate.errors ?? []).map(p => problemAt(src, file, p)))
  const d = data as { name?: string, topology: string, seed?: number, timeline: unknown[] }
  const name = d.name ?? path.basename(file).replace(/\.(ya?ml|json)$/, '')
  return {
    name,
    file,
    topology: path.resolve(path.dirname(path.resolve(file)), d.topology),
    seed: d.seed,
    compile: (lab) => ({ name, file, seed: d.seed, steps: compileSteps(d.timeline, lab, file, src) })
  }
}

/**
 * Loads a scenario file and its topology (through the topology loader handed in), and checks the
 * steps against it. Nothing is created: every error comes before deploy.
 */
export async function loadScenario (file: string, loadTopology: (file: string) => Promise<ResolvedLab>): Promise<{ scenario: Scenario, lab: ResolvedLab }> {
  const sf = parseScenarioFile(await readFile(file, 'utf8'), file)
  const lab = await loadTopology(sf.topology)
  return { scenario: sf.compile(lab), lab }
}
