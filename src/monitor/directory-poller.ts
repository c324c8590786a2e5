import { type Dirent } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { WatchScope } from '../rules/scope.js';

/** What a poller reports to its owner (the directory watcher). */
export interface PollerHandlers {
  /** A file entry appeared, changed or vanished. */
  file(path: string): void;
  /** A subdirectory appeared (the owner watches or polls it). */
  dirFound(path: string): void;
  /** A polled directory, or a subdirectory of one, is gone (or is no directory any more). */
  dirGone(path: string): void;
  /** A directory could not be read, for a reason other than being gone. */
  problem(path: string, message: string): void;
}

/** A directory's entries as last seen: name → "d" for a subdirectory, else size, mtime and inode. */
type Listing = Map<string, string>;

/** Concurrent stats while polling one directory. */
const STAT_BATCH = 64;

/**
 * Polls directories that are not watched by the kernel: every directory with
 * `watch_mode: poll` (network filesystems), and with native watching the ones
 * past the inotify limits. Each round lists every polled directory and
 * stats its files, and reports what differs from the round before; a
 * directory's first round reports every file, and the settler drops what did
 * not change, so nothing that happened before a directory was first polled is
 * lost. Rounds never overlap: the next starts `intervalMs` after the last
 * ended, or later when rounds are slow, so polling takes at most a third of
 * the time. Owns its timer: call `close()`.
 */
export class DirectoryPoller {
  private readonly dirs = new Map<string, Listing>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly scope: WatchScope,
    private readonly intervalMs: number,
    private readonly on: PollerHandlers,
  ) {}

  /** Directories polled. */
  get size(): number {
    return this.dirs.size;
  }

  has(dir: string): boolean {
    return this.dirs.has(dir);
  }

  /** Polls a directory from the next round on. */
  add(dir: string): void {
    if (this.closed || this.dirs.has(dir)) return;
    this.dirs.set(dir, new Map());
    if (!this.timer && !this.running) this.schedule(this.intervalMs);
  }

  /** Stops polling a directory and everything below it. */
  remove(dir: string): void {
    for (const d of this.dirs.keys()) if (d === dir || d.startsWith(`${dir}/`)) this.dirs.delete(d);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.round(), ms);
  }

  private async round(): Promise<void> {
    this.timer = null;
    this.running = true;
    const started = performance.now();
    try {
      for (const dir of [...this.dirs.keys()]) {
        if (this.closed) return;
        if (this.dirs.has(dir)) await this.poll(dir);
      }
    } finally {
      this.running = false;
    }
    if (this.dirs.size > 0) this.schedule(Math.max(this.intervalMs, 2 * (performance.now() - started)));
  }

  private async poll(dir: string): Promise<void> {
    const abs = dir ? join(this.root, dir) : this.root;
    let dirents: Dirent[];
    try {
      // readdir follows a symlink: a directory replaced by one is gone.
      if (!(await lstat(abs)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      dirents = await readdir(abs, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        // The owner stops polling it (and what is below it).
        this.on.dirGone(dir);
      } else {
        this.on.problem(dir || '.', `cannot be read, so it is not polled: ${(err as Error).message}`);
      }
      return;
    }
    const before = this.dirs.get(dir) ?? new Map<string, string>();
    const now: Listing = new Map();
    const files: string[] = [];
    for (const d of dirents) {
      const path = dir ? `${dir}/${d.name}` : d.name;
      if (d.isDirectory()) {
        now.set(d.name, 'd');
        if (before.get(d.name) !== 'd') this.on.dirFound(path);
      } else if ((d.isFile() || d.isSymbolicLink()) && this.scope.includes(path)) {
        files.push(d.name);
      }
    }
    for (let i = 0; i < files.length; i += STAT_BATCH) {
      const batch = files.slice(i, i + STAT_BATCH);
      const sigs = await Promise.all(
        batch.map((name) =>
          stat(join(abs, name), { bigint: true }).then(
            (st) => `${st.size}:${st.mtimeNs}:${st.ino}`,
            () => '?',
          ),
        ),
      );
      if (this.closed || !this.dirs.has(dir)) return;
      batch.forEach((name, k) => {
        now.set(name, sigs[k]);
        if (before.get(name) !== sigs[k]) this.on.file(dir ? `${dir}/${name}` : name);
      });
    }
    // Gone, or a file where a directory was (or the other way round).
    for (const [name, sig] of before) {
      const next = now.get(name);
      if (next !== undefined && (next === 'd') === (sig === 'd')) continue;
      const path = dir ? `${dir}/${name}` : name;
      if (sig === 'd') this.on.dirGone(path);
      else this.on.file(path);
    }
    if (this.dirs.has(dir)) this.dirs.set(dir, now);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.dirs.clear();
  }
}
