/**
 * Recipe files (`recipes/*`): the kind comes from the extension, the name
 * from the stem. Notebooks must be JSON with cells; command recipes
 * (`*.yaml`) are parsed into a `CommandSpec`; scripts are taken as written.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Fields, NAME_RE, NAME_RULE, joinKey, type Mapping } from './definition-fields.js';
import { describe } from './durations.js';
import { ExactNumber } from './exact-number.js';
import { envOutsideVariablesMessage, findEnvPlaceholders, renderValue } from './placeholders.js';
import { PARAMETERIZE_MODES } from './types.js';
import type { CommandSpec, DefinitionError, ParameterizeMode, ParsedRecipe, RecipeKind } from './types.js';

const KINDS_BY_EXTENSION: Record<string, RecipeKind> = {
  '.ipynb': 'notebook',
  '.py': 'python',
  '.sh': 'bash',
  '.js': 'javascript',
  '.mjs': 'javascript',
  '.yaml': 'command',
  '.yml': 'command',
};
const SUPPORTED = '.ipynb (notebook), .py (python), .sh (bash), .js or .mjs (javascript), .yaml or .yml (command)';
export const COMMAND_KEYS = ['command', 'script', 'shell', 'env', 'cwd', 'description'] as const;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The kind of recipe a file is, from its extension; null when unsupported. */
export function recipeKindOf(file: string): RecipeKind | null {
  return KINDS_BY_EXTENSION[path.posix.extname(file).toLowerCase()] ?? null;
}

/**
 * Parses one recipe file. `file` is workspace-relative (`recipes/seg.py`).
 * The recipe is null whenever there is any error; all errors are reported.
 */
export function parseRecipe(file: string, text: string): { recipe: ParsedRecipe | null; errors: DefinitionError[] } {
  const f = new Fields(file, 'MEOW_RECIPE_INVALID');
  const base = path.posix.basename(file);
  const ext = path.posix.extname(base);
  const name = base.slice(0, base.length - ext.length);
  const kind = recipeKindOf(file);
  if (kind === null) {
    const problem = ext === '' ? 'the file has no extension, so its recipe kind is unknown' : `unsupported recipe kind "${ext}"`;
    f.error('', `${problem}; recipe files end in ${SUPPORTED}`);
  }
  if (!NAME_RE.test(name)) {
    f.error('', `the file name gives the recipe name "${name}", which is not valid; ${NAME_RULE}. Rename the file`);
  }
  if (kind === null) return { recipe: null, errors: f.errors };

  let command: CommandSpec | null = null;
  let parameterize: ParameterizeMode | undefined;
  if (kind === 'notebook') parameterize = checkNotebook(f, text);
  if (kind === 'command') command = readCommand(f, text) ?? null;

  if (f.errors.length > 0) return { recipe: null, errors: f.errors };
  const hash = createHash('sha256').update(text).digest('hex');
  return { recipe: { name, file, hash, kind, source: text, command, ...(parameterize === undefined ? {} : { parameterize }) }, errors: [] };
}

/** Checks a notebook; returns its `metadata.meowflow.parameterize` choice, if it makes one. */
function checkNotebook(f: Fields, text: string): ParameterizeMode | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    // V8 quotes the start of the text in its message; keep the message on one line.
    const reason = (err instanceof Error ? err.message : String(err)).replaceAll('\r', '\\r').replaceAll('\n', '\\n');
    f.error('', `not a valid notebook: the file is not JSON (${reason}); save it again from Jupyter`);
    return;
  }
  const v3 = typeof doc === 'object' && doc !== null && (doc as Mapping).nbformat === 3 && Array.isArray((doc as Mapping).worksheets);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || (!v3 && !Array.isArray((doc as Mapping).cells))) {
    f.error('', 'not a valid notebook: it has no "cells" list; save it again from Jupyter');
    return;
  }
  // nbformat 3 is upgraded to 4 before the run, as papermill does; older ones cannot be.
  const version = (doc as Mapping).nbformat;
  if (version === 3 && !v3) {
    f.error('', 'not a valid notebook: an nbformat 3 notebook keeps its cells in a "worksheets" list, and this one has none; save it again from Jupyter 4 or later');
  } else if (version !== 4 && !v3) {
    const got = version === undefined ? 'it has no "nbformat" version' : `its "nbformat" is ${describe(version)}`;
    f.error('', `not a valid notebook: ${got}, and only nbformat 3 and 4 notebooks run; save it again from Jupyter 4 or later`);
  }
  const metadata = (doc as Mapping).metadata;
  const meow = typeof metadata === 'object' && metadata !== null ? (metadata as Mapping).meowflow : undefined;
  if (meow === undefined) return undefined;
  const m = f.mapping('metadata.meowflow', meow, 'a mapping like {"parameterize": "assignments"}');
  if (!m) return undefined;
  f.checkKeys('metadata.meowflow', m, ['parameterize'], 'metadata.meowflow');
  return m.parameterize === undefined ? undefined : f.oneOf('metadata.meowflow.parameterize', m.parameterize, PARAMETERIZE_MODES);
}

function readCommand(f: Fields, text: string): CommandSpec | undefined {
  const loaded = f.loadYaml(text);
  if (!loaded.ok) return undefined;
  const usage = 'a command recipe needs "command: [program, arg, ...]" or "shell: bash" with "script:"';
  if (loaded.value === null || loaded.value === undefined) return f.error('', `the file is empty; ${usage}`);
  const doc = f.mapping('', loaded.value, `a mapping; ${usage}`);
  if (!doc) return undefined;
  f.checkKeys('', doc, COMMAND_KEYS, 'a command recipe');

  const command = doc.command === undefined ? null : readArgv(f, doc.command);
  const script = doc.script === undefined ? null : f.string('script', doc.script, 'a script (a string)');
  const shell =
    doc.shell === undefined ? null : doc.shell === 'bash' ? 'bash' : f.error('shell', `only "bash" is supported, got ${describe(doc.shell)}`);
  const env = doc.env === undefined ? {} : readEnv(f, doc.env);
  const cwd =
    doc.cwd === undefined || doc.cwd === null ? null : readTemplate(f, 'cwd', doc.cwd, 'a directory relative to the workspace (a string)');
  if (doc.description !== undefined && typeof doc.description !== 'string') {
    f.error('description', `expected a string, got ${describe(doc.description)}`);
  }

  if (doc.command !== undefined && doc.script !== undefined) {
    f.error('', 'both "command" and "script" are set; use exactly one: "command" (an argv list, no shell) or "script" with "shell: bash"');
  } else if (doc.command === undefined && doc.script === undefined) {
    f.error('', `neither "command" nor "script" is set; ${usage}`);
  }
  if (doc.shell !== undefined && doc.script === undefined) {
    f.error('shell', '"shell" only applies to "script"; remove it, or write the commands under "script:"');
  }
  if (doc.script !== undefined && doc.shell === undefined) {
    // No implicit shell: a script runs only when its interpreter is written down.
    f.error('script', 'a script needs "shell: bash" next to it; or use "command: [program, arg, ...]" to run a program without a shell');
  }
  if (command === undefined || script === undefined || shell === undefined || env === undefined || cwd === undefined) return undefined;
  return { command, script, shell, env, cwd };
}

function readArgv(f: Fields, value: unknown): string[] | undefined {
  if (typeof value === 'string') {
    return f.error(
      'command',
      `expected a list of arguments like [program, arg, "{path}"], got the string "${value}"; no shell is used, so write the command as a list`,
    );
  }
  if (!Array.isArray(value)) return f.error('command', `expected a list of arguments like [program, arg, "{path}"], got ${describe(value)}`);
  if (value.length === 0) return f.error('command', 'expected a list of arguments like [program, arg, "{path}"], got an empty list');
  const argv: string[] = [];
  let ok = true;
  (value as unknown[]).forEach((item, i) => {
    const key = joinKey('command', i);
    const arg = isNumber(item) ? numberText(f, key, item) : readTemplate(f, key, item, 'an argument (a string or a number)', true);
    if (arg === undefined) ok = false;
    else argv.push(arg);
  });
  if (ok && argv[0].trim() === '') return f.error('command[0]', 'the program is empty; the first element names the program to run');
  return ok ? argv : undefined;
}

function readEnv(f: Fields, value: unknown): Record<string, string> | undefined {
  const m = f.mapping('env', value, 'a mapping of environment variable names to strings');
  if (!m) return undefined;
  const env: Record<string, string> = {};
  let ok = true;
  for (const [name, v] of Object.entries(m)) {
    const key = joinKey('env', name);
    if (!ENV_NAME_RE.test(name)) {
      f.error(key, `"${name}" is not a valid environment variable name; use letters, digits and "_", not starting with a digit`);
      ok = false;
      continue;
    }
    const s = isNumber(v) ? numberText(f, key, v) : readTemplate(f, key, v, 'a string or a number (quote true/false)', true);
    if (s === undefined) ok = false;
    else env[name] = s;
  }
  return ok ? env : undefined;
}

function isNumber(value: unknown): value is number | ExactNumber {
  return typeof value === 'number' || value instanceof ExactNumber;
}

/**
 * A number written as an argument or an environment value, as text the way a
 * variable's number is (every digit of a large int, `3.0`). inf and nan have
 * no text a program could read as a number: an error (undefined).
 */
function numberText(f: Fields, key: string, value: number | ExactNumber): string | undefined {
  if (value instanceof ExactNumber && !value.finite) return f.error(key, `${value.text} cannot be written as an argument or an environment value; quote it ("${value.text}") to pass the text`);
  return renderValue(value);
}

/** A string that may hold placeholders; any identifier is accepted, since variables come from patterns. */
function readTemplate(f: Fields, key: string, value: unknown, expected: string, allowEmpty = false): string | undefined {
  const s = allowEmpty && value === '' ? '' : f.string(key, value, expected);
  if (s === undefined) return undefined;
  if (!f.placeholderSyntax(key, s)) return undefined;
  const env = findEnvPlaceholders(s);
  for (const name of env) f.error(key, envOutsideVariablesMessage(name, ' to the pattern'));
  return env.length === 0 ? s : undefined;
}
