/**
 * Which values each recipe kind can carry. Every kind carries exact ints of
 * any size and floats written `3.0`; the non-finite floats (`.inf`, `-.inf`,
 * `.nan`) reach Python and notebook recipes as `float('inf')`/`float('nan')`
 * and JavaScript recipes as Infinity/NaN, but not bash or command recipes:
 * those receive their variables as text and in MEOW_PARAMS, a JSON file,
 * and JSON has no spelling for them (jq and most readers reject `NaN`).
 */
import { ExactNumber } from './exact-number.js';
import type { RecipeKind, SweepSpec, VarValue } from './types.js';

const TEXT_KINDS: readonly RecipeKind[] = ['bash', 'command'];

/** The first non-finite float inside a value, with its key path below `key`, or null. */
export function findNonFinite(value: VarValue, key: string): { key: string; text: string } | null {
  if (value instanceof ExactNumber) return value.finite ? null : { key, text: value.text };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNonFinite(value[i], `${key}[${i}]`);
      if (found) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const found = findNonFinite(v, `${key}.${k}`);
      if (found) return found;
    }
  }
  return null;
}

/** Why a recipe of `kind` cannot receive the non-finite float `text`, with the fix. */
export function nonFiniteMessage(kind: RecipeKind, text: string): string {
  return (
    `${text} cannot reach a ${kind} recipe: it receives variables as text and in MEOW_PARAMS (JSON), which has no spelling for inf or nan; ` +
    `write the value as a string (e.g. "${text}" in quotes) and convert it in the recipe, or use a Python, notebook or JavaScript recipe`
  );
}

/**
 * The variables and sweep values of a pattern that a recipe of `kind` cannot
 * receive, as (key, message) pairs; empty for kinds that carry every value.
 */
export function uncarriedValues(kind: RecipeKind, variables: Record<string, VarValue>, sweep: Record<string, SweepSpec>): { key: string; message: string }[] {
  if (!TEXT_KINDS.includes(kind)) return [];
  const out: { key: string; message: string }[] = [];
  const check = (value: VarValue, key: string): void => {
    const found = findNonFinite(value, key);
    if (found) out.push({ key: found.key, message: nonFiniteMessage(kind, found.text) });
  };
  for (const [k, v] of Object.entries(variables)) check(v, `variables.${k}`);
  for (const [k, spec] of Object.entries(sweep)) if (Array.isArray(spec)) check(spec, `sweep.${k}`);
  return out;
}

/** Whether a recipe of `kind` can receive non-finite floats. */
export function carriesNonFinite(kind: RecipeKind): boolean {
  return !TEXT_KINDS.includes(kind);
}
