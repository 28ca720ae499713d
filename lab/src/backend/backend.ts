import type { NodeSpec, ResolvedLab } from '../topology/model'
import type { RunResult } from '../util/exec'

/**
 * A node as a backend made it: a network namespace the host can name (`ip -n <netns>`), and a
 * process holding the node's namespaces (net + a private mount namespace with its own /run/netns
 * and /etc/iproute2). Everything in the node is reachable through `/proc/<pid>/root`.
 */
export interface NodeHandle {
  readonly name: string
  readonly kind: string
  /** Name under the host's /run/netns, e.g. "ntklab-<lab>-<node>". */
  readonly netns: string
  /** Host PID of the process holding the node's namespaces. */
  readonly pid: number
  /** Docker container id (docker backend only). */
  readonly containerId?: string
}

export interface ExecOptions { input?: string; signal?: AbortSignal; check?: boolean; env?: Record<string, string> }

/**
 * What differs between the netns and the docker backend. Wiring, addresses, observation and the
 * lab lifecycle are shared (lab/src/lab.ts) and work on NodeHandle only.
 *
 * Lifecycle rules: createNodes either creates every node or removes what it created and throws;
 * removeLab is idempotent and also removes leftovers of a crashed run of that lab.
 */
export interface Backend {
  readonly name: 'netns' | 'docker'
  /** Throws BackendUnavailableError with what is missing (no dockerd, not root, no unshare...). */
  check (o?: { signal?: AbortSignal }): Promise<void>
  createNodes (lab: ResolvedLab, o?: { signal?: AbortSignal, progress?: (done: number, total: number) => void }): Promise<NodeHandle[]>
  /** Runs argv inside the node (its net and mount namespaces; docker: `docker exec`). */
  exec (node: NodeHandle, argv: string[], o?: ExecOptions): Promise<RunResult>
  /**
   * Starts a long-running process inside the node, detached from the caller, output appended to
   * logFile (a host path for netns; docker writes inside the container and returns the host path
   * through /proc). Returns the host PID of the process.
   */
  spawnDetached (node: NodeHandle, argv: string[], o: { env?: Record<string, string>, logFile: string }): Promise<{ pid: number, logFile: string }>
  /** Removes every node of the lab (containers, namespaces, mounts, holder processes). */
  removeLab (labName: string, o?: { signal?: AbortSignal }): Promise<void>
  /** Names of labs this backend has anything of on this host (for `ntklab cleanup`). */
  listLabs (): Promise<string[]>
}

export class BackendUnavailableError extends Error {
  constructor (readonly backend: string, readonly reason: string) {
    super(`backend ${backend} is not available: ${reason}`)
    this.name = 'BackendUnavailableError'
  }
}

export function nodeNetnsName (lab: string, node: string): string {
  return `ntklab-${lab}-${node}`
}

export type { NodeSpec }
