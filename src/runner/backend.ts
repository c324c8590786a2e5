import type { Launch } from './executor.js';
import type { JobRecord, Resources, Rule, VarValue } from '../core/types.js';

/** One attempt handed to a backend. */
export interface RunRequest {
  job: JobRecord;
  /**
   * How to run it. For `reattach`, the launch of the original attempt as the
   * scheduler recorded it in the job dir (`attempt.json`): nothing is prepared again.
   */
  launch: Launch;
  /** Absolute job directory; stdout.log and stderr.log are written there. */
  jobDir: string;
  /** Aborted to cancel the attempt. */
  signal: AbortSignal;
  /** Milliseconds, or null for none. For `reattach`, what is left of it. */
  timeoutMs: number | null;
  /** What the job asked for (slots, GPUs, memory). */
  resources: Resources;
  /**
   * The GPU ids the scheduler granted this attempt from the backend's
   * {@link Capacity} (empty without one, or for a job asking none). The
   * backend exposes exactly these to the job (`CUDA_VISIBLE_DEVICES`).
   */
  gpus: string[];
  /** The job's declared outputs, workspace-relative globs (a remote backend brings them back). */
  outputs: string[];
  /**
   * The job's declared inputs (`inputs:`), globs with placeholders expanded
   * (a remote backend stages the files they match, as it stages the input).
   */
  inputs?: string[];
  /**
   * Called once the attempt exists on the backend, with the backend's handle
   * for it (a pid with its start time, a Slurm job id, a remote pid): stored,
   * so a restarted engine can re-attach instead of running the job again.
   * `pid` is a local process id, when there is one.
   */
  onStarted?(handle: string | null, pid?: number): void;
}

/**
 * What a backend observed of an attempt's end, as it saw it. The attempt
 * runner reads it as a {@link RunOutcome} (runner/outcome.ts).
 */
export interface BackendReport {
  exitCode: number | null;
  /** The signal that ended the process, if any. */
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  /** The backend could not start it (spawn error, missing program), or a function threw. */
  error: string | null;
  /** A function's return value. */
  result: VarValue | null;
}

/** The resource kinds a backend hands out. */
export const RESOURCE_KINDS = ['cpus', 'memory', 'gpus'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** What a backend can run at once. */
export interface Capacity {
  /** Job slots; a job takes `resources.cpus` of them. */
  cpus: number;
  /** Bytes the jobs' `resources.memory` may add up to; null for no limit. */
  memory: number | null;
  /** GPU ids, each handed to one job at a time (`CUDA_VISIBLE_DEVICES`). */
  gpus: string[];
  /**
   * Where each figure came from, for the error of a job that can never fit:
   * e.g. `gpus: [0, 1] in meow.yaml`, `gpus: auto (nvidia-smi found 1 GPU)`.
   */
  sources: Record<ResourceKind, string>;
}

/**
 * Where jobs run. Local, Slurm and SSH backends implement this one seam and
 * pass one conformance suite (test/integration/backend-conformance.test.ts).
 *
 * The scheduler owns the queue: it starts an attempt with `run`, cancels it
 * through `RunRequest.signal`, and enforces nothing else unless the backend
 * states a {@link Capacity}.
 */
export interface Backend {
  readonly name: string;
  /**
   * What this backend runs at once. With it, the scheduler starts a job only
   * when its resources fit what is free, grants it GPU ids
   * (`RunRequest.gpus`), and fails at once a job that could never fit.
   * Without it, every queued job is handed over at once and the backend
   * queues on its own (as Slurm does). Never rejects.
   */
  capacity?(): Promise<Capacity>;
  /**
   * Runs one attempt to its end. Never rejects: failures are in the outcome.
   * Null: the attempt was lost without an outcome of its own (it is queued
   * again, not counted against its retries).
   */
  run(req: RunRequest): Promise<BackendReport | null>;
  /**
   * Re-attaches to an attempt that was running when the engine stopped, by
   * the handle `onStarted` reported, and waits for its end like `run`
   * (cancel and timeout included). Resolves with its real outcome — also when
   * it ended while the engine was down — or null when it is gone without a
   * known outcome (the engine then queues a new attempt). Never rejects.
   */
  reattach?(req: RunRequest, handle: string): Promise<BackendReport | null>;
  /**
   * The rules registered now (called after each registration). A backend may
   * get ready for them: the local one keeps warm kernels while a rule of its
   * runs a Python notebook. Never throws.
   */
  warm?(rules: readonly Rule[]): void;
  /**
   * Puts a job directory made ahead of time at `dir`, for a process attempt
   * (the local backend keeps a few, holding empty the files such an attempt
   * writes). False when none is ready or `dir` exists: the caller makes it.
   */
  takeJobDir?(dir: string): Promise<boolean>;
  /** Releases pools and connections. */
  close(): Promise<void>;
}
