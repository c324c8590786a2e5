import type { Launch } from './executor.js';
import type { JobRecord, VarValue } from '../core/types.js';

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
  /** Called once the attempt's process exists (for crash recovery). */
  onStarted?(pid: number | null): void;
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
  /** Releases pools and connections. */
  close(): Promise<void>;
}
