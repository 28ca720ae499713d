// The one list of built-in kinds (containerlab's core/register.go): each kind registers itself
// into the registry it is handed. ntkd and babeld add their register function here.
import { KindRegistry } from './registry'
import { registerLinux } from './linux'
import { registerBabeld } from './babeld'
import { registerNtkd } from './ntkd'

export { type Kind, KindRegistry, DuplicateKindError, UnknownKindError } from './registry'
export { registerLinux } from './linux'
export { registerBabeld } from './babeld'
export { registerNtkd, ntkdKind, ntkctlArgv, NTKD_CONTROL_SH } from './ntkd'

/** A fresh registry with every built-in kind. */
export function defaultKinds (): KindRegistry {
  const r = new KindRegistry()
  registerLinux(r)
  registerBabeld(r)
  registerNtkd(r)
  return r
}
