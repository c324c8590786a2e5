import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tailFile } from '../runner/job-dir.js';
import type { JobRecord } from '../core/types.js';

/**
 * How far a running job has come, read from its logs: the notebook runner
 * (runtime/nb_runner.py) writes `[meowflow] cell N done (k/n code cells, …)`
 * to stdout after each cell; any job's latest output line is the last
 * non-empty line of the log written to last.
 */
export interface JobProgressJson {
  id: string;
  /** Code cells done, of the notebook's total; null when the job reports none. */
  cells_done: number | null;
  cells_total: number | null;
  /** The latest non-empty line of stdout.log or stderr.log (whichever was written last), the runner's cell reports left out; null when there is none. */
  last_line: string | null;
}

const CELL_DONE = /^\[meowflow\] cell \S+ done \((\d+)\/(\d+) code cells/;
/** The runner's per-cell reports: the cell count says as much, the line before says more. */
const RUNNER_REPORT = /^\[meowflow\] (cell \S+|injected-parameters cell) done \(/;
/** Enough of a log's end for the last line and the last cell report. */
const TAIL_BYTES = 16 * 1024;

function lastLine(text: string): string | null {
  const lines = text.replace(/\r/g, '').split('\n');
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i].trim() !== '' && !RUNNER_REPORT.test(lines[i])) return lines[i].trimEnd();
  return null;
}

async function mtime(path: string): Promise<number> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return -1;
  }
}

/** Reads a job's progress from the ends of its logs under the workspace `root`. */
export async function jobProgress(root: string, job: JobRecord): Promise<JobProgressJson> {
  const dir = join(root, job.jobDir);
  const [out, err, outAt, errAt] = await Promise.all([
    tailFile(join(dir, 'stdout.log'), TAIL_BYTES),
    tailFile(join(dir, 'stderr.log'), TAIL_BYTES),
    mtime(join(dir, 'stdout.log')),
    mtime(join(dir, 'stderr.log')),
  ]);
  let done: number | null = null;
  let total: number | null = null;
  const lines = out.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = CELL_DONE.exec(lines[i]);
    if (m) {
      done = Number(m[1]);
      total = Number(m[2]);
      break;
    }
  }
  const outLast = lastLine(out);
  const errLast = lastLine(err);
  const last = errLast !== null && (outLast === null || errAt > outAt) ? errLast : outLast;
  return { id: job.id, cells_done: done, cells_total: total, last_line: last };
}
