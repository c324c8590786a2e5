import type { EventKind, JobRecord, JobStatus, Variables, VarValue } from '../core/types.js';

/**
 * A job in the stable JSON shape of `meow jobs --json`, `meow job show
 * --json`, the control socket and each job's job.yaml (DESIGN.md). Paths are
 * workspace-relative; times ISO 8601 UTC.
 */
export interface JobJson {
  id: string;
  pattern: string;
  recipe: string;
  status: JobStatus;
  /** The triggering path (a collect/batch job: its group key or first member). */
  input: string;
  /** Every file the job was triggered by, workspace-relative: one for a single-file job, every member of a set or batch. */
  inputs: string[];
  /** True once a later job of the same pattern on the same input succeeded, or its rule or input version is no longer current. */
  superseded: boolean;
  event: EventKind;
  variables: Variables;
  attempt: number;
  exit_code: number | null;
  error: string | null;
  backend: string;
  generation: number;
  job_dir: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  old_path: string | null;
  sweep_point: Variables | null;
  retries: number;
  /** The job whose output triggered this one, or null for a file from outside. */
  cause: string | null;
  /** A JavaScript recipe's return value, or what a recipe reported. */
  result: VarValue | null;
}

/**
 * A job of a `collect` or `batch` pattern in words: its group key (or the
 * batch's first file), how many members, the first `first` of them —
 * `set raw/scan-2: 180 files (…/proj_0000.tif, …, … 177 more)`. Empty for a
 * single-file job. `tail` follows "more" (a hint where the rest are).
 */
export function setSummary(job: Pick<JobJson, 'input' | 'inputs'>, tail = '', first = 3): string {
  const { input, inputs } = job;
  if (inputs.length <= 1 && inputs[0] === input) return '';
  const some = inputs.slice(0, first).join(', ');
  const more = inputs.length > first ? `, … ${inputs.length - first} more${tail}` : '';
  const what = inputs.includes(input) ? `batch of ${inputs.length} files from ${input}` : `set ${input}: ${inputs.length} files`;
  return `${what} (${some}${more})`;
}

/** A job record in its JSON shape. */
export function jobJson(job: JobRecord): JobJson {
  return {
    id: job.id,
    pattern: job.pattern,
    recipe: job.recipe,
    status: job.status,
    input: job.input,
    inputs: job.inputs ?? [job.input],
    superseded: job.superseded ?? false,
    event: job.event,
    variables: job.variables,
    attempt: job.attempt,
    exit_code: job.exitCode,
    error: job.error,
    backend: job.backend,
    generation: job.generation,
    job_dir: job.jobDir,
    created_at: job.createdAt,
    started_at: job.startedAt,
    finished_at: job.finishedAt,
    old_path: job.oldPath,
    sweep_point: job.sweepPoint,
    retries: job.retries,
    cause: job.cause,
    result: job.result,
  };
}
