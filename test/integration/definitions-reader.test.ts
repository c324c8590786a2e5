import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it, expect } from 'vitest';
import { formatDefinitionError, readConfig, readDefinitions } from '../../src/monitor/definitions-reader.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'meow-defs-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function write(rel: string, text: string): Promise<void> {
  await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await writeFile(path.join(root, rel), text);
}

const PATTERN = (recipe: string, extra = ''): string => `recipe: ${recipe}\ntrigger:\n  paths: "data/*.txt"\n${extra}`;
const NOTEBOOK = JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 });

async function readAll() {
  const { config, errors: configErrors } = await readConfig(root);
  const defs = await readDefinitions(root, config);
  return { config, configErrors, ...defs, messages: defs.errors.map(formatDefinitionError) };
}

describe('readConfig', () => {
  it('gives the defaults without an error when meow.yaml is missing', async () => {
    const { config, errors } = await readConfig(root);
    expect(errors).toEqual([]);
    expect(config.root).toBe(root);
    expect(config.cpus).toBe(os.availableParallelism());
    expect(Object.keys(config.backends)).toEqual(['local']);
  });

  it('reads meow.yaml and reports its errors with the defaults filled in', async () => {
    await write('meow.yaml', 'max_sweep: 3\ncpu: 2\n');
    const { config, errors } = await readConfig(root);
    expect(config.maxSweep).toBe(3);
    expect(errors.map(formatDefinitionError)).toEqual([
      'meow.yaml: cpu: unknown key "cpu" (did you mean "cpus"?); meow.yaml allows: cpus, watch, ignore, watch_mode, poll_interval, python, max_generation, max_sweep, scan_interval, kill_grace, hash, max_log_size, max_definition_size, state_access, follow_symlinks, max_depth, max_path_length, warm_kernels, backends, sources',
    ]);
  });
});

describe('readDefinitions', () => {
  it('gives nothing for a workspace without patterns/ or recipes/', async () => {
    const { patterns, recipes, errors } = await readAll();
    expect({ patterns, recipes, errors }).toEqual({ patterns: [], recipes: [], errors: [] });
  });

  it('reads patterns and recipes, sorted by name', async () => {
    await write('patterns/zeta.yaml', PATTERN('seg'));
    await write('patterns/alpha.yml', PATTERN('count'));
    await write('recipes/seg.ipynb', NOTEBOOK);
    await write('recipes/count.py', 'print(1)\n');
    await write('recipes/copy.yaml', 'command: [cp, "{path}", out/]\n');
    const { patterns, recipes, errors } = await readAll();
    expect(errors).toEqual([]);
    expect(patterns.map((p) => [p.name, p.file, p.recipe])).toEqual([
      ['alpha', 'patterns/alpha.yml', 'count'],
      ['zeta', 'patterns/zeta.yaml', 'seg'],
    ]);
    expect(recipes.map((r) => [r.name, r.file, r.kind])).toEqual([
      ['copy', 'recipes/copy.yaml', 'command'],
      ['count', 'recipes/count.py', 'python'],
      ['seg', 'recipes/seg.ipynb', 'notebook'],
    ]);
  });

  it('skips hidden and editor temp files silently, and directories', async () => {
    await write('patterns/ok.yaml', PATTERN('seg'));
    for (const name of ['.hidden.yaml', 'ok.yaml~', '.#ok.yaml', '.ok.yaml.swp', 'ok.yaml.swp', '#ok.yaml#']) {
      await write(`patterns/${name}`, 'not: [valid');
      await write(`recipes/${name}`, 'not: [valid');
    }
    await write('patterns/archive/old.yaml', PATTERN('seg'));
    await write('recipes/lib/helper.py', '');
    const { patterns, recipes, errors } = await readAll();
    expect(errors).toEqual([]);
    expect(patterns.map((p) => p.name)).toEqual(['ok']);
    expect(recipes).toEqual([]);
  });

  it('reports non-YAML files under patterns/ and bad definitions, and keeps the good ones', async () => {
    await write('patterns/good.yaml', PATTERN('seg'));
    await write('patterns/README.md', '# notes');
    await write('patterns/broken.yaml', 'recipe: [seg\n');
    await write('recipes/seg.sh', 'echo hi\n');
    await write('recipes/bad.ipynb', '{"nbformat": 4}');
    await write('recipes/notes.txt', 'hi');
    const { patterns, recipes, messages } = await readAll();
    expect(patterns.map((p) => p.name)).toEqual(['good']);
    expect(recipes.map((r) => r.name)).toEqual(['seg']);
    expect(messages).toEqual([
      'patterns/README.md: not a pattern file: pattern files end in .yaml (or .yml); move other files out of patterns/',
      'patterns/broken.yaml: invalid YAML at line 2, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]',
      'recipes/bad.ipynb: not a valid notebook: it has no "cells" list; save it again from Jupyter',
      'recipes/notes.txt: unsupported recipe kind ".txt"; recipe files end in .ipynb (notebook), .py (python), .sh (bash), .js or .mjs (javascript), .yaml or .yml (command)',
    ]);
  });

  it('rejects both patterns that share a name, each naming the other', async () => {
    await write('patterns/a.yaml', PATTERN('seg', 'name: seg\n'));
    await write('patterns/b.yaml', PATTERN('seg', 'name: seg\n'));
    await write('patterns/c.yaml', PATTERN('seg'));
    const { patterns, messages, errors } = await readAll();
    expect(patterns.map((p) => p.name)).toEqual(['c']);
    expect(errors.every((e) => e.code === 'MEOW_PATTERN_INVALID')).toBe(true);
    expect(messages).toEqual([
      'patterns/a.yaml: name: the pattern name "seg" is also used by patterns/b.yaml; pattern names must be unique, so neither is registered — rename one',
      'patterns/b.yaml: name: the pattern name "seg" is also used by patterns/a.yaml; pattern names must be unique, so neither is registered — rename one',
    ]);
  });

  it('rejects both recipes that share a stem', async () => {
    await write('recipes/seg.py', 'print(1)\n');
    await write('recipes/seg.ipynb', NOTEBOOK);
    await write('recipes/other.sh', 'true\n');
    const { recipes, messages, errors } = await readAll();
    expect(recipes.map((r) => r.name)).toEqual(['other']);
    expect(errors.every((e) => e.code === 'MEOW_RECIPE_INVALID')).toBe(true);
    expect(messages).toEqual([
      'recipes/seg.ipynb: the recipe name "seg" is also used by recipes/seg.py; recipe names must be unique, so neither is registered — rename one',
      'recipes/seg.py: the recipe name "seg" is also used by recipes/seg.ipynb; recipe names must be unique, so neither is registered — rename one',
    ]);
  });

  it('checks patterns against meow.yaml: backends and max_sweep', async () => {
    await write('meow.yaml', 'max_sweep: 4\nbackends:\n  cluster: {type: slurm}\n');
    await write('patterns/on-cluster.yaml', PATTERN('seg', 'backend: cluster\nsweep: {a: [1, 2], b: [1, 2]}\n'));
    await write('patterns/too-big.yaml', PATTERN('seg', 'sweep: {a: [1, 2, 3], b: [1, 2]}\n'));
    await write('patterns/nowhere.yaml', PATTERN('seg', 'backend: gpubox\n'));
    const { patterns, messages } = await readAll();
    expect(patterns.map((p) => p.name)).toEqual(['on-cluster']);
    expect(messages).toEqual([
      'patterns/nowhere.yaml: backend: unknown backend "gpubox"; meow.yaml defines: local, cluster. Use one of them, or add "gpubox" under "backends:" in meow.yaml',
      'patterns/too-big.yaml: sweep: the sweep has 6 points, more than the limit of 4; shrink the sweep or raise max_sweep in meow.yaml',
    ]);
  });
});

describe('formatDefinitionError', () => {
  it('leaves out the key for whole-file errors', () => {
    expect(formatDefinitionError({ file: 'patterns/a.yaml', key: 'trigger.paths', message: 'm', code: 'X' })).toBe('patterns/a.yaml: trigger.paths: m');
    expect(formatDefinitionError({ file: 'patterns/a.yaml', key: '', message: 'm', code: 'X' })).toBe('patterns/a.yaml: m');
  });
});
