import type { DefinitionError, ParsedPattern, ParsedRecipe } from '../core/types.js';

/** Definitions as read from disk or from the registry. */
export interface DefinitionSet {
  patterns: ParsedPattern[];
  recipes: ParsedRecipe[];
}

/**
 * What to register: the valid definitions on disk, plus the registered
 * version of any definition whose file is broken now — a bad edit never
 * stops a running workflow; it is reported and the previous version stays.
 */
export function mergeRegistered(disk: DefinitionSet, errors: readonly DefinitionError[], registered: DefinitionSet): DefinitionSet {
  const broken = new Set(errors.map((e) => e.file));
  const keep = <T extends { name: string; file: string }>(now: T[], before: T[]): T[] => {
    const names = new Set(now.map((d) => d.name));
    const kept = before.filter((d) => broken.has(d.file) && !names.has(d.name));
    return [...now, ...kept].sort((a, b) => a.name.localeCompare(b.name));
  };
  return { patterns: keep(disk.patterns, registered.patterns), recipes: keep(disk.recipes, registered.recipes) };
}
