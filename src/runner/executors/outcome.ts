import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { VarValue } from '../../core/types.js';

/** The result a recipe reported in `meow_result.json`, or null. Throws with a clear message on bad JSON. */
export async function readResult(jobDir: string): Promise<VarValue | null> {
  let text: string;
  try {
    text = await readFile(join(jobDir, 'meow_result.json'), 'utf8');
  } catch {
    return null;
  }
  try {
    return JSON.parse(text) as VarValue;
  } catch (err) {
    throw new Error(`meow_result.json in the job directory is not valid JSON: ${(err as Error).message}`);
  }
}

/** The error of a script that exited non-zero: its exit code and the end of its stderr. */
export function scriptFailure(exitCode: number | null, stderrTail: string): string {
  const lines = stderrTail.split('\n').filter((l) => l.trim() !== '');
  const tail = lines.slice(-20).join('\n');
  const head = exitCode === null ? 'the process was killed' : `exit code ${exitCode}`;
  return tail ? `${head}: ${tail}` : head;
}
