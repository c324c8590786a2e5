/**
 * The shared vocabulary of the definition parsers (patterns, recipes,
 * meow.yaml): YAML loading with line/column errors, and field readers that
 * either return a normalised value or record an error that says what was
 * wrong and what is allowed. Every reader returns `undefined` after recording
 * an error, so callers fall back to a default and keep collecting errors.
 */
import { LineCounter, isScalar, parseDocument, visit } from 'yaml';
import { ExactNumber, exactFromParsed } from './exact-number.js';
import type { Document, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { describe, parseDuration, parseSize } from './durations.js';
import type { ErrorCode } from './errors.js';
import { IDENTIFIER_RE, findMalformedPlaceholders } from './placeholders.js';
import { closest, didYouMean } from './suggest.js';
import type { DefinitionError, VarValue } from './types.js';

/** What pattern, recipe and backend names look like. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Says what a valid name looks like; appended to name errors. */
export const NAME_RULE = 'names start with a letter or digit and use only letters, digits, "_", "." and "-"';

/** A YAML mapping, as plain JS. */
export type Mapping = Record<string, unknown>;

/** True for a plain mapping (not a list, not null). */
export function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `prefix.key`, or `key` at the top level. */
export function joinKey(prefix: string, key: string | number): string {
  if (typeof key === 'number') return `${prefix}[${key}]`;
  return prefix === '' ? key : `${prefix}.${key}`;
}

/** A list of words for messages: `a, b or c`. */
export function listWords(words: readonly string[], conjunction = 'or'): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} ${conjunction} ${words[words.length - 1]}`;
}

/** Collects the errors of one definition file and reads its fields. */
export class Fields {
  readonly errors: DefinitionError[] = [];

  constructor(
    readonly file: string,
    readonly code: ErrorCode,
  ) {}

  /** Records an error at a dotted key ('' for the whole file). */
  error(key: string, message: string): undefined {
    this.errors.push({ file: this.file, key, message, code: this.code });
    return undefined;
  }

  /**
   * Parses YAML text into plain JS values. Every syntax error is recorded
   * with its line and column; the result is then `{ ok: false }`. Unquoted
   * globs and placeholders that YAML reads as something else (`*.txt` is an
   * alias, `{stem}` a mapping) are errors too, with the quoting that fixes them.
   */
  loadYaml(text: string): { ok: true; value: unknown } | { ok: false } {
    const lineCounter = new LineCounter();
    const at = (offset: number): string => {
      const { line, col } = lineCounter.linePos(offset);
      return `line ${line}, column ${col}`;
    };
    const doc = parseDocument(text, { prettyErrors: false, lineCounter, intAsBigInt: true });
    for (const e of doc.errors) {
      const detail =
        e.code === 'MULTIPLE_DOCS'
          ? 'a second YAML document ("---") starts here; a definition file holds exactly one'
          : e.code === 'DUPLICATE_KEY'
            ? 'this key appears twice in the same mapping; keep one'
            : e.code === 'BAD_SCALAR_START'
              ? `${e.message}; quote the value`
              : `${e.message}${quoteHint(text, lineCounter, e.pos[0])}`;
      this.error('', `invalid YAML at ${at(e.pos[0])}: ${detail}`);
    }
    if (doc.errors.length > 0) return { ok: false };
    for (const m of misreadValues(doc, text)) this.error('', `invalid YAML at ${at(m.offset)}: ${m.detail}`);
    if (this.errors.length > 0) return { ok: false };
    keepNumbersExact(doc);
    try {
      return { ok: true, value: doc.toJS() as unknown };
    } catch (err) {
      // toJS throws on alias bombs (unresolved aliases were reported above).
      this.error('', `invalid YAML: ${err instanceof Error ? err.message : String(err)}`);
      return { ok: false };
    }
  }

  /**
   * Records an error for every key of `obj` that is not in `allowed`, with a
   * suggestion. Returns the allowed keys suggested, so that a caller need not
   * also report them missing: `triger:` is one mistake, not two.
   */
  checkKeys(prefix: string, obj: Mapping, allowed: readonly string[], what: string): Set<string> {
    const suggested = new Set<string>();
    for (const key of Object.keys(obj)) {
      if (allowed.includes(key)) continue;
      const match = closest(key, allowed);
      if (match !== null) suggested.add(match);
      const hint = match === null ? '' : ` (did you mean "${match}"?)`;
      this.error(joinKey(prefix, key), `unknown key "${key}"${hint}; ${what} allows: ${allowed.join(', ')}`);
    }
    return suggested;
  }

  /** A mapping, or an error naming what it should hold. */
  mapping(key: string, value: unknown, expected: string): Mapping | undefined {
    if (isMapping(value)) return value;
    // `paths:"a"` is one string to YAML: a key needs a space after its colon.
    const glued = typeof value === 'string' ? /^([A-Za-z_][\w-]*):([^\s:/].*)$/.exec(value) : null;
    const space = glued ? `; a key needs a space after its colon: write ${glued[1]}: ${glued[2]}` : '';
    return this.error(key, `expected ${expected}, got ${describe(value)}${space}`);
  }

  /** A non-empty string. */
  string(key: string, value: unknown, expected = 'a string'): string | undefined {
    if (typeof value === 'string' && value.trim() !== '') return value;
    if (typeof value === 'string') return this.error(key, `expected ${expected}, got an empty string`);
    return this.error(key, `expected ${expected}, got ${describe(value)}`);
  }

  /** A pattern, recipe or backend name. */
  name(key: string, value: unknown, what: string): string | undefined {
    const s = this.string(key, value, `a ${what} name (a string)`);
    if (s === undefined) return undefined;
    if (NAME_RE.test(s)) return s;
    return this.error(key, `"${s}" is not a valid ${what} name; ${NAME_RULE}`);
  }

  /** A variable name: letters, digits and `_`, not starting with a digit. */
  identifier(key: string, value: unknown): string | undefined {
    const s = this.string(key, value, 'a variable name (a string)');
    if (s === undefined) return undefined;
    if (IDENTIFIER_RE.test(s)) return s;
    return this.error(key, `"${s}" is not a valid variable name; use letters, digits and "_", not starting with a digit`);
  }

  /** A whole number ≥ `min`. */
  int(key: string, value: unknown, min: number): number | undefined {
    value = plainFloat(value);
    if (typeof value === 'number' && Number.isInteger(value) && value >= min) return value;
    const expected = min === 1 ? 'a positive whole number' : `a whole number of at least ${min}`;
    // `retries: "3"`: the number was quoted, so YAML kept it as text.
    const unquote = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) && Number(value) >= min ? `; write the number without quotes: ${key.split('.').pop()}: ${value.trim()}` : '';
    return this.error(key, `expected ${expected}, got ${describe(value)}${unquote}`);
  }

  /** `true` or `false`. */
  boolean(key: string, value: unknown): boolean | undefined {
    if (typeof value === 'boolean') return value;
    return this.error(key, `expected true or false, got ${describe(value)}`);
  }

  /** One of a closed set of words. */
  oneOf<T extends string>(key: string, value: unknown, allowed: readonly T[]): T | undefined {
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    const hint = typeof value === 'string' ? (didYouMean(value, allowed) ?? '') : '';
    return this.error(key, `expected one of ${listWords(allowed)}, got ${describe(value)}${hint}`);
  }

  /** A duration in milliseconds (see parseDuration). */
  duration(key: string, value: unknown): number | undefined {
    value = plainFloat(value);
    const ms = parseDuration(value);
    return typeof ms === 'number' ? ms : this.error(key, ms);
  }

  /** A size in bytes (see parseSize). */
  size(key: string, value: unknown): number | undefined {
    value = plainFloat(value);
    const bytes = parseSize(value);
    return typeof bytes === 'number' ? bytes : this.error(key, bytes);
  }

  /** Records an error for each brace group that looks like a mistyped placeholder; true when there is none. */
  placeholderSyntax(key: string, template: string): boolean {
    const bad = findMalformedPlaceholders(template);
    for (const b of bad) {
      this.error(
        key,
        `"${b}" is not a valid placeholder; placeholder names use letters, digits and "_" and do not start with a digit ` +
          '(write "{{" and "}}" for literal braces)',
      );
    }
    return bad.length === 0;
  }

  /**
   * A glob or a list of globs, relative to the workspace; a leading `./` is
   * dropped so the glob matches workspace-relative paths.
   */
  globs(key: string, value: unknown, opts: { nonEmpty: boolean }): string[] | undefined {
    const items = typeof value === 'string' ? [value] : Array.isArray(value) ? (value as unknown[]) : null;
    if (items === null) return this.error(key, `expected a glob or a list of globs, got ${describe(value)}`);
    if (items.length === 0 && opts.nonEmpty) return this.error(key, 'expected a glob or a list of globs, got an empty list');
    const globs: string[] = [];
    let ok = true;
    items.forEach((item, i) => {
      const itemKey = typeof value === 'string' ? key : joinKey(key, i);
      const glob = this.glob(itemKey, item);
      if (glob === undefined) ok = false;
      else globs.push(glob);
    });
    return ok ? globs : undefined;
  }

  private glob(key: string, value: unknown): string | undefined {
    const s = this.string(key, value, 'a glob (a string)');
    if (s === undefined) return undefined;
    if (s.startsWith('/') || s.startsWith('~') || /^[A-Za-z]:[\\/]/.test(s)) {
      return this.error(
        key,
        `"${s}" is an absolute path, so it can never match: globs match paths relative to the workspace; write the glob from the workspace root, e.g. "data/*.txt"`,
      );
    }
    if (s.split(/[\\/]/).includes('..')) {
      return this.error(
        key,
        `"${s}" uses "..", so it can never match: only files inside the workspace are watched; write the glob from the workspace root, e.g. "data/*.txt", and keep the data inside the workspace`,
      );
    }
    return s.replace(/^(\.\/)+/, '');
  }
}

/**
 * Values YAML parses without complaint but that mean something else than was
 * written: `*.txt` (an alias to an anchor that does not exist) and `{stem}`
 * (a flow mapping whose keys have no values). Both are unquoted globs or
 * placeholders; the fix is to quote them.
 */
/** The only tags a definition may write: the ones that change nothing. */
const KEPT_TAGS = new Set(['tag:yaml.org,2002:str', 'tag:yaml.org,2002:map', 'tag:yaml.org,2002:seq']);

function misreadValues(doc: Document, text: string): { offset: number; detail: string }[] {
  const found: { offset: number; detail: string }[] = [];
  // An explicit tag other than !!str, !!map or !!seq makes a value no definition holds (bytes, a date, a set),
  // or one YAML reads another way than it looks: refused, naming the tag.
  const tagged = (node: Scalar | YAMLMap | YAMLSeq): void => {
    if (!node.tag || KEPT_TAGS.has(node.tag) || !node.range) return;
    const tag = node.tag.replace(/^tag:yaml\.org,2002:/, '!!');
    const written = text.slice(node.range[0], node.range[1]).trimEnd();
    found.push({
      offset: node.range[0],
      detail: `${tag}: tagged values are not supported (a value is a string, number, boolean, null, list or mapping); remove the tag${isScalar(node) ? `, or quote the value: "${written.replace(/^!\S*\s*/, '')}"` : ''}`,
    });
  };
  visit(doc, {
    Scalar(_, node) {
      tagged(node);
    },
    Seq(_, node) {
      tagged(node);
    },
    Alias(_, node) {
      if (node.resolve(doc) !== undefined || !node.range) return;
      const written = text.slice(node.range[0], node.range[1]);
      found.push({
        offset: node.range[0],
        detail: `${written} is read as a YAML alias (a reference to an "&anchor"), and there is no such anchor; quote the value: "${written}"`,
      });
    },
    Map(_, node: YAMLMap) {
      tagged(node);
      const placeholderLike = (item: YAMLMap['items'][number]): boolean =>
        item.value === null && isScalar(item.key) && typeof item.key.value === 'string' && IDENTIFIER_RE.test(item.key.value);
      if (!node.flow || !node.range || node.items.length === 0 || !node.items.every(placeholderLike)) return;
      const written = text.slice(node.range[0], node.range[1]).trimEnd();
      found.push({
        offset: node.range[0],
        detail: `${written} is read as a YAML mapping, not as text; if it is text (a placeholder), quote it: "${written}"`,
      });
    },
  });
  return found;
}

/**
 * A hint for a YAML error on a line where an unquoted value starts with a
 * placeholder (`out: {stem}.npy`): YAML reads the `{…}` as a mapping.
 */
function quoteHint(text: string, lineCounter: LineCounter, offset: number): string {
  const { line } = lineCounter.linePos(offset);
  const start = lineCounter.lineStarts[line - 1] ?? 0;
  const end = text.indexOf('\n', start);
  const lineText = text.slice(start, end === -1 ? text.length : end);
  const m = /(?:^|:\s|-\s|[[,]\s*)\s*(\{[A-Za-z_][A-Za-z0-9_]*\}[^\s,\]}]*)/.exec(lineText);
  if (!m) return '';
  return `; a value that starts with "{" is read as a YAML mapping: quote it, e.g. "${m[1]}"`;
}

/**
 * A finite float written with a point (`2.0`) as a plain number, for the
 * settings where int and float mean the same (counts, durations, sizes).
 */
export function plainFloat(value: unknown): unknown {
  return value instanceof ExactNumber && value.kind === 'float' && value.finite ? value.toNumber() : value;
}

/**
 * Integers are read as bigints (so no digit is lost) and floats as doubles;
 * each number scalar then becomes a plain number where that is exact, and an
 * ExactNumber where a double would change it (`1733322222123456789`, `3.0`, `.inf`).
 */
function keepNumbersExact(doc: Document): void {
  visit(doc, {
    Scalar(_, node) {
      // With intAsBigInt, every int of the core schema is a bigint: a number here is a float.
      if (typeof node.value === 'bigint') node.value = exactFromParsed(node.value, false);
      else if (typeof node.value === 'number') node.value = exactFromParsed(node.value, true);
    },
  });
}

/** Narrows a parsed YAML value to a VarValue (YAML's JSON-compatible values). */
export function isVarValue(value: unknown): value is VarValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || value instanceof ExactNumber) return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isVarValue);
  return isMapping(value) && Object.values(value).every(isVarValue);
}
