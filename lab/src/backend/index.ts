import type { Backend } from './backend'
import { NetnsBackend } from './netns'

export const BACKEND_NAMES = ['netns', 'docker'] as const
export type BackendName = typeof BACKEND_NAMES[number]

/** Makes a backend by name. Docker's module (and dockerode) loads only when asked for. */
export function makeBackend (name: string): Backend {
  if (name === 'netns') return new NetnsBackend()
  if (name === 'docker') {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { DockerBackend } = require('./docker') as typeof import('./docker')
    return new DockerBackend()
  }
  throw new Error(`unknown backend "${name}" (backends: ${BACKEND_NAMES.join(', ')})`)
}
