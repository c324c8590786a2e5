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

// Case-sensitive (no `nocase`): the literal prefix and extension checks below rely on it.
const GLOB_OPTIONS = { dot: false } as const;

/** A path segment that every glob dialect reads literally. */
const LITERAL_SEGMENT = /^[A-Za-z0-9_\-. ]+$/;
/** A literal extension ending a glob: `…*.tif`. */
const LITERAL_EXT = /\.([A-Za-z0-9_-]+)$/;

/**
 * What any path a glob matches must look like, read off the glob's literal
 * parts: it equals `dir` or starts with `dir/`, and (unless it ends with a
 * slash) ends with `.ext`. Only conditions the glob cannot escape are taken:
 * a negated glob, `|` (picomatch's top-level alternation) or anything unusual
 * gives no condition at all. `literal` is set when the whole glob is plain text.
 */
interface GlobShape {
  dir: string;
  ext: string;
  literal: boolean;
}

function shapeOf(glob: string): GlobShape {
  if (glob.startsWith('!') || glob.includes('|')) return { dir: '', ext: '', literal: false };
  const segments = glob.split('/');
  const plain = (s: string) => LITERAL_SEGMENT.test(s) && s !== '.' && s !== '..';
  let n = 0;
  while (n < segments.length - 1 && plain(segments[n])) n++;
  const literal = n === segments.length - 1 && plain(segments[n]);
  const last = segments[segments.length - 1];
  const ext = LITERAL_EXT.exec(last)?.[1] ?? '';
  return { dir: segments.slice(0, n).join('/'), ext, literal };
}

/** The extension the index files a path under ('' for none): what follows the last dot of its last segment. */
function extOf(path: string): string {
  const dot = path.lastIndexOf('.');
  return dot > path.lastIndexOf('/') ? path.slice(dot + 1) : '';
}

/**
 * Compiled globs by text: every definition change recompiles every rule, and
 * most globs are the same as last time. Bounded: cleared when full.
 */
const compiledGlobs = new Map<string, PathTest>();
const COMPILED_GLOBS_MAX = 8192;

/** One glob's test: the cheap literal conditions first, micromatch only when they hold. */
function compileGlob(glob: string): PathTest {
  let test = compiledGlobs.get(glob);
  if (!test) {
    if (compiledGlobs.size >= COMPILED_GLOBS_MAX) compiledGlobs.clear();
    compiledGlobs.set(glob, (test = compileGlobNow(glob)));
  }
  return test;
}

function compileGlobNow(glob: string): PathTest {
  const { dir, ext, literal } = shapeOf(glob);
  if (literal) return (p) => p === glob;
  const test = micromatch.matcher(glob, GLOB_OPTIONS);
  if (!dir && !ext) return test;
  const dirSlash = `${dir}/`;
  const dotExt = `.${ext}`;
  return (p) =>
    (!dir || p.startsWith(dirSlash) || p === dir) && (!ext || p.endsWith(dotExt) || p.endsWith('/')) && test(p);
}

/** Compiles globs into one test. Empty lists match nothing. */
export function compileGlobs(globs: readonly string[]): PathTest {
  if (globs.length === 0) return () => false;
  const tests = globs.map(compileGlob);
  const any = tests.length === 1 ? tests[0] : (p: string) => tests.some((t) => t(p));
  // picomatch's `**` is built on `.`, which never matches a line break: a
  // file name holding one is matched with the break read as one ordinary character.
  return (p) => any(LINE_BREAK.test(p) ? p.replace(LINE_BREAKS, '\u0001') : p);
}

const LINE_BREAK = /[\n\r\u2028\u2029]/;
const LINE_BREAKS = /[\n\r\u2028\u2029]/g;

/** Compiles one rule's trigger. */
export function compileRule(rule: Rule): CompiledRule {
  const paths = compileGlobs(rule.pattern.trigger.paths);
  const ignore = compileGlobs(rule.pattern.trigger.ignore);
  return { rule, covers: (p) => paths(p) && !ignore(p) };
}

/**
 * Which rules a path can concern, by the literal directory and extension of
 * their globs: `dir → ext → rule positions` ('' for "any"). A path looks up
 * each of its leading directories (and itself) and tests only the rules found
 * there, in rule order, with their full globs: the index only ever skips rules
 * that could not match.
 */
interface RuleIndex {
  size: number;
  byDir: Map<string, Map<string, number[]>>;
}

const indexes = new WeakMap<readonly CompiledRule[], RuleIndex>();

function buildIndex(rules: readonly CompiledRule[]): RuleIndex {
  const byDir = new Map<string, Map<string, number[]>>();
  rules.forEach((c, i) => {
    for (const glob of c.rule.pattern.trigger.paths) {
      const { dir, ext } = shapeOf(glob);
      let byExt = byDir.get(dir);
      if (!byExt) byDir.set(dir, (byExt = new Map()));
      const list = byExt.get(ext);
      if (!list) byExt.set(ext, [i]);
      else if (list[list.length - 1] !== i) list.push(i);
    }
  });
  return { size: rules.length, byDir };
}

function indexOf(rules: readonly CompiledRule[]): RuleIndex {
  let index = indexes.get(rules);
  // Rebuilt if someone changed the array after compiling it.
  if (!index || index.size !== rules.length) indexes.set(rules, (index = buildIndex(rules)));
  return index;
}

/** Positions of the rules whose globs may match `path`, ascending; null when the path is not one the index can read. */
function candidates(index: RuleIndex, path: string): readonly number[] | null {
  if (path === '' || path.startsWith('/') || path.startsWith('./') || path.endsWith('/') || path.includes('\\')) return null;
  const ext = extOf(path);
  const lists: number[][] = [];
  const take = (byExt: Map<string, number[]> | undefined): void => {
    if (!byExt) return;
    const any = byExt.get('');
    if (any) lists.push(any);
    const exact = ext ? byExt.get(ext) : undefined;
    if (exact) lists.push(exact);
  };
  take(index.byDir.get(''));
  for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) take(index.byDir.get(path.slice(0, i)));
  take(index.byDir.get(path));
  if (lists.length <= 1) return lists[0] ?? [];
  const all = lists.flat().sort((a, b) => a - b);
  return all.filter((x, i) => i === 0 || all[i - 1] !== x);
}

/** Compiles rules for matching. */
export function compileRules(rules: readonly Rule[]): RuleSet {
  const compiled = rules.map(compileRule);
  indexes.set(compiled, buildIndex(compiled));
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
  const positions = candidates(indexOf(set.rules), event.path);
  if (positions === null) {
    for (const c of set.rules) if (triggers(c, event)) out.push(c.rule);
    return out;
  }
  for (const i of positions) {
    const c = set.rules[i];
    if (triggers(c, event)) out.push(c.rule);
  }
  return out;
}

/** Rules whose trigger covers `path` (any event kind), in rule order: what settling a path must consider. */
export function coveringRules(path: string, set: RuleSet): CompiledRule[] {
  const positions = candidates(indexOf(set.rules), path);
  if (positions === null) return set.rules.filter((c) => c.covers(path));
  const out: CompiledRule[] = [];
  for (const i of positions) if (set.rules[i].covers(path)) out.push(set.rules[i]);
  return out;
}

/** Would a file existing at `path` trigger this rule retroactively (MEOW rule 4)? */
export function triggersRetroactively(c: CompiledRule, path: string): boolean {
  return c.rule.pattern.trigger.events.includes('created') && c.covers(path);
}
