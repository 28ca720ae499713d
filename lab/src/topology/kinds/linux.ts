import type { KindRegistry } from './registry'

/**
 * `linux`: a plain node (namespaces, links, addresses, optional exec steps and command). It adds
 * no defaults and runs no workload of its own; tests and hosts behind a subnet gateway use it.
 */
export function registerLinux (r: KindRegistry): void {
  r.register({
    name: 'linux',
    applyDefaults: node => node,
    check: () => []
  })
}
