import { spawn } from 'node:child_process'
import { readFile } from '../util/fs-async'
import type { CancelTimer, Clock } from '../util/clock'

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

/** The carrier of one NIC: undefined when unknown or when reading it failed. */
export async function readCarrier (carrier: NicCarrier | undefined, nic: string): Promise<boolean | undefined> {
  try { return await carrier?.(nic) } catch { return undefined }
}

/**
 * Tells when a NIC may have changed state (its carrier is then read again): subscribe with the callback, call the
 * returned function to stop. The Neighborhood then needs its carrier poll only as a safety net.
 */
export type CarrierChanges = (onChange: (nic: string) => void) => () => void

/**
 * Link changes of the current network namespace from a long-lived `ip -o monitor link` (one line per netlink
 * message, flushed; `Deleted ` before a removed link). Polling operstate every 100 ms instead cost 30 % of the
 * idle CPU of 25 lab daemons (0.24 of 0.81 CPU-s per s: 1,000 file reads per second). If `ip` is missing or exits,
 * no change is told and the poll alone remains.
 */
export const ipMonitorCarrierChanges: CarrierChanges = onChange => {
  let child: ReturnType<typeof spawn>
  try { child = spawn('ip', ['-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] }) } catch { return () => {} }
  child.on('error', () => { /* no monitor: the poll remains */ })
  child.unref()
  const stdout = child.stdout as NonNullable<typeof child.stdout>
  ;(stdout as unknown as { unref?: () => void }).unref?.()
  // lines split by hand: node:readline is a module the daemon otherwise does without (ntkd-footprint test)
  let partial = ''
  stdout.on('data', (b: Buffer) => {
    const lines = (partial + b.toString()).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      const m = /^(?:Deleted )?\d+: ([^:@\s]+)/.exec(line)
      if (m !== null) onChange(m[1])
    }
  })
  return () => { stdout.removeAllListeners('data'); child.kill() }
}

/**
 * Watches the carrier of the NICs that hold arcs: reads each every `pollMs` (ten times less often when `changes`
 * tells of link changes, and then at once on a change) and calls `lost` for a NIC found without it.
 */
export class CarrierWatch {
  #cancelPoll: CancelTimer = () => {}
  #stopChanges: () => void = () => {}
  #checking = false
  #recheck = false
  #stopped = false

  constructor (private readonly o: {
    readonly carrier: NicCarrier
    readonly changes?: CarrierChanges
    readonly clock: Clock
    readonly pollMs: number
    /** The NICs worth reading (those with arcs), and whether a NIC is one of the watched ones at all. */
    readonly nics: () => string[]
    readonly watched: (nic: string) => boolean
    readonly lost: (nic: string) => Promise<void>
  }) {}

  start (): void {
    this.stop()
    this.#stopped = false
    if (this.o.changes !== undefined) this.#stopChanges = this.o.changes(nic => { if (this.o.watched(nic)) void this.check() })
    const periodMs = this.o.changes === undefined ? this.o.pollMs : 10 * this.o.pollMs
    const poll = (): void => { this.#cancelPoll = this.o.clock.setTimer(periodMs, () => { void this.check().finally(poll) }) }
    poll()
  }

  stop (): void {
    this.#stopped = true
    this.#cancelPoll()
    this.#cancelPoll = () => {}
    this.#stopChanges()
    this.#stopChanges = () => {}
  }

  async read (nic: string): Promise<boolean | undefined> { return await readCarrier(this.o.carrier, nic) }

  /** A NIC that lost its carrier cannot reach anyone: `lost` at once (the peer's side sees the same loss). */
  async check (): Promise<void> {
    // a change told while a check runs may have come after that NIC was read: check again once it ends
    if (this.#checking) { this.#recheck = true; return }
    this.#checking = true
    try {
      do {
        this.#recheck = false
        for (const nic of this.o.nics()) if (await this.read(nic) === false) await this.o.lost(nic)
      } while (this.#recheck && !this.#stopped)
    } finally {
      this.#checking = false
    }
  }
}
