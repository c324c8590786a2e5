import { join } from 'node:path';
import { createJobDir, tailFile, writeJobYaml } from './job-dir.js';
import { errorMessage } from '../core/errors.js';
import { formatDuration } from '../core/durations.js';
import { nowIso } from '../core/ids.js';
import { expandAll, placeholderValues } from '../rules/variables.js';
import type { Backend, RunOutcome } from './backend.js';
import type { Executor, ExecutorContext } from './executor.js';
import type { EngineEvents } from '../core/engine-events.js';
import type { JobRecord, JobStatus, RecipeKind, Rule, WorkspaceConfig } from '../core/types.js';
import type { Store } from '../store/store.js';

/** What the scheduler needs from the engine. */
export interface SchedulerDeps {
  store: Store;
  config: WorkspaceConfig;
  backends: ReadonlyMap<string, Backend>;
  executors: ReadonlyMap<RecipeKind, Executor>;
  /** The rule a job belongs to, or null when its rule version is no longer registered. */
  ruleFor(job: JobRecord): Rule | null;
  /** Runs as an attempt starts (the engine notes the outputs it declares). */
  beforeAttempt(job: JobRecord, rule: Rule, placeholders: Record<string, string>): void;
  /** Runs after an attempt ended, before its final state is recorded: collects outputs (cascades). */
  afterAttempt(job: JobRecord, rule: Rule, placeholders: Record<string, string>): Promise<void>;
  emit<K extends keyof EngineEvents>(name: K, ...args: EngineEvents[K]): void;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
  slots: number;
}

/**
 * A concurrency-limited FIFO of jobs. Each job takes `resources.cpus` of the
 * `cpus` slots; the head of the queue waits for room, so nothing starves.
 */
export class Scheduler {
  private readonly queue: string[] = [];
  private head = 0;
  private readonly queued = new Set<string>();
  private readonly running = new Map<string, Running>();
  private used = 0;
  private accepting = true;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly deps: SchedulerDeps) {}

  /** Queued plus running jobs. */
  get pending(): number {
    return this.queued.size + this.running.size;
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Adds a queued job to the end of the queue. */
  enqueue(job: JobRecord): void {
    if (this.queued.has(job.id) || this.running.has(job.id)) return;
    this.queued.add(job.id);
    this.queue.push(job.id);
    this.pump();
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
    if (cancelRunning) this.cancelAll('cancelled at shutdown');
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private pump(): void {
    const total = this.deps.config.cpus;
    while (this.accepting && this.head < this.queue.length) {
      const id = this.queue[this.head];
      if (!this.queued.has(id)) {
        this.head++;
        continue;
      }
      const job = this.deps.store.getJob(id);
      if (!job || job.status !== 'queued') {
        this.queued.delete(id);
        this.head++;
        continue;
      }
      const rule = this.deps.ruleFor(job);
      const slots = Math.min(total, Math.max(1, rule?.pattern.resources.cpus ?? 1));
      if (this.used + slots > total) break;
      this.head++;
      this.queued.delete(id);
      this.used += slots;
      const controller = new AbortController();
      const entry: Running = { controller, slots, done: Promise.resolve() };
      this.running.set(id, entry);
      entry.done = this.runJob(job, rule, controller.signal).then((retry) => {
        this.running.delete(id);
        this.used -= slots;
        if (retry) this.enqueue(retry);
        else this.pump();
      });
    }
    // Compact the consumed head of the queue now and then.
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.pending === 0 && this.idleWaiters.length) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Runs one attempt; resolves with the job when it goes back to the queue for a retry. */
  private async runJob(queuedJob: JobRecord, rule: Rule | null, signal: AbortSignal): Promise<JobRecord | null> {
    const { store, config } = this.deps;
    if (!rule) {
      this.cancel(queuedJob.id, 'its rule is no longer registered', true);
      return null;
    }
    const attempt = queuedJob.attempt + 1;
    const startedAt = nowIso();
    const update = { attempt, startedAt, finishedAt: null, exitCode: null, error: null, result: null, pid: null };
    if (!store.transition(queuedJob.id, 'queued', 'running', update)) return null;
    const job: JobRecord = { ...queuedJob, ...update, status: 'running' };
    this.deps.emit('job:started', job);

    const absInput = join(config.root, job.input);
    const site = { rule, event: { kind: job.event, path: job.input, oldPath: job.oldPath, version: job.inputVersion, generation: job.generation, cause: job.cause }, jobId: job.id, jobDir: job.jobDir, workspace: config.root, sweepPoint: job.sweepPoint };
    const runtime = { ...job.variables, [rule.pattern.input]: absInput };
    const placeholders = placeholderValues(site, { ...rule.pattern.variables, ...job.variables });
    placeholders[rule.pattern.input] = absInput;

    this.deps.beforeAttempt(job, rule, placeholders);
    let error: string | null = null;
    let result: JobRecord['result'] = null;
    let outcome: RunOutcome | null = null;
    try {
      const { dir, params } = await createJobDir(config.root, job, runtime);
      const executor = this.deps.executors.get(rule.recipe.kind);
      const backend = this.deps.backends.get(rule.pattern.backend);
      if (!executor) throw new Error(`no executor for ${rule.recipe.kind} recipes`);
      if (!backend) throw new Error(`backend "${rule.pattern.backend}" is not configured in meow.yaml`);
      const env = { MEOW_JOB_ID: job.id, MEOW_JOB_DIR: dir, MEOW_WORKSPACE: config.root, MEOW_PARAMS: params };
      const ctx: ExecutorContext = { job, rule, config, jobDir: dir, variables: runtime, placeholders, env };
      const launch = await executor.prepare(ctx);
      outcome = await backend.run({
        job,
        launch,
        jobDir: dir,
        signal,
        timeoutMs: job.timeoutMs,
        resources: rule.pattern.resources,
        outputs: rule.pattern.outputs.length ? expandAll(rule.pattern.outputs, placeholders) : [],
        onStarted: (handle) => {
          if (handle !== null) store.transition(job.id, 'running', 'running', { handle, pid: /^\d+$/.test(handle) ? Number(handle) : null });
        },
      });
      result = outcome.result;
      if (outcome.timedOut) error = `timed out after ${formatDuration(job.timeoutMs ?? 0)}`;
      else if (outcome.error !== null) error = outcome.error;
      else if (!outcome.cancelled && launch.type === 'process') {
        const fin = await executor.finish(ctx, outcome.exitCode, await tailFile(join(dir, 'stderr.log')));
        error = fin.error;
        result = fin.result;
      }
    } catch (err) {
      error = errorMessage(err);
    }
    try {
      await this.deps.afterAttempt(job, rule, placeholders);
    } catch (err) {
      this.deps.emit('log', 'error', `job ${job.id}: collecting outputs failed: ${errorMessage(err)}`);
    }
    if (signal.aborted) return null; // cancel() already recorded the final state.

    const finishedAt = nowIso();
    const exitCode = outcome?.exitCode ?? null;
    let to: JobStatus = error === null ? 'succeeded' : 'failed';
    if (to === 'failed' && attempt <= job.retries) to = 'queued';
    const fields = { exitCode, error, result, finishedAt: to === 'queued' ? null : finishedAt, pid: null, handle: null };
    if (!store.transition(job.id, 'running', to, fields, to === 'queued' ? `retry after: ${error}` : null)) return null;
    const final = store.getJob(job.id);
    if (!final) return null;
    await writeJobYaml(join(config.root, job.jobDir), final).catch(() => undefined);
    this.deps.emit('job:finished', final);
    return to === 'queued' ? final : null;
  }
}
