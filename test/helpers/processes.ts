/**
 * What a test leaves running at the process level, found in /proc rather
 * than in a list of objects registered by hand: child processes of the test
 * process, job processes (a `MEOW_JOB_ID` in their environment) of the
 * workspaces the tests made — wherever they were re-parented — files under
 * those workspaces still open in this process (a Store's database, a log),
 * and threads beyond those there were (a worker pool's). The setup file
 * compares them with what was there before the test.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { sep } from 'node:path';
import { waitFor } from './wait.js';

/** Workspace roots the tests made, in order (their job processes are this run's). */
const roots = new Set<string>();

/** Counts `root` as a test workspace: its job processes and open files belong to the test that made it. */
export function watchWorkspace(root: string): void {
  roots.add(root);
}

/** One thing still open, with a description to print. */
interface Open {
  key: string;
  what: string;
  pid?: number;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function describeProcess(pid: number): string {
  const cmd = (read(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean).join(' ');
  return `process ${pid} (${cmd.length > 120 ? `${cmd.slice(0, 120)}…` : cmd || '?'})`;
}

/** The pid's parent and state letter; null when it is gone. */
function stat(pid: number): { ppid: number; state: string } | null {
  const s = read(`/proc/${pid}/stat`);
  if (s === null) return null;
  const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], ppid: Number(fields[1]) };
}

/** The workspace root a job process belongs to, when it is one of ours. */
function jobRoot(pid: number): string | null {
  let env: string;
  try {
    env = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return null;
  }
  const vars = env.split('\0');
  if (!vars.some((v) => v.startsWith('MEOW_JOB_ID=') && v.length > 'MEOW_JOB_ID='.length)) return null;
  const ws = vars.find((v) => v.startsWith('MEOW_WORKSPACE='))?.slice('MEOW_WORKSPACE='.length);
  return ws !== undefined && roots.has(ws) ? ws : null;
}

function underRoot(path: string): string | null {
  for (const r of roots) if (path === r || path.startsWith(r + sep)) return r;
  return null;
}

/** Children of this process (any of its threads), without reading all of /proc when the kernel lists them. */
function children(): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tasks) {
    const list = read(`/proc/self/task/${tid}/children`);
    if (list === null) return scanChildren();
    for (const pid of list.split(' ')) if (pid.trim()) out.push(Number(pid));
  }
  return out;
}

function allPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
  } catch {
    return [];
  }
}

function scanChildren(): number[] {
  return allPids().filter((pid) => stat(pid)?.ppid === process.pid);
}

/**
 * Everything open now: children of this process, and for the workspaces in
 * `testRoots` (those the current test made) their job processes and this
 * process's open files under them.
 */
export function openNow(testRoots: readonly string[] = []): Open[] {
  const out: Open[] = [];
  for (const pid of children()) {
    const st = stat(pid);
    if (st === null || st.state === 'Z' || st.state === 'X') continue;
    out.push({ key: `pid:${pid}`, what: `child ${describeProcess(pid)}`, pid });
  }
  if (testRoots.length === 0) return out;
  const mine = new Set(testRoots);
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    const root = jobRoot(pid);
    if (root === null || !mine.has(root)) continue;
    const st = stat(pid);
    if (st === null || st.state === 'Z' || st.state === 'X') continue;
    if (!out.some((o) => o.pid === pid)) out.push({ key: `pid:${pid}`, what: `job ${describeProcess(pid)} of ${root}`, pid });
  }
  let fds: string[] = [];
  try {
    fds = readdirSync('/proc/self/fd');
  } catch {
    fds = [];
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`).replace(/ \(deleted\)$/, '');
    } catch {
      continue;
    }
    const root = underRoot(target);
    if (root !== null && mine.has(root)) out.push({ key: `fd:${target}`, what: `open file ${target}` });
  }
  return out;
}

/** Threads of this process: worker threads (a JsPool's, a spawner's) among them. */
function threads(): number {
  try {
    return readdirSync('/proc/self/task').length;
  } catch {
    return 0;
  }
}

/** What was open before a test, and which workspaces existed then. */
export interface Baseline {
  keys: Set<string>;
  roots: number;
  threads: number;
}

export function baseline(): Baseline {
  return { keys: new Set(openNow().map((o) => o.key)), roots: roots.size, threads: threads() };
}

/**
 * What is open now and was not at `before`, after waiting up to `graceMs`
 * for it to go (a process being reaped, a handle being closed by a
 * callback). Job processes and open files are looked for under the
 * workspaces the test made. What is left is killed (processes) and described.
 */
export async function leakedSince(before: Baseline, graceMs = 5000): Promise<string[]> {
  const made = [...roots].slice(before.roots);
  const fresh = () => {
    const now = openNow(made).filter((o) => !before.keys.has(o.key));
    const extra = threads() - before.threads;
    if (extra > 0) now.push({ key: 'threads', what: `${extra} more thread${extra === 1 ? '' : 's'} than before the test (a worker pool not closed?)` });
    return now;
  };
  let left = fresh();
  if (left.length > 0) {
    await waitFor(() => (left = fresh()).length === 0, 'leaked processes and files to go', graceMs).catch(() => undefined);
  }
  for (const o of left) {
    if (o.pid === undefined) continue;
    try {
      process.kill(o.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return left.map((o) => o.what);
}

/** The parent pid of a process, or null when it is gone. */
export function parentOf(pid: number | undefined): number | null {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);
  } catch {
    return null;
  }
}

/** The engine's spawn supervisor (a child process running spawn_supervisor.py or spawn-supervisor.js), or null. */
export function supervisorOf(enginePid: number): number | null {
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || parentOf(pid) !== enginePid) continue;
    try {
      if (/spawn_supervisor\.py|spawn-supervisor\.js/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) return pid;
    } catch {
      // gone meanwhile
    }
  }
  return null;
}
