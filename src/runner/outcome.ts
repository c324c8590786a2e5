import type { BackendReport } from './backend.js';
import type { VarValue } from '../core/types.js';

/**
 * How an attempt ended, as the attempt runner hands it to the scheduler.
 * Only the recipe's own ends (`exited`, `failed`, `signalled`, `timed-out`)
 * count against its retries; `cancelled` is a user's cancel or a rule change,
 * and `not-started` and `engine-lost` are the engine's failures.
 */
export type RunOutcome =
  /** A process exited with a status, or a function returned (status 0). */
  | { kind: 'exited'; exitCode: number; result: VarValue | null }
  /** The backend or the recipe reported an error: a spawn failure, a function that threw, a Slurm job out of memory. */
  | { kind: 'failed'; exitCode: number | null; error: string }
  /** The recipe's process was killed by a signal the engine did not send. */
  | { kind: 'signalled'; signal: string | null }
  /** The recipe ran past its timeout and was stopped. */
  | { kind: 'timed-out' }
  /** Stopped through the attempt's AbortSignal. */
  | { kind: 'cancelled' }
  /** The engine could not hand it to a backend (its job dir, its executor, a full disk). */
  | { kind: 'not-started'; error: string; diskFull: boolean }
  /** The engine lost the attempt: it stopped while the attempt ran and no outcome was recorded. */
  | { kind: 'engine-lost'; why: string };

export type RunOutcomeKind = RunOutcome['kind'];

/** Reads a backend's report as an outcome (null: gone without a known outcome). */
export function outcomeOf(report: BackendReport | null, lostWhy = 'its process ended without recording an exit status'): RunOutcome {
  if (report === null) return { kind: 'engine-lost', why: lostWhy };
  if (report.cancelled) return { kind: 'cancelled' };
  if (report.timedOut) return { kind: 'timed-out' };
  if (report.error !== null) return { kind: 'failed', exitCode: report.exitCode, error: report.error };
  if (report.exitCode !== null) return { kind: 'exited', exitCode: report.exitCode, result: report.result };
  return { kind: 'signalled', signal: report.signal };
}

/** True for the ends that are the recipe's own and count as one of its attempts. */
export function countsAsAttempt(o: RunOutcome): boolean {
  switch (o.kind) {
    case 'exited':
    case 'failed':
    case 'signalled':
    case 'timed-out':
      return true;
    case 'cancelled':
    case 'not-started':
    case 'engine-lost':
      return false;
    default: {
      const never: never = o;
      throw new Error(`unknown outcome ${String(never)}`);
    }
  }
}
