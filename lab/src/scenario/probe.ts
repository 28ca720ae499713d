/*
 * Probes: a continuous ping from one node, started by one timeline step and ended by a later one, that measures
 * how long traffic stopped in between (an entry, a migration, a cut). `ping -D -O` prints a timestamp on every
 * reply and a line for every request left unanswered; the report comes from those lines alone.
 */

/** The command a probe runs in its node: it records its PID (for the step that ends it) and stops on its own at the deadline. */
export function probeArgv (pidFile: string, to: string, intervalMs: number, deadlineMs: number): string[] {
  const seconds = (ms: number): string => (ms / 1000).toFixed(3).replace(/\.?0+$/, '')
  // exec: the PID recorded is ping's own, so SIGINT reaches it and it prints what it saw
  return ['sh', '-c', `echo $$ > ${pidFile} && exec ping -D -O -n -i ${seconds(intervalMs)} -w ${Math.ceil(deadlineMs / 1000)} ${to}`]
}

/** The command that ends a probe early (SIGINT: ping stops sending and exits). */
export function probeStopArgv (pidFile: string): string[] {
  return ['sh', '-c', `[ -f ${pidFile} ] && kill -INT "$(cat ${pidFile})" 2>/dev/null; rm -f ${pidFile}; true`]
}

export interface ProbeOutage {
  /** When it began: ms after the probe started (after the first reply, without the probe's window). */
  readonly atMs: number
  /** Time without replies beyond the normal spacing (a run of k lost requests is about k intervals). */
  readonly ms: number
}

export interface ProbeReport {
  readonly sent: number
  readonly received: number
  readonly lost: number
  readonly lossPercent: number
  /** The longest time traffic stopped, ms (0 when no reply was missed). */
  readonly longestOutageMs: number
  /** Every run of requests without a reply, longest first (at most 10). */
  readonly outages: readonly ProbeOutage[]
}

const REPLY = /^\[(\d+(?:\.\d+)?)\] \d+ bytes from [^:]+: icmp_seq=(\d+)/
const ANY_SEQ = /icmp_seq=(\d+)/

/**
 * The report of a probe from ping's output. Requests are numbered from 1; a request whose number never shows with a
 * reply is lost (a late reply counts). An outage is a time without replies beyond the normal spacing: between two
 * replies as they arrived, the time between them less one interval (whatever happened to the requests in between:
 * lost, or never sent for want of a route); before the first and after the last reply, measured from the probe's
 * start and end (wall clock, ms) when `window` gives them, else counted in unanswered requests.
 */
export function probeReport (output: string, intervalMs: number, window?: { startMs: number, endMs: number }): ProbeReport {
  const replies = new Map<number, number>()
  let highest = 0
  for (const line of output.split('\n')) {
    const r = REPLY.exec(line)
    if (r !== null && !line.includes('DUP!')) {
      const seq = Number(r[2])
      if (!replies.has(seq)) replies.set(seq, Number(r[1]) * 1000)
    }
    const any = ANY_SEQ.exec(line)
    if (any !== null) highest = Math.max(highest, Number(any[1]))
  }
  // the requests known to have gone out: a reply or a "no answer yet" line names each (the one in flight when the
  // probe ended names none, and is not counted)
  const sent = highest
  const arrivals = [...replies.values()].sort((a, b) => a - b)
  const origin = window?.startMs ?? arrivals[0] ?? 0
  const outages: ProbeOutage[] = []
  // a gap of less than half an interval beyond the spacing is the scheduler's jitter, not an outage
  const add = (from: number, ms: number): void => { if (ms > intervalMs / 2) outages.push({ atMs: Math.round(from - origin), ms: Math.round(ms) }) }
  if (arrivals.length > 0) {
    const firstSeq = Math.min(...replies.keys())
    const lastSeq = Math.max(...replies.keys())
    if (window !== undefined) add(window.startMs, arrivals[0] - window.startMs - intervalMs)
    else if (firstSeq > 1) add(arrivals[0] - (firstSeq - 1) * intervalMs, (firstSeq - 1) * intervalMs)
    for (let k = 1; k < arrivals.length; k++) add(arrivals[k - 1], arrivals[k] - arrivals[k - 1] - intervalMs)
    const last = arrivals[arrivals.length - 1]
    if (window !== undefined) add(last, window.endMs - last - intervalMs)
    else if (sent > lastSeq) add(last, (sent - lastSeq) * intervalMs)
  }
  outages.sort((a, b) => b.ms - a.ms)
  const received = replies.size
  const lost = Math.max(0, sent - received)
  return {
    sent,
    received,
    lost,
    lossPercent: sent === 0 ? 0 : Math.round(lost / sent * 1000) / 10,
    longestOutageMs: outages[0]?.ms ?? 0,
    outages: outages.slice(0, 10)
  }
}

export function formatProbe (r: ProbeReport): string {
  return `sent ${r.sent}, received ${r.received}, lost ${r.lost} (${r.lossPercent}%), longest outage ${(r.longestOutageMs / 1000).toFixed(2)} s`
}
