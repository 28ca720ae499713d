// Checks of single values. Each returns undefined when the value is fine, else what is wrong with
// it in words. The JSON Schema has patterns for the same rules (editors show them while typing);
// these give the reason, and lab/test/topology.test.ts keeps the two in agreement.

import type { Endpoint } from './model'

export const MAX_LAB_NAME = 20
export const MAX_NODE_NAME = 24
/** IFNAMSIZ is 16 bytes including the terminating NUL. */
export const MAX_IFNAME = 15

export function checkLabName (name: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) return `lab name ${JSON.stringify(name)} must be lower-case letters, digits and '-', starting with a letter or digit`
  if (name.length > MAX_LAB_NAME) return `lab name ${JSON.stringify(name)} is longer than ${MAX_LAB_NAME} characters (it becomes part of namespace and container names)`
  return undefined
}

export function checkNodeName (name: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) return `node name ${JSON.stringify(name)} must be lower-case letters, digits, '-' and '_', starting with a letter or digit`
  if (name.length > MAX_NODE_NAME) return `node name ${JSON.stringify(name)} is longer than ${MAX_NODE_NAME} characters`
  return undefined
}

/** The kernel's dev_valid_name(), plus `lo` (every namespace has its own) and ASCII only. */
export function checkIfname (name: string): string | undefined {
  const q = JSON.stringify(name)
  if (name === '') return 'interface name is empty'
  if (name === 'lo') return 'interface name "lo" is the loopback every node already has'
  if (name === '.' || name === '..') return `interface name ${q} is refused by the kernel`
  if (/\s/.test(name)) return `interface name ${q} contains whitespace, which the kernel refuses`
  if (name.includes('/')) return `interface name ${q} contains '/', which the kernel refuses`
  if (name.includes(':')) return `interface name ${q} contains ':', which the kernel refuses`
  if (!/^[!-~]+$/.test(name)) return `interface name ${q} must be printable ASCII`
  if (name.length > MAX_IFNAME) return `interface name ${q} is longer than ${MAX_IFNAME} characters (kernel IFNAMSIZ)`
  return undefined
}

export function checkMac (mac: string): string | undefined {
  const q = JSON.stringify(mac)
  if (!/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/.test(mac)) return `MAC ${q} is not six colon-separated hex octets like 02:00:00:00:00:01`
  if ((parseInt(mac.slice(0, 2), 16) & 1) === 1) return `MAC ${q} has the multicast bit set (first octet is odd); use e.g. 02:... for a locally administered unicast address`
  if (/^00(:00){5}$/.test(mac)) return `MAC ${q} is all zeros`
  return undefined
}

const OCTET = /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/

export function checkIpv4Cidr (cidr: string): string | undefined {
  const q = JSON.stringify(cidr)
  const m = /^([^/]*)\/([^/]*)$/.exec(cidr)
  if (m === null) return `address ${q} needs a prefix length, e.g. 169.254.1.1/30`
  const octets = m[1].split('.')
  if (octets.length !== 4 || !octets.every(o => OCTET.test(o))) return `address ${q} is not an IPv4 address (four decimal octets 0-255)`
  if (!/^(3[0-2]|[12]?[0-9])$/.test(m[2])) return `address ${q} has a prefix length that is not 0..32`
  return undefined
}

/** tc's rate syntax (get_rate: a number and a unit, case-insensitive), and above zero. */
export function checkRate (rate: string): string | undefined {
  const m = /^([0-9]+(\.[0-9]+)?)([kmgt]i?)?(bit|bps)$/i.exec(rate)
  if (m === null) return `rate ${JSON.stringify(rate)} is not a tc rate like 512kbit, 10mbit, 1gbit`
  if (Number(m[1]) === 0) return `rate ${JSON.stringify(rate)} must be above zero`
  return undefined
}

/** `node:ifname` split at the first ':'; names are checked by the caller. */
export function parseEndpoint (text: string): Endpoint | undefined {
  const i = text.indexOf(':')
  if (i <= 0 || i === text.length - 1) return undefined
  return { node: text.slice(0, i), ifname: text.slice(i + 1) }
}
