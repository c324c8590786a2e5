import { join } from 'node:path';
import { processOutcome } from './outcome.js';
import { writeSmall } from '../../core/quick-io.js';
import type { Executor, ExecutorContext, ExecutorOutcome, Launch } from '../executor.js';
import type { RecipeKind, Variables } from '../../core/types.js';
import { MeowError } from '../../core/errors.js';
import { findNonFinite, nonFiniteMessage } from '../../core/recipe-values.js';
import { renderValue } from '../../core/placeholders.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Variables as environment entries: strings as they are, numbers as written
 * (every digit, `3.0` for a float), other values as JSON text.
 * `omit` names a set job's list variable: thousands of paths would pass
 * the kernel's limit on one environment string, so it arrives as `MEOW_INPUTS`.
 * @throws MeowError for a non-finite float, which text and JSON cannot carry.
 */
export function variablesEnv(variables: Variables, kind: RecipeKind, omit: string | null = null): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(variables)) {
    const bad = findNonFinite(v, `variables.${k}`);
    if (bad) throw new MeowError('MEOW_PATTERN_INVALID', `${bad.key}: ${nonFiniteMessage(kind, bad.text)}`);
    if (ENV_NAME.test(k) && k !== omit) env[k] = renderValue(v);
  }
  return env;
}

/** Bash scripts: variables arrive as environment variables. */
export class BashExecutor implements Executor {
  readonly kind = 'bash' as const;

  async prepare(ctx: ExecutorContext): Promise<Launch> {
    const copy = join(ctx.jobDir, 'recipe.sh');
    // The version the job's rule names, a copy of its own: what ran stays what ran, whatever is edited later.
    await writeSmall(copy, ctx.rule.recipe.source);
    return {
      type: 'process',
      file: 'bash',
      args: [copy],
      env: { ...variablesEnv(ctx.variables, 'bash', ctx.job.inputs ? ctx.rule.pattern.input : null), ...ctx.env },
      cwd: ctx.config.root,
    };
  }

  async finish(ctx: ExecutorContext, exitCode: number | null, stderrTail: string): Promise<ExecutorOutcome> {
    return processOutcome(ctx.jobDir, exitCode, stderrTail);
  }
}
