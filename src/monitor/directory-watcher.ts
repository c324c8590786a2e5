import { watch, type FSWatcher } from 'node:fs';
import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import type { MonitorHandlers } from './file-monitor.js';
import type { WatchScope } from '../rules/scope.js';

/**
 * inotify through `fs.watch`, one watch per directory (not per file): a tree
 * of 100,000 files in 100 directories costs 100 watches. Each event names the
 * entry that changed; files go to the settler as raw observations, new
 * directories are watched (and scanned, for what arrived before the watch),
 * vanished ones are reported. Owns its watches: call `close()`.
 */
export class DirectoryWatcher {
  private readonly watches = new Map<string, FSWatcher>();
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly scope: WatchScope,
    private readonly on: MonitorHandlers,
  ) {}

  /** Watches every directory of the tree; resolves once all are watched. */
  async start(): Promise<void> {
    const dirs = [''];
    while (dirs.length > 0) {
      const rel = dirs.pop() as string;
      if (!this.add(rel)) continue;
      try {
        for await (const entry of await opendir(this.abs(rel), { bufferSize: 256 })) {
          const path = rel ? `${rel}/${entry.name}` : entry.name;
          if (entry.isDirectory() && !this.scope.prunes(path)) dirs.push(path);
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.on.error(`${rel || '.'}: ${(err as Error).message}`);
      }
    }
  }

  private abs(rel: string): string {
    return rel ? join(this.root, rel) : this.root;
  }

  /** Watches one directory; false when it cannot be watched. */
  private add(rel: string): boolean {
    if (this.closed || this.watches.has(rel)) return false;
    try {
      const w = watch(this.abs(rel), { persistent: true }, (_type, name) => this.event(rel, name));
      w.on('error', () => this.gone(rel));
      this.watches.set(rel, w);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') this.on.error(`cannot watch ${rel || '.'}: ${(err as Error).message}`);
      return false;
    }
  }

  private event(dir: string, name: string | Buffer | null): void {
    if (this.closed) return;
    if (name === null) {
      // The kernel could not say what changed (its queue overflowed): only a scan can tell.
      this.on.error(`${dir || '.'}: events were lost`);
      return;
    }
    const path = dir ? `${dir}/${name.toString()}` : name.toString();
    if (this.watches.has(path)) {
      void this.checkDir(path);
      return;
    }
    if (this.scope.includes(path)) this.on.file(path);
    // Perhaps a new directory: only an lstat tells (for a file it costs little next to the settler's stat).
    void lstat(this.abs(path)).then(
      (st) => {
        if (st.isDirectory() && !this.scope.prunes(path) && this.add(path)) {
          this.on.dirAdded(path);
          void this.watchBelow(path);
        }
      },
      () => undefined,
    );
  }

  /** A watched directory changed: it may be gone (or replaced by a file or a symlink). */
  private async checkDir(path: string): Promise<void> {
    const st = await lstat(this.abs(path)).catch(() => null);
    if (st?.isDirectory()) return;
    this.gone(path);
    if (st && this.scope.includes(path)) this.on.file(path);
  }

  /** Stops watching a directory and everything below it, and reports it gone. */
  private gone(path: string): void {
    if (!this.watches.has(path)) return;
    for (const [p, w] of this.watches) {
      if (p === path || p.startsWith(`${path}/`)) {
        w.close();
        this.watches.delete(p);
      }
    }
    if (!this.closed) this.on.dirGone(path);
  }

  /** Watches the subdirectories of a directory that just appeared. */
  private async watchBelow(path: string): Promise<void> {
    try {
      for await (const entry of await opendir(this.abs(path))) {
        const sub = `${path}/${entry.name}`;
        if (entry.isDirectory() && !this.scope.prunes(sub) && this.add(sub)) {
          this.on.dirAdded(sub);
          await this.watchBelow(sub);
        }
      }
    } catch {
      // Gone again already: its own event says so.
    }
  }

  close(): void {
    this.closed = true;
    for (const w of this.watches.values()) w.close();
    this.watches.clear();
  }
}
