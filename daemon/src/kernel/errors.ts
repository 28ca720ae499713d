import { type Op, describeOp } from './plan'

/** An op the kernel refused (in memory: the errno the real kernel would give). */
export class KernelApplyError extends Error {
  constructor (readonly where: string, readonly detail: string, readonly op?: Op) {
    super(`${where}: ${op !== undefined ? `${describeOp(op)}: ` : ''}${detail}`)
    this.name = 'KernelApplyError'
  }
}

/** Output of `ip -j`, `iptables-save` or sysctl that the reader could not make sense of. */
export class KernelReadError extends Error {
  constructor (readonly where: string, detail: string) {
    super(`${where}: ${detail}`)
    this.name = 'KernelReadError'
  }
}
