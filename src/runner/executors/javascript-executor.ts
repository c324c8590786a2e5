import { join } from 'node:path';
import type { RecipeKind } from '../../core/types.js';
import type { Executor, ExecutorContext, ExecutorOutcome, Launch } from '../executor.js';

/**
 * Runs `*.js` / `*.mjs` recipes: `export default async function (vars, ctx)`,
 * called in a worker thread of the backend's `JsPool`. Nothing is copied
 * into the job dir: the module is imported in place (by content hash, so an
 * edited recipe is imported afresh) so that its relative imports keep working.
 */
export class JavascriptExecutor implements Executor {
  readonly kind: RecipeKind = 'javascript';

  prepare(ctx: ExecutorContext): Promise<Launch> {
    return Promise.resolve({
      type: 'function',
      modulePath: join(ctx.config.root, ctx.rule.recipe.file),
      variables: ctx.variables,
    });
  }

  /** Function launches report their result directly; there is nothing to read. */
  finish(): Promise<ExecutorOutcome> {
    return Promise.resolve({ error: null, result: null });
  }
}
