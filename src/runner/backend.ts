import type { Launch } from './executor.js';
import type { JobRecord, Resources, VarValue } from '../core/types.js';

/** One attempt handed to a backend. */
export interface RunRequest {
  job: JobRecord;
  launch: Launch;
  /** Absolute job directory; stdout.log and stderr.log are written there. */
  jobDir: string;
  /** Aborted to cancel the attempt. */
  signal: AbortSignal;
  /** Milliseconds, or null for none. */
  timeoutMs: number | null;
  /** What the job asked for (slots, GPUs, memory). */
  resources: Resources;
  /** The job's declared outputs, workspace-relative globs (a remote backend brings them back). */
  outputs: string[];
  /**
   * Called once the attempt exists on the backend, with the backend's handle
   * for it (a pid, a Slurm job id, a remote pid): stored, so a restarted
   * engine can re-attach instead of running the job again.
   */
  onStarted?(handle: string | null): void;
}

/** How an attempt ended on its backend. */
export interface RunOutcome {
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

/**
 * Where jobs run. Local, Slurm and SSH backends implement this one seam and
 * pass one conformance suite.
 */
export interface Backend {
  readonly name: string;
  /** Runs one attempt to its end. Never rejects: failures are in the outcome. */
  run(req: RunRequest): Promise<RunOutcome>;
  /**
   * Re-attaches to an attempt that was running when the engine stopped, by
   * the handle `onStarted` reported, and waits for its end like `run`.
   * Resolves null when the attempt is gone without a known outcome (the
   * engine then queues a new attempt).
   */
  reattach?(req: RunRequest, handle: string): Promise<RunOutcome | null>;
  /** Releases pools and connections. */
  close(): Promise<void>;
}
