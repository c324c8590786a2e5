import { describe, it, expect } from 'vitest';
import { parseRecipe, recipeKindOf } from '../../src/core/recipe-schema.js';

function errorsOf(file: string, text: string): string[] {
  const { recipe, errors } = parseRecipe(file, text);
  if (errors.length > 0) expect(recipe).toBeNull();
  for (const e of errors) expect(e).toMatchObject({ file, code: 'MEOW_RECIPE_INVALID' });
  return errors.map((e) => `${e.key} | ${e.message}`);
}

const NOTEBOOK = JSON.stringify({ cells: [{ cell_type: 'code', source: ['x = 1'] }], metadata: {}, nbformat: 4, nbformat_minor: 5 });
const SUPPORTED = '.ipynb (notebook), .py (python), .sh (bash), .js or .mjs (javascript), .yaml or .yml (command)';

describe('recipeKindOf', () => {
  it('derives the kind from the extension', () => {
    expect(recipeKindOf('recipes/a.ipynb')).toBe('notebook');
    expect(recipeKindOf('recipes/a.py')).toBe('python');
    expect(recipeKindOf('recipes/a.sh')).toBe('bash');
    expect(recipeKindOf('recipes/a.js')).toBe('javascript');
    expect(recipeKindOf('recipes/a.mjs')).toBe('javascript');
    expect(recipeKindOf('recipes/a.yaml')).toBe('command');
    expect(recipeKindOf('recipes/a.yml')).toBe('command');
    expect(recipeKindOf('recipes/a.txt')).toBeNull();
    expect(recipeKindOf('recipes/Makefile')).toBeNull();
  });
});

describe('parseRecipe', () => {
  it('takes scripts as written, named by their stem', () => {
    const { recipe, errors } = parseRecipe('recipes/segmentation.py', 'print("hi")\n');
    expect(errors).toEqual([]);
    expect(recipe).toMatchObject({ name: 'segmentation', file: 'recipes/segmentation.py', kind: 'python', source: 'print("hi")\n', command: null });
    expect(recipe?.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts a notebook with cells', () => {
    expect(parseRecipe('recipes/nb.ipynb', NOTEBOOK).recipe).toMatchObject({ name: 'nb', kind: 'notebook' });
  });

  it('rejects an invalid notebook', () => {
    expect(errorsOf('recipes/nb.ipynb', '{"cells": [')).toEqual([
      expect.stringMatching(/^ \| not a valid notebook: the file is not JSON \(.+\); save it again from Jupyter$/),
    ]);
    expect(errorsOf('recipes/nb.ipynb', '{"metadata": {}}')).toEqual([' | not a valid notebook: it has no "cells" list; save it again from Jupyter']);
    expect(errorsOf('recipes/nb.ipynb', '[]')).toEqual([' | not a valid notebook: it has no "cells" list; save it again from Jupyter']);
    expect(errorsOf('recipes/nb.ipynb', 'not json\n')).toEqual([
      ` | not a valid notebook: the file is not JSON (Unexpected token 'o', "not json\\n" is not valid JSON); save it again from Jupyter`,
    ]);
    expect(errorsOf('recipes/nb.ipynb', '{"cells": []}')).toEqual([
      ' | not a valid notebook: it has no "nbformat" version, and only nbformat 3 and 4 notebooks run; save it again from Jupyter 4 or later',
    ]);
    expect(errorsOf('recipes/nb.ipynb', '{"cells": [], "nbformat": 3}')).toEqual([
      ' | not a valid notebook: an nbformat 3 notebook keeps its cells in a "worksheets" list, and this one has none; save it again from Jupyter 4 or later',
    ]);
    expect(errorsOf('recipes/nb.ipynb', '{"cells": [], "nbformat": 2}')).toEqual([
      ' | not a valid notebook: its "nbformat" is the number 2, and only nbformat 3 and 4 notebooks run; save it again from Jupyter 4 or later',
    ]);
  });

  it('rejects an unknown recipe kind, listing the supported ones', () => {
    expect(errorsOf('recipes/notes.txt', 'hello')).toEqual([` | unsupported recipe kind ".txt"; recipe files end in ${SUPPORTED}`]);
    expect(errorsOf('recipes/Makefile', 'all:')).toEqual([` | the file has no extension, so its recipe kind is unknown; recipe files end in ${SUPPORTED}`]);
  });

  it('rejects a file name that is not a valid recipe name', () => {
    expect(errorsOf('recipes/my recipe.py', '')).toEqual([
      ' | the file name gives the recipe name "my recipe", which is not valid; names start with a letter or digit and use only letters, digits, "_", "." and "-". Rename the file',
    ]);
  });
});

describe('parseRecipe: command recipes', () => {
  it('parses a command with placeholders, env and cwd', () => {
    const text = 'description: copy it\ncommand: [cp, "{path}", "out/{stem}.txt", 3]\nenv: {LEVEL: 2, MODE: "{mode}"}\ncwd: "{dir}"\n';
    const { recipe, errors } = parseRecipe('recipes/copy.yaml', text);
    expect(errors).toEqual([]);
    expect(recipe).toMatchObject({ name: 'copy', kind: 'command', source: text });
    expect(recipe?.command).toEqual({
      command: ['cp', '{path}', 'out/{stem}.txt', '3'],
      script: null,
      shell: null,
      env: { LEVEL: '2', MODE: '{mode}' },
      cwd: '{dir}',
    });
  });

  it('parses a bash script', () => {
    const { recipe, errors } = parseRecipe('recipes/s.yml', 'shell: bash\nscript: |\n  echo "$MEOW_JOB_ID" {a,b}\n');
    expect(errors).toEqual([]);
    expect(recipe?.command).toEqual({ command: null, script: 'echo "$MEOW_JOB_ID" {a,b}\n', shell: 'bash', env: {}, cwd: null });
  });

  it('rejects a command written as one string, because no shell is used', () => {
    expect(errorsOf('recipes/c.yaml', 'command: "cp {path} out/"\n')).toEqual([
      'command | expected a list of arguments like [program, arg, "{path}"], got the string "cp {path} out/"; no shell is used, so write the command as a list',
    ]);
  });

  it('explains shell and script belonging together, and exactly one of command and script', () => {
    expect(errorsOf('recipes/c.yaml', 'script: echo hi\n')).toEqual([
      'script | a script needs "shell: bash" next to it; or use "command: [program, arg, ...]" to run a program without a shell',
    ]);
    expect(errorsOf('recipes/c.yaml', 'command: [ls]\nshell: bash\n')).toEqual([
      'shell | "shell" only applies to "script"; remove it, or write the commands under "script:"',
    ]);
    expect(errorsOf('recipes/c.yaml', 'command: [ls]\nscript: ls\nshell: bash\n')).toEqual([
      ' | both "command" and "script" are set; use exactly one: "command" (an argv list, no shell) or "script" with "shell: bash"',
    ]);
    expect(errorsOf('recipes/c.yaml', 'cwd: x\n')).toEqual([
      ' | neither "command" nor "script" is set; a command recipe needs "command: [program, arg, ...]" or "shell: bash" with "script:"',
    ]);
    expect(errorsOf('recipes/c.yaml', 'shell: zsh\nscript: ls\n')).toEqual(['shell | only "bash" is supported, got the string "zsh"']);
  });

  it('reports unknown keys, bad env, bad arguments and malformed placeholders together', () => {
    const text = 'comand: [ls]\ncommand: [prog, true, "{0}"]\nenv: {"1BAD": x, OK: [1]}\n';
    expect(errorsOf('recipes/c.yaml', text)).toEqual([
      'comand | unknown key "comand" (did you mean "command"?); a command recipe allows: command, script, shell, env, cwd, description',
      'command[1] | expected an argument (a string or a number), got the boolean true',
      'command[2] | "{0}" is not a valid placeholder; placeholder names use letters, digits and "_" and do not start with a digit (write "{{" and "}}" for literal braces)',
      'env.1BAD | "1BAD" is not a valid environment variable name; use letters, digits and "_", not starting with a digit',
      'env.OK | expected a string or a number (quote true/false), got a list',
    ]);
  });

  it('rejects an empty command and an empty program', () => {
    expect(errorsOf('recipes/c.yaml', 'command: []\n')).toEqual(['command | expected a list of arguments like [program, arg, "{path}"], got an empty list']);
    expect(errorsOf('recipes/c.yaml', 'command: ["", x]\n')).toEqual(['command[0] | the program is empty; the first element names the program to run']);
  });

  it('names line and column of a YAML syntax error and rejects an empty file', () => {
    expect(errorsOf('recipes/c.yaml', 'command: [ls\n')).toEqual([
      ' | invalid YAML at line 2, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    expect(errorsOf('recipes/c.yaml', '')).toEqual([
      ' | the file is empty; a command recipe needs "command: [program, arg, ...]" or "shell: bash" with "script:"',
    ]);
  });
});
