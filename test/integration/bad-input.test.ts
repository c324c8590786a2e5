/*
 * A corpus of broken definitions, run through the real CLI (`meow validate`,
 * exit code 2). Each case asserts the exact lines printed: the file, the key,
 * what is wrong and how to fix it. Needs the build (`npm test` builds first).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PATTERN_KEYS = 'name, recipe, trigger, input, variables, sweep, outputs, backend, resources, timeout, retries, loop, parameterize, cascade_cancelled, collect, batch, inputs';
const CONFIG_KEYS = 'cpus, watch, ignore, watch_mode, poll_interval, python, max_generation, max_sweep, scan_interval, kill_grace, hash, max_log_size, max_definition_size, state_access, follow_symlinks, max_depth, max_path_length, warm_kernels, backends, sources';
const BUILTINS = '{path}, {abspath}, {dir}, {name}, {stem}, {ext}, {event}, {job_id}, {job_dir}, {pattern}, {recipe}, {workspace}';
const SUPPORTED = '.ipynb (notebook), .py (python), .sh (bash), .js or .mjs (javascript), .yaml or .yml (command)';
/** A valid recipe for the patterns of the corpus to link to. */
const SEG = { 'recipes/seg.sh': 'echo "$input_file"\n' };
const NOTEBOOK = JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 });

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/meow.js ARGS` from the repository root. */
function meow(args: string[]): Promise<Cli> {
  return new Promise((resolve) => {
    execFile('node', ['bin/meow.js', ...args], { cwd: REPO, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

let dirs: string[] = [];

/** A fresh workspace holding `files` (workspace-relative path → content). */
async function workspace(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meow-bad-input-'));
  dirs.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text);
  }
  return dir;
}

beforeAll(() => {
  if (!existsSync(path.join(REPO, 'dist', 'src', 'cli', 'main.js'))) {
    throw new Error('dist/ is missing: these tests run the built CLI; run "npm run build" (npm test builds first)');
  }
});

afterEach(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  dirs = [];
});

interface Case {
  name: string;
  files: Record<string, string>;
  /** The exact stderr lines of `meow validate`. */
  errors: string[];
  /** How many patterns and recipes are still valid. */
  valid: [patterns: number, recipes: number];
}

const CASES: Case[] = [
  {
    name: 'invalid YAML, with line and column',
    files: { ...SEG, 'patterns/bad.yaml': 'recipe: seg\ntrigger:\n  paths: [data/*.txt\n  events: [created]\n' },
    errors: ['patterns/bad.yaml: invalid YAML at line 4, column 3: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    valid: [0, 1],
  },
  {
    name: 'invalid YAML: a tab used as indentation',
    files: { ...SEG, 'patterns/tab.yaml': 'recipe: seg\ntrigger:\n\tpaths: "data/*.txt"\n' },
    errors: ['patterns/tab.yaml: invalid YAML at line 3, column 1: Tabs are not allowed as indentation'],
    valid: [0, 1],
  },
  {
    name: 'an unquoted glob that YAML reads as an alias',
    files: { ...SEG, 'patterns/star.yaml': 'recipe: seg\ntrigger:\n  paths: *.txt\n' },
    errors: ['patterns/star.yaml: invalid YAML at line 3, column 10: *.txt is read as a YAML alias (a reference to an "&anchor"), and there is no such anchor; quote the value: "*.txt"'],
    valid: [0, 1],
  },
  {
    name: 'an unquoted placeholder that YAML reads as a mapping',
    files: {
      ...SEG,
      'patterns/brace.yaml': 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\nvariables:\n  out: {stem}.npy\n',
      'patterns/brace2.yaml': 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\nvariables:\n  out: {stem}\n',
    },
    errors: [
      'patterns/brace.yaml: invalid YAML at line 5, column 14: Unexpected scalar at node end; a value that starts with "{" is read as a YAML mapping: quote it, e.g. "{stem}.npy"',
      'patterns/brace2.yaml: invalid YAML at line 5, column 8: {stem} is read as a YAML mapping, not as text; if it is text (a placeholder), quote it: "{stem}"',
    ],
    valid: [0, 1],
  },
  {
    name: 'trigger.paths is a number',
    files: { ...SEG, 'patterns/p.yaml': 'recipe: seg\ntrigger:\n  paths: 42\n' },
    errors: ['patterns/p.yaml: trigger.paths: expected a glob or a list of globs, got the number 42'],
    valid: [0, 1],
  },
  {
    name: 'retries is a string',
    files: {
      ...SEG,
      'patterns/p.yaml': 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\nretries: "3"\n',
      'patterns/q.yaml': 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\nretries: often\n',
    },
    errors: [
      'patterns/p.yaml: retries: expected a whole number of at least 0, got the string "3"; write the number without quotes: retries: 3',
      'patterns/q.yaml: retries: expected a whole number of at least 0, got the string "often"',
    ],
    valid: [0, 1],
  },
  {
    name: 'settle is "soon"',
    files: { ...SEG, 'patterns/p.yaml': 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\n  settle: soon\n' },
    errors: ['patterns/p.yaml: trigger.settle: expected a duration like "250ms", "30s", "30m", "2h" or a number of seconds, got "soon"'],
    valid: [0, 1],
  },
  {
    name: 'a misspelt key: "triger"',
    files: { ...SEG, 'patterns/p.yaml': 'recipe: seg\ntriger:\n  paths: "data/*.txt"\n' },
    errors: [`patterns/p.yaml: triger: unknown key "triger" (did you mean "trigger"?); a pattern allows: ${PATTERN_KEYS}`],
    valid: [0, 1],
  },
  {
    name: 'a misspelt key: "variabels"',
    files: { ...SEG, 'patterns/p.yaml': 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\nvariabels:\n  k: 3\n' },
    errors: [`patterns/p.yaml: variabels: unknown key "variabels" (did you mean "variables"?); a pattern allows: ${PATTERN_KEYS}`],
    valid: [0, 1],
  },
  {
    name: 'a misspelt nested key: "trigger.event"',
    files: { ...SEG, 'patterns/p.yaml': 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\n  event: [created]\n' },
    errors: ['patterns/p.yaml: trigger.event: unknown key "event" (did you mean "events"?); trigger allows: paths, events, ignore, settle'],
    valid: [0, 1],
  },
  {
    name: 'a sweep over max_sweep',
    files: {
      ...SEG,
      'patterns/huge.yaml':
        'recipe: seg\ntrigger:\n  paths: "data/*.txt"\nsweep:\n  a: {start: 0, stop: 999, step: 1}\n  b: {start: 0, stop: 9.9, step: 0.1}\n',
    },
    errors: ['patterns/huge.yaml: sweep: the sweep has 100000 points, more than the limit of 10000; shrink the sweep or raise max_sweep in meow.yaml'],
    valid: [0, 1],
  },
  {
    name: 'a sweep over a max_sweep set in meow.yaml',
    files: { ...SEG, 'meow.yaml': 'max_sweep: 4\n', 'patterns/p.yaml': 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\nsweep:\n  t: {start: 0.1, stop: 0.5, step: 0.1}\n' },
    errors: ['patterns/p.yaml: sweep: the sweep has 5 points, more than the limit of 4; shrink the sweep or raise max_sweep in meow.yaml'],
    valid: [0, 1],
  },
  {
    name: 'the same pattern name in two files',
    files: {
      ...SEG,
      'patterns/a.yaml': 'name: segment\nrecipe: seg\ntrigger:\n  paths: "data/*.txt"\n',
      'patterns/b.yaml': 'name: segment\nrecipe: seg\ntrigger:\n  paths: "other/*.txt"\n',
    },
    errors: [
      'patterns/a.yaml: name: the pattern name "segment" is also used by patterns/b.yaml; pattern names must be unique, so neither is registered — rename one',
      'patterns/b.yaml: name: the pattern name "segment" is also used by patterns/a.yaml; pattern names must be unique, so neither is registered — rename one',
    ],
    valid: [0, 1],
  },
  {
    name: 'the same recipe name twice (seg.py and seg.ipynb)',
    files: { 'recipes/seg.py': 'print(1)\n', 'recipes/seg.ipynb': NOTEBOOK },
    errors: [
      'recipes/seg.ipynb: the recipe name "seg" is also used by recipes/seg.py; recipe names must be unique, so neither is registered — rename one',
      'recipes/seg.py: the recipe name "seg" is also used by recipes/seg.ipynb; recipe names must be unique, so neither is registered — rename one',
    ],
    valid: [0, 0],
  },
  {
    name: 'globs that can never match: absolute, or leaving the workspace',
    files: {
      ...SEG,
      'patterns/abs.yaml': 'recipe: seg\ntrigger:\n  paths: "/data/*.txt"\n',
      'patterns/up.yaml': 'recipe: seg\ntrigger:\n  paths: ["data/*.txt", "../shared/*.txt"]\n',
      'patterns/out.yaml': 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\noutputs: ["data/../../x/{stem}.npy"]\n',
    },
    errors: [
      'patterns/abs.yaml: trigger.paths: "/data/*.txt" is an absolute path, so it can never match: globs match paths relative to the workspace; write the glob from the workspace root, e.g. "data/*.txt"',
      'patterns/out.yaml: outputs[0]: "data/../../x/{stem}.npy" uses "..", so it can never match: only files inside the workspace are watched; write the glob from the workspace root, e.g. "data/*.txt", and keep the data inside the workspace',
      'patterns/up.yaml: trigger.paths[1]: "../shared/*.txt" uses "..", so it can never match: only files inside the workspace are watched; write the glob from the workspace root, e.g. "data/*.txt", and keep the data inside the workspace',
    ],
    valid: [0, 1],
  },
  {
    name: 'placeholders that do not exist',
    files: {
      ...SEG,
      'patterns/p.yaml': 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\nvariables:\n  k: 3\n  out: "out/{stme}.npy"\noutputs: ["out/{basename}.npy"]\n',
    },
    errors: [
      `patterns/p.yaml: variables.out: unknown placeholder {stme} (did you mean {stem}?); known placeholders: ${BUILTINS}, {input_file}, {k}, {out}`,
      `patterns/p.yaml: outputs[0]: unknown placeholder {basename}; known placeholders: ${BUILTINS}, {input_file}, {k}, {out}`,
    ],
    valid: [0, 1],
  },
  {
    name: 'an unknown recipe kind',
    files: { 'recipes/x.rb': 'puts "hi"\n' },
    errors: [`recipes/x.rb: unsupported recipe kind ".rb"; recipe files end in ${SUPPORTED}`],
    valid: [0, 0],
  },
  {
    name: 'recipe files that are not valid notebooks',
    files: {
      'recipes/a.ipynb': '{"cells": [\n',
      'recipes/b.ipynb': '{"metadata": {}, "nbformat": 4}\n',
      'recipes/c.ipynb': '{"cells": [], "nbformat": 3, "nbformat_minor": 0}\n',
    },
    errors: [
      `recipes/a.ipynb: not a valid notebook: the file is not JSON (Unexpected end of JSON input); save it again from Jupyter`,
      'recipes/b.ipynb: not a valid notebook: it has no "cells" list; save it again from Jupyter',
      'recipes/c.ipynb: not a valid notebook: an nbformat 3 notebook keeps its cells in a "worksheets" list, and this one has none; save it again from Jupyter 4 or later',
    ],
    valid: [0, 0],
  },
  {
    name: 'a command recipe whose command is a string',
    files: { 'recipes/copy.yaml': 'command: "cp {path} out/"\n' },
    errors: [
      'recipes/copy.yaml: command: expected a list of arguments like [program, arg, "{path}"], got the string "cp {path} out/"; no shell is used, so write the command as a list',
    ],
    valid: [0, 0],
  },
  {
    name: 'a command recipe with a script but no shell',
    files: { 'recipes/sh.yaml': 'script: ls data\n' },
    errors: ['recipes/sh.yaml: script: a script needs "shell: bash" next to it; or use "command: [program, arg, ...]" to run a program without a shell'],
    valid: [0, 0],
  },
  {
    name: 'a pattern naming a backend that is not configured',
    files: {
      ...SEG,
      'meow.yaml': 'backends:\n  cluster: {type: slurm, partition: gpu}\n',
      'patterns/p.yaml': 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\nbackend: clustr\n',
      'patterns/q.yaml': 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\nbackend: gpubox\n',
    },
    errors: [
      'patterns/p.yaml: backend: unknown backend "clustr" (did you mean "cluster"?); meow.yaml defines: local, cluster. Use one of them, or add "clustr" under "backends:" in meow.yaml',
      'patterns/q.yaml: backend: unknown backend "gpubox"; meow.yaml defines: local, cluster. Use one of them, or add "gpubox" under "backends:" in meow.yaml',
    ],
    valid: [0, 1],
  },
  {
    name: 'a command recipe reading the environment, or given inf',
    files: {
      'recipes/c.yaml': 'command: [echo, "{env:HOME}", .inf]\nenv: {X: "a{env:HOME}", N: 12345678901234567890}\n',
    },
    errors: [
      'recipes/c.yaml: command[1]: {env:HOME}: only variables may read the environment; add a variable to the pattern (home: "{env:HOME}") and write {home} here',
      'recipes/c.yaml: command[2]: inf cannot be written as an argument or an environment value; quote it ("inf") to pass the text',
      'recipes/c.yaml: env.X: {env:HOME}: only variables may read the environment; add a variable to the pattern (home: "{env:HOME}") and write {home} here',
    ],
    valid: [0, 0],
  },
  {
    name: 'tagged YAML values (bytes, a date, a custom tag)',
    files: { ...SEG, 'patterns/p.yaml': 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\nvariables:\n  raw: !!binary aGVsbG8=\n  when: !!timestamp 2024-01-01\n  mine: !custom foo\n  fine: !!str 12\n' },
    errors: [
      'patterns/p.yaml: invalid YAML at line 5, column 17: !!binary: tagged values are not supported (a value is a string, number, boolean, null, list or mapping); remove the tag, or quote the value: "aGVsbG8="',
      'patterns/p.yaml: invalid YAML at line 6, column 21: !!timestamp: tagged values are not supported (a value is a string, number, boolean, null, list or mapping); remove the tag, or quote the value: "2024-01-01"',
      'patterns/p.yaml: invalid YAML at line 7, column 17: !custom: tagged values are not supported (a value is a string, number, boolean, null, list or mapping); remove the tag, or quote the value: "foo"',
    ],
    valid: [0, 1],
  },
  {
    name: 'control characters in a quoted value or a file name (escaped: no line of the output is forged)',
    files: { ...SEG, 'patterns/c.yaml': '"ok\\n00:00:01.000 succeeded j-FORGED p data"\n', 'patterns/x\n00 succeeded j-F\u001b[2K.yaml': 'recipe: seg\ntrigger: {paths: "data/*"}\n' },
    errors: [
      'patterns/c.yaml: expected a mapping with keys like "recipe:" and "trigger:", got the string "ok\\n00:00:01.000 succeeded j-FORGED p data"',
      'patterns/x\\n00 succeeded j-F\\x1b[2K.yaml: name: the file name gives the pattern name "x\\n00 succeeded j-F\\x1b[2K", which is not valid; names start with a letter or digit and use only letters, digits, "_", "." and "-". Rename the file or set "name:"',
    ],
    valid: [0, 1],
  },
  {
    name: 'invalid meow.yaml keys',
    files: { ...SEG, 'meow.yaml': 'max_sweeps: 3\nwatch_mode: polling\nbackends:\n  box: {type: ssh}\n' },
    errors: [
      `meow.yaml: max_sweeps: unknown key "max_sweeps" (did you mean "max_sweep"?); meow.yaml allows: ${CONFIG_KEYS}`,
      'meow.yaml: watch_mode: expected one of native or poll, got the string "polling" (did you mean "poll"?)',
      'meow.yaml: backends.box.host: expected a host name to ssh to (a string), e.g. "host: gpu01", got nothing',
    ],
    valid: [0, 1],
  },
];

describe('meow validate: a corpus of broken definitions', () => {
  it.each(CASES)('$name', async ({ files, errors, valid }) => {
    const dir = await workspace(files);
    const r = await meow(['validate', '-w', dir]);
    expect(lines(r.stderr)).toEqual(errors);
    const n = errors.length;
    expect(lines(r.stdout)).toEqual([`${n} error${n > 1 ? 's' : ''} (${valid[0]} patterns, ${valid[1]} recipes valid)`]);
    expect(r.code).toBe(2);
  });

  it('passes a valid workspace with exit code 0', async () => {
    const dir = await workspace({ ...SEG, 'patterns/p.yaml': 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\n' });
    const r = await meow(['validate', '-w', dir]);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: 'ok: 1 patterns, 1 recipes\n', stderr: '' });
  });
});

describe('definitions that are not regular files', () => {
  it('refuses a FIFO and a link to /dev/zero unread, at once, and validates the rest', async () => {
    const dir = await workspace({ ...SEG, 'patterns/p.yaml': 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\n' });
    // Opened the usual way, a FIFO waits for a writer for ever and /dev/zero never ends.
    await new Promise<void>((resolve, reject) => execFile('mkfifo', [path.join(dir, 'patterns/f.yaml')], (err) => (err ? reject(err) : resolve())));
    await symlink('/dev/zero', path.join(dir, 'recipes/z.sh'));
    const r = await meow(['validate', '-w', dir]);
    const why = (file: string, kind: string) => `${file}: it is ${kind}, not a regular file, so it was not read; a definition must be a regular file: remove it, or put a file in its place`;
    expect(lines(r.stderr)).toEqual([why('patterns/f.yaml', 'a FIFO'), why('recipes/z.sh', 'a device')]);
    expect(lines(r.stdout)).toEqual(['2 errors (1 patterns, 1 recipes valid)']);
    expect(r.code).toBe(2);
  });
});

describe('meow with a command missing', () => {
  it('prints the usage on stderr and exits 2 (bad usage); help asked for exits 0', async () => {
    for (const args of [[], ['job']]) {
      const r = await meow(args);
      expect(r.code, `meow ${args.join(' ')}`).toBe(2);
      expect(r.stderr).toContain('Usage: meow');
      expect(r.stdout).toBe('');
    }
    for (const args of [['--help'], ['help'], ['help', 'job'], ['job', '--help']]) {
      const r = await meow(args);
      expect(r.code, `meow ${args.join(' ')}`).toBe(0);
      expect(r.stdout).toContain('Usage: meow');
    }
  });
});

describe('meow run --until-idle with one broken pattern', () => {
  it('runs the valid pattern, reports the broken one with file and key, and exits 0', async () => {
    const dir = await workspace({
      'recipes/touch.sh': `printf '%s\\n' "$input_file" >> "$MEOW_WORKSPACE/ledger.txt"\n`,
      'patterns/good.yaml': 'recipe: touch\ntrigger:\n  paths: "data/*.txt"\n',
      'patterns/broken.yaml': 'recipe: touch\ntriger:\n  paths: "data/*.txt"\n',
      'data/a.txt': 'a\n',
      'data/b.txt': 'b\n',
    });
    const r = await meow(['run', '--until-idle', '-w', dir]);
    expect(lines(r.stderr)).toContain(`patterns/broken.yaml: triger: unknown key "triger" (did you mean "trigger"?); a pattern allows: ${PATTERN_KEYS}`);
    expect(r.code).toBe(0);
    const ledger = lines(await readFile(path.join(dir, 'ledger.txt'), 'utf8'));
    expect(ledger.sort()).toEqual([path.join(dir, 'data/a.txt'), path.join(dir, 'data/b.txt')]);

    const jobs = JSON.parse((await meow(['jobs', '--json', '-w', dir])).stdout) as { pattern: string; status: string; input: string }[];
    expect(jobs.map((j) => `${j.pattern} ${j.status} ${j.input}`).sort()).toEqual(['good succeeded data/a.txt', 'good succeeded data/b.txt']);
  });
});
