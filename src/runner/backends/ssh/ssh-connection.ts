/**
 * One SSH host, reached through the system `ssh` with a ControlMaster socket
 * (in a private directory) that every ssh process reuses. Remote commands are
 * bash scripts run by one long-lived remote shell (ssh-session.ts), so a
 * command costs no new ssh session and the remote login shell never parses a
 * value; values inside the scripts are quoted for bash. Large transfers go
 * through rsync over the same master.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeowError } from '../../../core/errors.js';
import { bashQuote, commandFailure, runCommand, type CommandResult } from '../remote-exec.js';
import type { SshOptions } from './ssh-options.js';
import { SshSession, type SessionResult } from './ssh-session.js';

/** How long an idle master connection outlives the last command (seconds): bounds what an engine killed outright leaves. */
const CONTROL_PERSIST_S = 60;

/** What the first connection learns about the host. */
export interface RemoteHost {
  /** The remote workdir's absolute path. */
  workdir: string;
  /** Its CPU count (`nproc`). */
  cpus: number;
}

/** A multiplexed ssh connection to one host. */
export class SshConnection {
  private controlDir: string | null = null;
  private connecting: Promise<RemoteHost> | null = null;
  private session: SshSession | null = null;

  constructor(
    private readonly options: SshOptions,
    /** Names the backend in messages. */
    private readonly label: string,
    /** Names the master socket: an engine restarted on the same workspace reuses its master. */
    private readonly key: string,
  ) {}

  /**
   * The master socket's directory: named after the key, private to this
   * user; a fresh temporary one when that name is taken by anything else.
   */
  private socketDir(): string {
    const uid = process.getuid?.() ?? 0;
    const dir = join(tmpdir(), `meow-ssh-${uid}-${createHash('sha256').update(this.key).digest('hex').slice(0, 16)}`);
    try {
      mkdirSync(dir, { mode: 0o700 });
      return dir;
    } catch {
      const st = lstatSync(dir, { throwIfNoEntry: false });
      if (st?.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0) return dir;
      return mkdtempSync(join(tmpdir(), 'meow-ssh-'));
    }
  }

  /** `user@host:port` for messages. */
  get where(): string {
    const o = this.options;
    return `${o.user ? `${o.user}@` : ''}${o.host}${o.port ? `:${o.port}` : ''}`;
  }

  /** ssh's options (everything before the host). */
  private sshOptions(): string[] {
    const o = this.options;
    this.controlDir ??= this.socketDir();
    // ssh keeps the first value it is given for each -o option: the user's ssh_args come first and win.
    const args = [
      ...o.sshArgs,
      '-o', 'BatchMode=yes',
      '-o', 'ControlMaster=auto',
      '-o', `ControlPath=${join(this.controlDir, 'master.sock')}`,
      '-o', `ControlPersist=${CONTROL_PERSIST_S}`,
      '-o', 'ServerAliveInterval=15',
      '-o', 'ServerAliveCountMax=4',
      '-o', 'ConnectTimeout=20',
      '-T',
    ];
    if (o.port !== null) args.push('-p', String(o.port));
    if (o.user !== null) args.push('-l', o.user);
    if (o.identity !== null) args.push('-i', o.identity, '-o', 'IdentitiesOnly=yes');
    return args;
  }

  /**
   * Opens the master connection and prepares `dir` on the host: created if
   * missing, or with `shared`, checked to be the workspace the engine sees
   * (it holds `.meow`). Resolves with its absolute path there and the host's
   * CPU count. Later calls share the first one's answer.
   */
  connect(dir: string, shared = false): Promise<RemoteHost> {
    this.connecting ??= this.open(dir, shared).catch((err: unknown) => {
      this.connecting = null; // the next job tries again
      throw err;
    });
    return this.connecting;
  }

  private async open(dir: string, shared: boolean): Promise<RemoteHost> {
    const tools = shared ? 'find setsid' : 'rsync find setsid';
    const script = `set -e
${shared ? `cd -- ${bashQuote(dir)} 2>/dev/null && [ -d .meow ] || { echo "not-shared"; exit 0; }` : `mkdir -p -- ${bashQuote(dir)}
cd -- ${bashQuote(dir)}`}
for tool in ${tools}; do command -v "$tool" >/dev/null || echo "missing $tool"; done
echo "cpus $(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)"
echo "dir $(pwd -P)"
`;
    const r = await this.exec(script, 60_000);
    if (r.code !== 0) {
      const hint = r.spawnError ? 'install the OpenSSH client (apt-get install openssh-client)' : `check that "ssh${this.options.port ? ` -p ${this.options.port}` : ''} ${this.where}" logs in without a password (a key in ssh-agent or "identity:"), and the host key is known`;
      throw new MeowError('MEOW_BACKEND', `backend ${this.label}: cannot reach ${this.where} over ssh (${commandFailure('ssh', [this.where], r)}); ${hint}`);
    }
    if (/^not-shared$/m.test(r.stdout)) {
      throw new MeowError('MEOW_BACKEND', `backend ${this.label}: "shared_fs: true", but ${this.where} does not see the workspace at ${dir}; mount it there at the same path, or drop "shared_fs" to have jobs staged with rsync`);
    }
    const missing = [...r.stdout.matchAll(/^missing (\S+)$/gm)].map((m) => m[1]);
    if (missing.length > 0) {
      throw new MeowError('MEOW_BACKEND', `backend ${this.label}: ${missing.join(' and ')} not found on ${this.where}; install ${missing.join(' and ')} there (Debian: apt-get install ${missing.map((t) => (t === 'setsid' ? 'util-linux' : t === 'find' ? 'findutils' : t)).join(' ')})`);
    }
    const abs = /^dir (.+)$/m.exec(r.stdout)?.[1];
    if (!abs) throw new MeowError('MEOW_BACKEND', `backend ${this.label}: ${this.where} did not report the directory ${dir}: ${r.stdout.trim()}`);
    const cpus = Number.parseInt(/^cpus (\d+)$/m.exec(r.stdout)?.[1] ?? '1', 10);
    return { workdir: abs, cpus: Math.max(1, cpus) };
  }

  /** Runs a bash script on the host, in the persistent session. */
  exec(script: string, timeoutMs = 120_000): Promise<SessionResult> {
    this.session ??= new SshSession(() => ['ssh', ...this.sshOptions(), '--', this.options.host]);
    return this.session.exec(script, timeoutMs);
  }

  /**
   * Copies files with rsync over the master connection. `files` are paths
   * relative to `from` (NUL-separated on stdin: any name is fine); directories
   * are copied whole. One of `from`/`to` is `remote:PATH`.
   */
  rsync(from: string, to: string, files: string[], extra: string[] = [], timeoutMs = 600_000): Promise<CommandResult> {
    const remote = (p: string) => (p.startsWith('remote:') ? `${this.options.host}:${p.slice('remote:'.length)}` : p);
    const args = ['-a', '-r', '--protect-args', '--from0', '--files-from=-', '-e', rsyncShell(['ssh', ...this.sshOptions()]), ...extra, remote(from), remote(to)];
    return runCommand('rsync', args, { input: Buffer.from(files.map((f) => `${f}\0`).join(''), 'utf8'), timeoutMs });
  }

  /** Closes the master connection and removes its socket directory. */
  async close(): Promise<void> {
    const dir = this.controlDir;
    this.connecting = null;
    this.session?.close();
    this.session = null;
    if (!dir) return;
    await runCommand('ssh', [...this.sshOptions(), '-O', 'exit', '--', this.options.host], { timeoutMs: 10_000 });
    this.controlDir = null;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An argv as one `rsync -e` string (rsync splits on spaces and honours quotes, not backslashes). */
function rsyncShell(argv: string[]): string {
  return argv
    .map((a) => {
      if (a !== '' && !/[\s'"]/.test(a)) return a;
      if (!a.includes("'")) return `'${a}'`;
      if (!a.includes('"')) return `"${a}"`;
      throw new MeowError('MEOW_BACKEND', `an ssh argument cannot hold both kinds of quotes for rsync: ${a}`);
    })
    .join(' ');
}
