import { open, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { jobJson } from '../api/job-json.js';
import { stringifyExact } from '../core/exact-json.js';
import type { JobRecord, Variables } from '../core/types.js';
import { mkdirQuick, writeSmall } from '../core/quick-io.js';

export { jobJson };
export type { JobJson } from '../api/job-json.js';

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
 * Makes a job's directory. True when it is new, and so empty; false when it
 * was there already (an earlier attempt's, to be cleaned).
 */
export async function makeJobDir(dir: string): Promise<boolean> {
  try {
    await mkdirQuick(dir);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'ENOENT') throw err;
  }
  // The first job: its parent is made too.
  await mkdirQuick(dirname(dir), true);
  return makeJobDir(dir);
}

/**
 * Fills the job directory (made by {@link makeJobDir}) with the params.json
 * that `MEOW_PARAMS` names for process recipes (a JavaScript function gets
 * its variables directly). Creating a file is the dearest step of a small
 * job, so nothing else is written here: job.yaml follows when the attempt ends.
 */
export async function createJobDir(root: string, job: JobRecord, runtimeVariables: Variables, withParams: boolean): Promise<{ dir: string; params: string }> {
  const dir = join(root, job.jobDir);
  if (job.inputs) await writeSmall(join(dir, INPUTS_LIST), job.inputs.map((p) => `${join(root, p)}\0`).join(''));
  const params = join(dir, 'params.json');
  // Exact numbers are written digit for digit; inf and nan (which only Python recipes receive) as Python's json writes them.
  if (withParams) await writeSmall(params, `${stringifyExact(runtimeVariables, { indent: 2, nonFinite: 'tokens' })}\n`);
  return { dir, params };
}

/**
 * Writes the job's record as job.yaml when an attempt ends (the database
 * stays the source of truth), asynchronously: nothing waits for it. The
 * record is written as JSON, which every YAML reader reads, and which costs a
 * fraction of a YAML emitter.
 */
export async function writeJobYaml(dir: string, job: JobRecord): Promise<void> {
  await writeFile(join(dir, 'job.yaml'), `${stringifyExact(jobJson(job), { indent: 2, nonFinite: 'tokens' })}\n`);
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
