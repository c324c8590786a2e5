import { MeowError } from '../core/errors.js';
import { nowIso } from '../core/ids.js';
import type { EngineEvents } from '../core/engine-events.js';
import type { JobRecord, JobStatus } from '../core/types.js';
import type { JobUpdate, Store } from './store.js';

/**
 * The job state machine, and the only code that changes a job's state.
 *
 * ```
 *             create                 start                  finish
 *   (none) ──────────► queued ─────────────────► running ──────────────► succeeded | failed
 *             │          ▲  │                    │  ▲ │
 *             │          │  │ refuse             │  │ │ handle (the backend's handle: running → running)
 *             │          │  └────────► failed    │  └─┘
 *             │          │                       │ finish (a failed attempt with retries left),
 *             │          └───────────────────────┤ requeue (an attempt that does not count:
 *             │                                  │ disk full, not started, engine shutdown),
 *             │                                  │ interrupt (lost to the engine's death)
 *             │                    cancel        │
 *             │  queued | running ─────────► cancelled
 *             └─► failed (past max_generation)
 *                         retry (the user)
 *   failed | cancelled ────────────────────► queued
 * ```
 *
 * Every operation names the states it may leave and the states it may reach.
 * A job found in another state is either a race the caller expects (a cancel
 * won: the operation does nothing and returns null) or a bug: an illegal
 * transition, which throws `MEOW_ILLEGAL_TRANSITION` under test (or with
 * `strict`) and is logged, never applied, in production. Engine events are
 * emitted only after the transaction that made the change commits.
 */
export const JOB_OPERATIONS = ['create', 'start', 'handle', 'finish', 'requeue', 'interrupt', 'cancel', 'retry', 'refuse'] as const;
export type JobOperation = (typeof JOB_OPERATIONS)[number];

/** One row of the table: where an operation may start and end, and which other states are an expected no-op. */
export interface TransitionRule {
  /** States the operation may move a job from (`create` moves none: it inserts). */
  readonly from: readonly JobStatus[];
  /** States it may move a job to. */
  readonly to: readonly JobStatus[];
  /** States in which the operation quietly does nothing: a race the caller expects, or a user's request that does not apply (a conflict). */
  readonly conflicts: readonly JobStatus[];
}

const FINAL: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

/** The state machine as a table. */
export const TRANSITIONS: Readonly<Record<JobOperation, TransitionRule>> = {
  create: { from: [], to: ['queued', 'failed'], conflicts: [] },
  start: { from: ['queued'], to: ['running'], conflicts: ['cancelled'] },
  // A shutdown may have queued the job again before its backend reported the handle.
  handle: { from: ['running'], to: ['running'], conflicts: ['cancelled', 'queued'] },
  finish: { from: ['running'], to: ['succeeded', 'failed', 'queued'], conflicts: ['cancelled'] },
  requeue: { from: ['running'], to: ['queued'], conflicts: ['cancelled'] },
  interrupt: { from: ['running'], to: ['queued', 'failed'], conflicts: ['cancelled'] },
  // A user may ask for anything: what does not apply is a conflict the caller reports.
  cancel: { from: ['queued', 'running'], to: ['cancelled'], conflicts: FINAL },
  retry: { from: ['failed', 'cancelled'], to: ['queued'], conflicts: ['queued', 'running', 'succeeded'] },
  refuse: { from: ['queued'], to: ['failed'], conflicts: ['cancelled'] },
};

/** Emits an engine event (after the commit). */
export type EmitEvent = <K extends keyof EngineEvents>(name: K, ...args: EngineEvents[K]) => void;

export interface JobTransitionsOptions {
  /** Events of committed changes; none for the offline CLI. */
  emit?: EmitEvent;
  /** Throw on an illegal transition (default: under vitest, or with MEOW_STRICT_TRANSITIONS=1). */
  strict?: boolean;
}

/** Fields of the `finish` of an attempt. */
export interface FinishFields {
  exitCode: number | null;
  error: string | null;
  result: JobRecord['result'];
}

/**
 * The owner of job transitions: every state change of every job goes
 * through one of its operations (the scheduler, crash recovery, the engine,
 * the socket API and the offline CLI alike).
 */
export class JobTransitions {
  private readonly emitEvent: EmitEvent;
  private readonly strict: boolean;
  private depth = 0;
  private pending: (() => void)[] = [];
  private undo: (() => void)[] = [];

  constructor(
    readonly store: Store,
    options: JobTransitionsOptions = {},
  ) {
    this.emitEvent = options.emit ?? (() => undefined);
    this.strict = options.strict ?? (process.env.VITEST !== undefined || process.env.MEOW_STRICT_TRANSITIONS === '1');
  }

  /**
   * Runs `fn` in one transaction; the events of the changes it made are
   * emitted after the commit (none when it throws and rolls back).
   */
  batch<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    this.depth++;
    let result: T;
    try {
      result = this.store.transaction(fn);
    } catch (err) {
      this.depth--;
      const undo = this.undo;
      this.pending = [];
      this.undo = [];
      for (const u of undo) u();
      throw err;
    }
    this.depth--;
    const events = this.pending;
    this.pending = [];
    this.undo = [];
    for (const e of events) e();
    return result;
  }

  /**
   * Records a new job (queued, or failed at birth past max_generation).
   * False when a job with its key exists: triggering is idempotent.
   */
  create(job: JobRecord): boolean {
    if (!TRANSITIONS.create.to.includes(job.status)) {
      this.illegal('create', job.id, null, job.status);
      return false;
    }
    return this.batch(() => {
      if (!this.store.insertJob(job)) return false;
      this.after(job.status === 'queued' ? () => this.emitEvent('job:queued', job) : () => this.emitEvent('job:finished', job));
      return true;
    });
  }

  /** A queued job's new attempt begins. */
  start(id: string, attempt: number, startedAt = nowIso()): JobRecord | null {
    const update = { attempt, startedAt, finishedAt: null, exitCode: null, error: null, result: null, pid: null, handle: null };
    return this.apply('start', id, 'running', update, null);
  }

  /** The backend reported its handle for the running attempt (kept for re-attaching after a restart). */
  handle(id: string, handle: string, pid: number | null): boolean {
    return this.apply('handle', id, 'running', { handle, pid }, null) !== null;
  }

  /**
   * The attempt ended by the recipe's own outcome: succeeded, failed, or
   * (a failed attempt with retries left) queued again for the next one.
   */
  finish(id: string, to: 'succeeded' | 'failed' | 'queued', fields: FinishFields, note: string | null = null): JobRecord | null {
    const update: JobUpdate = { ...fields, finishedAt: to === 'queued' ? null : nowIso(), pid: null, handle: null };
    return this.apply('finish', id, to, update, note);
  }

  /**
   * A running attempt goes back to the queue without counting: it could not
   * start (disk full), failed for want of disk space, or was stopped by the
   * engine's shutdown. `attempt` is the number of attempts that did count.
   */
  requeue(id: string, attempt: number, note: string, error: string | null = null): JobRecord | null {
    return this.apply('requeue', id, 'queued', { attempt, startedAt: null, finishedAt: null, pid: null, handle: null, error, exitCode: null }, note);
  }

  /**
   * An attempt the engine lost track of (it died while the attempt ran):
   * queued again, or failed when `error` says why it may not be.
   */
  interrupt(id: string, to: 'queued' | 'failed', fields: { attempt?: number; error?: string }, note: string): JobRecord | null {
    const update: JobUpdate =
      to === 'queued' ? { pid: null, handle: null, ...(fields.attempt === undefined ? {} : { attempt: fields.attempt }) } : { pid: null, handle: null, exitCode: null, finishedAt: nowIso(), error: fields.error ?? note };
    return this.apply('interrupt', id, to, update, note);
  }

  /**
   * Cancels a queued or running job (a user's cancel, or its rule removed or
   * changed). `releaseKey` frees its key so the same input may trigger again.
   * Null when the job is in another state. Stopping a running attempt's
   * processes is the caller's part.
   */
  cancel(id: string, note: string, releaseKey = false): JobRecord | null {
    return this.batch(() => {
      const job = this.apply('cancel', id, 'cancelled', { finishedAt: nowIso(), error: note }, note);
      if (job && releaseKey) this.store.releaseKey(id);
      return job;
    });
  }

  /**
   * A user retries a failed or cancelled job: queued as a new attempt. Only
   * a job of the current registration of its rule may run again
   * (`isCurrent`): a later version, or a later registration of the same
   * version, triggers on its own. Null when the job is in another state.
   */
  retry(id: string, isCurrent: (job: JobRecord) => boolean): JobRecord | null {
    const job = this.store.getJob(id);
    if (!job) return null;
    if (!isCurrent(job)) {
      throw new MeowError('MEOW_CONFLICT', `job ${id} belongs to a version of pattern "${job.pattern}" that is no longer registered; the current version triggers on its own`);
    }
    return this.apply('retry', id, 'queued', { finishedAt: null, error: null, exitCode: null }, 'retried by the user');
  }

  /** Fails a queued job that can never fit its backend (retries would not help). */
  refuse(id: string, error: string): JobRecord | null {
    return this.apply('refuse', id, 'failed', { error, finishedAt: nowIso(), exitCode: null }, error);
  }

  private apply(op: JobOperation, id: string, to: JobStatus, update: JobUpdate, note: string | null): JobRecord | null {
    const rule = TRANSITIONS[op];
    if (!rule.to.includes(to)) {
      this.illegal(op, id, this.store.getJob(id)?.status ?? null, to);
      return null;
    }
    return this.batch(() => {
      const job = this.store.transition(id, rule.from, to, update, note);
      if (!job) {
        const now = this.store.getJob(id);
        if (now && !rule.conflicts.includes(now.status)) this.illegal(op, id, now.status, to);
        return null;
      }
      this.after(() => this.announce(op, job));
      return job;
    });
  }

  /** The event of a committed change. */
  private announce(op: JobOperation, job: JobRecord): void {
    switch (job.status) {
      case 'queued':
        this.emitEvent('job:queued', job);
        return;
      case 'running':
        if (op === 'start') this.emitEvent('job:started', job);
        return;
      case 'succeeded':
      case 'failed':
      case 'cancelled':
        this.emitEvent('job:finished', job);
        return;
      default: {
        const never: never = job.status;
        throw new Error(`unknown job state ${String(never)}`);
      }
    }
  }

  /** Runs `fn` once the current batch commits (at once outside a batch); dropped when it rolls back. */
  afterCommit(fn: () => void): void {
    if (this.depth > 0) this.pending.push(fn);
    else fn();
  }

  /**
   * Runs `fn` if the current batch rolls back (nothing outside a batch, where
   * a change is committed when made): the caller's own state follows the
   * database back.
   */
  onRollback(fn: () => void): void {
    if (this.depth > 0) this.undo.push(fn);
  }

  private after(event: () => void): void {
    this.afterCommit(event);
  }

  private illegal(op: JobOperation, id: string, from: JobStatus | null, to: JobStatus): void {
    const message = `illegal job transition: ${op} of job ${id} from ${from ?? '(new)'} to ${to}; ${op} moves a job from ${TRANSITIONS[op].from.join(' or ') || '(new)'} to ${TRANSITIONS[op].to.join(' or ')}`;
    if (this.strict) throw new MeowError('MEOW_ILLEGAL_TRANSITION', message);
    // Production: the change is not applied, and said.
    this.emitEvent('log', 'error', `${message} (not applied; please report this)`);
  }
}
