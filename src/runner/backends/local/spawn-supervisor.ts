/*
 * The spawn supervisor in Node: a small process the engine starts once (see
 * process-spawner.ts) that forks the local job processes and reports their
 * exits. Where a Python 3.9 or later runs, runtime/spawn_supervisor.py does
 * this job instead, with posix_spawn (no page tables copied at all); this one
 * is the fallback, and what MEOW_SPAWN_SUPERVISOR=node chooses. A fork copies the page tables of the process that forks, and the
 * child then tears them down again at exec: from a large engine that costs
 * milliseconds of CPU per job, and blocks the forking thread until the child
 * has exec'd. From this small process it costs a fraction, and never the
 * engine's event loop.
 *
 * It lives only as long as its channel to the engine: when the engine exits,
 * even by SIGKILL, the channel closes and this process exits. The jobs it
 * started run on (each in its own process group, under the wrapper that
 * records its exit status), for the next engine to re-attach. Signals meant
 * for the engine's terminal group (Ctrl-C) are the engine's to act on: this
 * process ignores them and goes when the engine closes the channel.
 */
import { spawn } from 'node:child_process';
import { closeSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { openJobLogs, processStart } from '../../process-tree.js';
import { applyEnv, type SpawnReply, type SpawnTask } from './spawn-protocol.js';

/** This process's environment, which never changes: the base every task's differences apply to (read once: process.env is slow to enumerate). */
const BASE_ENV: Readonly<Record<string, string | undefined>> = { ...process.env };

function reply(msg: SpawnReply): void {
  // The engine is gone: there is no one to tell, and the disconnect handler exits.
  // A channel that closes while this is sent (the engine killed) fails here, not as an unhandled error.
  if (process.connected) process.send?.(msg, undefined, undefined, () => undefined);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function start(t: SpawnTask): void {
  // Said here, naming the directory: spawn would blame the program.
  if (!isDirectory(t.cwd)) {
    reply({ id: t.id, type: 'error', message: `cannot start ${t.file}: its working directory ${t.cwd} does not exist (or is not a directory)` });
    return;
  }
  const logs = openJobLogs(t.stdout, t.stderr);
  if ('error' in logs) {
    reply({ id: t.id, type: 'error', message: logs.error });
    return;
  }
  const { out, err } = logs;
  let child;
  try {
    child = spawn(t.file, t.args, { cwd: t.cwd, env: applyEnv(BASE_ENV, t.env), stdio: ['ignore', out, err], detached: true });
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
  // Read before this process's loop can reap it: the start time must be this very process's.
  reply({ id: t.id, type: 'started', pid, start: processStart(pid) });
  child.once('exit', (code, signal) => reply({ id: t.id, type: 'exit', code, signal }));
}

/** O_CLOEXEC, as /proc/<pid>/fdinfo writes the flags (octal). */
const O_CLOEXEC = 0o2000000;

/**
 * Descriptors this process inherited open for its children, beyond stdin,
 * stdout and stderr (left so by whatever started the engine), are closed:
 * they would pass to every job. Node's own, its channel to the engine
 * among them, are close-on-exec, and stay.
 */
function closeInheritedFds(): void {
  const channel = (process.channel as { fd?: number } | undefined)?.fd;
  let names: string[];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    return;
  }
  for (const name of names) {
    const fd = Number(name);
    if (!(fd > 2) || fd === channel) continue;
    try {
      const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
      if (flags !== undefined && (parseInt(flags, 8) & O_CLOEXEC) === 0) closeSync(fd);
    } catch {
      // the listing's own descriptor, closed meanwhile
    }
  }
}

if (process.send !== undefined) {
  closeInheritedFds();
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) process.on(s, () => undefined);
  process.on('message', (t: SpawnTask) => start(t));
  process.on('disconnect', () => process.exit(0));
}
