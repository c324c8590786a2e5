/**
 * `{placeholder}` templates in pattern variables, outputs and command recipes.
 *
 * Syntax: `{name}` where name is an identifier is a placeholder; `{{` and `}}`
 * are literal braces. Any other brace is literal too, so glob braces such as
 * `data/{a,b}/*.txt` or `{1..3}` pass through untouched.
 */
import path from 'node:path';
import { MeowError } from './errors.js';
import { stringifyExact } from './exact-json.js';
import { ExactNumber, floatText } from './exact-number.js';
import type { VarValue } from './types.js';

/** Placeholders every job provides, besides the pattern's variables and sweep names. */
export const BUILTIN_PLACEHOLDERS = [
  'path',
  'abspath',
  'dir',
  'name',
  'stem',
  'ext',
  'event',
  'job_id',
  'job_dir',
  'pattern',
  'recipe',
  'workspace',
] as const;
/** The name of a built-in placeholder. */
export type BuiltinPlaceholder = (typeof BUILTIN_PLACEHOLDERS)[number];

/** What a placeholder name (and a variable name) looks like. */
export const IDENTIFIER_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Token = { literal: string } | { name: string } | { env: string };

/** The key under which `placeholderValues` holds the value of `{env:NAME}`. */
export function envKey(name: string): string {
  return `env:${name}`;
}

// `{{`, `}}`, an environment placeholder, a placeholder, or one ordinary character run.
const TOKEN_RE = /\{\{|\}\}|\{env:([A-Za-z_][A-Za-z0-9_]*)\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[^{}]+|[{}]/g;

function tokenize(template: string): Token[] {
  const tokens: Token[] = [];
  for (const m of template.matchAll(TOKEN_RE)) {
    if (m[1] !== undefined) tokens.push({ env: m[1] });
    else if (m[2] !== undefined) tokens.push({ name: m[2] });
    else if (m[0] === '{{') tokens.push({ literal: '{' });
    else if (m[0] === '}}') tokens.push({ literal: '}' });
    else tokens.push({ literal: m[0] });
  }
  return tokens;
}

/** The placeholder names in a template, in order of first appearance, without repeats. */
export function findPlaceholders(template: string): string[] {
  const names: string[] = [];
  for (const token of tokenize(template)) {
    if ('name' in token && !names.includes(token.name)) names.push(token.name);
  }
  return names;
}

/** The environment variables a template reads (`{env:NAME}`), in order, without repeats. */
export function findEnvPlaceholders(template: string): string[] {
  const names: string[] = [];
  for (const token of tokenize(template)) {
    if ('env' in token && !names.includes(token.env)) names.push(token.env);
  }
  return names;
}

/**
 * Brace groups that look like a mistyped placeholder — `{my-var}`, `{0}`,
 * `{input file}` — rather than glob braces (`{a,b}`, `{1..3}`) or `{}`.
 * Validation reports them so a typo is not silently kept as literal text.
 */
export function findMalformedPlaceholders(template: string): string[] {
  const found: string[] = [];
  // Strip escaped braces first so `{{my-var}}` (an intended literal) is not reported.
  const unescaped = template.replaceAll('{{', '\0').replaceAll('}}', '\0');
  for (const m of unescaped.matchAll(/\{([A-Za-z0-9_ -]+)\}/g)) {
    if (!IDENTIFIER_RE.test(m[1]) && !found.includes(m[0])) found.push(m[0]);
  }
  for (const m of unescaped.matchAll(/\{env:([^{}]*)\}/g)) {
    if (!IDENTIFIER_RE.test(m[1]) && !found.includes(m[0])) found.push(m[0]);
  }
  return found;
}

/**
 * Replaces every placeholder with its value and unescapes `{{`/`}}`.
 * @throws MeowError MEOW_PATTERN_INVALID when a placeholder has no value
 *   (validation should have reported it before any job ran).
 */
export function expandPlaceholders(template: string, values: Record<string, string>): string {
  let out = '';
  for (const token of tokenize(template)) {
    if ('literal' in token) {
      out += token.literal;
    } else if ('env' in token) {
      const value = values[envKey(token.env)];
      if (value === undefined) throw new MeowError('MEOW_PATTERN_INVALID', unsetEnvMessage(token.env));
      out += value;
    } else if (Object.hasOwn(values, token.name)) {
      out += values[token.name];
    } else {
      throw new MeowError(
        'MEOW_PATTERN_INVALID',
        `unknown placeholder {${token.name}} in "${template}"; known placeholders: ${Object.keys(values)
          .map((k) => `{${k}}`)
          .join(', ')}`,
      );
    }
  }
  return out;
}

/**
 * Why `{env:NAME}` is refused where only variables may read the environment
 * (outputs, command recipes), and the fix: a variable `where` (" to the pattern"
 * when the variable goes in another file) that reads it.
 */
export function envOutsideVariablesMessage(name: string, where = ''): string {
  const v = name.toLowerCase();
  return `{env:${name}}: only variables may read the environment; add a variable${where} (${v}: "{env:${name}}") and write {${v}} here`;
}

/** Why `{env:NAME}` has no value, and the fix. */
export function unsetEnvMessage(name: string): string {
  return `{env:${name}} reads the environment variable ${name}, which is not set in the engine's environment; set it (export ${name}=...) before starting the engine, or write the value itself`;
}

/**
 * The file placeholders of a triggering file: `path`, `abspath`, `dir`,
 * `name`, `stem` and `ext` (with the dot, e.g. `.txt`, or `""`).
 * `dir` is `.` for a file at the workspace root, so `{dir}/x` stays relative.
 */
export function fileValues(relPath: string, workspaceRoot: string): Record<string, string> {
  // A backslash is a character of a file name here, never a separator: `a\..\x` is one name.
  const rel = relPath;
  const name = path.posix.basename(rel);
  const ext = path.posix.extname(name);
  return {
    path: rel,
    abspath: workspaceRoot === '' ? rel : `${workspaceRoot.replace(/\/+$/, '')}/${rel}`,
    dir: path.posix.dirname(rel),
    name,
    stem: ext === '' ? name : name.slice(0, -ext.length),
    ext,
  };
}

/**
 * A variable's value as template text: strings as they are, numbers as
 * written (every digit of a large int, `3.0` for a float, a float's digits
 * as Python's repr writes them: `1e-07`), booleans as
 * `true`/`false`, null as `""`, lists and mappings as JSON (exact numbers kept).
 */
export function renderValue(v: VarValue): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  // A float as Python writes it (`1e-07`, `0.5`), the language most recipes read it in.
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : floatText(v);
  if (typeof v === 'boolean' || v instanceof ExactNumber) return String(v);
  return stringifyExact(v, { nonFinite: 'tokens' });
}
