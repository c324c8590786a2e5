import micromatch from 'micromatch';
import type { FileEvent, Rule } from '../core/types.js';

type PathTest = (path: string) => boolean;

/** A rule with its globs compiled once. */
export interface CompiledRule {
  rule: Rule;
  /** True when the path is in the trigger's scope (paths minus ignore). */
  covers: PathTest;
}

/** Rules compiled for matching; build once per definition change, never per event. */
export interface RuleSet {
  rules: CompiledRule[];
  byName: Map<string, CompiledRule>;
}

const GLOB_OPTIONS = { dot: false } as const;

/** Compiles globs into one test. Empty lists match nothing. */
export function compileGlobs(globs: readonly string[]): PathTest {
  if (globs.length === 0) return () => false;
  const tests = globs.map((g) => micromatch.matcher(g, GLOB_OPTIONS));
  if (tests.length === 1) return tests[0];
  return (p) => tests.some((t) => t(p));
}

/** Compiles one rule's trigger. */
export function compileRule(rule: Rule): CompiledRule {
  const paths = compileGlobs(rule.pattern.trigger.paths);
  const ignore = compileGlobs(rule.pattern.trigger.ignore);
  return { rule, covers: (p) => paths(p) && !ignore(p) };
}

/** Compiles rules for matching. */
export function compileRules(rules: readonly Rule[]): RuleSet {
  const compiled = rules.map(compileRule);
  return { rules: compiled, byName: new Map(compiled.map((c) => [c.rule.name, c])) };
}

/**
 * Does this event trigger this rule? A `moved` event matches on its new path:
 * rules listening to `moved`, and rules listening to `created` when the file
 * moved into their scope from outside it (it is new to them).
 */
export function triggers(c: CompiledRule, event: FileEvent): boolean {
  const events = c.rule.pattern.trigger.events;
  if (!c.covers(event.path)) return false;
  if (event.kind !== 'moved') return events.includes(event.kind);
  if (events.includes('moved')) return true;
  return events.includes('created') && (event.oldPath === null || !c.covers(event.oldPath));
}

/** Every rule the event triggers, in rule order. */
export function matchEvent(event: FileEvent, set: RuleSet): Rule[] {
  const out: Rule[] = [];
  for (const c of set.rules) if (triggers(c, event)) out.push(c.rule);
  return out;
}

/** Would a file existing at `path` trigger this rule retroactively (MEOW rule 4)? */
export function triggersRetroactively(c: CompiledRule, path: string): boolean {
  return c.rule.pattern.trigger.events.includes('created') && c.covers(path);
}
