import { linkRules } from '../rules/linker.js';
import type { ParsedPattern, ParsedRecipe } from '../core/types.js';
import type { Plan } from '../rules/planner.js';
import { estimateCascade, type CascadeEstimate } from '../rules/cascade.js';

/**
 * The stable JSON shapes shared by the CLI's `--json` output and the control
 * socket (DESIGN.md, docs/cli.md). Jobs: `jobJson` in runner/job-dir.ts.
 */

/** `meow patterns --json`: `[{name, recipe, file, linked, paths, events}]`. */
export function patternsJson(patterns: readonly ParsedPattern[], recipes: readonly ParsedRecipe[], paused: ReadonlySet<string> = new Set()) {
  const linked = new Set(linkRules(patterns, recipes).rules.map((r) => r.name));
  return patterns.map((p) => ({
    name: p.name,
    recipe: p.recipe,
    file: p.file,
    linked: linked.has(p.name),
    paths: p.trigger.paths,
    events: p.trigger.events,
    paused: paused.has(p.name),
  }));
}

/** `meow recipes --json`: `[{name, kind, file}]`. */
export function recipesJson(recipes: readonly ParsedRecipe[]) {
  return recipes.map((r) => ({ name: r.name, kind: r.kind, file: r.file }));
}

/**
 * `meow plan --json`: one entry per changed rule; with `after` (the patterns
 * in force once the plan is applied), also `cascade`, the estimated jobs
 * that follow downstream through the emergent graph.
 */
export function planJson(plan: Plan, after?: readonly ParsedPattern[]) {
  const cascade: CascadeEstimate | undefined = after ? estimateCascade(plan, after) : undefined;
  return {
    changes: plan.changes.map((c) => ({
      pattern: c.name,
      change: c.change,
      recipe: c.after?.recipe.name ?? c.before?.recipe.name ?? null,
      files: c.files,
      triggers: c.triggers,
      cancels: c.cancels.length,
      sets: c.sets,
      cancelled_jobs: c.cancels,
    })),
    unchanged: plan.unchanged,
    ...(cascade ? { cascade } : {}),
  };
}
