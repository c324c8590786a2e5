/*
 * Every configuration key and every `meow` flag the docs mention is one the
 * code accepts, so the reference cannot go stale:
 *
 * - key tables (header `key` or `option`) name keys of the JSON Schema of
 *   their file kind (generated from the parsers' key lists), dotted paths
 *   (`trigger.paths`) included; the backend table of configuration.md names
 *   each backend type's options;
 * - every `meow …` command line in code (blocks and inline spans) uses only
 *   commands and flags of the commander definitions, flag by subcommand;
 * - a flag standing alone in inline code (`--until-idle`) or in a `flag`
 *   table is a flag of some meow command, unless it is listed below as
 *   another program's (sbatch, ssh, npm).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { definitionSchema, type JsonSchema } from '../../src/cli/json-schema.js';
import { commandDefinitions } from '../../src/cli/main.js';
import { BACKEND_TYPES } from '../../src/core/config-schema.js';
import { COMMAND_KEYS } from '../../src/core/recipe-schema.js';
import { REPO } from '../helpers/workspace.js';

/** Flags of other programs that the docs show in inline code, and whose they are. */
const FOREIGN_FLAGS: Record<string, string> = {
  '--partition': 'sbatch',
  '--account': 'sbatch',
  '--time': 'sbatch',
  '--cpus-per-task': 'sbatch',
  '--ntasks': 'sbatch',
  '--mem': 'sbatch',
  '--gres': 'sbatch',
  '--gpus': 'sbatch',
  '--export': 'sbatch',
  '--qos': 'sbatch',
  '--exclusive': 'sbatch',
  '--array': 'sbatch',
  '--prefix': 'npm',
  '--offline': 'npm',
  '--cell-numbers': 'runtime/nb_runner.py',
  '-i': 'ssh',
  '-o': 'ssh',
  '--seed': 'npm run soak (bench/soak.ts)',
};

const DOCS = readdirSync(join(REPO, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => `docs/${f}`);
const FILES = ['README.md', ...DOCS];

interface Mention {
  where: string;
  text: string;
}

function lines(file: string): string[] {
  return readFileSync(join(REPO, file), 'utf8').split('\n');
}

/** Code: the lines of fenced blocks, and inline spans elsewhere. */
function code(file: string): { blocks: Mention[]; spans: Mention[] } {
  const blocks: Mention[] = [];
  const spans: Mention[] = [];
  let fence: string | null = null;
  lines(file).forEach((l, i) => {
    const where = `${file}:${i + 1}`;
    const f = /^\s*```(\S*)/.exec(l);
    if (f) {
      fence = fence === null ? f[1] : null;
      return;
    }
    if (fence !== null) {
      if (['', 'sh', 'bash', 'text', 'console'].includes(fence)) blocks.push({ where, text: l });
      return;
    }
    for (const m of l.matchAll(/`([^`]+)`/g)) spans.push({ where, text: m[1] });
  });
  return { blocks, spans };
}

/** Markdown tables: header cells and rows of cells. */
function tables(file: string): { where: string; header: string[]; rows: { where: string; cells: string[] }[] }[] {
  const all = lines(file);
  const out: { where: string; header: string[]; rows: { where: string; cells: string[] }[] }[] = [];
  const cells = (l: string) => l.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
  for (let i = 0; i + 1 < all.length; i++) {
    if (!all[i].trim().startsWith('|') || !/^\|[\s|:-]+\|$/.test(all[i + 1].trim())) continue;
    const table = { where: `${file}:${i + 1}`, header: cells(all[i]), rows: [] as { where: string; cells: string[] }[] };
    let j = i + 2;
    for (; j < all.length && all[j].trim().startsWith('|'); j++) table.rows.push({ where: `${file}:${j + 1}`, cells: cells(all[j]) });
    out.push(table);
    i = j;
  }
  return out;
}

const backtickedIn = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

// ---- the code's side ----

const PROGRAM = commandDefinitions();
const GLOBAL_FLAGS = new Set(['--help', '-h', ...flagsOf(PROGRAM)]);

function flagsOf(cmd: Command): string[] {
  return cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => typeof f === 'string'));
}

function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}
const EVERY_FLAG = new Set([...GLOBAL_FLAGS, ...allCommands(PROGRAM).flatMap(flagsOf)]);

/** The problems of one `meow …` command line: unknown commands, and flags its command does not take. */
function checkCommandLine(words: string[]): string[] {
  let cmd = PROGRAM;
  const problems: string[] = [];
  let i = 0;
  // Options of `meow` itself may come before the command.
  for (; i < words.length && words[i].startsWith('-'); i++) {
    const flag = words[i].replace(/=.*$/, '');
    if (!GLOBAL_FLAGS.has(flag)) problems.push(`meow takes no ${flag}`);
    if (flag === '-w' || flag === '--workspace') i++;
  }
  // Subcommands, as far as they go: `job show`, `show|logs|cancel|retry`.
  while (i < words.length) {
    const names = words[i].split('|');
    const subs = names.map((n) => cmd.commands.find((c) => c.name() === n));
    if (subs.some((s) => s === undefined)) {
      if (cmd === PROGRAM && /^[a-z]+$/.test(words[i])) problems.push(`no command "meow ${words[i]}"`);
      break;
    }
    cmd = subs[0]!;
    i++;
  }
  const takes = new Set([...GLOBAL_FLAGS, ...flagsOf(cmd)]);
  for (const w of words.slice(i)) {
    const flag = /^(--?[A-Za-z][\w-]*)/.exec(w)?.[1];
    if (flag === undefined || !w.startsWith('-')) continue;
    if (!takes.has(flag)) problems.push(`meow ${cmd === PROGRAM ? '' : cmd.name() + ' '}takes no ${flag}`);
  }
  return problems;
}

/** The `meow …` command lines in a piece of code: each up to a pipe, `;`, `&&`, a comment or a redirection. */
function commandLines(text: string): string[][] {
  const out: string[][] = [];
  for (const m of text.matchAll(/(?:^|[\s(;&|$])meow((?:\s+[^\s;&#>)]+)*)/g)) {
    const words = m[1]
      .split(/\s+/)
      .filter(Boolean)
      .map((w) => w.replace(/^\[|[\],]+$/g, ''));
    const end = words.findIndex((w) => w === '|' || w === '||' || w === '...' || w === '…');
    out.push(end === -1 ? words : words.slice(0, end));
  }
  return out;
}

// ---- the schema side ----

function props(schema: JsonSchema | undefined): Record<string, JsonSchema> {
  if (schema === undefined) return {};
  const own = (schema.properties as Record<string, JsonSchema> | undefined) ?? {};
  const alts = [...((schema.anyOf as JsonSchema[] | undefined) ?? []), ...(schema.additionalProperties && typeof schema.additionalProperties === 'object' ? [schema.additionalProperties as JsonSchema] : [])];
  return Object.assign({}, ...alts.map(props), own) as Record<string, JsonSchema>;
}

/** Every key name anywhere in a schema. */
function keysAnywhere(schema: JsonSchema, into = new Set<string>()): Set<string> {
  for (const [k, v] of Object.entries(props(schema))) {
    into.add(k);
    keysAnywhere(v, into);
  }
  return into;
}

/** True when a dotted key (`trigger.paths`) is a path through the schema. */
function resolves(schema: JsonSchema, dotted: string): boolean {
  let at: JsonSchema | undefined = schema;
  for (const part of dotted.split('.')) {
    at = props(at)[part];
    if (at === undefined) return false;
  }
  return true;
}

const PATTERN = definitionSchema('pattern');
const CONFIG = definitionSchema('config');
const BACKENDS = (CONFIG.properties as Record<string, JsonSchema>).backends;

/** What the key tables of each document describe. */
function keyChecker(file: string): ((key: string) => boolean) | null {
  switch (file) {
    case 'docs/patterns.md':
      return (k) => resolves(PATTERN, k);
    case 'docs/configuration.md':
      return (k) => resolves(CONFIG, k) || keysAnywhere(CONFIG).has(k);
    case 'docs/backends.md':
      return (k) => keysAnywhere(BACKENDS).has(k);
    case 'docs/recipes.md':
      return (k) => (COMMAND_KEYS as readonly string[]).includes(k);
    default:
      return null;
  }
}

// ---- the tests ----

describe('the reference in the docs', () => {
  it('names only configuration keys the parsers accept (key and option tables)', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const file of DOCS) {
      for (const t of tables(file)) {
        if (!['key', 'option'].includes(t.header[0])) continue;
        const ok = keyChecker(file);
        if (ok === null) throw new Error(`${t.where}: a key table in a document this test does not know; add it to keyChecker`);
        for (const row of t.rows) {
          for (const key of backtickedIn(row.cells[0])) {
            checked++;
            if (!ok(key)) problems.push(`${row.where}: "${key}" is not a key the parser accepts`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(60);
  });

  it("names each backend type's own options in configuration.md's backend table", () => {
    const table = tables('docs/configuration.md').find((t) => t.header[0] === 'type' && t.header[1] === 'options');
    expect(table).toBeDefined();
    const alternatives = (BACKENDS.additionalProperties as JsonSchema).anyOf as JsonSchema[];
    const problems: string[] = [];
    for (const row of table!.rows) {
      const [type] = backtickedIn(row.cells[0]);
      expect(BACKEND_TYPES as readonly string[]).toContain(type);
      const schema = alternatives.find((a) => (props(a).type as { const?: string } | undefined)?.const === type);
      expect(schema, type).toBeDefined();
      // Option names are the spans followed by ":", "," or a parenthesis: `cpus`: …, `host` (required), …
      const named = [...row.cells[1].matchAll(/`([a-z_]+)`(?=:|,| \((?:required|see))/g)].map((m) => m[1]);
      expect(named.length, row.where).toBeGreaterThan(2);
      for (const key of named) if (!(key in props(schema))) problems.push(`${row.where}: a ${type} backend has no option "${key}"`);
      const documented = new Set(named);
      for (const key of Object.keys(props(schema))) if (key !== 'type' && !documented.has(key)) problems.push(`${row.where}: the ${type} backend's option "${key}" is not in the table`);
    }
    expect(problems).toEqual([]);
  });

  it('uses only meow commands and flags that exist, each flag on a command that takes it', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const file of FILES) {
      const { blocks, spans } = code(file);
      for (const m of [...blocks, ...spans]) {
        for (const words of commandLines(m.text)) {
          checked++;
          for (const p of checkCommandLine(words)) problems.push(`${m.where}: ${p} (in "${m.text.trim()}")`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  it('names only flags that some meow command takes, where a flag stands alone', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const file of FILES) {
      const alone = code(file).spans.filter((s) => /^--?[A-Za-z]/.test(s.text));
      for (const t of tables(file)) if (t.header[0] === 'flag') for (const row of t.rows) for (const s of backtickedIn(row.cells[0])) alone.push({ where: row.where, text: s });
      for (const s of alone) {
        for (const w of s.text.split(/[\s,]+/).filter((x) => x.startsWith('-'))) {
          // A long flag, or a one-letter short one (not a number like -Inf).
          const flag = /^(--[a-z][\w-]*|-[A-Za-z](?![\w-]))/.exec(w.replace(/^\[/, ''))?.[1];
          if (flag === undefined) continue;
          checked++;
          if (!EVERY_FLAG.has(flag) && FOREIGN_FLAGS[flag] === undefined) problems.push(`${s.where}: no meow command takes ${flag} (a flag of another program? list it in FOREIGN_FLAGS)`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });

  it('knows a stale flag or key when it sees one', () => {
    expect(checkCommandLine(['jobs', '--state', 'failed'])).toEqual(['meow jobs takes no --state']);
    expect(checkCommandLine(['run', '--until-idle', '--no-tui'])).toEqual([]);
    expect(checkCommandLine(['job', 'show|logs|cancel|retry', 'ID'])).toEqual([]);
    expect(checkCommandLine(['jobz'])).toEqual(['no command "meow jobz"']);
    expect(commandLines('meow run --until-idle > /dev/null; meow jobs --all | head')).toEqual([['run', '--until-idle'], ['jobs', '--all']]);
    expect(resolves(PATTERN, 'trigger.paths')).toBe(true);
    expect(resolves(PATTERN, 'trigger.path')).toBe(false);
    expect(keyChecker('docs/configuration.md')!('max_sweeps')).toBe(false);
  });
});
