/*
 * The thread that forks local job processes (see process-spawner.ts). A fork
 * blocks its thread until the child has exec'd — milliseconds, more for a
 * large engine on a busy machine — so it happens here, off the engine's
 * event loop.
 */
import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { openJobLogs, processStart } from '../../process-tree.js';

/** One process to start: detached (its own process group), logs appended to files. */
export interface SpawnTask {
  id: number;
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  stdout: string;
  stderr: string;
}

/** What the thread reports about a task, in this order: started (or error), then exit. */
export type SpawnReply =
  | { id: number; type: 'started'; pid: number; start: string | null }
  | { id: number; type: 'exit'; code: number | null; signal: string | null }
  | { id: number; type: 'error'; message: string };

function reply(msg: SpawnReply): void {
  parentPort?.postMessage(msg);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

parentPort?.on('message', (t: SpawnTask) => {
  const logs = openJobLogs(t.stdout, t.stderr);
  if ('error' in logs) {
    reply({ id: t.id, type: 'error', message: logs.error });
    return;
  }
  const { out, err } = logs;
  let child;
  try {
    child = spawn(t.file, t.args, { cwd: t.cwd, env: t.env, stdio: ['ignore', out, err], detached: true });
  } catch (e) {
    reply({ id: t.id, type: 'error', message: `cannot start ${t.file}: ${message(e)}` });
    return;
  } finally {
    closeSync(out);
    closeSync(err);
  }
  const pid = child.pid;
  if (pid === undefined) {
    child.once('error', (e) => reply({ id: t.id, type: 'error', message: `cannot start ${t.file}: ${message(e)}` }));
    return;
  }
  // Read before this thread's loop can reap it: the start time must be this very process's.
  reply({ id: t.id, type: 'started', pid, start: processStart(pid) });
  child.once('exit', (code, signal) => reply({ id: t.id, type: 'exit', code, signal }));
});
