import { opendir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileState } from '../rules/tree-diff.js';
import type { WatchScope } from '../rules/scope.js';

/** The content version of a file: size and nanosecond mtime. */
export function versionOf(st: { size: bigint | number; mtimeNs?: bigint; mtimeMs: number | bigint }): string {
  const ns = st.mtimeNs ?? BigInt(Math.round(Number(st.mtimeMs) * 1e6));
  return `${st.size}:${ns}`;
}

/** The state of one file, or null when it is not a regular file (or is gone). */
export async function statFile(abs: string): Promise<FileState | null> {
  try {
    const st = await stat(abs, { bigint: true });
    if (!st.isFile()) return null;
    return { version: versionOf(st), ino: Number(st.ino) };
  } catch {
    return null;
  }
}

/** Problems met while scanning, reported but never fatal. */
export interface ScanProblem {
  path: string;
  message: string;
}

/**
 * Walks the watched tree and returns every regular file in scope with its
 * state. Symlinks to files are followed; symlinks to directories are not
 * descended (no loops). Unreadable directories are reported and skipped.
 */
export async function scanTree(root: string, scope: WatchScope, under = ''): Promise<{ files: Map<string, FileState>; problems: ScanProblem[] }> {
  const files = new Map<string, FileState>();
  const problems: ScanProblem[] = [];
  const dirs = [under];
  const STAT_BATCH = 64;
  while (dirs.length > 0) {
    const rel = dirs.pop() as string;
    let dir;
    try {
      dir = await opendir(rel ? join(root, rel) : root, { bufferSize: 256 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push({ path: rel || '.', message: (err as Error).message });
      continue;
    }
    const pendingStats: string[] = [];
    try {
      for await (const entry of dir) {
        const path = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          if (!scope.prunes(path)) dirs.push(path);
        } else if ((entry.isFile() || entry.isSymbolicLink()) && scope.includes(path)) {
          pendingStats.push(path);
        }
      }
    } catch (err) {
      problems.push({ path: rel || '.', message: (err as Error).message });
    }
    for (let i = 0; i < pendingStats.length; i += STAT_BATCH) {
      const batch = pendingStats.slice(i, i + STAT_BATCH);
      const states = await Promise.all(batch.map((p) => statFile(join(root, p))));
      batch.forEach((p, j) => {
        const s = states[j];
        if (s) files.set(p, s);
        // Node decodes bytes that are not UTF-8 as U+FFFD, and such a name cannot be opened again.
        else if (p.includes('\uFFFD')) problems.push({ path: p, message: 'the file name is not valid UTF-8, so it cannot be processed; rename it (e.g. with convmv)' });
      });
    }
  }
  // Sorted, so jobs of a scan are created (and run) in path order.
  return { files: new Map([...files].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))), problems };
}
