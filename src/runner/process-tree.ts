import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';

/**
 * Signals a job's whole process group. Jobs are spawned `detached`, so each
 * is the leader of its own group and children it forks share it.
 */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      // Not a group leader (or already reaped): signal the process itself.
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * Signals what is left of a process group whose leader has already been
 * reaped. Never falls back to the pid itself: that number may be reused.
 * True when something received it.
 */
export function signalLeftovers(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** True while a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When a process started (clock ticks after boot, field 22 of
 * `/proc/PID/stat`), or null when it is gone or a zombie. With the boot id,
 * it tells a process from a later one that reuses its pid.
 */
export function processStart(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return null;
  return fields[19] ?? null;
}

let boot: string | undefined;

/** This boot's id (`/proc/sys/kernel/random/boot_id`); '' where there is none. */
export function bootId(): string {
  if (boot === undefined) {
    try {
      boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      boot = '';
    }
  }
  return boot;
}

/** The pids of every process now running, as /proc lists them (none where there is no /proc). */
export function allPids(): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries.filter((name) => /^\d+$/.test(name)).map(Number);
}

/**
 * The processes on this machine that belong to jobs of a workspace, by job
 * id: every process whose environment holds `MEOW_WORKSPACE=root` and a
 * `MEOW_JOB_ID`. The environment is inherited by every descendant, so this
 * finds the children a recipe forked even after they left its process group
 * (`setsid`, double fork) and were re-parented. A process that cleared its
 * environment is not found. Reads /proc: a few milliseconds, so it is used
 * on cancel, timeout and recovery, not per job.
 */
export function jobProcesses(root: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const workspace = Buffer.from(`\0MEOW_WORKSPACE=${root}\0`);
  const idKey = Buffer.from('\0MEOW_JOB_ID=');
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    let env: Buffer;
    try {
      // A leading NUL lets the first variable match like the others.
      env = Buffer.concat([Buffer.from('\0'), readFileSync(`/proc/${pid}/environ`), Buffer.from('\0')]);
    } catch {
      continue; // gone, or another user's
    }
    if (env.indexOf(workspace) < 0) continue;
    const at = env.indexOf(idKey);
    if (at < 0) continue;
    const start = at + idKey.length;
    const id = env.subarray(start, env.indexOf(0, start)).toString();
    if (!id) continue;
    const list = out.get(id);
    if (list) list.push(pid);
    else out.set(id, [pid]);
  }
  return out;
}

/** Sends `signal` to each pid; those already gone are skipped. */
export function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Opens a job's stdout.log and stderr.log for appending: the child writes straight to them. */
export function openJobLogs(stdout: string, stderr: string): { out: number; err: number } | { error: string } {
  let out: number | null = null;
  try {
    out = openSync(stdout, 'a');
    return { out, err: openSync(stderr, 'a') };
  } catch (e) {
    if (out !== null) closeSync(out);
    return { error: `cannot open the job's log files: ${e instanceof Error ? e.message : String(e)}` };
  }
}
