import type { Cost } from './types'
import type { EtpMessage, FullEtpRequest } from './etp'

/** An arc as QSPN sees it: a stable id chosen by the owner (Identities/ntkd) and its current cost in µs. */
export interface QspnArc {
  readonly id: string
  readonly cost: Cost
}

/**
 * How a QspnManager talks to its neighbours over its arcs. Implemented by the in-memory network (sim/) and,
 * later, by the UDP/TCP transport. Messages must survive JSON serialisation.
 */
export interface QspnMessenger {
  /**
   * Spontaneous ETP to each listed arc (unicast per arc; the transport may batch a broadcast). No answer is
   * awaited, but an ETP the transport could not deliver (no acknowledgement: the link was down, the neighbour
   * unreachable) is reported through `failed(arcId)`, once per arc: that neighbour may have missed a change.
   */
  sendEtp (arcIds: readonly string[], etp: EtpMessage, isFull: boolean, failed?: (arcId: string) => void): void
  /**
   * Asks the neighbour on `arcId` for a full ETP. Resolves with the untrusted answer (validated by the caller);
   * rejects with QspnBootstrapInProgressError, QspnNotAcceptedError or a transport error.
   */
  requestFullEtp (arcId: string, request: FullEtpRequest, o?: { signal?: AbortSignal }): Promise<unknown>
  /** got_prepare_destroy / got_destroy to each listed arc (§4.9). Fire and forget. */
  sendSignal (arcIds: readonly string[], signal: QspnSignal): void
}

export type QspnSignal = 'prepare_destroy' | 'destroy'
