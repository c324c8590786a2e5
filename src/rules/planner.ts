import { compileRule, triggersRetroactively } from './matcher.js';
import { distinctPoints } from './job-key.js';
import { expandSweep } from './sweep.js';
import { fanInOf } from './collect-group.js';
import { groupExisting } from './collect-set.js';
import type { JobStatus, Rule } from '../core/types.js';

/** A job that a definition change may cancel. */
export interface ActiveJob {
  id: string;
  pattern: string;
  ruleVersion: string;
  status: JobStatus;
}

/** What one rule's change does. */
export interface RuleChange {
  name: string;
  change: 'added' | 'removed' | 'changed';
  before: Rule | null;
  after: Rule | null;
  /**
   * Jobs the new rule creates retroactively on existing files: files × its
   * distinct sweep points. Exact, since an added or changed rule has a new
   * registration epoch, so no earlier job shares a key with these.
   */
  triggers: number;
  /** Existing files it triggers on. */
  files: number;
  /** Queued and running jobs of the old rule that are cancelled. */
  cancels: string[];
  /** A fan-in rule: the complete sets (or batches) existing files make, and the groups left waiting. Null otherwise. */
  sets: { fire: number; open: number } | null;
}

/** The effect of moving from one set of rules to another (MEOW rules 3–6). */
export interface Plan {
  changes: RuleChange[];
  unchanged: string[];
}

/**
 * Plans a definition change: rules added (retroactive triggers), removed
 * (cancels) and changed (both: an update is a removal plus a registration).
 * A pure function of values; the engine applies exactly this plan. Rules of
 * `after` carry their registration epochs (registration.ts `assignEpochs`).
 */
export function planChange(
  before: readonly Rule[],
  after: readonly Rule[],
  files: readonly string[],
  active: readonly ActiveJob[],
): Plan {
  const old = new Map(before.map((r) => [r.name, r]));
  const next = new Map(after.map((r) => [r.name, r]));
  const names = [...new Set([...old.keys(), ...next.keys()])].sort();
  const changes: RuleChange[] = [];
  const unchanged: string[] = [];
  for (const name of names) {
    const b = old.get(name) ?? null;
    const a = next.get(name) ?? null;
    if (b && a && b.version === a.version) {
      unchanged.push(name);
      continue;
    }
    const change = !b ? 'added' : !a ? 'removed' : 'changed';
    const cancels = b ? active.filter((j) => j.pattern === name && j.ruleVersion !== a?.version).map((j) => j.id) : [];
    let count = 0;
    let sets: RuleChange['sets'] = null;
    if (a && fanInOf(a.pattern)) {
      const found = groupExisting(a, new Map(files.map((f) => [f, { version: '' }])), 0);
      sets = { fire: found.fire.length, open: found.open.length };
      count = found.files;
    } else if (a) {
      const c = compileRule(a);
      for (const f of files) if (triggersRetroactively(c, f)) count++;
    }
    const points = a ? distinctPoints(expandSweep(a.pattern.sweep)).length : 0;
    const jobs = sets ? sets.fire : count;
    changes.push({ name, change, before: b, after: a, triggers: jobs * points, files: count, cancels, sets });
  }
  return { changes, unchanged };
}

/**
 * The recipe whose removal removed the rule, when only the recipe went (the
 * pattern, still among `patterns`, waits for it); null for any other change.
 */
export function removedRecipe(c: RuleChange, patterns: readonly { name: string }[]): string | null {
  return c.change === 'removed' && c.before && patterns.some((p) => p.name === c.name) ? c.before.recipe.name : null;
}

/** Why a rule's jobs were cancelled, in words (`patterns`: the definitions now in force). */
export function changeReason(c: RuleChange, patterns: readonly { name: string }[]): string {
  const recipe = removedRecipe(c, patterns);
  return recipe !== null ? `the recipe "${recipe}" of pattern "${c.name}" was removed` : `pattern "${c.name}" was ${c.change}`;
}
