import { accessSync, constants, readFileSync, statSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { JsPool } from '../../js-pool.js';
import { resolveGpus } from './gpu-detect.js';
import { bootId, jobProcesses, processStart, signalAll, signalGroup, signalLeftovers } from '../../process-tree.js';
import { LogCap } from '../../resource-log-cap.js';
import { KernelPools, runsWarmNotebook } from './kernel-pool.js';
import { detectPython } from '../../python-detect.js';
import { ProcessSpawner } from './process-spawner.js';
import { SpareJobDirs } from '../../spare-job-dirs.js';
import { ATTEMPT_FILE } from '../../recovery-attempt.js';
import { errorMessage } from '../../../core/errors.js';
import { parseSize } from '../../../core/durations.js';
import type { Backend, Capacity, BackendReport, RunRequest } from '../../backend.js';
import type { BackendConfig, Rule, WorkspaceConfig } from '../../../core/types.js';

/** The file in the job dir where the wrapper records the recipe's exit status. */
export const EXIT_FILE = 'exit-status';

/**
 * Every local process runs under this POSIX sh wrapper, which waits for it
 * and writes its exit status to `$0` (the job dir's exit-status), so the
 * status survives an engine crash. Names only ever appear as "$@" elements:
 * no shell ever interprets them. `trap : TERM` makes the wrapper outlive a
 * SIGTERM sent to the group until its recipe has exited (POSIX defers the
 * trap while a foreground command runs), and a caught signal is reset in the
 * recipe, which gets SIGTERM with its default action. Fd 3 is closed for the
 * recipe. The program is resolved to a path first, so "$1" is never a builtin.
 */
/**
 * Made in the job dir when a job is cancelled while the supervisor holds its
 * start (a stopped or wedged supervisor): a wrapper started after all finds
 * it and runs nothing.
 */
const CANCELLED_BEFORE_START = 'cancelled-before-start';
const WRAPPER = `trap : TERM; [ -e "\${0%/*}/${CANCELLED_BEFORE_START}" ] && exit 125; exec 3>"$0"; "$@" 3>&-; s=$?; echo "$s" >&3; exit "$s"`;
/** The wrapper of earlier versions, found among a job's processes after an upgrade. */
const EARLIER_WRAPPERS: readonly string[] = ['trap : TERM; exec 3>"$0"; "$@" 3>&-; s=$?; echo "$s" >&3; exit "$s"'];
/** How often an adopted process (not our child: no exit event) is checked. */
const ADOPTED_POLL_MS = 200;

/** A local attempt's handle: its wrapper's pid, start time and boot, so a reused pid is never taken for it. */
interface LocalHandle {
  pid: number;
  start: string;
  boot: string;
}

function parseHandle(handle: string): LocalHandle | null {
  try {
    const h = JSON.parse(handle) as Partial<LocalHandle>;
    if (typeof h.pid === 'number' && typeof h.start === 'string' && typeof h.boot === 'string') return { pid: h.pid, start: h.start, boot: h.boot };
  } catch {
    // not ours
  }
  return null;
}

/** The recorded exit status of an attempt, or null when none was written. */
export function readExitStatus(jobDir: string): number | null {
  try {
    const text = readFileSync(join(jobDir, EXIT_FILE), 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

/**
 * The handle of a local attempt that started but never reported it (the
 * engine died between the fork and the database write): the job's wrapper,
 * found among its processes by its command line, or, with none running, a
 * handle that makes `reattach` go by the exit status alone.
 */
export function foundHandle(pids: readonly number[]): string {
  for (const pid of pids) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const start = processStart(pid);
    if (argv[0] === '/bin/sh' && (argv[2] === WRAPPER || EARLIER_WRAPPERS.includes(argv[2])) && start !== null) return JSON.stringify({ pid, start, boot: bootId() } satisfies LocalHandle);
  }
  return JSON.stringify({ pid: 0, start: '', boot: bootId() } satisfies LocalHandle);
}

const resolved = new Map<string, { path: string; at: number }>();

/**
 * Finds a program as execvp would (names with a slash as they are, others on
 * PATH), so the wrapper runs a path and never a shell builtin of that name.
 * Throws a message saying what was looked for.
 */
export function resolveProgram(file: string, pathEnv: string | undefined, cwd: string): string {
  if (file === '') throw new Error('cannot start the recipe: its program name is empty');
  const path = pathEnv ?? '/usr/local/bin:/usr/bin:/bin';
  const key = `${path}\0${cwd}\0${file}`;
  const hit = resolved.get(key);
  if (hit && Date.now() - hit.at < 10_000) return hit.path;
  if (file.includes('/')) {
    // Said here, naming the program: the wrapper's shell would name itself instead.
    const at = resolve(cwd, file);
    let isFile: boolean;
    try {
      isFile = statSync(at).isFile();
    } catch (err) {
      throw new Error(`cannot start ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(err)}`);
    }
    if (!isFile) throw new Error(`cannot start ${file}: not a file (a directory?); give the program's path`);
    try {
      accessSync(at, constants.X_OK);
    } catch {
      throw new Error(`cannot start ${file}: ${at} is not executable; chmod +x it`);
    }
    resolved.set(key, { path: file, at: Date.now() });
    return file;
  }
  let denied: string | null = null;
  for (const dir of path.split(delimiter)) {
    const candidate = resolve(cwd, dir || '.', file);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      resolved.set(key, { path: candidate, at: Date.now() });
      return candidate;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') denied ??= candidate;
    }
  }
  if (denied) throw new Error(`cannot start ${file}: ${denied} is not executable; chmod +x it`);
  throw new Error(`cannot start ${file}: not found on PATH (${path}); install it or give its full path`);
}

/**
 * Runs jobs on this machine: subprocesses (each in its own process group, so
 * cancel and timeout reach the children it forks) and JavaScript functions on
 * a worker-thread pool, within the `cpus`, `memory` and `gpus` this backend
 * states as its capacity (the scheduler does the accounting). Processes run
 * under a tiny sh wrapper that records their exit status in the job dir, so
 * a restarted engine adopts a recipe still running and learns how it ended.
 */
export class LocalBackend implements Backend {
  readonly name: string;
  private pool: JsPool | null = null;
  private readonly cpus: number;
  private readonly logs: LogCap;
  private cap: Promise<Capacity> | null = null;
  /** Whether GPUs exist here: then a job asking none gets CUDA_VISIBLE_DEVICES="" and cannot use others'. */
  private hasGpus = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly spawner = new ProcessSpawner();
  /** Warm kernels for this backend's Python notebooks (docs/recipes.md#warm-kernels). */
  readonly kernels: KernelPools;
  private warming = 0;
  /** Job directories made ahead of time for process attempts. */
  private readonly spares: SpareJobDirs;

  constructor(
    name: string,
    private readonly config: WorkspaceConfig,
    private readonly options: BackendConfig['options'] = {},
    warn: (message: string) => void = () => undefined,
  ) {
    this.name = name;
    this.cpus = typeof options.cpus === 'number' ? options.cpus : config.cpus;
    this.logs = new LogCap(config.maxLogSize);
    this.kernels = new KernelPools(config.warmKernels, config.root, (m) => warn(`backend ${name}: ${m}`));
    this.spares = new SpareJobDirs(config.root, name, ['stdout.log', 'stderr.log', 'params.json', ATTEMPT_FILE, EXIT_FILE], Math.min(8, 2 * this.cpus));
  }

  takeJobDir(dir: string): Promise<boolean> {
    return this.spares.take(dir);
  }

  /** Keeps warm kernels of the notebook interpreter while a rule of this backend runs a Python notebook. */
  warm(rules: readonly Rule[]): void {
    if (this.config.warmKernels === 0) return;
    const turn = ++this.warming;
    if (!rules.some((r) => r.pattern.backend === this.name && runsWarmNotebook(r))) return this.kernels.want(new Set());
    // No Jupyter here: no pool; each job then fails with the fix in its message.
    void detectPython(this.config, 'jupyter').then(
      (python) => turn === this.warming && this.kernels.want(new Set([python])),
      () => undefined,
    );
  }

  capacity(): Promise<Capacity> {
    this.cap ??= resolveGpus(this.options.gpus).then((gpus) => {
      this.hasGpus = gpus.ids.length > 0;
      const configured = this.options.memory === undefined || this.options.memory === null ? null : parseSize(this.options.memory);
      const memory = typeof configured === 'number' ? configured : totalmem();
      return {
        cpus: this.cpus,
        memory,
        gpus: gpus.ids,
        sources: {
          cpus: `cpus: ${this.cpus}`,
          memory: typeof configured === 'number' ? `memory: ${String(this.options.memory)} in meow.yaml` : "the machine's memory",
          gpus: gpus.source,
        },
      };
    });
    return this.cap;
  }

  async run(req: RunRequest): Promise<BackendReport | null> {
    if (req.launch.type === 'function') return this.runFunction(req);
    return this.runProcess(req);
  }

  private async runFunction(req: RunRequest): Promise<BackendReport> {
    if (req.launch.type !== 'function') throw new Error('unreachable');
    this.pool ??= new JsPool({ maxThreads: this.cpus, graceMs: this.config.killGraceMs });
    const controller = new AbortController();
    const abort = () => controller.abort();
    req.signal.addEventListener('abort', abort, { once: true });
    // Cancelled while its directory was being made: the listener came too late to hear it.
    if (req.signal.aborted) controller.abort();
    let timedOut = false;
    const timer = req.timeoutMs !== null ? setTimeout(() => ((timedOut = true), controller.abort()), req.timeoutMs) : null;
    const stopCapping = this.logs.watch(logFiles(req.jobDir));
    req.onStarted?.(null);
    try {
      const out = await this.pool.run(req.launch.modulePath, req.job.ruleVersion, req.launch.variables, {
        jobId: req.job.id,
        jobDir: req.jobDir,
        workspace: this.config.root,
        signal: controller.signal,
      });
      const cancelled = req.signal.aborted;
      if (out.ok && !cancelled && !timedOut) return { exitCode: 0, signal: null, timedOut, cancelled, error: null, result: out.result };
      return { exitCode: null, signal: null, timedOut, cancelled, error: out.ok ? null : out.error, result: null };
    } finally {
      if (timer) clearTimeout(timer);
      req.signal.removeEventListener('abort', abort);
      stopCapping();
    }
  }

  private async runProcess(req: RunRequest): Promise<BackendReport | null> {
    if (req.launch.type !== 'process') throw new Error('unreachable');
    const launch = req.launch;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, launch.env);
    if (req.gpus.length > 0 || this.hasGpus) env.CUDA_VISIBLE_DEVICES = req.gpus.join(',');
    const pool = launch.kernel === undefined ? null : this.kernels.socketFor(launch.file);
    if (pool !== null) env.MEOW_KERNEL_POOL = pool;
    let program: string;
    try {
      program = resolveProgram(launch.file, env.PATH, launch.cwd);
    } catch (e) {
      return failed(errorMessage(e));
    }
    const [stdout, stderr] = logFiles(req.jobDir);
    const child = this.spawner.spawn({ file: '/bin/sh', args: ['-c', WRAPPER, join(req.jobDir, EXIT_FILE), program, ...launch.args], cwd: launch.cwd, env, stdout, stderr });
    const started = await untilAborted(child.started, req.signal);
    if (started === 'aborted') {
      // Cancelled while the supervisor had it (a hung one: a healthy one answers in milliseconds): should it start
      // after all, its wrapper finds the mark and runs nothing, and it is killed as soon as its pid is known.
      try {
        writeFileSync(join(req.jobDir, CANCELLED_BEFORE_START), '');
      } catch {
        // its directory is gone: so is the recipe's way to start there
      }
      void child.started.then((s) => 'pid' in s && signalGroup(s.pid, 'SIGKILL'));
      return { exitCode: null, signal: null, timedOut: false, cancelled: true, error: null, result: null };
    }
    if ('error' in started) return started.lost ? this.afterLostStart(req) : failed(started.error);
    const handle: LocalHandle = { pid: started.pid, start: started.start ?? '', boot: bootId() };
    req.onStarted?.(JSON.stringify(handle), started.pid);
    return new Promise<BackendReport>((resolve) => {
      const watch = this.supervise(req, handle, resolve);
      void child.exited.then((e) => {
        if (e) watch.end({ exitCode: e.code, signal: e.signal, timedOut: watch.timedOut, cancelled: watch.cancelled, error: null, result: null });
        else this.pollUntilGone(req, handle, watch);
      });
    });
  }

  /**
   * The supervisor went before it said whether the attempt's process started:
   * it is looked for, as at a restart. Running: followed by pid and start
   * time. Ended: its recorded exit status. Neither: it never started (or left
   * no trace), and the attempt is lost, to run again without counting.
   */
  private afterLostStart(req: RunRequest): Promise<BackendReport | null> | BackendReport | null {
    const h = parseHandle(foundHandle(jobProcesses(this.config.root).get(req.job.id) ?? []));
    if (h && h.pid !== 0) {
      req.onStarted?.(JSON.stringify(h), h.pid);
      return new Promise<BackendReport>((resolve) => this.pollUntilGone(req, h, this.supervise(req, h, resolve)));
    }
    const status = readExitStatus(req.jobDir);
    return status === null ? null : { exitCode: status, signal: null, timedOut: false, cancelled: false, error: null, result: null };
  }

  /**
   * Re-attaches to a process attempt after an engine restart: a wrapper still
   * running (same pid, start time and boot) is adopted and polled until it
   * ends; one that ended meanwhile is answered from its recorded exit status.
   */
  async reattach(req: RunRequest, handle: string): Promise<BackendReport | null> {
    const h = parseHandle(handle);
    if (!h) return null;
    const running = h.start !== '' && h.boot === bootId() && processStart(h.pid) === h.start;
    if (!running) {
      this.reap(req.job.id, 'SIGKILL');
      const status = readExitStatus(req.jobDir);
      return status === null ? null : { exitCode: status, signal: null, timedOut: false, cancelled: false, error: null, result: null };
    }
    return new Promise<BackendReport>((resolve) => this.pollUntilGone(req, h, this.supervise(req, h, resolve)));
  }

  /** Follows a process that is not (or no longer) our child until it is gone, then reads its recorded status. */
  private pollUntilGone(req: RunRequest, h: LocalHandle, watch: Supervision): void {
    const poll = setInterval(() => {
      if (h.start !== '' && processStart(h.pid) === h.start) return;
      clearInterval(poll);
      this.timers.delete(poll);
      const status = readExitStatus(req.jobDir);
      watch.end({ exitCode: status, signal: null, timedOut: watch.timedOut, cancelled: watch.cancelled, error: null, result: null });
    }, ADOPTED_POLL_MS);
    this.timers.add(poll);
  }

  /**
   * Cancel, timeout and clean-up of one running wrapper (a child or an
   * adopted one). On cancel or timeout the group gets SIGTERM, then SIGKILL
   * after kill_grace, and children that left the group are found by their
   * environment. When the recipe ends on its own, what it left running in
   * its group gets SIGTERM, then SIGKILL: a job's processes never outlive it.
   */
  private supervise(req: RunRequest, h: LocalHandle, done: (o: BackendReport) => void): Supervision {
    const grace = this.config.killGraceMs;
    const stopCapping = this.logs.watch(logFiles(req.jobDir));
    const ours = () => processStart(h.pid) === h.start;
    let killTimer: NodeJS.Timeout | null = null;
    const state: Supervision = { timedOut: false, cancelled: false, end };
    const stop = () => {
      if (killTimer) return;
      if (ours()) signalGroup(h.pid, 'SIGTERM');
      this.reap(req.job.id, 'SIGTERM');
      killTimer = setTimeout(() => {
        if (ours()) signalGroup(h.pid, 'SIGKILL');
      }, grace);
    };
    const onAbort = () => ((state.cancelled = true), stop());
    req.signal.addEventListener('abort', onAbort, { once: true });
    const timer = req.timeoutMs !== null ? setTimeout(() => ((state.timedOut = true), stop()), Math.max(0, req.timeoutMs)) : null;
    let settled = false;
    function end(o: BackendReport): void {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      req.signal.removeEventListener('abort', onAbort);
      finishUp(o);
    }
    const finishUp = (o: BackendReport) => {
      if (state.cancelled || state.timedOut) {
        // A cancelled or timed-out job leaves nothing behind, wherever its children went.
        signalLeftovers(h.pid, 'SIGKILL');
        this.reap(req.job.id, 'SIGKILL');
      } else if (signalLeftovers(h.pid, 'SIGTERM')) {
        this.reapLater(req.job.id, grace);
      }
      stopCapping();
      done(o);
    };
    if (req.signal.aborted) onAbort();
    return state;
  }

  /** Signals every process of a job (by its environment), wherever it is. */
  private reap(jobId: string, signal: NodeJS.Signals): void {
    signalAll(jobProcesses(this.config.root).get(jobId) ?? [], signal);
  }

  /** SIGKILLs, after `grace`, the job's processes alive now, if they are still the same processes then. */
  private reapLater(jobId: string, grace: number): void {
    const left = (jobProcesses(this.config.root).get(jobId) ?? []).map((pid) => ({ pid, start: processStart(pid) }));
    if (left.length === 0) return;
    signalAll(left.map((p) => p.pid), 'SIGTERM');
    const t = setTimeout(() => {
      this.timers.delete(t);
      signalAll(left.filter((p) => p.start !== null && processStart(p.pid) === p.start).map((p) => p.pid), 'SIGKILL');
    }, grace);
    t.unref();
    this.timers.add(t);
  }

  async close(): Promise<void> {
    this.spares.close();
    this.logs.close();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.spawner.close();
    await this.pool?.close();
    this.pool = null;
    await this.kernels.close();
  }
}

/** One running wrapper under supervision: how it is going, and how to report its end. */
interface Supervision {
  timedOut: boolean;
  cancelled: boolean;
  end(o: BackendReport): void;
}

function logFiles(jobDir: string): [string, string] {
  return [join(jobDir, 'stdout.log'), join(jobDir, 'stderr.log')];
}

/** `p`, or 'aborted' as soon as `signal` aborts (at once when it has). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | 'aborted'> {
  if (signal.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const onAbort = () => resolve('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then((v) => {
      signal.removeEventListener('abort', onAbort);
      resolve(v);
    });
  });
}

function failed(error: string): BackendReport {
  return { exitCode: null, signal: null, timedOut: false, cancelled: false, error, result: null };
}

