import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from '../helpers/temp-dirs.js';
import { FileHasher } from '../../src/monitor/file-hasher.js';
import { versionOf } from '../../src/monitor/scanner.js';

// Input hashes over real files: small inputs are read synchronously, large
// ones asynchronously; a file that is not the version its job saw keeps no hash.
const tempDir = tempDirs('meow-hasher-');

function world(): { dir: string; hashes: Map<string, string>; hasher: FileHasher } {
  const dir = tempDir();
  const hashes = new Map<string, string>();
  return { dir, hashes, hasher: new FileHasher((id, h) => hashes.set(id, h)) };
}

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const versionNow = (abs: string) => versionOf(statSync(abs, { bigint: true }));

describe('FileHasher', () => {
  it('hashes small and large inputs alike, in any number, and is idle after', async () => {
    const { dir, hashes, hasher } = world();
    const big = Buffer.alloc(3 * 256 * 1024 + 17, 7);
    const files: [string, Buffer | string][] = [['empty', ''], ['small', 'hello\n'], ['big', big]];
    for (let i = 0; i < 200; i++) files.push([`f${i}`, `file ${i}\n`]);
    for (const [name, data] of files) writeFileSync(join(dir, name), data);
    for (const [name] of files) hasher.add({ jobId: name, abs: join(dir, name), version: versionNow(join(dir, name)) });
    await hasher.idle();
    expect(hashes.size).toBe(files.length);
    for (const [name, data] of files) expect(hashes.get(name)).toBe(sha(data));
  });

  it('records no hash for a file that changed since its event, or is gone', async () => {
    const { dir, hashes, hasher } = world();
    const small = join(dir, 'small');
    const big = join(dir, 'big');
    writeFileSync(small, 'one');
    writeFileSync(big, Buffer.alloc(200 * 1024, 1));
    const smallThen = versionNow(small);
    const bigThen = versionNow(big);
    writeFileSync(small, 'two, longer');
    writeFileSync(big, Buffer.alloc(300 * 1024, 2));
    hasher.add({ jobId: 's', abs: small, version: smallThen });
    hasher.add({ jobId: 'b', abs: big, version: bigThen });
    hasher.add({ jobId: 'gone', abs: join(dir, 'missing'), version: '3:1' });
    await hasher.idle();
    expect([...hashes.keys()]).toEqual([]);
  });

  it('skips a FIFO put in place of an input, small or large, without blocking', async () => {
    const { dir, hashes, hasher } = world();
    for (const [name, data] of [['small', 'data'], ['large', Buffer.alloc(100 * 1024)]] as const) {
      const path = join(dir, name);
      writeFileSync(path, data);
      const version = versionNow(path);
      rmSync(path);
      execFileSync('mkfifo', [path]);
      hasher.add({ jobId: name, abs: path, version });
    }
    await hasher.idle();
    expect([...hashes.keys()]).toEqual([]);
  });

  it('drops queued work when closed, and idle resolves', async () => {
    const { dir, hashes, hasher } = world();
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, `f${i}`), Buffer.alloc(100 * 1024, i));
    for (let i = 0; i < 5; i++) hasher.add({ jobId: `f${i}`, abs: join(dir, `f${i}`), version: versionNow(join(dir, `f${i}`)) });
    hasher.close();
    await hasher.idle();
    expect(hashes.size).toBe(0);
  });
});
