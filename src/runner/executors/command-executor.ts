import { isAbsolute, join } from 'node:path';
import { processOutcome } from './outcome.js';
import { variablesEnv } from './bash-executor.js';
import { expandPlaceholders } from '../../core/placeholders.js';
import type { Executor, ExecutorContext, ExecutorOutcome, Launch } from '../executor.js';

/**
 * Command recipes: `command: [prog, arg, "{placeholder}"]`. Placeholders are
 * expanded per argv element, so a file name is always exactly one argument and
 * never reaches a shell. `script` + `shell: bash` runs a body the user wrote.
 */
export class CommandExecutor implements Executor {
  readonly kind = 'command' as const;

  async prepare(ctx: ExecutorContext): Promise<Launch> {
    const spec = ctx.rule.recipe.command;
    if (!spec) throw new Error(`${ctx.rule.recipe.file}: not a command recipe`);
    const values = ctx.placeholders;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(spec.env)) env[k] = expandPlaceholders(v, values);
    const cwd = spec.cwd ? expandPlaceholders(spec.cwd, values) : '.';
    const base = { env: { ...variablesEnv(ctx.variables, 'command', ctx.job.inputs ? ctx.rule.pattern.input : null), ...env, ...ctx.env }, cwd: isAbsolute(cwd) ? cwd : join(ctx.config.root, cwd) };
    if (spec.script !== null) {
      // The user wrote a script body for bash; variables reach it as environment variables only.
      return { type: 'process', file: 'bash', args: ['-c', spec.script, ctx.rule.recipe.name], ...base };
    }
    // An element that is exactly the list variable of a set job ("{input_files}") becomes one argument per file.
    const list = ctx.job.inputs ? ctx.variables[ctx.rule.pattern.input] : null;
    const whole = `{${ctx.rule.pattern.input}}`;
    const argv = (spec.command ?? []).flatMap((a) => (a === whole && Array.isArray(list) ? list.map(String) : [expandPlaceholders(a, values)]));
    return { type: 'process', file: argv[0], args: argv.slice(1), ...base };
  }

  async finish(ctx: ExecutorContext, exitCode: number | null, stderrTail: string): Promise<ExecutorOutcome> {
    return processOutcome(ctx.jobDir, exitCode, stderrTail);
  }
}
