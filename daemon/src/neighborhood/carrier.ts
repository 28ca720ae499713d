import { readFile } from '../util/fs-async'

/**
 * Whether a NIC can carry frames now: true (up), false (down: set down, or no carrier, e.g. the peer of a veth
 * is down or the cable is cut), undefined (unknown: the Neighborhood then relies on its probes alone).
 */
export type NicCarrier = (nic: string) => Promise<boolean | undefined>

/** The carrier of a NIC of the current network namespace, from /sys/class/net/<nic>/operstate (RFC 2863 states). */
export const sysfsCarrier: NicCarrier = async nic => {
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(nic)) return undefined
  let state: string
  try { state = (await readFile(`/sys/class/net/${nic}/operstate`, 'utf8')).trim() } catch { return undefined }
  if (state === 'up') return true
  if (state === 'down' || state === 'lowerlayerdown' || state === 'notpresent') return false
  return undefined // unknown (e.g. some virtual NICs), dormant, testing
}
