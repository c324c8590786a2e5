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
 * Another file taking the name a broken file's version holds is refused,
 * with its error added to `errors`.
 */
export function mergeRegistered(disk: DefinitionSet, errors: DefinitionError[], registered: DefinitionSet): DefinitionSet {
  const brokenFirst = new Set(errors.map((e) => e.file));
  // A name that a broken file's running version holds is not free for another file: that one is refused (reported in `errors`).
  const free = <T extends { name: string; file: string }>(now: T[], before: T[], what: string, key: string, code: string): T[] => {
    const held = new Map(before.filter((d) => brokenFirst.has(d.file)).map((d) => [d.name, d.file]));
    return now.filter((d) => {
      const holder = held.get(d.name);
      if (holder === undefined || holder === d.file) return true;
      errors.push({
        file: d.file,
        key,
        message: `the ${what} name "${d.name}" is held by ${holder}, which is broken now and keeps running its last good version; fix ${holder}, or rename this one`,
        code,
      });
      return false;
    });
  };
  const patterns = free(disk.patterns, registered.patterns, 'pattern', 'name', 'MEOW_PATTERN_INVALID');
  const recipes = free(disk.recipes, registered.recipes, 'recipe', '', 'MEOW_RECIPE_INVALID');
  const broken = new Set(errors.map((e) => e.file));
  const keep = <T extends { name: string; file: string }>(now: T[], before: T[]): T[] => {
    const names = new Set(now.map((d) => d.name));
    const kept = before.filter((d) => broken.has(d.file) && !names.has(d.name));
    return [...now, ...kept].sort((a, b) => a.name.localeCompare(b.name));
  };
  return { patterns: keep(patterns, registered.patterns), recipes: keep(recipes, registered.recipes) };
}

/** A rule's registration as the database remembers it. */
export interface Registration {
  version: string;
  epoch: number;
}

/**
 * Gives each rule of `after` its registration epoch: an unchanged rule (same
 * name and version as registered) keeps its epoch, so a restart or a rescan
 * computes the same job keys; an added or changed rule gets the next epoch of
 * its name — one past any it ever had, `last` remembering names since
 * removed — so registering an earlier version again (A → B → A, or a pattern
 * removed and restored) runs again, as MEOW rule 4 says.
 */
export function assignEpochs<R extends { name: string; version: string }>(
  registered: ReadonlyMap<string, Registration>,
  after: readonly R[],
  last: ReadonlyMap<string, number>,
): (R & { epoch: number })[] {
  return after.map((rule) => {
    const reg = registered.get(rule.name);
    if (reg && reg.version === rule.version) return { ...rule, epoch: reg.epoch };
    return { ...rule, epoch: Math.max(last.get(rule.name) ?? 0, reg?.epoch ?? 0) + 1 };
  });
}
