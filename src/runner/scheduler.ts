import { join } from 'node:path';
import { cleanAttemptDir, readAttemptRecord, writeAttemptRecord, type AttemptRecord } from './recovery-attempt.js';
import { createJobDir, tailFile, writeJobYaml } from './job-dir.js';
import { NO_ALLOCATION, ResourcePool, type Allocation } from './resource-pool.js';
import { tailLogOf } from './resource-log-cap.js';
import { errorMessage } from '../core/errors.js';
import { diskNearlyFull, isDiskFull } from './disk-space.js';
import { formatDuration } from '../core/durations.js';
import { nowIso } from '../core/ids.js';
import { expandAll, placeholderValues } from '../rules/variables.js';
import { INPUTS_LIST } from './job-dir.js';
import { RESOURCE_KINDS, type Backend, type ResourceKind, type RunOutcome, type RunRequest } from './backend.js';
import type { Executor, ExecutorContext, Launch } from './executor.js';
import type { EngineEvents } from '../core/engine-events.js';
import type { JobRecord, JobStatus, RecipeKind, Resources, Rule, Variables, WorkspaceConfig } from '../core/types.js';
import type { Store } from '../store/store.js';

export { readAttemptRecord };

/** What the scheduler needs from the engine. */
export interface SchedulerDeps {
  store: Store;
  config: WorkspaceConfig;
  backends: ReadonlyMap<string, Backend>;
  executors: ReadonlyMap<RecipeKind, Executor>;
  /** The rule a job belongs to, or null when its rule version is no longer registered. */
  ruleFor(job: JobRecord): Rule | null;
  /**
   * The disk is full (ENOSPC, SQLITE_FULL): the engine pauses new work and
   * resolves the returned promise once space is back.
   */
  diskFull(err: unknown): Promise<void>;
  /** True while a pattern is paused: its queued jobs wait, parked, until it resumes. */
  isPaused(pattern: string): boolean;
  /** Runs as an attempt starts (the engine notes the outputs it declares). */
  beforeAttempt(job: JobRecord, rule: Rule, placeholders: Record<string, string>): void;
  /** Runs after an attempt ended, before its final state is recorded: collects outputs (cascades). */
  afterAttempt(job: JobRecord, rule: Rule, placeholders: Record<string, string>): Promise<void>;
  emit<K extends keyof EngineEvents>(name: K, ...args: EngineEvents[K]): void;
}

/** An attempt found running after a restart, to be followed by its backend (see `Scheduler.adopt`). */
export interface Orphan {
  job: JobRecord;
  handle: string;
  record: AttemptRecord;
  /** Its rule as registered when the engine stopped, or null. */
  rule: Rule | null;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
  backend: string;
  allocation: Allocation;
}

/** How far past a blocked head the queue is searched for jobs that need none of what it waits for. */
const LOOKAHEAD = 256;

/** The resource kinds a job takes (every job takes cpus). */
function kindsOf(res: Resources): ResourceKind[] {
  return RESOURCE_KINDS.filter((k) => (k === 'cpus' ? true : k === 'gpus' ? res.gpus > 0 : res.memory !== null));
}

/** The queue of one backend: jobs in FIFO order, consumed from `head`. */
class Lane {
  readonly jobs: (JobRecord | null)[] = [];
  head = 0;

  /** Drops the consumed head now and then. */
  compact(): void {
    while (this.head < this.jobs.length && this.jobs[this.head] === null) this.head++;
    if (this.head > 4096 && this.head * 2 > this.jobs.length) {
      this.jobs.splice(0, this.head);
      this.head = 0;
    }
  }
}

/**
 * The job queue. Jobs start in FIFO order on their backend, each when the
 * `resources` it asks for fit what is free of that backend's capacity (cpus
 * slots, memory, GPU ids; backends without a capacity take jobs at once).
 * The first job waiting on a backend holds back the kinds of resource it is
 * short of: a later job may pass it only when it needs none of them, so
 * nothing starves. A job that could never fit fails at once.
 */
export class Scheduler {
  /** One FIFO per backend name: backends fill up independently. */
  private readonly lanes = new Map<string, Lane>();
  private readonly queued = new Set<string>();
  private readonly parked = new Map<string, JobRecord[]>();
  private readonly running = new Map<string, Running>();
  /** Per backend: its pool, null when it states no capacity, a promise while asking. */
  private readonly pools = new Map<string, ResourcePool | null | Promise<void>>();
  /** Allocations of adopted attempts waiting for their backend's pool. */
  private readonly restores = new Map<string, Set<Allocation>>();
  private accepting = true;
  /** While held (crash recovery), nothing starts and adopted attempts wait to record their outcome. */
  private held = false;
  /** New attempts wait while the disk is full. */
  private waitingForSpace = false;
  private released: Promise<void> = Promise.resolve();
  private releaseHold: () => void = () => undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly deps: SchedulerDeps) {}

  /** Queued plus running jobs. */
  get pending(): number {
    return this.queued.size + this.running.size;
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Adds a queued job to the end of the queue (or parks it while its pattern is paused). */
  enqueue(job: JobRecord): void {
    if (this.queued.has(job.id) || this.running.has(job.id)) return;
    if (this.deps.isPaused(job.pattern)) {
      // Parked jobs are not pending: `run --until-idle` leaves them queued for later.
      const list = this.parked.get(job.pattern) ?? [];
      if (!list.some((j) => j.id === job.id)) list.push(job);
      this.parked.set(job.pattern, list);
      return;
    }
    // A job that can never fit fails now, not when it reaches the head of its queue.
    const pool = this.pools.get(job.backend);
    const rule = pool instanceof ResourcePool ? this.deps.ruleFor(job) : null;
    const never = rule && pool instanceof ResourcePool ? pool.impossible(rule.pattern.resources, rule.pattern) : null;
    if (never) {
      this.refuse(job.id, never);
      return;
    }
    this.queued.add(job.id);
    let lane = this.lanes.get(job.backend);
    if (!lane) this.lanes.set(job.backend, (lane = new Lane()));
    lane.jobs.push(job);
    this.pump();
  }

  /** Stops starting attempts until `spaceReturned()` (the disk is full). */
  waitForSpace(): void {
    this.waitingForSpace = true;
  }

  spaceReturned(): void {
    this.waitingForSpace = false;
    this.pump();
  }

  /** Takes a paused pattern's queued jobs out of the queue; running ones finish. */
  park(pattern: string): void {
    for (const [, lane] of this.lanes) {
      for (let i = lane.head; i < lane.jobs.length; i++) {
        const job = lane.jobs[i];
        if (job && job.pattern === pattern && this.queued.has(job.id)) {
          this.dequeue(lane, i);
          this.enqueue(job);
        }
      }
      lane.compact();
    }
    this.pump();
  }

  /** Puts a resumed pattern's parked jobs back in the queue, oldest first. */
  unpark(pattern: string): void {
    const list = this.parked.get(pattern) ?? [];
    this.parked.delete(pattern);
    for (const job of list) this.enqueue(job);
  }

  /**
   * Cancels a queued or running job: its state is recorded at once, and a
   * running attempt's process tree is stopped. `release` frees its key so the
   * same input may trigger again (a removed rule, MEOW rule 5).
   */
  cancel(id: string, note: string, release = false): JobRecord | null {
    const { store } = this.deps;
    const ok = store.transaction(() => {
      const moved = store.transition(id, ['queued', 'running'], 'cancelled', { finishedAt: nowIso(), error: note }, note);
      if (moved && release) store.releaseKey(id);
      return moved;
    });
    if (!ok) return null;
    this.queued.delete(id);
    this.running.get(id)?.controller.abort();
    const job = store.getJob(id);
    if (job) this.deps.emit('job:finished', job);
    this.pump();
    return job;
  }

  /** Cancels every running job (a second Ctrl-C). */
  cancelAll(note: string): void {
    for (const id of [...this.running.keys()]) this.cancel(id, note);
  }

  /** Resolves when nothing is queued or running. */
  whenIdle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops starting jobs; optionally cancels running ones; waits for running ones to end. */
  async stop(cancelRunning: boolean): Promise<void> {
    this.accepting = false;
    this.release();
    if (cancelRunning) this.cancelAll('cancelled at shutdown');
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  /**
   * Takes over attempts that were running when the engine stopped (engine
   * start, before definitions are registered): each holds its recorded
   * allocation again, counts as running (cancel reaches it), and its backend
   * follows it with `reattach`. The scheduler is held until `release()`:
   * nothing new starts and no adopted outcome is recorded before the engine
   * has registered its definitions and queued what is pending.
   */
  adopt(orphans: readonly Orphan[]): void {
    if (orphans.length === 0) return;
    this.hold();
    for (const o of orphans) {
      const controller = new AbortController();
      const entry: Running = { controller, backend: o.record.backend, allocation: o.record.allocation, done: Promise.resolve() };
      this.running.set(o.job.id, entry);
      this.restore(o.record.backend, o.record.allocation);
      entry.done = this.resumeJob(o, controller.signal).then((retry) => this.ended(o.job.id, entry, retry));
    }
  }

  /** Ends the hold of `adopt`: queued jobs start, adopted attempts record their outcomes. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    this.releaseHold();
    this.pump();
  }

  private hold(): void {
    if (this.held) return;
    this.held = true;
    this.released = new Promise((resolve) => (this.releaseHold = resolve));
  }

  private pump(): void {
    if (this.accepting && !this.held && !this.waitingForSpace) for (const [name, lane] of this.lanes) this.startReady(name, lane);
    if (this.pending === 0 && this.idleWaiters.length) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * Starts what fits on one backend: from the head of its lane, up to
   * LOOKAHEAD jobs deep, stopping where the kinds held back include cpus
   * (which every job needs).
   */
  private startReady(name: string, lane: Lane): void {
    /** The resource kinds an earlier waiting job holds back. */
    const held = new Set<ResourceKind>();
    const backend = this.deps.backends.get(name);
    let looked = 0;
    for (let i = lane.head; i < lane.jobs.length && looked < LOOKAHEAD && !held.has('cpus'); i++) {
      const job = lane.jobs[i];
      if (job === null || !this.queued.has(job.id)) {
        lane.jobs[i] = null;
        continue;
      }
      looked++;
      const rule = this.deps.ruleFor(job);
      let allocation = NO_ALLOCATION;
      if (rule && backend) {
        const pool = this.poolOf(name, backend);
        if (pool === 'pending') break;
        if (pool) {
          const res = rule.pattern.resources;
          const never = pool.impossible(res, rule.pattern);
          if (never) {
            this.dequeue(lane, i);
            this.refuse(job.id, never);
            continue;
          }
          if (kindsOf(res).some((k) => held.has(k))) continue;
          const taken = pool.take(res);
          if (!taken) {
            for (const k of pool.short(res)) held.add(k);
            continue;
          }
          allocation = taken;
        }
      }
      this.dequeue(lane, i);
      this.launch(job.id, rule, name, allocation);
    }
    lane.compact();
  }

  private dequeue(lane: Lane, i: number): void {
    const job = lane.jobs[i];
    if (job) this.queued.delete(job.id);
    lane.jobs[i] = null;
  }

  /** A backend's pool: asked for once; 'pending' until its capacity is known. */
  private poolOf(name: string, backend: Backend): ResourcePool | null | 'pending' {
    const known = this.pools.get(name);
    if (known instanceof Promise) return 'pending';
    if (known !== undefined) return known;
    if (!backend.capacity) {
      this.pools.set(name, null);
      return null;
    }
    const asking = backend.capacity().then(
      (cap) => {
        const pool = new ResourcePool(name, cap);
        for (const a of this.restores.get(name) ?? []) pool.restore(a);
        this.restores.delete(name);
        this.pools.set(name, pool);
        if (cap.gpus.length) this.deps.emit('log', 'info', `backend "${name}": ${cap.cpus} cpus, ${cap.gpus.length} GPU(s) [${cap.gpus.join(', ')}] (${cap.sources.gpus})`);
        this.pump();
      },
      (err: unknown) => {
        this.deps.emit('log', 'error', `backend "${name}": cannot tell its capacity (${errorMessage(err)}); its jobs run one at a time without GPUs`);
        this.pools.set(name, new ResourcePool(name, { cpus: 1, memory: null, gpus: [], sources: { cpus: 'unknown', memory: 'unknown', gpus: 'unknown' } }));
        this.pump();
      },
    );
    this.pools.set(name, asking);
    return 'pending';
  }

  private restore(name: string, a: Allocation): void {
    const backend = this.deps.backends.get(name);
    const pool = backend ? this.poolOf(name, backend) : null;
    if (pool instanceof ResourcePool) pool.restore(a);
    else if (pool === 'pending') {
      const set = this.restores.get(name) ?? new Set<Allocation>();
      set.add(a);
      this.restores.set(name, set);
    }
  }

  private giveBack(name: string, a: Allocation): void {
    if (a === NO_ALLOCATION) return;
    const pool = this.pools.get(name);
    if (pool instanceof ResourcePool) pool.release(a);
    else this.restores.get(name)?.delete(a);
  }

  /** Fails a queued job that can never fit its backend; retrying would not help, so retries do not apply. */
  private refuse(id: string, error: string): void {
    if (!this.deps.store.transition(id, 'queued', 'failed', { error, finishedAt: nowIso(), exitCode: null }, error)) return;
    const job = this.deps.store.getJob(id);
    if (job) this.deps.emit('job:finished', job);
  }

  private launch(id: string, rule: Rule | null, backend: string, allocation: Allocation): void {
    const job = this.deps.store.getJob(id);
    if (!job || job.status !== 'queued') {
      this.giveBack(backend, allocation);
      return;
    }
    const controller = new AbortController();
    const entry: Running = { controller, backend, allocation, done: Promise.resolve() };
    this.running.set(id, entry);
    entry.done = this.runJob(job, rule, controller.signal, allocation).then((retry) => this.ended(id, entry, retry));
  }

  private ended(id: string, entry: Running, retry: JobRecord | null): void {
    this.running.delete(id);
    this.giveBack(entry.backend, entry.allocation);
    if (retry) this.enqueue(retry);
    else this.pump();
  }

  /** Placeholders, runtime variables and executor context of one attempt (no side effects). */
  private site(job: JobRecord, rule: Rule) {
    const { config } = this.deps;
    const absInput = join(config.root, job.input);
    const site = { rule, event: { kind: job.event, path: job.input, oldPath: job.oldPath, version: job.inputVersion, generation: job.generation, cause: job.cause }, jobId: job.id, jobDir: job.jobDir, workspace: config.root, sweepPoint: job.sweepPoint };
    // A set job's list variable holds every member's absolute path (fan-in).
    const absInputs = job.inputs?.map((p) => join(config.root, p)) ?? null;
    const runtime: Variables = { ...job.variables, [rule.pattern.input]: absInputs ?? absInput };
    const placeholders = placeholderValues(site, { ...rule.pattern.variables, ...job.variables });
    placeholders[rule.pattern.input] = absInputs ? JSON.stringify(absInputs) : absInput;
    const dir = join(config.root, job.jobDir);
    const env: Record<string, string> = { MEOW_JOB_ID: job.id, MEOW_JOB_DIR: dir, MEOW_WORKSPACE: config.root, MEOW_PARAMS: join(dir, 'params.json') };
    if (absInputs) env.MEOW_INPUTS = join(dir, INPUTS_LIST);
    const ctx: ExecutorContext = { job, rule, config, jobDir: dir, variables: runtime, placeholders, env };
    return { runtime, placeholders, dir, ctx };
  }

  private onStarted(id: string) {
    return (handle: string | null, pid?: number) => {
      if (handle === null) return;
      try {
        this.deps.store.transition(id, 'running', 'running', { handle, pid: pid ?? null });
      } catch (err) {
        // Without space for the handle, a restart finds the attempt by its environment instead.
        if (!isDiskFull(err)) throw err;
        void this.deps.diskFull(err);
      }
    };
  }

  /** Runs one attempt; resolves with the job when it goes back to the queue for a retry. */
  private async runJob(queuedJob: JobRecord, rule: Rule | null, signal: AbortSignal, allocation: Allocation): Promise<JobRecord | null> {
    const { store, config } = this.deps;
    if (!rule) {
      this.cancel(queuedJob.id, 'its rule is no longer registered', true);
      return null;
    }
    const attempt = queuedJob.attempt + 1;
    const startedAt = nowIso();
    const update = { attempt, startedAt, finishedAt: null, exitCode: null, error: null, result: null, pid: null, handle: null };
    if (!store.transition(queuedJob.id, 'queued', 'running', update)) return null;
    const job: JobRecord = { ...queuedJob, ...update, status: 'running' };
    this.deps.emit('job:started', job);

    const { runtime, placeholders, dir, ctx } = this.site(job, rule);
    this.deps.beforeAttempt(job, rule, placeholders);
    let error: string | null = null;
    let outcome: RunOutcome | null = null;
    let launch: Launch | null = null;
    const executor = this.deps.executors.get(rule.recipe.kind);
    try {
      // Each attempt starts from a clean job dir (but for its logs): nothing a crashed or failed attempt left is read as this one's.
      if (attempt > 1) await cleanAttemptDir(dir);
      await createJobDir(config.root, job, runtime, rule.recipe.kind !== 'javascript');
      const backend = this.deps.backends.get(rule.pattern.backend);
      if (!executor) throw new Error(`no executor for ${rule.recipe.kind} recipes`);
      if (!backend) throw new Error(`backend "${rule.pattern.backend}" is not configured in meow.yaml`);
      launch = await executor.prepare(ctx);
      const req: RunRequest = {
        job,
        launch,
        jobDir: dir,
        signal,
        timeoutMs: job.timeoutMs,
        resources: rule.pattern.resources,
        gpus: allocation.gpus,
        outputs: rule.pattern.outputs.length ? expandAll(rule.pattern.outputs, placeholders) : [],
        onStarted: this.onStarted(job.id),
      };
      if (launch.type === 'process') {
        await writeAttemptRecord(dir, { attempt, backend: backend.name, launch, gpus: req.gpus, allocation, outputs: req.outputs, resources: req.resources, startedAt });
      }
      outcome = await backend.run(req);
    } catch (err) {
      // A full disk is no fault of the job: this attempt is given back, and waits for space.
      if (isDiskFull(err) && outcome === null) return this.giveBackAttempt(queuedJob, err);
      error = errorMessage(err);
    }
    return this.record(job, rule, placeholders, launch?.type === 'process' && executor ? { ctx, executor } : null, outcome, error, signal);
  }

  /** Undoes an attempt that could not start for lack of disk space; resolves with the queued job. */
  private async giveBackAttempt(queuedJob: JobRecord, err: unknown): Promise<JobRecord | null> {
    const space = this.deps.diskFull(err);
    const note = `not started: ${errorMessage(err)}`;
    await this.whileDiskFull(() => this.deps.store.transition(queuedJob.id, 'running', 'queued', { attempt: queuedJob.attempt, startedAt: null, pid: null, handle: null }, note), space);
    return this.deps.store.getJob(queuedJob.id);
  }

  /** Runs a database write, waiting for space and trying again while the disk is full. */
  private async whileDiskFull<T>(write: () => T, space?: Promise<void>): Promise<T> {
    for (;;) {
      try {
        return write();
      } catch (err) {
        if (!isDiskFull(err)) throw err;
        await (space ?? this.deps.diskFull(err));
        space = undefined;
      }
    }
  }

  /** Follows an adopted attempt to its end (see `adopt`). */
  private async resumeJob(o: Orphan, signal: AbortSignal): Promise<JobRecord | null> {
    const { job, record } = o;
    const backend = this.deps.backends.get(record.backend);
    const site = o.rule ? this.site(job, o.rule) : null;
    if (o.rule && site) this.deps.beforeAttempt(job, o.rule, site.placeholders);
    const dir = join(this.deps.config.root, job.jobDir);
    const elapsed = Date.now() - Date.parse(job.startedAt ?? record.startedAt);
    const req: RunRequest = {
      job,
      launch: record.launch,
      jobDir: dir,
      signal,
      timeoutMs: job.timeoutMs === null ? null : Math.max(0, job.timeoutMs - elapsed),
      resources: record.resources,
      gpus: record.gpus,
      outputs: record.outputs,
      onStarted: this.onStarted(job.id),
    };
    let outcome: RunOutcome | null = null;
    let error: string | null = null;
    try {
      outcome = backend?.reattach ? await backend.reattach(req, o.handle) : null;
    } catch (err) {
      error = `re-attaching after a restart failed: ${errorMessage(err)}`;
    }
    await this.released;
    // Definitions are registered now: the current rule (null when the job was cancelled meanwhile).
    const rule = this.deps.ruleFor(job) ?? o.rule;
    if (!rule) {
      if (!signal.aborted) this.cancel(job.id, 'its rule is no longer registered', true);
      return null;
    }
    const now = this.site(job, rule);
    if (outcome === null && error === null && !signal.aborted) {
      await this.deps.afterAttempt(job, rule, now.placeholders).catch(() => undefined);
      return this.interrupted(job, 'its process ended without recording an exit status');
    }
    const executor = this.deps.executors.get(rule.recipe.kind);
    return this.record(job, rule, now.placeholders, executor ? { ctx: now.ctx, executor } : null, outcome, error, signal);
  }

  /**
   * An attempt the engine lost track of (it stopped while the attempt ran):
   * queued again as a new attempt, or failed when its retries are spent.
   * Resolves with the job when queued (for the caller to enqueue).
   */
  interrupted(job: JobRecord, why: string): JobRecord | null {
    const retry = job.attempt <= job.retries;
    const note = `the engine stopped while attempt ${job.attempt} ran, and ${why}`;
    const fields = retry
      ? { pid: null, handle: null }
      : { pid: null, handle: null, exitCode: null, finishedAt: nowIso(), error: `${note}; no retries left (retries: ${job.retries})` };
    if (!this.deps.store.transition(job.id, 'running', retry ? 'queued' : 'failed', fields, retry ? `${note}; queued as attempt ${job.attempt + 1}` : note)) return null;
    const after = this.deps.store.getJob(job.id);
    if (after) this.deps.emit('job:finished', after);
    return retry ? after : null;
  }

  /** Records how an attempt ended (after collecting its outputs); resolves with the job when it goes back to the queue. */
  private async record(
    job: JobRecord,
    rule: Rule,
    placeholders: Record<string, string>,
    proc: { ctx: ExecutorContext; executor: Executor } | null,
    outcome: RunOutcome | null,
    failure: string | null,
    signal: AbortSignal,
  ): Promise<JobRecord | null> {
    const { store, config } = this.deps;
    let error = failure;
    let result: JobRecord['result'] = null;
    if (outcome && error === null) {
      result = outcome.result;
      if (outcome.timedOut) error = `timed out after ${formatDuration(job.timeoutMs ?? 0)}`;
      else if (outcome.error !== null) error = outcome.error;
      else if (!outcome.cancelled && proc) {
        try {
          const fin = await proc.executor.finish(proc.ctx, outcome.exitCode, await stderrTail(proc.ctx.jobDir));
          error = fin.error;
          result = fin.result;
        } catch (err) {
          error = errorMessage(err);
        }
      }
    }
    try {
      await this.deps.afterAttempt(job, rule, placeholders);
    } catch (err) {
      this.deps.emit('log', 'error', `job ${job.id}: collecting outputs failed: ${errorMessage(err)}`);
    }
    if (signal.aborted) return null; // cancel() already recorded the final state.

    const finishedAt = nowIso();
    // A timed-out attempt has no exit code of its own (its wrapper reports the SIGTERM as 143): null on every backend.
    const exitCode = outcome && !outcome.timedOut ? outcome.exitCode : null;
    let to: JobStatus = error === null ? 'succeeded' : 'failed';
    if (to === 'failed' && job.attempt <= job.retries) to = 'queued';
    const fields = { exitCode, error, result, finishedAt: to === 'queued' ? null : finishedAt, pid: null, handle: null };
    if (to !== 'succeeded' && (await diskNearlyFull(config.root))) {
      // The attempt most likely failed for want of space (its logs or outputs could not be written):
      // it does not count, and the job runs again once space returns.
      const space = this.deps.diskFull(new Error(`no space left on device in ${config.root} (job ${job.id} failed: ${error ?? 'unknown error'})`));
      await this.whileDiskFull(() => store.transition(job.id, 'running', 'queued', { attempt: job.attempt - 1, pid: null, handle: null, error: null, exitCode: null }, `disk full: ${error}`), space);
      return store.getJob(job.id);
    }
    if (!(await this.whileDiskFull(() => store.transition(job.id, 'running', to, fields, to === 'queued' ? `retry after: ${error}` : null)))) return null;
    const final = store.getJob(job.id);
    if (!final) return null;
    await writeJobYaml(join(config.root, job.jobDir), final).catch(() => undefined);
    this.deps.emit('job:finished', final);
    return to === 'queued' ? final : null;
  }
}

/** The end of stderr.log, or of stderr.tail.log when the log was capped (where the end of the output went). */
async function stderrTail(jobDir: string): Promise<string> {
  const log = join(jobDir, 'stderr.log');
  const tail = await tailFile(log);
  if (!tail.includes('[meowflow: stderr.log reached max_log_size')) return tail;
  return tailFile(tailLogOf(log));
}

export type { AttemptRecord };
