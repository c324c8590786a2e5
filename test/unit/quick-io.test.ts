import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from '../helpers/temp-dirs.js';
import { lstatQuick, mkdirQuick, renameQuick, writeSmall } from '../../src/core/quick-io.js';

// The engine's small file operations fail as their asynchronous forms do (a
// rejected promise with the same code), synchronous or not.
const dir = tempDirs('meow-quick-io-');

const code = (p: Promise<unknown>) => p.then(() => 'ok', (err: NodeJS.ErrnoException) => err.code);

describe('quick-io', () => {
  it('writes, renames and makes directories, and says what failed by its code', async () => {
    const d = dir();
    await mkdirQuick(join(d, 'a'));
    expect(await code(mkdirQuick(join(d, 'a')))).toBe('EEXIST');
    expect(await code(mkdirQuick(join(d, 'x', 'y')))).toBe('ENOENT');
    await mkdirQuick(join(d, 'x', 'y'), true);
    await mkdirQuick(join(d, 'x', 'y'), true);
    await writeSmall(join(d, 'a', 'f'), 'one\n');
    expect(readFileSync(join(d, 'a', 'f'), 'utf8')).toBe('one\n');
    expect(await code(writeSmall(join(d, 'missing', 'f'), ''))).toBe('ENOENT');
    const ino = statSync(join(d, 'a', 'f')).ino;
    await renameQuick(join(d, 'a', 'f'), join(d, 'h'));
    expect(statSync(join(d, 'h')).ino).toBe(ino);
    expect(await code(renameQuick(join(d, 'g'), join(d, 'i')))).toBe('ENOENT');
    expect((await lstatQuick(join(d, 'h')))?.isFile()).toBe(true);
    expect(await lstatQuick(join(d, 'nothing'))).toBeNull();
  });

  it('keeps answering the same way through a burst that uses up its synchronous time', async () => {
    const d = dir();
    // Enough creations to pass the synchronous budget: the later ones go through the thread pool.
    await Promise.all(Array.from({ length: 400 }, (_, i) => writeSmall(join(d, `f${i}`), `${i}\n`)));
    for (let i = 0; i < 400; i += 57) expect(readFileSync(join(d, `f${i}`), 'utf8')).toBe(`${i}\n`);
    // Every one settled before the test ends (one still in flight would make its directory once f1 is removed).
    const codes = await Promise.all(Array.from({ length: 50 }, () => code(mkdirQuick(join(d, 'f1')))));
    expect(new Set(codes)).toEqual(new Set(['EEXIST']));
  });
});
