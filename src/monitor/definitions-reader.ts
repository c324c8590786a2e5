/**
 * Reads a workspace's definitions from disk: `meow.yaml`, `patterns/*.yaml`
 * and `recipes/*`. Bad files are reported and left out; the rest is returned,
 * so one broken definition never stops the engine.
 */
import { open, readdir } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { workerStarted } from '../core/heap.js';
import { constants, existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseExact } from '../core/exact-json.js';
import type { ParseJob } from './definition-parse-worker.js';
import os from 'node:os';
import path from 'node:path';
import { CONFIG_DEFAULTS, CONFIG_FILE, parseConfig } from '../core/config-schema.js';
import { formatBytes } from '../core/durations.js';
import { escapeControl } from '../core/safe-text.js';
import { errorCode } from '../core/errors.js';
import { parsePattern } from '../core/pattern-schema.js';
import { parseRecipe } from '../core/recipe-schema.js';
import { parseSlurmOptions } from '../runner/backends/slurm/slurm-options.js';
import { parseSshOptions } from '../runner/backends/ssh/ssh-options.js';
import type { DefinitionError, ParsedPattern, ParsedRecipe, WorkspaceConfig } from '../core/types.js';

/** Where pattern files live, relative to the workspace. */
export const PATTERNS_DIR = 'patterns';
/** Where recipe files live, relative to the workspace. */
export const RECIPES_DIR = 'recipes';

/** `patterns/seg.yaml: trigger.paths: expected …` (the key is left out when the error is about the whole file). */
export function formatDefinitionError(e: DefinitionError): string {
  // The message quotes names and values from the file (a pattern named by a file name with a newline, a
  // string value): escaped too, so that no definition can split a log line or forge one.
  const file = escapeControl(e.file);
  const message = escapeControl(e.message);
  return e.key === '' ? `${file}: ${message}` : `${file}: ${escapeControl(e.key)}: ${message}`;
}

/**
 * Hidden files and editor droppings (`.#x`, `x~`, `#x#`, `x.swp`): editors
 * write these next to the file being edited, and they are never definitions.
 */
export function isIgnoredDefinitionFile(name: string): boolean {
  return name.startsWith('.') || name.endsWith('~') || /^#.*#$/.test(name) || /\.sw[a-p]$/.test(name);
}

/** Reads meow.yaml; a missing file gives the defaults and no error. */
export async function readConfig(root: string): Promise<{ config: WorkspaceConfig; errors: DefinitionError[] }> {
  const cores = os.availableParallelism();
  let text: string | null = null;
  try {
    // meow.yaml is read before its own max_definition_size is known: the default applies.
    text = await readLimited(path.join(root, CONFIG_FILE), CONFIG_DEFAULTS.maxDefinitionSize);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') {
      const { config } = parseConfig(root, null, cores);
      const message = err instanceof TooLarge ? tooLargeMessage('', err) : err instanceof NotRegular ? `${err.message}; every setting takes its default meanwhile` : null;
      const error = message !== null ? { file: CONFIG_FILE, key: '', message, code: 'MEOW_CONFIG_INVALID' } : readError(CONFIG_FILE, 'MEOW_CONFIG_INVALID', err);
      return { config, errors: [error] };
    }
  }
  const parsed = parseConfig(root, text, cores);
  return { config: parsed.config, errors: [...parsed.errors, ...backendOptionErrors(parsed.config)] };
}

/**
 * The errors of every slurm and ssh backend's options (unknown keys with
 * did-you-mean, types, durations), checked when meow.yaml is read, so that
 * `meow validate` and the engine's start report them before any job is sent.
 */
function backendOptionErrors(config: WorkspaceConfig): DefinitionError[] {
  const errors: DefinitionError[] = [];
  for (const backend of Object.values(config.backends)) {
    const lines = backend.type === 'slurm' ? parseSlurmOptions(backend).errors : backend.type === 'ssh' ? parseSshOptions(backend).errors : [];
    for (const line of lines) {
      // The option parsers write `meow.yaml: key: message` lines.
      const rest = line.startsWith(`${CONFIG_FILE}: `) ? line.slice(CONFIG_FILE.length + 2) : line;
      const at = rest.indexOf(': ');
      const key = at === -1 ? '' : rest.slice(0, at);
      const message = at === -1 ? rest : rest.slice(at + 2);
      // ssh's missing host is already reported by the config parser.
      if (errors.some((e) => e.key === key && e.message === message)) continue;
      errors.push({ file: CONFIG_FILE, key, message, code: 'MEOW_CONFIG_INVALID' });
    }
  }
  return errors;
}

/**
 * Reads and parses every pattern and recipe. Two definitions with the same
 * name are both rejected (each error names the other file), since either
 * choice would silently ignore one of them. Results are sorted by name.
 */
export async function readDefinitions(
  root: string,
  config: WorkspaceConfig,
): Promise<{ patterns: ParsedPattern[]; recipes: ParsedRecipe[]; errors: DefinitionError[] }> {
  const errors: DefinitionError[] = [];
  const limit = config.maxDefinitionSize;
  const patternFiles = await readDir(root, PATTERNS_DIR, 'MEOW_PATTERN_INVALID', errors, () => limit);
  // Notebooks and scripts may be large (outputs, embedded data) and are not parsed as YAML: only command recipes are limited.
  const recipeFiles = await readDir(root, RECIPES_DIR, 'MEOW_RECIPE_INVALID', errors, (name) => (/\.ya?ml$/i.test(name) ? limit : Infinity));
  const opts = { maxSweep: config.maxSweep, backends: Object.keys(config.backends), env: process.env };

  const patterns: ParsedPattern[] = [];
  for (const { file, text } of patternFiles) {
    if (!/\.ya?ml$/i.test(file)) {
      errors.push({
        file,
        key: '',
        message: 'not a pattern file: pattern files end in .yaml (or .yml); move other files out of patterns/',
        code: 'MEOW_PATTERN_INVALID',
      });
      continue;
    }
    const result = text.length > OFF_THREAD_BYTES ? await parseOffThread<ParsedPattern>({ kind: 'pattern', file, text, opts }) : parsePattern(file, text, opts);
    errors.push(...result.errors);
    if (result.pattern) patterns.push(result.pattern);
  }

  const recipes: ParsedRecipe[] = [];
  for (const { file, text } of recipeFiles) {
    // Only command recipes (YAML) are slow to parse.
    const slow = text.length > OFF_THREAD_BYTES && /\.ya?ml$/i.test(file);
    const result = slow ? await parseOffThread<ParsedRecipe>({ kind: 'recipe', file, text, opts }) : parseRecipe(file, text);
    errors.push(...result.errors);
    if (result.recipe) recipes.push(result.recipe);
  }

  return {
    patterns: rejectDuplicates(patterns, 'pattern', 'name', 'MEOW_PATTERN_INVALID', errors),
    recipes: rejectDuplicates(recipes, 'recipe', '', 'MEOW_RECIPE_INVALID', errors),
    errors: errors.sort((a, b) => compare(a.file, b.file)),
  };
}

/** The definition files directly in `dir` (not recursive), sorted by name; a missing dir is empty. */
async function readDir(
  root: string,
  dir: string,
  code: string,
  errors: DefinitionError[],
  limitOf: (name: string) => number,
): Promise<{ file: string; text: string }[]> {
  let names: string[];
  try {
    names = await readdir(path.join(root, dir));
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') errors.push(readError(dir, code, err));
    return [];
  }
  const files = await Promise.all(
    names
      .filter((name) => !isIgnoredDefinitionFile(name))
      .sort(compare)
      .map(async (name) => {
        const file = `${dir}/${name}`;
        try {
          return { file, text: await readLimited(path.join(root, dir, name), limitOf(name)) };
        } catch (err) {
          // A directory is not a definition; a file deleted since readdir is simply gone.
          const c = errorCode(err);
          if (err instanceof TooLarge) errors.push({ file, key: '', message: tooLargeMessage(dir, err), code });
          else if (err instanceof NotRegular) errors.push({ file, key: '', message: err.message, code });
          else if (c !== 'EISDIR' && c !== 'ENOENT') errors.push(readError(file, code, err));
          return null;
        }
      }),
  );
  return files.filter((f) => f !== null);
}

function rejectDuplicates<T extends { name: string; file: string }>(
  items: T[],
  what: string,
  key: string,
  code: string,
  errors: DefinitionError[],
): T[] {
  const byName = new Map<string, T[]>();
  for (const item of items) byName.set(item.name, [...(byName.get(item.name) ?? []), item]);
  const kept: T[] = [];
  for (const [name, group] of byName) {
    if (group.length === 1) {
      kept.push(group[0]);
      continue;
    }
    for (const item of group) {
      const others = group.filter((o) => o !== item).map((o) => o.file);
      const none = group.length === 2 ? 'neither' : 'none';
      errors.push({
        file: item.file,
        key,
        message: `the ${what} name "${name}" is also used by ${others.join(', ')}; ${what} names must be unique, so ${none} is registered — rename one`,
        code,
      });
    }
  }
  return kept.sort((a, b) => compare(a.name, b.name));
}

/** Files larger than this are parsed in a worker thread, so the engine's event loop never waits on a parse. */
const OFF_THREAD_BYTES = 64 * 1024;

/** The compiled worker: beside this module, or (running from the .ts sources under vitest) in the build. */
function parseWorkerUrl(): URL {
  const sibling = new URL('./definition-parse-worker.js', import.meta.url);
  if (existsSync(sibling)) return sibling;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const built = path.join(dir, 'dist', 'src', 'monitor', 'definition-parse-worker.js');
    if (existsSync(built)) return pathToFileURL(built);
    const parent = path.dirname(dir);
    if (parent === dir) return sibling;
    dir = parent;
  }
}

/** Parses one definition in a worker thread (definition-parse-worker.ts). */
function parseOffThread<T>(job: ParseJob): Promise<{ pattern?: T | null; recipe?: T | null; errors: DefinitionError[] } & Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(parseWorkerUrl(), { workerData: job });
    worker.once('online', workerStarted);
    worker.once('message', (text: string) => {
      resolve(parseExact(text) as never);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

/** A definition file above the size limit: refused unread. */
class TooLarge extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`${size} bytes, above the limit of ${limit}`);
  }
}

/**
 * Reads a file as UTF-8 unless it holds more than `limit` bytes; the size is
 * checked on the open file, so a file too large costs one fstat, never a read
 * or a parse that would hold up the engine.
 * @throws TooLarge above the limit; the fs error otherwise (EISDIR for a directory).
 */
async function readLimited(abs: string, limit: number): Promise<string> {
  // Non-blocking, so that a FIFO opens at once (a blocking open would wait for a writer, holding a
  // thread of the pool and the definitions with it); what it is, is then checked on the open file.
  const fh = await open(abs, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw Object.assign(new Error(`${abs} is a directory`), { code: 'EISDIR' });
    if (!st.isFile()) throw new NotRegular(st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file');
    if (st.size > limit) throw new TooLarge(st.size, limit);
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

/** A definition that is a FIFO, a device (a link to /dev/zero) or a socket: refused unread. */
class NotRegular extends Error {
  constructor(readonly kind: string) {
    super(`it is ${kind}, not a regular file, so it was not read; a definition must be a regular file: remove it, or put a file in its place`);
  }
}

function tooLargeMessage(dir: string, err: TooLarge): string {
  const what = dir === PATTERNS_DIR ? 'pattern files' : 'command recipes';
  if (dir === '') return `the file is ${formatBytes(err.size)}, more than the ${formatBytes(err.limit)} a definition file may hold, so it was not read and every setting takes its default; meow.yaml holds settings only`;
  return (
    `the file is ${formatBytes(err.size)}, more than the ${formatBytes(err.limit)} a definition file may hold, so it was not read; ` +
    `${dir}/ holds ${what} only: move data files elsewhere in the workspace, or raise max_definition_size in meow.yaml`
  );
}

function readError(file: string, code: string, err: unknown): DefinitionError {
  const reason = err instanceof Error ? err.message : String(err);
  return { file, key: '', message: `cannot be read (${reason}); check its permissions`, code };
}

// Code-point order, so results do not depend on the machine's locale.
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
