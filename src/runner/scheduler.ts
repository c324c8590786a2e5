import { join } from 'node:path';
import { AttemptRunner, type Orphan, type ProcessEnd } from './attempt-runner.js';
import { CapacityPools } from './capacity.js';
import { JobQueue, nextToStart } from './job-queue.js';
import { readAttemptRecord, type AttemptRecord } from './recovery-attempt.js';
import { writeJobYaml } from './job-dir.js';
import { NO_ALLOCATION, type Allocation } from './resource-pool.js';
import { errorMessage } from '../core/errors.js';
import { diskNearlyFull, isDiskFull } from './disk-space.js';
import type { Backend } from './backend.js';
import type { Executor } from './executor.js';
import type { RunOutcome } from './outcome.js';
import type { JobRecord, RecipeKind, Rule, WorkspaceConfig } from '../core/types.js';
import type { EmitEvent, JobTransitions } from '../store/job-transitions.js';
import type { Store } from '../store/store.js';

export { readAttemptRecord };
export type { AttemptRecord, Orphan };

/** The rule of a job: null when its rule version is no longer registered. */
export interface RuleLookup {
  ruleFor(job: JobRecord): Rule | null;
}

/** The disk-space gate as the scheduler sees it. */
export interface SpaceGate {
  /** The disk is full (ENOSPC, SQLITE_FULL): resolves once space is back. */
  full(err: unknown): Promise<void>;
}

/** The owner of declared outputs, around each attempt. */
export interface AttemptOutputs {
  /** An attempt starts: its declared outputs are claimed (their file events wait for the job). */
  claim(job: JobRecord, rule: Rule, placeholders: Record<string, string>): void;
  /** An attempt ended, before its state is recorded: the outputs it wrote become file events (cascades). */
  collect(job: JobRecord, rule: Rule, placeholders: Record<string, string>): Promise<void>;
  /** A running job was cancelled for a rule change or removal (its outputs need not cascade). */
  cancelledByRule(jobId: string): void;
}

/** The parts the scheduler works with. */
export interface SchedulerParts {
  store: Store;
  /** The only writer of job states. */
  transitions: JobTransitions;
  config: WorkspaceConfig;
  backends: ReadonlyMap<string, Backend>;
  executors: ReadonlyMap<RecipeKind, Executor>;
  rules: RuleLookup;
  /** Names of paused patterns (a live set): their queued jobs wait, parked. */
  paused: Set<string>;
  space: SpaceGate;
  outputs: AttemptOutputs;
  emit: EmitEvent;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
  backend: string;
  allocation: Allocation;
}

/**
 * Starts queued jobs and records how they end. Jobs start in FIFO order on
 * their backend, each when its `resources` fit what is free of that
 * backend's capacity (see `nextToStart`); the attempt runner runs them and
 * returns an outcome, which is recorded here through the job transitions.
 */
export class Scheduler {
  private readonly queue = new JobQueue();
  private readonly running = new Map<string, Running>();
  private readonly pools: CapacityPools;
  private readonly runner: AttemptRunner;
  private accepting = true;
  /** While held (crash recovery), nothing starts and adopted attempts wait to record their outcome. */
  private held = false;
  /** New attempts wait while the disk is full. */
  private waitingForSpace = false;
  private released: Promise<void> = Promise.resolve();
  private releaseHold: () => void = () => undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly parts: SchedulerParts) {
    this.pools = new CapacityPools(parts.backends, parts.emit, () => this.pump());
    this.runner = new AttemptRunner(parts.config, parts.backends, parts.executors);
  }

  /** Queued plus running jobs. */
  get pending(): number {
    return this.queue.size + this.running.size;
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Adds a queued job to the end of the queue (or parks it while its pattern is paused). */
  enqueue(job: JobRecord): void {
    if (this.queue.has(job.id) || this.running.has(job.id)) return;
    // Parked jobs are not pending: `run --until-idle` leaves them queued for later.
    if (this.parts.paused.has(job.pattern)) return this.queue.park(job);
    // A job that can never fit fails now, not when it reaches the head of its queue.
    const pool = this.pools.known(job.backend);
    const rule = pool ? this.parts.rules.ruleFor(job) : null;
    const never = rule && pool ? pool.impossible(rule.pattern.resources, rule.pattern) : null;
    if (never) {
      this.parts.transitions.refuse(job.id, never);
      return;
    }
    this.queue.push(job);
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

  /** Pauses or resumes a pattern, remembered across restarts: a paused pattern's jobs are recorded and wait, parked. */
  setPaused(pattern: string, paused: boolean): void {
    this.parts.store.setPaused(pattern, paused);
    if (paused) {
      this.parts.paused.add(pattern);
      this.park(pattern);
    } else {
      this.parts.paused.delete(pattern);
      this.unpark(pattern);
    }
  }

  /** Takes a paused pattern's queued jobs out of the queue; running ones finish. */
  park(pattern: string): void {
    for (const job of this.queue.takePattern(pattern)) this.enqueue(job);
    this.pump();
  }

  /** Puts a resumed pattern's parked jobs back in the queue, oldest first. */
  unpark(pattern: string): void {
    for (const job of this.queue.unpark(pattern)) this.enqueue(job);
  }

  /**
   * Cancels a queued or running job: its state is recorded at once, and a
   * running attempt's process tree is stopped. `release` frees its key so the
   * same input may trigger again (a removed rule, MEOW rule 5).
   */
  cancel(id: string, note: string, release = false): JobRecord | null {
    const { transitions } = this.parts;
    const job = transitions.cancel(id, note, release);
    if (!job) return null;
    // Inside a caller's transaction (a registration's cancels), the attempt
    // stops only once the cancel is committed: a rollback leaves it running.
    transitions.afterCommit(() => {
      // `release` is a cancel for a rule removed or changed (MEOW rules 5 and 6).
      if (release) this.parts.outputs.cancelledByRule(id);
      this.queue.remove(id);
      this.running.get(id)?.controller.abort();
      this.pump();
    });
    return job;
  }

  /** Cancels every running job. */
  cancelAll(note: string): void {
    for (const id of [...this.running.keys()]) this.cancel(id, note);
  }

  /**
   * Stops every running attempt for a shutdown (a second signal,
   * `--cancel-running`): each job is queued again for the next start, and the
   * stopped attempt does not count against its retries.
   */
  interruptAll(): void {
    const note = "stopped by the engine's shutdown; queued again for the next start";
    for (const [id, entry] of [...this.running]) {
      const job = this.parts.store.getJob(id);
      if (!job || job.status !== 'running') continue;
      if (this.parts.transitions.requeue(id, Math.max(0, job.attempt - 1), note, note)) entry.controller.abort();
    }
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
    if (cancelRunning) this.interruptAll();
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
      this.pools.restore(o.record.backend, o.record.allocation);
      entry.done = this.resumeJob(o, controller.signal, entry).then((retry) => this.ended(o.job.id, entry, retry));
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
    this.startAll();
    if (this.pending === 0 && this.idleWaiters.length) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Starts what fits on every backend. */
  private startAll(): void {
    if (this.accepting && !this.held && !this.waitingForSpace) for (const name of this.queue.backends()) this.startReady(name);
  }

  /** Starts what `nextToStart` chooses on one backend. */
  private startReady(name: string): void {
    const pool = this.parts.backends.has(name) ? this.pools.poolOf(name) : null;
    if (pool === 'pending') return;
    const rules = new Map<string, Rule | null>();
    const lookup = this.parts.rules;
    const waiting = (function* (jobs: Iterable<JobRecord>) {
      for (const job of jobs) {
        const rule = lookup.ruleFor(job);
        rules.set(job.id, rule);
        yield { id: job.id, demand: rule ? { resources: rule.pattern.resources, pattern: rule.pattern } : null };
      }
    })(this.queue.waiting(name));
    const decisions = nextToStart(waiting, pool ? pool.clone() : null);
    if (decisions.length === 0) return;
    const { transitions } = this.parts;
    try {
      // The starts commit together (and with the end of the attempt that freed the slot, inside `record`'s batch).
      transitions.batch(() => {
        for (const d of decisions) {
          this.queue.remove(d.id);
          if (d.kind === 'refuse') {
            transitions.refuse(d.id, d.error);
            continue;
          }
          if (d.allocation && pool) pool.restore(d.allocation);
          this.launch(d.id, rules.get(d.id) ?? null, name, d.allocation ?? NO_ALLOCATION);
        }
      });
    } catch (err) {
      // The starts rolled back (their jobs are queued again, see `launch`); they start once space is back.
      if (!isDiskFull(err)) throw err;
      void this.parts.space.full(err);
    }
  }

  /**
   * Starts a queued job's next attempt: its start is recorded now (in the
   * caller's batch), and the attempt runs once that commits; a rollback puts
   * the job back in the queue.
   */
  private launch(id: string, rule: Rule | null, backend: string, allocation: Allocation): void {
    const { store, transitions } = this.parts;
    const queued = store.getJob(id);
    if (!queued || queued.status !== 'queued') {
      this.pools.release(backend, allocation);
      return;
    }
    const controller = new AbortController();
    const entry: Running = { controller, backend, allocation, done: Promise.resolve() };
    this.running.set(id, entry);
    if (!rule) {
      entry.done = Promise.resolve().then(() => {
        this.cancel(id, 'its rule is no longer registered', true);
        this.ended(id, entry, null);
      });
      return;
    }
    const job = transitions.start(id, queued.attempt + 1);
    if (!job) {
      // Moved meanwhile (not queued any more): its slot goes to the next job.
      this.settle(id, entry);
      transitions.afterCommit(() => this.pump());
      return;
    }
    transitions.onRollback(() => {
      this.settle(id, entry);
      this.queue.push(queued);
    });
    transitions.afterCommit(() => {
      entry.done = this.runJob(queued, job, rule, controller.signal, entry).then((retry) => this.ended(id, entry, retry));
    });
  }

  /** The attempt is over for the scheduler: its resources go back (once), at the moment its end is recorded. */
  private settle(id: string, entry: Running): void {
    if (this.running.get(id) !== entry) return;
    this.running.delete(id);
    this.pools.release(entry.backend, entry.allocation);
  }

  private ended(id: string, entry: Running, retry: JobRecord | null): void {
    this.settle(id, entry);
    if (retry) this.enqueue(retry);
    else this.pump();
  }

  /** Records the backend's handle of a running attempt (a restart re-attaches by it). */
  private onHandle(id: string) {
    return (handle: string, pid: number | null) => {
      try {
        this.parts.transitions.handle(id, handle, pid);
      } catch (err) {
        // Without space for the handle, a restart finds the attempt by its environment instead.
        if (!isDiskFull(err)) throw err;
        void this.parts.space.full(err);
      }
    };
  }

  /** Runs one attempt (`job`, its start committed); resolves with the job when it goes back to the queue. */
  private async runJob(queuedJob: JobRecord, job: JobRecord, rule: Rule, signal: AbortSignal, entry: Running): Promise<JobRecord | null> {
    const site = this.runner.site(job, rule);
    this.parts.outputs.claim(job, rule, site.placeholders);
    const { outcome, proc } = await this.runner.run(job, rule, site, signal, entry.allocation, this.onHandle(job.id));
    if (outcome.kind === 'not-started' && outcome.diskFull) {
      if (signal.aborted) return null; // cancelled, or queued again by a shutdown, meanwhile
      // A full disk is no fault of the job: this attempt is given back, and waits for space.
      const space = this.parts.space.full(new Error(outcome.error));
      return this.whileDiskFull(() => this.parts.transitions.requeue(job.id, queuedJob.attempt, `not started: ${outcome.error}`), space);
    }
    return this.record(job, rule, site.placeholders, proc, outcome, signal, entry);
  }

  /** Runs a database write, waiting for space and trying again while the disk is full. */
  private async whileDiskFull<T>(write: () => T, space?: Promise<void>): Promise<T> {
    for (;;) {
      try {
        return write();
      } catch (err) {
        if (!isDiskFull(err)) throw err;
        await (space ?? this.parts.space.full(err));
        space = undefined;
      }
    }
  }

  /** Follows an adopted attempt to its end (see `adopt`). */
  private async resumeJob(o: Orphan, signal: AbortSignal, entry: Running): Promise<JobRecord | null> {
    const { job } = o;
    const site = o.rule ? this.runner.site(job, o.rule) : null;
    if (o.rule && site) this.parts.outputs.claim(job, o.rule, site.placeholders);
    const outcome = await this.runner.resume(o, site, signal, this.onHandle(job.id));
    await this.released;
    // Definitions are registered now: the current rule (null when the job was cancelled meanwhile).
    const rule = this.parts.rules.ruleFor(job) ?? o.rule;
    if (!rule) {
      if (!signal.aborted) this.cancel(job.id, 'its rule is no longer registered', true);
      return null;
    }
    const now = this.runner.site(job, rule);
    if (outcome.kind === 'engine-lost' && !signal.aborted) {
      await this.parts.outputs.collect(job, rule, now.placeholders).catch(() => undefined);
      return this.interrupted(job, outcome.why);
    }
    return this.record(job, rule, now.placeholders, this.runner.processEnd(rule, now, null), outcome, signal, entry);
  }

  /**
   * An attempt the engine lost track of (it stopped while the attempt ran,
   * before the attempt's own outcome was recorded): the engine's failure, not
   * the recipe's, so it does not count against the job's retries. The job is
   * queued again; resolves with it (for the caller to enqueue).
   */
  interrupted(job: JobRecord, why: string): JobRecord | null {
    const note = `the engine stopped while attempt ${job.attempt} ran, and ${why}; queued again (an attempt the engine lost does not count against retries)`;
    return this.parts.transitions.interrupt(job.id, 'queued', { attempt: Math.max(0, job.attempt - 1) }, note);
  }

  /** Records how an attempt ended (after collecting its outputs); resolves with the job when it goes back to the queue. */
  private async record(job: JobRecord, rule: Rule, placeholders: Record<string, string>, proc: ProcessEnd | null, outcome: RunOutcome, signal: AbortSignal, entry: Running): Promise<JobRecord | null> {
    const { config, transitions } = this.parts;
    const verdict = await this.runner.judge(job, proc, outcome);
    try {
      await this.parts.outputs.collect(job, rule, placeholders);
    } catch (err) {
      this.parts.emit('log', 'error', `job ${job.id}: collecting outputs failed: ${errorMessage(err)}`);
    }
    if (signal.aborted) return null; // cancel() already recorded the final state.
    if (verdict === null) {
      // Stopped without a cancel of ours, or lost: not the recipe's doing, so it does not count.
      return this.whileDiskFull(() => transitions.requeue(job.id, job.attempt - 1, `attempt ${job.attempt} ended without an outcome of its own (${outcome.kind}); queued again`));
    }
    const { error, result, exitCode } = verdict;
    let to: 'succeeded' | 'failed' | 'queued' = error === null ? 'succeeded' : 'failed';
    if (to === 'failed' && job.attempt <= job.retries) to = 'queued';
    if (to !== 'succeeded' && (await diskNearlyFull(config.root))) {
      // The attempt most likely failed for want of space (its logs or outputs could not be written):
      // it does not count, and the job runs again once space returns.
      const space = this.parts.space.full(new Error(`no space left on device in ${config.root} (job ${job.id} failed: ${error ?? 'unknown error'})`));
      return this.whileDiskFull(() => transitions.requeue(job.id, job.attempt - 1, `disk full: ${error}`), space);
    }
    // Its slot is free the moment its end is recorded: the next job takes it in the same commit, and runs while job.yaml is written.
    const final = await this.whileDiskFull(() =>
      transitions.batch(() => {
        const ended = transitions.finish(job.id, to, { exitCode, error, result }, to === 'queued' ? `retry after: ${error}` : null);
        if (ended) {
          this.settle(job.id, entry);
          this.startAll();
        }
        return ended;
      }),
    );
    if (!final) return null;
    await writeJobYaml(join(config.root, job.jobDir), final).catch(() => undefined);
    return to === 'queued' ? final : null;
  }
}
