import { statfs, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Free space below this counts as a full disk. */
export const MIN_FREE_BYTES = 8 * 1024 * 1024;

/** True for the errors a full disk gives: ENOSPC from the filesystem, SQLITE_FULL from the database. */
export function isDiskFull(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const code = 'code' in err ? String(err.code) : '';
  if (code === 'ENOSPC' || code === 'SQLITE_FULL' || code === 'EDQUOT') return true;
  const message = err instanceof Error ? err.message : '';
  return /no space left on device|database or disk is full|disk quota exceeded/i.test(message);
}

/** Bytes available to this user on the filesystem holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** Whether the filesystem holding `dir` is (nearly) full. */
export async function diskNearlyFull(dir: string): Promise<boolean> {
  try {
    return (await freeBytes(dir)) < MIN_FREE_BYTES;
  } catch {
    return false;
  }
}

/** Whether there is room again: enough free space, and a real write succeeds. */
export async function spaceAvailable(dir: string): Promise<boolean> {
  if (await diskNearlyFull(dir)) return false;
  const probe = join(dir, `.space-probe-${process.pid}`);
  try {
    await writeFile(probe, Buffer.alloc(64 * 1024));
    return true;
  } catch {
    return false;
  } finally {
    await unlink(probe).catch(() => undefined);
  }
}
