/**
 * One long-lived bash session on an SSH host: a single `ssh` process whose
 * remote bash reads scripts from stdin one after another, so a command costs
 * no new ssh session (each of which costs a login on the host: seconds on a
 * busy one). Requests are framed by length; each runs in a subshell with
 * stdin from /dev/null, and its exit status, stdout and stderr come back
 * base64-encoded on one line, so any bytes (NUL-separated file lists, tar
 * archives) survive. Requests run one at a time, in order. A request that
 * does not answer in time ends the session (the next one opens a new one).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { CommandResult } from '../remote-exec.js';

/**
 * The remote loop, started as `bash -c` on the host (sent base64-encoded in
 * the ssh command line: no value of ours is in it). For each request: a
 * line with its length in bytes, then the script.
 */
const LOOP = `if [ -n "\${LC_ALL+set}" ]; then meow_lc="restore"; meow_lc_value=$LC_ALL; fi
LC_ALL=C
meow_t=$(mktemp -d "\${TMPDIR:-/tmp}/meow-session.XXXXXX") || exit 1
trap 'rm -rf -- "$meow_t"' EXIT
echo meow-session-ready
while IFS= read -r meow_len; do
  meow_s=
  [ "$meow_len" -gt 0 ] && IFS= read -r -d '' -N "$meow_len" meow_s
  ( if [ -n "\${meow_lc:-}" ]; then LC_ALL=$meow_lc_value; else unset LC_ALL; fi; eval "$meow_s" ) < /dev/null > "$meow_t/o" 2> "$meow_t/e"
  printf '%s %s %s\\n' "$?" "$(base64 -w0 < "$meow_t/o")" "$(base64 -w0 < "$meow_t/e")"
done
`;

/** A command's result, with its stdout also as bytes (for archives). */
export type SessionResult = CommandResult & { bytes: Buffer };

interface Request {
  script: Buffer;
  timeoutMs: number;
  resolve: (r: SessionResult) => void;
}

/** A persistent remote shell. */
export class SshSession {
  private child: ChildProcess | null = null;
  private ready: Promise<void> | null = null;
  private buffer = '';
  private stderr = '';
  private readonly queue: Request[] = [];
  private current: { req: Request; timer: NodeJS.Timeout } | null = null;
  private onLine: ((line: string) => void) | null = null;
  private closed = false;

  /** `argv` runs ssh up to and including the host; the remote command is appended. */
  constructor(private readonly argv: () => string[]) {}

  /** The remote command: bash running the loop. */
  static remoteCommand(): string {
    return `bash -c 'eval "$(echo ${Buffer.from(LOOP).toString('base64')} | base64 -d)"'`;
  }

  /** Runs a bash script on the host; never rejects. */
  exec(script: string, timeoutMs: number): Promise<SessionResult> {
    if (this.closed) return Promise.resolve(failure('the session is closed', false));
    return new Promise((resolve) => {
      this.queue.push({ script: Buffer.from(script, 'utf8'), timeoutMs, resolve });
      this.pump();
    });
  }

  private pump(): void {
    if (this.current || this.queue.length === 0 || this.closed) return;
    const req = this.queue.shift() as Request;
    const timer = setTimeout(() => this.fail(`did not answer in ${Math.round(req.timeoutMs / 1000)} s`, true), req.timeoutMs);
    this.current = { req, timer };
    void this.open().then(
      () => {
        if (this.current?.req !== req || !this.child?.stdin) return;
        this.onLine = (line) => this.answer(req, line);
        this.child.stdin.write(`${req.script.length}\n`);
        this.child.stdin.write(req.script);
      },
      (err: unknown) => this.fail(err instanceof Error ? err.message : String(err), false),
    );
  }

  private answer(req: Request, line: string): void {
    if (this.current?.req !== req) return;
    clearTimeout(this.current.timer);
    this.current = null;
    this.onLine = null;
    const [code, out, err] = line.split(' ');
    const bytes = Buffer.from(out ?? '', 'base64');
    req.resolve({
      bytes,
      code: Number.parseInt(code ?? '', 10),
      signal: null,
      stdout: bytes.toString('utf8'),
      stderr: Buffer.from(err ?? '', 'base64').toString('utf8'),
      spawnError: null,
      timedOut: false,
      cancelled: false,
      outputLimited: false,
    });
    this.pump();
  }

  /** Starts the ssh process (once) and waits for the loop's greeting. */
  private open(): Promise<void> {
    this.ready ??= new Promise<void>((resolve, reject) => {
      const [file, ...args] = this.argv();
      const child = spawn(file, [...args, SshSession.remoteCommand()], { stdio: ['pipe', 'pipe', 'pipe'] });
      this.child = child;
      this.buffer = '';
      this.stderr = '';
      let greeted = false;
      child.stdout.setEncoding('latin1');
      child.stdout.on('data', (chunk: string) => {
        this.buffer += chunk;
        let nl: number;
        while ((nl = this.buffer.indexOf('\n')) >= 0) {
          const line = this.buffer.slice(0, nl);
          this.buffer = this.buffer.slice(nl + 1);
          if (!greeted) {
            if (line === 'meow-session-ready') {
              greeted = true;
              resolve();
            }
            continue;
          }
          this.onLine?.(line);
        }
      });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => (this.stderr = (this.stderr + chunk).slice(-4000)));
      child.stdin.on('error', () => undefined);
      child.on('error', (err) => {
        this.reset(child);
        reject(err);
      });
      child.on('close', (code, signal) => {
        const why = `ssh ended (${code === null ? `signal ${signal ?? '?'}` : `exit ${code}`})${this.stderr.trim() ? `: ${this.stderr.trim().split('\n').slice(-2).join(' / ')}` : ''}`;
        // A session ended on purpose (timed out, closed) has nothing in flight any more.
        const mine = this.child === child;
        this.reset(child);
        if (!greeted) reject(new Error(why));
        else if (mine) this.fail(why, false);
      });
    });
    return this.ready;
  }

  private reset(child: ChildProcess): void {
    if (this.child !== child) return;
    this.child = null;
    this.ready = null;
  }

  /** Fails the request in flight; a timed-out session is ended so the next request starts clean. */
  private fail(why: string, timedOut: boolean): void {
    const cur = this.current;
    if (!cur) return;
    clearTimeout(cur.timer);
    this.current = null;
    this.onLine = null;
    if (timedOut || this.child) this.kill();
    cur.req.resolve(failure(why, timedOut));
    this.pump();
  }

  private kill(): void {
    const child = this.child;
    if (!child) return;
    this.reset(child);
    child.stdin?.end();
    child.kill('SIGTERM');
  }

  /** Ends the session; requests still queued fail. */
  close(): void {
    this.closed = true;
    this.fail('the session was closed', false);
    for (const r of this.queue.splice(0)) r.resolve(failure('the session was closed', false));
    this.kill();
  }
}

function failure(why: string, timedOut: boolean): SessionResult {
  return { bytes: Buffer.alloc(0), code: 255, signal: null, stdout: '', stderr: why, spawnError: null, timedOut, cancelled: false, outputLimited: false };
}
