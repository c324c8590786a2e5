import { createHash } from 'node:crypto';
import type { ParsedPattern, ParsedRecipe, Rule } from '../core/types.js';

/** The result of linking: rules for linked patterns, and patterns still waiting for their recipe. */
export interface Linked {
  rules: Rule[];
  waiting: ParsedPattern[];
}

/**
 * Links every pattern with the recipe it names (MEOW rule 3). A pattern whose
 * recipe is absent waits; it links the moment the recipe is registered.
 */
export function linkRules(patterns: readonly ParsedPattern[], recipes: readonly ParsedRecipe[]): Linked {
  const byName = new Map(recipes.map((r) => [r.name, r]));
  const rules: Rule[] = [];
  const waiting: ParsedPattern[] = [];
  for (const pattern of patterns) {
    const recipe = byName.get(pattern.recipe);
    if (recipe) rules.push({ name: pattern.name, version: ruleVersion(pattern, recipe), pattern, recipe });
    else waiting.push(pattern);
  }
  return { rules, waiting };
}

/** A rule's version: editing the pattern or its recipe gives a new one. */
export function ruleVersion(pattern: ParsedPattern, recipe: ParsedRecipe): string {
  // The pattern name is part of the version so two identical files under
  // different names are distinct rules.
  return createHash('sha256').update(`${pattern.name}\0${pattern.hash}\0${recipe.hash}`).digest('hex').slice(0, 16);
}
