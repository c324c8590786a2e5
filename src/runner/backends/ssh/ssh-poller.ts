/**
 * Watches the jobs running on one SSH host: one ssh call per poll interval
 * checks all of them (exit file written? process alive?).
 */
import { BatchPoll } from '../batch-poll.js';
import { bashQuote, commandFailure } from '../remote-exec.js';
import { REMOTE_CONTROL_DIR } from './ssh-stage.js';
import type { SshConnection } from './ssh-connection.js';

/*
 * A remote job as the poller sees it:
 *
 *   running ──► exit N        the wrapper recorded the program's status
 *      └──────► gone          the wrapper died without recording one (killed, host rebooted)
 *   missing                   no such job directory on the host
 *   unreachable               no answer from the host for UNREACHABLE_AFTER_MS
 */
export type RemoteStatus = { kind: 'running' } | { kind: 'exit'; status: number } | { kind: 'gone' } | { kind: 'missing' } | { kind: 'unreachable'; since: number };

/** A host that has not answered a poll for this long is given up on (its jobs may still run there). */
export const UNREACHABLE_AFTER_MS = 15 * 60_000;

type Listener = (status: RemoteStatus) => void;

interface Watched {
  dir: string;
  pid: number;
  listener: Listener;
}

/** The check for each (dir, pid) pair in "$@", one line of output per job. */
const POLL_SCRIPT = `
status_of() {
  local d="$1" p="$2" c="$1/${REMOTE_CONTROL_DIR}" s
  # Builtins only: one check of many jobs forks nothing.
  if [ -f "$c/exit" ] && read -r s < "$c/exit"; then echo "exit $s"
  elif [ ! -d "$d" ]; then echo missing
  elif kill -0 "$p" 2>/dev/null; then echo running
  elif [ -f "$c/exit" ] && read -r s < "$c/exit"; then echo "exit $s"
  else echo gone
  fi
}
while [ "$#" -ge 2 ]; do status_of "$1" "$2"; shift 2; done
`;

/** Batched polling of the remote jobs of one connection. */
export class SshPoller extends BatchPoll {
  private readonly watched = new Set<Watched>();
  private lastError: string | null = null;
  /** When polls started failing, null while they succeed. */
  private failingSince: number | null = null;

  constructor(
    private readonly conn: SshConnection,
    intervalMs: number,
    private readonly onError: (message: string) => void,
  ) {
    super(intervalMs);
  }

  /** Reports the job's status after each poll until the returned function is called. */
  watch(dir: string, pid: number, listener: Listener): () => void {
    const w: Watched = { dir, pid, listener };
    this.watched.add(w);
    this.watching();
    return () => void this.watched.delete(w);
  }

  override close(): void {
    super.close();
    this.watched.clear();
  }

  protected get watchedCount(): number {
    return this.watched.size;
  }

  protected pollFailed(err: unknown): void {
    this.onError(`cannot check the jobs on ${this.conn.where}: ${err instanceof Error ? err.message : String(err)}`);
  }

  protected async pollOnce(): Promise<void> {
    const jobs = [...this.watched];
    const args = jobs.flatMap((j) => [bashQuote(j.dir), String(j.pid)]).join(' ');
    const r = await this.conn.exec(`set -- ${args}\n${POLL_SCRIPT}`, 60_000);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    if (r.code !== 0 || lines.length !== jobs.length) {
      // A dropped connection: the jobs run on (they are detached); try again next time.
      const message = `cannot check the jobs on ${this.conn.where}: ${commandFailure('ssh', [this.conn.where], r)}`;
      if (message !== this.lastError) this.onError(message);
      this.lastError = message;
      this.failingSince ??= Date.now();
      if (Date.now() - this.failingSince >= UNREACHABLE_AFTER_MS) {
        for (const j of jobs) if (this.watched.has(j)) j.listener({ kind: 'unreachable', since: this.failingSince });
      }
      return;
    }
    this.lastError = null;
    this.failingSince = null;
    jobs.forEach((j, i) => {
      const [word, n] = lines[i].split(' ');
      const status: RemoteStatus =
        word === 'exit' ? { kind: 'exit', status: Number.parseInt(n ?? '', 10) } : word === 'running' ? { kind: 'running' } : word === 'missing' ? { kind: 'missing' } : { kind: 'gone' };
      if (this.watched.has(j)) j.listener(status);
    });
  }
}
