import { spawn } from 'node:child_process'

/**
 * Creates the namespace-holding processes of many nodes from ONE python3 process that forks a
 * child per node (fork, no exec). Why: on small VMs every process spawn costs 15-20 ms, and the
 * shell holder needs about six (unshare, sh, three mounts, sleep) per node; forking costs far less.
 * Each child unshares a network and a mount namespace, makes / private, mounts a tmpfs on
 * /run/netns, binds the node's own iproute2 directory on /etc/iproute2, mounts a sysfs that shows
 * the node's interfaces, reports ready, detaches from our pipes and waits for SIGTERM.
 */
const HOLDER_SERVER = String.raw`
import ctypes, json, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
def check(r, what):
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, what + ": " + os.strerror(e))
def hold(iproute2, w):
    try:
        os.setsid()
        check(libc.unshare(CLONE_NEWNET | CLONE_NEWNS), "unshare")
        check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
        check(libc.mount(b"ntklab-netns", b"/run/netns", b"tmpfs", 0, b"size=4m,mode=755"), "tmpfs on /run/netns")
        check(libc.mount(iproute2.encode(), b"/etc/iproute2", None, MS_BIND, None), "bind " + iproute2 + " on /etc/iproute2")
        check(libc.mount(b"ntklab-sysfs", b"/sys", b"sysfs", 0, None), "sysfs on /sys")
        os.write(w, b"ok")
    except Exception as e:
        os.write(w, ("error " + str(e)).encode())
        os._exit(1)
    os.close(w)
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        signal.pause()
pending = []
for node in json.loads(sys.stdin.read()):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        hold(node["iproute2"], w)
    os.close(w)
    pending.append((node["name"], pid, r))
for name, pid, r in pending:
    msg = os.read(r, 4096).decode()
    os.close(r)
    print(json.dumps({"name": name, "pid": pid, "error": None if msg == "ok" else (msg[6:] or "exited before it was ready")}), flush=True)
`

export interface HolderRequest { name: string, iproute2: string }
export interface HolderResult { name: string, pid: number, error: string | null }

/** Starts one holder per request; results in request order (a failed node has `error` set). */
export async function startHolders (requests: HolderRequest[], signal?: AbortSignal): Promise<HolderResult[]> {
  if (requests.length === 0) return []
  const child = spawn('python3', ['-c', HOLDER_SERVER], { stdio: ['pipe', 'pipe', 'pipe'], signal })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
  child.stdin.end(JSON.stringify(requests))
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', resolve)
  })
  const results = out.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as HolderResult)
  if (results.length !== requests.length) {
    // Holders that did report would otherwise outlive the failed deploy (not attached yet).
    for (const r of results) { try { process.kill(r.pid, 'SIGKILL') } catch { /* gone */ } }
    throw new Error(`holder server exited ${String(code)} after ${results.length} of ${requests.length} nodes: ${err.trim()}`)
  }
  return results
}
