import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobRecord, Variables } from '../core/types.js';

/**
 * The file `MEOW_INPUTS` names for a set job: each member's absolute path
 * followed by one NUL byte (no newline anywhere), in arrival order. Bash reads
 * it with `mapfile -d '' files < "$MEOW_INPUTS"`, xargs with `-0`.
 */
export const INPUTS_LIST = 'inputs.list';

/** Workspace-relative directory of a job. */
export function jobDirOf(id: string): string {
  return `.meow/jobs/${id}`;
}

/**
 * Creates the job directory, with the params.json that `MEOW_PARAMS` names
 * for process recipes (a JavaScript function gets its variables directly).
 * Creating a file is the dearest step of a small job, so nothing else is
 * written here: job.yaml follows when the attempt ends.
 */
export async function createJobDir(root: string, job: JobRecord, runtimeVariables: Variables, withParams: boolean): Promise<{ dir: string; params: string }> {
  const dir = join(root, job.jobDir);
  await mkdir(dir, { recursive: true });
  if (job.inputs) await writeFile(join(dir, INPUTS_LIST), job.inputs.map((p) => `${join(root, p)}\0`).join(''));
  const params = join(dir, 'params.json');
  if (withParams) await writeFile(params, `${JSON.stringify(runtimeVariables, null, 2)}\n`);
  return { dir, params };
}

/**
 * Writes the job's record as job.yaml when an attempt ends (the database
 * stays the source of truth). The record is written as JSON, which every YAML
 * reader reads, and which costs a fraction of a YAML emitter.
 */
export async function writeJobYaml(dir: string, job: JobRecord): Promise<void> {
  await writeFile(join(dir, 'job.yaml'), `${JSON.stringify(jobJson(job), null, 2)}\n`);
}

/** Reads the last `bytes` of a log file (empty when missing). */
export async function tailFile(path: string, bytes = 8192): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - bytes);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}

/** A job in the stable JSON shape of `meow jobs --json` (DESIGN.md). */
export function jobJson(job: JobRecord) {
  return {
    id: job.id,
    pattern: job.pattern,
    recipe: job.recipe,
    status: job.status,
    input: job.input,
    inputs: job.inputs ?? [job.input],
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
