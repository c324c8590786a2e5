import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findUp, packageFile, packageRoot } from '../../src/core/package-root.js';
import { REPO } from '../helpers/workspace.js';

describe('package files', () => {
  let dir: string | null = null;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = null;
  });

  it('finds the package root from the sources', () => {
    expect(packageRoot()).toBe(REPO);
    expect(packageFile(join('runtime', 'nb_runner.py'))).toBe(join(REPO, 'runtime', 'nb_runner.py'));
    expect(packageFile('no-such-file.txt')).toBeNull();
  });

  it('walks up to the nearest directory holding the file, and stops at the filesystem root', async () => {
    dir = await mkdtemp(join(tmpdir(), 'meow-findup-'));
    await mkdir(join(dir, 'a', 'b', 'c'), { recursive: true });
    await writeFile(join(dir, 'marker'), '');
    await writeFile(join(dir, 'a', 'b', 'marker'), '');
    expect(findUp(join(dir, 'a', 'b', 'c'), 'marker')).toBe(join(dir, 'a', 'b', 'marker'));
    expect(findUp(join(dir, 'a'), 'marker')).toBe(join(dir, 'marker'));
    expect(findUp(join(dir, 'a', 'b', 'c'), 'meow-surely-nowhere-9f3c')).toBeNull();
  });
});
