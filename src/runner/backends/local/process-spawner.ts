import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageFile } from '../../../core/package-root.js';
import { openJobLogs, processStart } from '../../process-tree.js';
import { errorMessage } from '../../../core/errors.js';
import type { EnvDelta, SpawnReply, SpawnTask } from './spawn-protocol.js';

/** How a spawned process started: its pid and start time, or why it could not start. */
export type Started = { pid: number; start: string | null } | { error: string };
/** How it exited; null when the supervisor died first (the process may still run: poll it). */
export type Exited = { code: number | null; signal: string | null } | null;

/** A process to start: detached (its own process group), logs appended to files. */
export interface ProcessTask {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  stdout: string;
  stderr: string;
}

interface Pending {
  started: (s: Started) => void;
  exited: (e: Exited) => void;
  isStarted: boolean;
}

/** How long a closing supervisor may take to go before it is killed. */
const CLOSE_GRACE_MS = 2000;

function findSupervisor(): string | null {
  const sibling = fileURLToPath(new URL('./spawn-supervisor.js', import.meta.url));
  if (existsSync(sibling)) return sibling;
  // From the .ts sources (vitest), the supervisor must still run compiled JavaScript: use the build.
  return packageFile(join('dist', 'src', 'runner', 'backends', 'local', 'spawn-supervisor.js'));
}

/** What turns `base` into `env`. */
export function envDelta(base: Readonly<Record<string, string>>, env: Readonly<Record<string, string>>): EnvDelta {
  const set: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (base[k] !== v) set[k] = v;
  return { set, unset: Object.keys(base).filter((k) => !(k in env)) };
}

/**
 * Starts local job processes through the spawn supervisor, a small child
 * process (spawn-supervisor.ts), so forks neither block the engine's event
 * loop nor copy the engine's large address space, and reports their exits.
 * The supervisor keeps the engine alive only while processes it started are
 * running, and exits with the engine. Owns that process: call `close()`.
 */
export class ProcessSpawner {
  private proc: ChildProcess | null = null;
  /** The environment the supervisor was started with; tasks carry their differences from it. */
  private base: Record<string, string> = {};
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private noSupervisor = false;

  /** Starts `task`; `started` resolves first, then `exited`. Never rejects. */
  spawn(task: ProcessTask): { started: Promise<Started>; exited: Promise<Exited> } {
    const proc = this.supervisor();
    // Without the compiled supervisor (running from sources, unbuilt), fork here.
    if (!proc) return spawnHere(task);
    const id = this.nextId++;
    let onStarted!: (s: Started) => void;
    let onExited!: (e: Exited) => void;
    const started = new Promise<Started>((r) => (onStarted = r));
    const exited = new Promise<Exited>((r) => (onExited = r));
    this.pending.set(id, { started: onStarted, exited: onExited, isStarted: false });
    if (this.pending.size === 1) this.hold(proc, true);
    const { env, ...rest } = task;
    proc.send({ ...rest, id, env: envDelta(this.base, env) } satisfies SpawnTask, (err) => {
      if (err) this.lost(`the spawn supervisor is gone: ${err.message}`);
    });
    return { started, exited };
  }

  private supervisor(): ChildProcess | null {
    if (this.proc) return this.proc;
    if (this.noSupervisor) return null;
    const file = findSupervisor();
    if (!file) {
      this.noSupervisor = true;
      return null;
    }
    const base: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) base[k] = v;
    let proc: ChildProcess;
    try {
      // No inherited --inspect or profiling flags: the supervisor is a plain, small process.
      proc = fork(file, [], { env: base, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    } catch (err) {
      this.noSupervisor = true;
      process.emitWarning(`meowflow: cannot start the spawn supervisor (${errorMessage(err)}); forking job processes from the engine`);
      return null;
    }
    this.base = base;
    proc.on('message', (m: SpawnReply) => this.onReply(m));
    proc.on('error', (err) => this.lost(`the spawn supervisor failed: ${err.message}`, proc));
    proc.on('exit', (code, signal) => this.lost(`the spawn supervisor exited (${signal ?? `status ${code}`})`, proc));
    this.hold(proc, false);
    this.proc = proc;
    return proc;
  }

  /** Whether the supervisor keeps the engine's event loop alive: only while it runs something. */
  private hold(proc: ChildProcess, on: boolean): void {
    if (on) {
      proc.ref();
      proc.channel?.ref();
    } else {
      proc.unref();
      proc.channel?.unref();
    }
  }

  private onReply(m: SpawnReply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'started') {
      p.isStarted = true;
      p.started({ pid: m.pid, start: m.start });
      return;
    }
    if (m.type === 'error') p.started({ error: m.message });
    else p.exited({ code: m.code, signal: m.signal });
    if (m.type === 'error') p.exited(null);
    this.pending.delete(m.id);
    if (this.pending.size === 0 && this.proc) this.hold(this.proc, false);
  }

  /** The supervisor is gone: started processes are left to be polled, the others failed. */
  private lost(why: string, proc?: ChildProcess): void {
    if (proc !== undefined && proc !== this.proc) return;
    this.proc = null;
    for (const [id, p] of this.pending) {
      if (!p.isStarted) p.started({ error: why });
      p.exited(null);
      this.pending.delete(id);
    }
  }

  async close(): Promise<void> {
    const proc = this.proc;
    this.lost('the engine is stopping');
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    // Closing the channel is its cue to exit; a supervisor that does not is killed.
    if (proc.connected) proc.disconnect();
    const timer = setTimeout(() => proc.kill('SIGKILL'), CLOSE_GRACE_MS);
    await gone;
    clearTimeout(timer);
  }
}

/** The same as the supervisor does, in this process. */
function spawnHere(t: ProcessTask): { started: Promise<Started>; exited: Promise<Exited> } {
  const logs = openJobLogs(t.stdout, t.stderr);
  if ('error' in logs) return { started: Promise.resolve({ error: logs.error }), exited: Promise.resolve(null) };
  const { out, err } = logs;
  let child: ChildProcess;
  try {
    child = spawn(t.file, t.args, { cwd: t.cwd, env: t.env, stdio: ['ignore', out, err], detached: true });
  } catch (e) {
    return { started: Promise.resolve({ error: `cannot start ${t.file}: ${errorMessage(e)}` }), exited: Promise.resolve(null) };
  } finally {
    closeSync(out);
    closeSync(err);
  }
  const pid = child.pid;
  if (pid === undefined) {
    return { started: new Promise((r) => child.once('error', (e) => r({ error: `cannot start ${t.file}: ${errorMessage(e)}` }))), exited: Promise.resolve(null) };
  }
  const start = processStart(pid);
  return { started: Promise.resolve({ pid, start }), exited: new Promise((r) => child.once('exit', (code, signal) => r({ code, signal }))) };
}
