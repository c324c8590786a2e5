import { spawn } from 'node:child_process';
import { closeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageFile } from '../../../core/package-root.js';
import { Worker } from 'node:worker_threads';
import { openJobLogs, processStart } from '../../process-tree.js';
import { errorMessage } from '../../../core/errors.js';
import type { SpawnReply, SpawnTask } from './process-spawner-worker.js';

/** How a spawned process started: its pid and start time, or why it could not start. */
export type Started = { pid: number; start: string | null } | { error: string };
/** How it exited; null when the spawner thread died first (the process may still run: poll it). */
export type Exited = { code: number | null; signal: string | null } | null;

interface Pending {
  started: (s: Started) => void;
  exited: (e: Exited) => void;
  isStarted: boolean;
}

function findWorker(): URL | null {
  const sibling = new URL('./process-spawner-worker.js', import.meta.url);
  if (existsSync(sibling)) return sibling;
  // From the .ts sources (vitest), the thread must still run compiled JavaScript: use the build.
  const built = packageFile(join('dist', 'src', 'runner', 'backends', 'local', 'process-spawner-worker.js'));
  return built ? pathToFileURL(built) : null;
}

/**
 * Starts local job processes from a dedicated thread, so forks never block
 * the engine's event loop, and reports their exits. The thread keeps the
 * engine alive only while processes it started are running. Owns a thread:
 * call `close()`.
 */
export class ProcessSpawner {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private noThread = false;

  /** Starts `task`; `started` resolves first, then `exited`. Never rejects. */
  spawn(task: Omit<SpawnTask, 'id'>): { started: Promise<Started>; exited: Promise<Exited> } {
    const id = this.nextId++;
    let onStarted!: (s: Started) => void;
    let onExited!: (e: Exited) => void;
    const started = new Promise<Started>((r) => (onStarted = r));
    const exited = new Promise<Exited>((r) => (onExited = r));
    const p: Pending = { started: onStarted, exited: onExited, isStarted: false };
    const worker = this.thread();
    // Without the compiled thread module (running from sources, unbuilt), fork on this thread.
    if (!worker) return spawnHere(task);
    this.pending.set(id, p);
    if (this.pending.size === 1) worker.ref();
    worker.postMessage({ ...task, id } satisfies SpawnTask);
    return { started, exited };
  }

  private thread(): Worker | null {
    if (this.worker) return this.worker;
    if (this.noThread) return null;
    const file = findWorker();
    if (!file) {
      this.noThread = true;
      return null;
    }
    const w = new Worker(file);
    w.on('message', (m: SpawnReply) => this.onReply(m));
    w.on('error', (err) => this.lost(`the process spawner thread failed: ${err.message}`));
    w.on('exit', () => this.lost('the process spawner thread exited'));
    w.unref();
    this.worker = w;
    return w;
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
    this.done(m.id);
  }

  private done(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker?.unref();
  }

  /** The thread is gone: started processes are left to be polled, the others failed. */
  private lost(why: string): void {
    this.worker = null;
    for (const [id, p] of this.pending) {
      if (!p.isStarted) p.started({ error: why });
      p.exited(null);
      this.pending.delete(id);
    }
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) {
      w.removeAllListeners('exit');
      await w.terminate();
    }
    this.lost('the engine is stopping');
  }
}

/** The same as the thread does, on the calling thread. */
function spawnHere(t: Omit<SpawnTask, 'id'>): { started: Promise<Started>; exited: Promise<Exited> } {
  const logs = openJobLogs(t.stdout, t.stderr);
  if ('error' in logs) return { started: Promise.resolve({ error: logs.error }), exited: Promise.resolve(null) };
  const { out, err } = logs;
  const child = spawn(t.file, t.args, { cwd: t.cwd, env: t.env, stdio: ['ignore', out, err], detached: true });
  closeSync(out);
  closeSync(err);
  const pid = child.pid;
  if (pid === undefined) {
    return { started: new Promise((r) => child.once('error', (e) => r({ error: `cannot start ${t.file}: ${errorMessage(e)}` }))), exited: Promise.resolve(null) };
  }
  const start = processStart(pid);
  return { started: Promise.resolve({ pid, start }), exited: new Promise((r) => child.once('exit', (code, signal) => r({ code, signal }))) };
}
