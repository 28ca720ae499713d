import type { Impairment, ResolvedLab } from '../topology/model'
import type { RunResult } from '../util/exec'
import type { NodeObservation } from './observation'

/**
 * The part of lab/src/lab.ts's RunningLab the scenario harness drives. Declared here, as the
 * consumer, so tests can hand in a scripted fake and lab.ts's RunningLab satisfies it as is.
 */
export interface ScenarioLab {
  readonly spec: ResolvedLab
  setLinkState (linkId: string, state: 'up' | 'down'): Promise<void>
  impair (linkId: string, imp: Impairment | undefined): Promise<void>
  stopNode (name: string, o?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>
  startNode (name: string): Promise<void>
  exec (name: string, argv: string[], o?: { check?: boolean }): Promise<RunResult>
  observe (name: string): Promise<NodeObservation>
  logFile (name: string): string | undefined
  /** The process holding each node's namespaces, where the backend has one on this host. */
  readonly nodes?: ReadonlyMap<string, { readonly pid: number }>
}
