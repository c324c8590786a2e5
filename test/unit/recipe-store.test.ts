import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from '../helpers/temp-dirs.js';
import { parseRecipe } from '../../src/core/recipe-schema.js';
import { placeRecipe, RECIPE_STORE } from '../../src/runner/recipe-store.js';
import type { ParsedRecipe } from '../../src/core/types.js';

// A bash job's recipe.sh is a hard link to one read-only stored copy per
// recipe content, on a real filesystem; where links fail, a copy of its own.
const tempDir = tempDirs('meow-recipe-store-');

function workspace(): string {
  const root = tempDir();
  mkdirSync(join(root, '.meow', 'jobs'), { recursive: true });
  return root;
}

function recipe(text: string): ParsedRecipe {
  const parsed = parseRecipe('recipes/step.sh', text);
  if (!parsed.recipe) throw new Error(JSON.stringify(parsed.errors));
  return parsed.recipe;
}

function jobDir(root: string, id: string): string {
  const dir = join(root, '.meow', 'jobs', id);
  mkdirSync(dir);
  return dir;
}

describe('placeRecipe', () => {
  it('links every job of one recipe content to one read-only stored copy; an edit is a new copy, and old jobs keep what they ran', async () => {
    const root = workspace();
    const v1 = recipe('echo "one $input_file"\n');
    const [a, b] = [join(jobDir(root, 'a'), 'recipe.sh'), join(jobDir(root, 'b'), 'recipe.sh')];
    await placeRecipe(root, v1, a);
    await placeRecipe(root, v1, b);
    const stored = join(root, RECIPE_STORE, `${v1.hash}.sh`);
    expect(statSync(a).ino).toBe(statSync(stored).ino);
    expect(statSync(b).ino).toBe(statSync(stored).ino);
    expect(statSync(stored).nlink).toBe(3);
    expect(statSync(stored).mode & 0o777).toBe(0o444);
    expect(readFileSync(a, 'utf8')).toBe(v1.source);

    const v2 = recipe('echo "two $input_file"\n');
    const c = join(jobDir(root, 'c'), 'recipe.sh');
    await placeRecipe(root, v2, c);
    expect(readFileSync(c, 'utf8')).toBe(v2.source);
    expect(statSync(c).ino).not.toBe(statSync(a).ino);
    expect(readFileSync(a, 'utf8')).toBe(v1.source);
  });

  it('replaces what an earlier attempt left at the path without writing through it into the stored copy', async () => {
    const root = workspace();
    const v1 = recipe('echo one\n');
    const to = join(jobDir(root, 'a'), 'recipe.sh');
    await placeRecipe(root, v1, to);
    const v2 = recipe('echo two\n');
    await placeRecipe(root, v2, to);
    expect(readFileSync(to, 'utf8')).toBe(v2.source);
    expect(readFileSync(join(root, RECIPE_STORE, `${v1.hash}.sh`), 'utf8')).toBe(v1.source);
  });

  it('gives a job a copy of its own where nothing can be stored', async () => {
    const root = workspace();
    // A file where the store's directory should be: no stored copy can be made.
    writeFileSync(join(root, RECIPE_STORE), 'not a directory');
    const v1 = recipe('echo alone\n');
    const to = join(jobDir(root, 'a'), 'recipe.sh');
    await placeRecipe(root, v1, to);
    expect(readFileSync(to, 'utf8')).toBe(v1.source);
    expect(statSync(to).nlink).toBe(1);
    expect(readFileSync(join(root, RECIPE_STORE), 'utf8')).toBe('not a directory');
  });
});
