import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../core/errors.js';
import type { ExecutorOutcome } from '../executor.js';
import type { VarValue } from '../../core/types.js';

/** The file a recipe of any kind may write in its job dir to report a small JSON result. */
export const RESULT_FILE = 'meow_result.json';
/** How many stderr lines an error message quotes. */
const STDERR_LINES = 20;

/**
 * Reads `meow_result.json` from the job dir: the result, or null when the file
 * is absent; an error when it is not valid JSON.
 */
export async function readResult(jobDir: string): Promise<{ result: VarValue | null; error: string | null }> {
  let text: string;
  try {
    text = await readFile(join(jobDir, RESULT_FILE), 'utf8');
  } catch (err) {
    if (err && typeof err === 'object' && 'code' in err && err.code === 'ENOENT') return { result: null, error: null };
    return { result: null, error: `${RESULT_FILE}: cannot read it: ${errorMessage(err)}` };
  }
  try {
    return { result: JSON.parse(text) as VarValue, error: null };
  } catch (err) {
    return { result: null, error: `${RESULT_FILE} in the job directory is not valid JSON (${errorMessage(err)}); the recipe must write a single JSON value there` };
  }
}

/** The last non-empty lines of a stderr tail, at most `max`. */
export function stderrSummary(stderrTail: string, max = STDERR_LINES): string {
  return stderrTail
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .slice(-max)
    .join('\n');
}

/** `exit code N: <stderr>` for a process that did not succeed. */
export function exitError(exitCode: number | null, stderrTail: string): string {
  const head = exitCode === null ? 'killed by a signal (no exit code)' : `exit code ${exitCode}`;
  const tail = stderrSummary(stderrTail);
  return tail ? `${head}: ${tail}` : `${head} (stderr.log is empty)`;
}

/**
 * The outcome of a plain process run: success on exit 0 with the result file
 * read; otherwise the exit code and the end of stderr.
 */
export async function processOutcome(jobDir: string, exitCode: number | null, stderrTail: string): Promise<ExecutorOutcome> {
  const { result, error } = await readResult(jobDir);
  if (exitCode === 0) return { error, result };
  return { error: exitError(exitCode, stderrTail), result };
}

