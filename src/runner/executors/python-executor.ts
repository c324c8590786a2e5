import { appendFile } from 'node:fs/promises';
import { writeSmall } from '../../core/quick-io.js';
import { delimiter, dirname, join } from 'node:path';
import type { RecipeKind } from '../../core/types.js';
import { processOutcome } from './outcome.js';
import type { Executor, ExecutorContext, ExecutorOutcome, Launch } from '../executor.js';
import { detectPython } from '../python-detect.js';
import { isPercentScript, parameterisePercentScript, parameteriseScript } from '../python-params.js';

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
    await writeSmall(script, text);
    await reportWarnings(ctx, warnings);
    const python = await detectPython(ctx.config, 'script');
    return { type: 'process', file: python, args: [script], env: pythonEnv(ctx), cwd: ctx.config.root };
  }

  finish(ctx: ExecutorContext, exitCode: number | null, stderrTail: string): Promise<ExecutorOutcome> {
    return processOutcome(ctx.jobDir, exitCode, stderrTail);
  }
}
