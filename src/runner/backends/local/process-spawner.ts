import { fork, spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { closeSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageFile } from '../../../core/package-root.js';
import { allPids, openJobLogs, processStart } from '../../process-tree.js';
import { errorMessage } from '../../../core/errors.js';
import type { EnvDelta, SpawnReply, SpawnTask } from './spawn-protocol.js';

/**
 * How a spawned process started: its pid and start time, or why it could not
 * start. `lost`: the supervisor went before it said, so the process may have
 * started (and may even have ended) all the same.
 */
export type Started = { pid: number; start: string | null } | { error: string; lost?: boolean };
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
  /** Armed while the supervisor has the task and has not said whether it started. */
  deadline: NodeJS.Timeout | null;
}

/** How long a closing supervisor may take to go before it is killed. */
const CLOSE_GRACE_MS = 2000;
/** How long a Python supervisor may take to start before it is given up for the next choice. */
const READY_DEADLINE_MS = 15_000;
/** How long a supervisor may hold a task without saying whether it started before it is taken for hung and replaced. */
const START_DEADLINE_MS = 30_000;
/**
 * How long the children a dead supervisor was starting may take to exec
 * their program before its unanswered tasks are looked for all the same.
 */
const ORPHAN_EXEC_DEADLINE_MS = 5000;
/** How often they are looked for meanwhile. */
const ORPHAN_POLL_MS = 10;

/** Which supervisors may start job processes: the Python interpreters to try in order, then whether the Node one may. */
export interface SupervisorChoice {
  pythons: readonly string[];
  node: boolean;
}

/** Interpreters tried for the Python supervisor, in order. */
const PYTHONS: readonly string[] = ['/usr/bin/python3', 'python3'];

/**
 * Which supervisor starts job processes: `MEOW_SPAWN_SUPERVISOR=python` or
 * `node` names one (python: `/usr/bin/python3`, else `python3` on PATH, or an
 * interpreter's path given as the value); unset, the Python one where a Python
 * 3.9 or later runs, else the Node one.
 */
export function supervisorChoice(): SupervisorChoice {
  const v = process.env.MEOW_SPAWN_SUPERVISOR?.trim() ?? '';
  if (v === 'node') return { pythons: [], node: true };
  if (v === 'python') return { pythons: PYTHONS, node: false };
  if (v.includes('/')) return { pythons: [v], node: false };
  return { pythons: PYTHONS, node: true };
}

function findNodeSupervisor(): string | null {
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

/** One running supervisor and the way to talk to it. */
interface Link {
  proc: ChildProcess;
  kind: 'python' | 'node';
  /** False until the Python supervisor said it is ready: tasks wait in `queue` meanwhile. */
  ready: boolean;
  queue: SpawnTask[];
  /** True once it was killed for not saying it is ready in time. */
  gaveUp?: boolean;
  /**
   * An argument no other process has: a child the supervisor is starting
   * shows it in its command line until it has exec'd its program.
   */
  token: string;
}

let linkSeq = 0;
function linkToken(): string {
  return `meow-spawn-${process.pid}-${++linkSeq}`;
}

/** Whether any process still runs the image of the supervisor with this token: the supervisor, or a child of it that has not exec'd yet. */
function holdsImage(token: string): boolean {
  for (const pid of allPids()) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').includes(token)) return true;
    } catch {
      // gone
    }
  }
  return false;
}

/**
 * Starts local job processes through a spawn supervisor, a small child
 * process, so forks neither block the engine's event loop nor copy the
 * engine's large address space, and reports their exits. The supervisor is
 * runtime/spawn_supervisor.py where a Python 3.9 or later runs (posix_spawn:
 * no page tables copied at all), else spawn-supervisor.ts. It keeps the
 * engine alive only while processes it started are running, and exits with
 * the engine. Owns that process: call `close()`.
 */
export class ProcessSpawner {
  private link: Link | null = null;
  /** The environment the supervisor was started with; tasks carry their differences from it. */
  private base: Record<string, string> = {};
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Python interpreters not yet found wanting. */
  private pythons: string[];
  /** Why the last supervisor could not start (what a forced choice's tasks fail with). */
  private lastFailure = '';
  private noSupervisor = false;

  constructor(
    private readonly choice: SupervisorChoice = supervisorChoice(),
    private readonly deadlines: { readyMs: number; startMs: number } = { readyMs: READY_DEADLINE_MS, startMs: START_DEADLINE_MS },
  ) {
    this.pythons = [...choice.pythons];
  }

  /** Which supervisor runs now ('python', 'node'), or null before the first or after it went. */
  get supervisorKind(): 'python' | 'node' | null {
    return this.link?.kind ?? null;
  }

  /** Starts `task`; `started` resolves first, then `exited`. Never rejects. */
  spawn(task: ProcessTask): { started: Promise<Started>; exited: Promise<Exited> } {
    const link = this.supervisor();
    if (!link) {
      // A supervisor chosen by name that cannot start fails the task; it is tried again for the next.
      if (!this.choice.node) {
        this.pythons = [...this.choice.pythons];
        return { started: Promise.resolve({ error: this.lastFailure || 'no spawn supervisor could start' }), exited: Promise.resolve(null) };
      }
      // Without a supervisor (running from sources, unbuilt, and no Python), fork here.
      return spawnHere(task);
    }
    const id = this.nextId++;
    let onStarted!: (s: Started) => void;
    let onExited!: (e: Exited) => void;
    const started = new Promise<Started>((r) => (onStarted = r));
    const exited = new Promise<Exited>((r) => (onExited = r));
    this.pending.set(id, { started: onStarted, exited: onExited, isStarted: false, deadline: null });
    if (this.pending.size === 1) hold(link, true);
    const { env, ...rest } = task;
    this.send(link, { ...rest, id, env: envDelta(this.base, env) });
    return { started, exited };
  }

  private send(link: Link, t: SpawnTask): void {
    if (!link.ready) {
      link.queue.push(t);
      return;
    }
    const p = this.pending.get(t.id);
    // A supervisor that takes a task and never says whether it started is hung (stopped, wedged): it is replaced.
    if (p && !p.deadline) {
      p.deadline = setTimeout(() => this.hung(link), this.deadlines.startMs);
      p.deadline.unref();
    }
    if (link.kind === 'node') {
      link.proc.send(t, (err) => {
        if (err) this.lost(`the spawn supervisor is gone: ${err.message}`, link);
      });
    } else link.proc.stdin?.write(`${JSON.stringify(t)}\n`);
  }

  private hung(link: Link): void {
    if (link !== this.link) return;
    this.lost(`the spawn supervisor (pid ${link.proc.pid}) did not answer within ${this.deadlines.startMs / 1000} s and was killed`, link);
    link.proc.kill('SIGKILL');
  }

  private supervisor(): Link | null {
    if (this.link) return this.link;
    if (this.noSupervisor) return null;
    const base: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) base[k] = v;
    this.base = base;
    const python = this.pythons[0];
    const script = python === undefined ? null : packageFile(join('runtime', 'spawn_supervisor.py'));
    let link: Link | null = null;
    if (python !== undefined && script !== null) link = this.startPython(python, script, base);
    else if (this.choice.node) {
      link = this.startNode(base);
      this.noSupervisor = link === null;
    }
    if (!link) return null;
    hold(link, false);
    this.link = link;
    return link;
  }

  private startNode(base: Record<string, string>): Link | null {
    const file = findNodeSupervisor();
    if (!file) return null;
    const token = linkToken();
    let proc: ChildProcess;
    try {
      // No inherited --inspect or profiling flags: the supervisor is a plain, small process.
      proc = fork(file, [token], { env: base, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    } catch (err) {
      process.emitWarning(`meowflow: cannot start the spawn supervisor (${errorMessage(err)}); forking job processes from the engine`);
      return null;
    }
    const link: Link = { proc, kind: 'node', ready: true, queue: [], token };
    proc.on('message', (m: SpawnReply) => this.onReply(m));
    proc.on('error', (err) => this.lost(`the spawn supervisor failed: ${err.message}`, link));
    // 'close', not 'exit': replies still in the channel are read first.
    proc.on('close', (code, signal) => this.lost(`the spawn supervisor exited (${signal ?? `status ${code}`})`, link));
    return link;
  }

  /**
   * The Python supervisor: it is told the engine's environment first (its
   * own may differ: a locale Python coerced, an interpreter shim's PATH), and
   * tasks wait until it says it is ready. An interpreter that fails before
   * that, or is not ready within READY_DEADLINE_MS, is not tried again, and
   * the tasks go to the next one, or to the Node supervisor.
   */
  private startPython(python: string, script: string, base: Record<string, string>): Link {
    // -I: no PYTHON* variables, no user site; -S: no site module (a faster start).
    const token = linkToken();
    const proc = spawn(python, ['-I', '-S', script, token], { env: base, stdio: ['pipe', 'pipe', 'inherit'] });
    const link: Link = { proc, kind: 'python', ready: false, queue: [], token };
    proc.stdin?.write(`${JSON.stringify({ base })}\n`);
    const notReady = setTimeout(() => ((link.gaveUp = true), proc.kill('SIGKILL')), this.deadlines.readyMs);
    notReady.unref();
    let buffered = '';
    proc.stdout?.setEncoding('utf8');
    proc.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let m: SpawnReply | { type: 'ready' };
        try {
          m = JSON.parse(line) as SpawnReply | { type: 'ready' };
        } catch {
          continue; // not a reply: nothing else writes there
        }
        if (m.type !== 'ready') this.onReply(m);
        else if (!link.ready) {
          link.ready = true;
          clearTimeout(notReady);
          for (const t of link.queue.splice(0)) this.send(link, t);
        }
      }
    });
    // A closed pipe shows as the process's exit, handled there.
    proc.stdin?.on('error', () => undefined);
    const gone = (why: string, killed: boolean) => {
      clearTimeout(notReady);
      if (link.ready || link !== this.link) return this.lost(why, link);
      // Never ready: nothing it was given started. Hand the tasks on: to another of the same Python when
      // something else killed this one (an operator, the OOM killer), to the next choice when it could not run.
      this.link = null;
      if (!killed || link.gaveUp) {
        this.lastFailure = why;
        this.pythons.shift();
      }
      const next = this.supervisor();
      for (const t of link.queue) {
        if (next) this.send(next, t);
        else this.fail(t.id, why);
      }
      if (next && this.pending.size > 0) hold(next, true);
      if (!next && !this.choice.node) this.pythons = [...this.choice.pythons];
    };
    proc.on('error', (err) => gone(`the spawn supervisor (${python}) failed: ${err.message}`, false));
    // 'close', not 'exit': replies still in the pipe are read first.
    proc.on('close', (code, signal) => gone(`the spawn supervisor (${python}) exited (${signal ?? `status ${code}`})${link.ready ? '' : ' before it was ready'}`, signal !== null));
    return link;
  }

  private fail(id: number, why: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (p.deadline) clearTimeout(p.deadline);
    p.started({ error: why });
    p.exited(null);
  }

  private onReply(m: SpawnReply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (p.deadline) clearTimeout(p.deadline);
    p.deadline = null;
    if (m.type === 'started') {
      p.isStarted = true;
      p.started({ pid: m.pid, start: m.start });
      return;
    }
    if (m.type === 'error') p.started({ error: m.message });
    else p.exited({ code: m.code, signal: m.signal });
    if (m.type === 'error') p.exited(null);
    this.pending.delete(m.id);
    if (this.pending.size === 0 && this.link) hold(this.link, false);
  }

  /**
   * The supervisor is gone: started processes are left to be polled; of the
   * others nobody knows whether they started (`lost`: the backend looks).
   * They are said lost only once no child of the supervisor is still between
   * its fork and its exec: looked for before, such a child would be missed
   * and then run its job beside the job's next attempt.
   */
  private lost(why: string, link?: Link, waitForOrphans = true): void {
    if (link !== undefined && link !== this.link) return;
    this.link = null;
    const unanswered: Pending[] = [];
    for (const [id, p] of this.pending) {
      if (p.deadline) clearTimeout(p.deadline);
      this.pending.delete(id);
      if (p.isStarted) p.exited(null);
      else unanswered.push(p);
    }
    const say = () => {
      for (const p of unanswered) {
        p.started({ error: why, lost: true });
        p.exited(null);
      }
    };
    if (unanswered.length === 0 || link === undefined || !waitForOrphans) return say();
    const until = Date.now() + ORPHAN_EXEC_DEADLINE_MS;
    const look = () => {
      if (!holdsImage(link.token) || Date.now() >= until) return say();
      setTimeout(look, ORPHAN_POLL_MS);
    };
    look();
  }

  /** Resolves once every task sent has been answered (started or failed), or after `ms`. */
  private async answered(ms: number): Promise<void> {
    const until = Date.now() + ms;
    const unanswered = () => [...this.pending.values()].some((p) => !p.isStarted);
    while (this.link && unanswered() && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  }

  async close(): Promise<void> {
    const link = this.link;
    // Tasks it was sent may still start: their answers are waited for (a cancelled one is killed when its pid comes).
    if (link) await this.answered(CLOSE_GRACE_MS);
    this.lost('the engine is stopping', link ?? undefined, false);
    const proc = link?.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    // Closing the channel (the Node one) or stdin (the Python one) is its cue to exit; one that does not is killed.
    if (link?.kind === 'node' && proc.connected) proc.disconnect();
    proc.stdin?.end();
    const timer = setTimeout(() => proc.kill('SIGKILL'), CLOSE_GRACE_MS);
    await gone;
    clearTimeout(timer);
  }
}

/** Whether the supervisor keeps the engine's event loop alive: only while it runs something. */
function hold(link: Link, on: boolean): void {
  const { proc } = link;
  const handles: ({ ref(): unknown; unref(): unknown } | null | undefined)[] = [proc, proc.channel, proc.stdin as Socket | null, proc.stdout as Socket | null];
  for (const h of handles) {
    if (!h) continue;
    if (on) h.ref();
    else h.unref();
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
