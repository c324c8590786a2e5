import { statSync, type Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
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

/** Milliseconds of synchronous stats before a scan lets the event loop run. */
const SLICE_MS = 4;
/** A stat slower than this means a slow (network) filesystem: the rest of the scan stats off the main thread. */
const SLOW_STAT_MS = 20;
/** Concurrent stats once a scan has gone off the main thread. */
const STAT_BATCH = 64;

/** One stat on this thread, or null when the path is not a regular file (or is gone). */
function statNow(abs: string): FileState | null {
  try {
    const st = statSync(abs, { bigint: true, throwIfNoEntry: false });
    if (!st || !st.isFile()) return null;
    return { version: versionOf(st), ino: Number(st.ino) };
  } catch {
    return null;
  }
}

/** An entry of a directory, keyed so that sorting keys sorts the paths beneath. */
interface Entry {
  /** The name, plus "/" for a directory: that is how its files compare with its siblings. */
  key: string;
  path: string;
  dir: boolean;
  link: boolean;
}

/** How a scan treats symbolic links to files: null to follow one, else why it is not followed. */
export type LinkCheck = (path: string) => string | null;

/**
 * Walks the watched tree and returns every regular file in scope with its
 * state, in path order (so jobs of a scan are created, and run, in path
 * order). Symlinks to files are followed when `links` allows it (else
 * reported); symlinks to directories are never descended (no loops).
 * Unreadable directories, and paths beyond the scope's depth and length
 * bounds, are reported and skipped.
 *
 * Stats run synchronously, in slices of a few milliseconds between which the
 * event loop runs: on a local disk that is several times faster than a
 * promise per file. A stat that takes long (a network filesystem) moves the
 * rest of the scan to the thread pool, so a slow server never stalls the engine.
 */
export async function scanTree(root: string, scope: WatchScope, under = '', links: LinkCheck = () => null): Promise<{ files: Map<string, FileState>; problems: ScanProblem[] }> {
  const files = new Map<string, FileState>();
  const problems: ScanProblem[] = [];
  let offThread = false;
  let sliceStart = performance.now();

  const record = (path: string, state: FileState | null): void => {
    if (state) files.set(path, state);
    // Node decodes bytes that are not UTF-8 as U+FFFD, and such a name cannot be opened again.
    else if (path.includes('\uFFFD')) problems.push({ path, message: 'the file name is not valid UTF-8, so it cannot be processed; rename it (e.g. with convmv)' });
  };

  const walk = async (rel: string): Promise<void> => {
    let dirents: Dirent[];
    try {
      dirents = await readdir(rel ? join(root, rel) : root, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push({ path: rel || '.', message: (err as Error).message });
      return;
    }
    const entries: Entry[] = [];
    for (const d of dirents) {
      const path = rel ? `${rel}/${d.name}` : d.name;
      const dir = d.isDirectory();
      if (!dir && !d.isFile() && !d.isSymbolicLink()) continue;
      if (dir ? !scope.prunes(path) : scope.includes(path)) {
        entries.push({ key: dir ? `${d.name}/` : d.name, path, dir, link: d.isSymbolicLink() });
        continue;
      }
      const beyond = scope.beyond(path, dir);
      if (beyond) problems.push({ path, message: beyond });
    }
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e.dir) {
        await walk(e.path);
        continue;
      }
      const refused = e.link ? links(e.path) : null;
      if (refused) {
        problems.push({ path: e.path, message: refused });
        continue;
      }
      if (offThread) {
        // The files up to the next directory, a batch at a time.
        let j = i;
        while (j < entries.length && !entries[j].dir && !entries[j].link && j - i < STAT_BATCH) j++;
        j = Math.max(j, i + 1);
        const batch = entries.slice(i, j);
        const states = await Promise.all(batch.map((f) => statFile(join(root, f.path))));
        batch.forEach((f, k) => record(f.path, states[k]));
        i = j - 1;
        continue;
      }
      if (performance.now() - sliceStart > SLICE_MS) {
        await new Promise((r) => setImmediate(r));
        sliceStart = performance.now();
      }
      const t = performance.now();
      record(e.path, statNow(join(root, e.path)));
      if (performance.now() - t > SLOW_STAT_MS) offThread = true;
    }
  };

  await walk(under);
  return { files, problems };
}
