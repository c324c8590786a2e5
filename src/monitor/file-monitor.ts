import { watch, type FSWatcher } from 'chokidar';
import { relative, sep } from 'node:path';
import { DirectoryWatcher } from './directory-watcher.js';
import type { WatchScope } from '../rules/scope.js';

/** Raw observations from the operating system, before settling. */
export interface MonitorHandlers {
  /** Something happened to the file at this workspace-relative path. */
  file(path: string): void;
  /** A directory vanished: every file known under it is gone too. */
  dirGone(path: string): void;
  /**
   * A directory appeared. Files moved into it before its watch was in place
   * are never reported, so its content is scanned.
   */
  dirAdded(path: string): void;
  /** The watcher failed somewhere; a reconcile scan should follow. */
  error(message: string): void;
}

/** Options of the file monitor. */
export interface MonitorOptions {
  root: string;
  scope: WatchScope;
  /** Poll instead of inotify (network filesystems). */
  poll: boolean;
  pollIntervalMs: number;
}

/**
 * The watched tree's raw observations: inotify with one watch per directory
 * (see DirectoryWatcher), or chokidar polling for network filesystems
 * (`watch_mode: poll`). The settler turns observations into events and the
 * reconcile scan catches anything the OS did not report. Owns its watches:
 * call `close()`.
 */
export class FileMonitor {
  private watcher: FSWatcher | null = null;
  private native: DirectoryWatcher | null = null;

  constructor(
    private readonly opts: MonitorOptions,
    private readonly on: MonitorHandlers,
  ) {}

  /** Starts watching; resolves once the initial walk is done. */
  start(): Promise<void> {
    const { root, scope } = this.opts;
    if (!this.opts.poll) {
      this.native = new DirectoryWatcher(root, scope, this.on);
      return this.native.start();
    }
    const rel = (abs: string) => relative(root, abs).split(sep).join('/');
    this.watcher = watch(root, {
      ignoreInitial: true,
      followSymlinks: false,
      usePolling: this.opts.poll,
      interval: this.opts.pollIntervalMs,
      binaryInterval: this.opts.pollIntervalMs,
      // Settling is ours (per pattern); chokidar's own would delay every file alike.
      awaitWriteFinish: false,
      atomic: false,
      ignored: (abs: string, stats) => {
        const p = rel(abs);
        if (p === '' || p.startsWith('..')) return false;
        if (stats?.isDirectory()) return scope.prunes(p);
        if (stats?.isFile()) return !scope.includes(p);
        return scope.prunes(p);
      },
    });
    const w = this.watcher;
    const file = (abs: string) => {
      const p = rel(abs);
      if (scope.includes(p)) this.on.file(p);
    };
    w.on('add', file);
    w.on('change', file);
    w.on('unlink', file);
    w.on('unlinkDir', (abs: string) => this.on.dirGone(rel(abs)));
    w.on('addDir', (abs: string) => {
      const p = rel(abs);
      if (p !== '' && !scope.prunes(p)) this.on.dirAdded(p);
    });
    w.on('error', (err: unknown) => this.on.error(err instanceof Error ? err.message : String(err)));
    return new Promise((resolve) => w.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    this.native?.close();
    this.native = null;
    await this.watcher?.close();
    this.watcher = null;
  }
}
