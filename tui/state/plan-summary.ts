import type { PlanJson } from '../api/shapes.js';

/** Jobs a plan triggers and cancels, summed over its changes. */
export function planTotals(plan: PlanJson): { triggers: number; cancels: number } {
  let triggers = 0;
  let cancels = 0;
  for (const c of plan.changes) {
    triggers += c.triggers;
    cancels += c.cancels;
  }
  return { triggers, cancels };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "this edit triggers 412 jobs and cancels 3 queued or running". */
export function planSentence(plan: PlanJson, what = 'this edit'): string {
  const t = planTotals(plan);
  if (plan.changes.length === 0) return `${what} changes no rule: nothing is triggered or cancelled`;
  return `${what} triggers ${plural(t.triggers, 'job')} and cancels ${t.cancels} queued or running`;
}
