import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SPARE_DIR, SpareJobDirs } from '../../src/runner/spare-job-dirs.js';
import { tempDirs } from '../helpers/temp-dirs.js';
import { waitFor } from '../helpers/wait.js';

// Job directories made ahead of time, on a real filesystem.
const FILES = ['stdout.log', 'stderr.log', 'params.json'];
const tempDir = tempDirs('meow-spares-');
const pools: SpareJobDirs[] = [];
afterEach(() => {
  for (const p of pools.splice(0)) p.close();
});

function workspace(): string {
  const root = tempDir();
  mkdirSync(join(root, '.meow', 'jobs'), { recursive: true });
  return root;
}

function pool(root: string, want = 2): SpareJobDirs {
  const p = new SpareJobDirs(root, 'local', FILES, want);
  pools.push(p);
  return p;
}

describe('SpareJobDirs', () => {
  it('has none at first, then moves a ready one into place with its files empty, and makes another', async () => {
    const root = workspace();
    const spares = pool(root);
    expect(await spares.take(join(root, '.meow', 'jobs', 'j1'))).toBe(false);
    await waitFor(() => spares.readyCount === 2, 'two spares ready');
    const dir = join(root, '.meow', 'jobs', 'j2');
    expect(await spares.take(dir)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual([...FILES].sort());
    for (const f of FILES) expect(readFileSync(join(dir, f), 'utf8')).toBe('');
    await waitFor(() => spares.readyCount === 2, 'the spare taken made again');
    expect(readdirSync(join(root, SPARE_DIR, 'local')).length).toBe(2);
  });

  it('keeps its spare when the directory exists with something in it', async () => {
    const root = workspace();
    const spares = pool(root, 1);
    await spares.take(join(root, 'none'));
    await waitFor(() => spares.readyCount === 1, 'a spare ready');
    const dir = join(root, '.meow', 'jobs', 'j1');
    mkdirSync(dir);
    writeFileSync(join(dir, 'stdout.log'), 'an earlier attempt\n');
    expect(await spares.take(dir)).toBe(false);
    expect(readFileSync(join(dir, 'stdout.log'), 'utf8')).toBe('an earlier attempt\n');
    expect(spares.readyCount).toBe(1);
  });

  it('takes over the spares an earlier engine left, and removes half-made ones and any with something in them', async () => {
    const root = workspace();
    const first = pool(root, 2);
    await first.take(join(root, 'none'));
    await waitFor(() => first.readyCount === 2, 'two spares ready');
    first.close();
    mkdirSync(join(root, SPARE_DIR, 'local', '.half-made'));
    // Planted: a spare with something in it is not a spare.
    const planted = join(root, SPARE_DIR, 'local', 'planted');
    mkdirSync(planted);
    for (const f of FILES) writeFileSync(join(planted, f), '');
    writeFileSync(join(planted, 'stdout.log'), 'not from the job\n');
    const extra = join(root, SPARE_DIR, 'local', 'extra');
    mkdirSync(extra);
    for (const f of [...FILES, 'meow_result.json']) writeFileSync(join(extra, f), '');
    const left = readdirSync(join(root, SPARE_DIR, 'local')).filter((n) => !n.startsWith('.') && n !== 'planted' && n !== 'extra').sort();
    const second = pool(root, 2);
    expect(await second.take(join(root, 'none'))).toBe(false);
    // Taken over one by one: done once neither the half-made nor the planted ones are left.
    const kept = (n: string) => !n.startsWith('.') && n !== 'planted' && n !== 'extra';
    await waitFor(() => second.readyCount === 2 && readdirSync(join(root, SPARE_DIR, 'local')).every(kept), 'the earlier spares taken over');
    expect(readdirSync(join(root, SPARE_DIR, 'local')).sort()).toEqual(left);
  });

  it('keeps the spares of two backends apart', async () => {
    const root = workspace();
    const a = new SpareJobDirs(root, 'local', FILES, 1);
    const b = new SpareJobDirs(root, 'gpu box/2', FILES, 1);
    pools.push(a, b);
    await a.take(join(root, 'none'));
    await b.take(join(root, 'none'));
    await waitFor(() => a.readyCount === 1 && b.readyCount === 1, 'a spare each');
    expect(readdirSync(join(root, SPARE_DIR)).sort()).toEqual(['gpu%20box%2F2', 'local']);
    expect(await a.take(join(root, '.meow', 'jobs', 'a'))).toBe(true);
    expect(await b.take(join(root, '.meow', 'jobs', 'b'))).toBe(true);
  });

  it('makes none where it cannot, without an error: the caller makes its directories', async () => {
    const root = workspace();
    writeFileSync(join(root, SPARE_DIR), 'not a directory');
    const spares = pool(root);
    for (let i = 0; i < 3; i++) expect(await spares.take(join(root, '.meow', 'jobs', `j${i}`))).toBe(false);
    expect(spares.readyCount).toBe(0);
  });
});
