import { parseExact } from '../core/exact-json.js';
import type { EventKind, JobRecord, JobStatus, Variables, VarValue } from '../core/types.js';

/**
 * An SQL condition over a row of `jobs`: true when the job is superseded — it
 * ended (succeeded, failed or cancelled) and a later job of the same pattern
 * on the same input (and sweep point) succeeded, or its rule version is no
 * longer the registered one, or its input file has changed since (a set or
 * batch job, whose input is a group key or its first member, is replaced by
 * a later job of its set instead). What is
 * broken *now* is the failures that are not superseded.
 */
export const SUPERSEDED = `(jobs.status IN ('succeeded', 'failed', 'cancelled') AND (
  NOT EXISTS (SELECT 1 FROM rules r WHERE r.name = jobs.pattern AND r.version = jobs.rule_version)
  OR (jobs.inputs IS NULL AND EXISTS (SELECT 1 FROM files f WHERE f.path = jobs.input AND f.version <> jobs.input_version))
  OR EXISTS (SELECT 1 FROM jobs later WHERE later.input = jobs.input AND later.pattern = jobs.pattern AND later.seq > jobs.seq
    AND later.status = 'succeeded' AND IFNULL(later.sweep_point, '') = IFNULL(jobs.sweep_point, ''))))`;

/**
 * An SQL condition true for every job but the superseded failures and
 * cancellations: what the current counts and the terminal UI's current view
 * show. {@link SUPERSEDED} is evaluated only on failed and cancelled rows, so
 * it stays cheap with many succeeded jobs.
 */
export const CURRENT_ENDING = `(jobs.status NOT IN ('failed', 'cancelled') OR NOT ${SUPERSEDED})`;

/** A window of the jobs list (newest first) for the terminal UI. */
export interface JobSearch {
  status: JobStatus | null;
  pattern: string | null;
  /** A substring of the input path. */
  text: string | null;
  offset: number;
  limit: number;
  /** Leave out superseded failures and cancellations (see {@link CURRENT_ENDING}). @default false */
  current?: boolean;
}

/** Filters for listing jobs. */
export interface JobQuery {
  status?: JobStatus;
  pattern?: string;
  input?: string;
  /** Only the newest N (still returned oldest first). */
  limit?: number;
  /** Only current jobs: superseded ones (see {@link SUPERSEDED}) left out. @default false */
  current?: boolean;
}

export interface JobRow {
  id: string;
  key: string | null;
  pattern: string;
  recipe: string;
  rule_version: string;
  status: JobStatus;
  input: string;
  input_version: string;
  inputs: string | null;
  event: EventKind;
  old_path: string | null;
  variables: string;
  sweep_point: string | null;
  attempt: number;
  retries: number;
  timeout_ms: number | null;
  exit_code: number | null;
  error: string | null;
  result: string | null;
  backend: string;
  generation: number;
  cause: string | null;
  job_dir: string;
  pid: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** 1 when superseded (queries that compute it). */
  superseded?: number;
}

export const JOB_COLUMNS =
  'id, key, pattern, recipe, rule_version, status, input, input_version, inputs, event, old_path, variables, sweep_point, attempt, retries, timeout_ms, exit_code, error, result, backend, generation, cause, job_dir, pid, created_at, started_at, finished_at';

export function toJob(r: JobRow): JobRecord {
  return {
    id: r.id,
    key: r.key ?? '',
    pattern: r.pattern,
    recipe: r.recipe,
    ruleVersion: r.rule_version,
    status: r.status,
    input: r.input,
    inputVersion: r.input_version,
    inputs: r.inputs === null ? null : (JSON.parse(r.inputs) as string[]),
    event: r.event,
    oldPath: r.old_path,
    variables: parseExact(r.variables) as Variables,
    sweepPoint: r.sweep_point ? (parseExact(r.sweep_point) as Variables) : null,
    attempt: r.attempt,
    retries: r.retries,
    timeoutMs: r.timeout_ms,
    exitCode: r.exit_code,
    error: r.error,
    result: r.result === null ? null : parseExact(r.result),
    backend: r.backend,
    generation: r.generation,
    cause: r.cause,
    jobDir: r.job_dir,
    pid: r.pid,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    ...(r.superseded === undefined ? {} : { superseded: r.superseded === 1 }),
  };
}

/** Fields that change when a job moves between states. */
export interface JobUpdate {
  attempt?: number;
  exitCode?: number | null;
  error?: string | null;
  result?: VarValue | null;
  pid?: number | null;
  pidStart?: string | null;
  handle?: string | null;
  startedAt?: string | null;
  finishedAt?: string | null;
}

