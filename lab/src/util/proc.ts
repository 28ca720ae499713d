import { promises as fs } from 'node:fs'

/** The kernel's identity of a network namespace file: "net:[4026532...]". */
export async function netnsId (nsPath: string): Promise<string | undefined> {
  const st = await fs.stat(nsPath).catch(() => undefined)
  return st === undefined ? undefined : `net:[${st.ino}]`
}

/** PIDs of every process whose network namespace is the one at nsPath (e.g. /run/netns/x). */
export async function processesInNetns (nsPath: string): Promise<number[]> {
  const id = await netnsId(nsPath)
  if (id === undefined) return []
  const pids: number[] = []
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const link = await fs.readlink(`/proc/${entry}/ns/net`).catch(() => undefined)
    if (link === id) pids.push(Number(entry))
  }
  return pids
}

/** True when pid exists and is not a zombie. */
export async function isAlive (pid: number): Promise<boolean> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  if (stat === undefined) return false
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
  return state !== 'Z' && state !== 'X'
}

/**
 * Sends SIGTERM (or the given signal), waits up to graceMs for the process to go, then SIGKILL and
 * waits again. Polls /proc: the process is usually not our child, so there is no exit event.
 */
export async function killAndWait (pid: number, o: { signal?: NodeJS.Signals, graceMs?: number } = {}): Promise<void> {
  const send = (sig: NodeJS.Signals): void => { try { process.kill(pid, sig) } catch { /* already gone */ } }
  const waitGone = async (budgetMs: number): Promise<boolean> => {
    const deadline = Date.now() + budgetMs
    for (;;) {
      if (!await isAlive(pid)) return true
      if (Date.now() >= deadline) return false
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  }
  send(o.signal ?? 'SIGTERM')
  if (await waitGone(o.graceMs ?? 3000)) return
  send('SIGKILL')
  if (!await waitGone(5000)) throw new Error(`process ${pid} did not exit after SIGKILL`)
}
