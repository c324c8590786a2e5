import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import type { RecipeKind, VarValue } from '../../core/types.js';
import { errorMessage } from '../../core/errors.js';
import type { Executor, ExecutorContext, ExecutorOutcome, Launch } from '../executor.js';
import { detectPython } from '../python-detect.js';
import { isPercentScript, parameterisePercentScript, parameteriseScript } from '../python-params.js';

/** The file a recipe of any kind may write in its job dir to report a small JSON result. */
export const RESULT_FILE = 'meow_result.json';
/** How many stderr lines an error message quotes. */
const STDERR_LINES = 20;

/**
 * Appends parameterisation warnings to the job's stderr.log, where `meow job
 * logs` shows them. The backend must open stderr.log for appending.
 */
export async function reportWarnings(ctx: ExecutorContext, warnings: string[]): Promise<void> {
  if (warnings.length === 0) return;
  const lines = warnings.map((w) => `meowflow: warning: ${ctx.rule.recipe.file}: ${w}\n`).join('');
  await appendFile(join(ctx.jobDir, 'stderr.log'), lines);
}

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

/**
 * Environment for a Python process: the job's, unbuffered output so the logs
 * follow the run, and the recipe's own folder on PYTHONPATH so helper modules
 * beside the recipe import as they would if it ran in place.
 */
export function pythonEnv(ctx: ExecutorContext): Record<string, string> {
  const recipeDir = dirname(join(ctx.config.root, ctx.rule.recipe.file));
  const inherited = ctx.env.PYTHONPATH ?? process.env.PYTHONPATH;
  return {
    ...ctx.env,
    PYTHONUNBUFFERED: '1',
    PYTHONPATH: inherited ? `${recipeDir}${delimiter}${inherited}` : recipeDir,
  };
}

/**
 * Runs `*.py` recipes: the script, with pattern variables written over its
 * defaults (or injected after the `parameters` cell of a jupytext percent
 * script), is saved as `recipe.py` in the job dir and run by the configured
 * interpreter with the workspace as working directory.
 */
export class PythonExecutor implements Executor {
  readonly kind: RecipeKind = 'python';

  async prepare(ctx: ExecutorContext): Promise<Launch> {
    const source = ctx.rule.recipe.source;
    const { text, warnings } = isPercentScript(source)
      ? parameterisePercentScript(source, ctx.variables)
      : parameteriseScript(source, ctx.variables);
    const script = join(ctx.jobDir, 'recipe.py');
    await writeFile(script, text);
    await reportWarnings(ctx, warnings);
    const python = await detectPython(ctx.config, 'script');
    return { type: 'process', file: python, args: [script], env: pythonEnv(ctx), cwd: ctx.config.root };
  }

  finish(ctx: ExecutorContext, exitCode: number | null, stderrTail: string): Promise<ExecutorOutcome> {
    return processOutcome(ctx.jobDir, exitCode, stderrTail);
  }
}
