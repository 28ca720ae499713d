import type { Random } from '../util/random'

/** A random link-local as the original: 169.254.<0..254>.<0..254> (spec §3 step 1). */
export function randomLinklocal (random: Random): string {
  return `169.254.${random.int(255)}.${random.int(255)}`
}
