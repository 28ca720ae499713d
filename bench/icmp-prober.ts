// One host process that pings many pairs from inside lab nodes with raw ICMP sockets (see PROBER_PY), and the python3
// it needs. Used by bench/ntkd-lab.ts and bench/compare.ts.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { run } from '../lab/src/util/exec'

/**
 * One host process probing from every node at once: it opens a raw ICMP socket inside each source node's netns
 * (setns, socket, setns back: a socket stays in the namespace it was made in), then every `interval` s sends one
 * echo request from each source to each of its targets not answered yet. Output lines: "start <ms>" when the
 * sockets are ready, "ok <source> <ip> <ms>" at each pair's first reply (epoch ms), "miss <source> <ip>" for pairs
 * silent at the deadline, "reset <ms>" when a "reset" line arrives on stdin: every pair is probed again and only
 * requests sent after it count. It exits when every pair answered and stdin is closed, or at the deadline.
 * (One process instead of a `ping` per pair: 600 pings cost seconds of CPU on a small host, and 25 probers
 * started through nsenter took up to 20 s to start on a loaded one.)
 * argv: budget_s interval_s netns_path=ip,ip,... ...
 */
const PROBER_PY = `
import ctypes, os, select, socket, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
own = os.open('/proc/self/ns/net', os.O_RDONLY)
def socket_in(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0: raise OSError(ctypes.get_errno(), 'setns ' + path)
        return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    finally:
        os.close(fd)
        if libc.setns(own, CLONE_NEWNET) != 0: raise OSError(ctypes.get_errno(), 'setns back')
def csum(b):
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
def echo(ident, seq):
    c = csum(struct.pack('!BBHHH', 8, 0, 0, ident, seq) + b'ntkbench')
    return struct.pack('!BBHHH', 8, 0, c, ident, seq) + b'ntkbench'
deadline = time.time() + float(sys.argv[1]); interval = float(sys.argv[2])
sources = []
for k, arg in enumerate(sys.argv[3:]):
    path, ips = arg.split('=')
    sources.append({'k': k, 'sock': socket_in(path), 'targets': ips.split(','), 'pending': set(range(len(ips.split(','))))})
by_fd = {s['sock'].fileno(): s for s in sources}
epoch = 0; stdin_open = True; next_send = 0.0
print('start', '%.1f' % (time.time() * 1000), flush=True)
while time.time() < deadline and (stdin_open or any(s['pending'] for s in sources)):
    if time.time() >= next_send:
        for s in sources:
            for i in s['pending']:
                try: s['sock'].sendto(echo(s['k'], epoch * 256 + i), (s['targets'][i], 0))
                except OSError: pass
        next_send = time.time() + interval
    fds = list(by_fd) + ([sys.stdin.fileno()] if stdin_open else [])
    ready, _, _ = select.select(fds, [], [], max(0.0, min(next_send, deadline) - time.time()))
    for fd in ready:
        if fd == sys.stdin.fileno():
            line = sys.stdin.readline()
            if line == '': stdin_open = False
            elif line.strip() == 'reset':
                epoch += 1
                for s in sources: s['pending'] = set(range(len(s['targets'])))
                next_send = 0.0
                print('reset', '%.1f' % (time.time() * 1000), flush=True)
            continue
        s = by_fd[fd]
        data, addr = s['sock'].recvfrom(4096)
        ihl = (data[0] & 15) * 4
        typ, _, _, ident, seq = struct.unpack('!BBHHH', data[ihl:ihl + 8])
        i = seq % 256
        if typ == 0 and ident == s['k'] and seq // 256 == epoch and i in s['pending'] and s['targets'][i] == addr[0]:
            s['pending'].discard(i)
            print('ok', s['k'], addr[0], '%.1f' % (time.time() * 1000), flush=True)
for s in sources:
    for i in s['pending']: print('miss', s['k'], s['targets'][i], flush=True)
`

/** Probes pairs from the host; see PROBER_PY. */
export class IcmpProber {
  /** First reply (epoch ms) per "source ip"; undefined: never answered. */
  readonly firstReply = new Map<string, number | undefined>()
  /** When the sockets were ready (epoch ms). */
  readonly started: Promise<number>
  readonly done: Promise<void>
  #child: ChildProcessWithoutNullStreams
  readonly #names: string[]
  #onLine: Array<(words: string[]) => void> = []

  constructor (python: string, sources: Array<{ name: string, netns: string, targets: string[] }>, budgetMs: number, intervalMs: number) {
    this.#names = sources.map(s => s.name)
    this.#child = spawn(python, ['-c', PROBER_PY, String(budgetMs / 1000), String(intervalMs / 1000),
      ...sources.map(s => `${s.netns}=${s.targets.join(',')}`)], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    this.#child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
    this.#child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const words = out.slice(0, nl).split(' ')
        out = out.slice(nl + 1)
        if (words[0] === 'ok') this.firstReply.set(`${sources[Number(words[1])].name} ${words[2]}`, Number(words[3]))
        if (words[0] === 'miss') this.firstReply.set(`${sources[Number(words[1])].name} ${words[2]}`, undefined)
        for (const f of this.#onLine) f(words)
      }
    })
    this.#child.stdin.on('error', () => {})
    this.started = this.#next(w => w[0] === 'start').then(w => Number(w[1]))
    this.done = new Promise((resolve, reject) => {
      this.#child.on('error', reject)
      this.#child.on('close', code => { code === 0 ? resolve() : reject(new Error(`ICMP prober exited ${String(code)}: ${err.trim().slice(-800)}`)) })
    })
    this.started.catch(() => {})
    this.done.catch(() => {})
  }

  /** The next output line satisfying pred (rejects when the prober ends first). */
  async #next (pred: (words: string[]) => boolean): Promise<string[]> {
    return await new Promise((resolve, reject) => {
      const f = (w: string[]): void => { if (pred(w)) { this.#onLine = this.#onLine.filter(g => g !== f); resolve(w) } }
      this.#onLine.push(f)
      this.#child.on('close', () => reject(new Error('ICMP prober ended')))
    })
  }

  /** Resolves with the epoch ms of the next first reply from the pair. */
  async nextReply (source: string, ip: string): Promise<number> {
    return Number((await this.#next(w => w[0] === 'ok' && this.#names[Number(w[1])] === source && w[2] === ip))[3])
  }

  /** Probes every pair again; only requests sent after the returned time (epoch ms) count. */
  async reset (): Promise<number> {
    this.firstReply.clear()
    const r = this.#next(w => w[0] === 'reset')
    this.#child.stdin.write('reset\n')
    return Number((await r)[1])
  }

  /** No more resets: the prober ends once every pair answered (or at its deadline). */
  endInput (): void { this.#child.stdin.end() }

  kill (): void { if (this.#child.exitCode === null) this.#child.kill('SIGKILL') }
}

/** The real python3 (not a pyenv shim), with ctypes for setns; the netns backend's fast holder needs the same. */
export async function findPython (): Promise<string> {
  const py = await run(['python3', '-c', 'import ctypes, sys; print(sys.executable)'], { check: false })
  const exe = py.stdout.trim()
  if (py.code !== 0 || exe === '') throw new Error(`this bench probes with python3 (ctypes): ${(py.stderr || 'python3 not found').trim()}`)
  return exe
}
