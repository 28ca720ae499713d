import { Writable } from 'node:stream'
import type Docker from 'dockerode'
import { CommandError, type RunResult } from '../../util/exec'

export interface ContainerExecOptions {
  input?: string
  signal?: AbortSignal
  check?: boolean
  env?: Record<string, string>
}

export function envList (env: Record<string, string> | undefined): string[] | undefined {
  return env === undefined ? undefined : Object.entries(env).map(([k, v]) => `${k}=${v}`)
}

/** Quotes one word for /bin/sh. */
export function shellQuote (word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`
}

class Collector extends Writable {
  readonly chunks: Buffer[] = []
  override _write (chunk: Buffer, _enc: BufferEncoding, cb: () => void): void { this.chunks.push(chunk); cb() }
  text (): string { return Buffer.concat(this.chunks).toString('utf8') }
}

/**
 * `docker exec` through the API: output demultiplexed into stdout and stderr, exit code from
 * the exec's inspect. On abort the process is killed by its host PID (the engine has no
 * "kill exec"), so nothing keeps running inside the node behind the caller's back.
 */
export async function execInContainer (docker: Docker, containerId: string, argv: string[], o: ContainerExecOptions = {}): Promise<RunResult> {
  o.signal?.throwIfAborted()
  const withInput = o.input !== undefined
  const exec = await docker.getContainer(containerId).exec({
    Cmd: argv, AttachStdout: true, AttachStderr: true, AttachStdin: withInput, Tty: false, Env: envList(o.env)
  })
  const stream = await exec.start({ hijack: true, stdin: withInput, Detach: false, Tty: false }) as NodeJS.ReadWriteStream & { destroy: () => void }
  const stdout = new Collector()
  const stderr = new Collector()
  docker.modem.demuxStream(stream, stdout, stderr)
  const onAbort = (): void => {
    void exec.inspect().then(i => { if (i.Running && i.Pid > 0) process.kill(i.Pid, 'SIGKILL') }).catch(() => {})
    stream.destroy()
  }
  o.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    const ended = new Promise<void>((resolve, reject) => {
      stream.once('end', resolve)
      stream.once('close', resolve)
      stream.once('error', reject)
    })
    if (o.input !== undefined) stream.end(o.input)
    await ended
    o.signal?.throwIfAborted()
    // The stream can end a moment before the engine records the exit code.
    let info = await exec.inspect()
    for (let i = 0; info.Running && i < 100; i++) {
      await new Promise(resolve => setTimeout(resolve, 10))
      info = await exec.inspect()
    }
    const result: RunResult = { code: info.ExitCode ?? -1, stdout: stdout.text(), stderr: stderr.text() }
    if ((o.check ?? true) && result.code !== 0) throw new CommandError(argv, result)
    return result
  } finally {
    o.signal?.removeEventListener('abort', onAbort)
  }
}
