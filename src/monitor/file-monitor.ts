import { DirectoryWatcher } from './directory-watcher.js';
import type { WatchedTree } from './watched-tree.js';
import type { MonitorHandlers } from './monitor-handlers.js';

export type { MonitorHandlers } from './monitor-handlers.js';

/** Options of the file monitor. */
export interface MonitorOptions {
  /** The watched tree: root, scope and symlink policy; problems are reported through it. */
  tree: WatchedTree;
  /** Poll instead of inotify (network filesystems). */
  poll: boolean;
  pollIntervalMs: number;
}

/**
 * The watched tree's raw observations: inotify with one watch per directory,
 * or polling for network filesystems (`watch_mode: poll`) and for the
 * directories past the kernel's inotify limits (see DirectoryWatcher). The
 * settler turns observations into events and the reconcile scan catches
 * anything the OS did not report. Owns its watches: call `close()`.
 */
export class FileMonitor {
  private native: DirectoryWatcher | null = null;

  constructor(
    private readonly opts: MonitorOptions,
    private readonly on: MonitorHandlers,
  ) {}

  /** Starts watching; resolves once the initial walk is done. */
  start(): Promise<void> {
    this.native = new DirectoryWatcher(this.opts.tree, this.on, { poll: this.opts.poll, pollIntervalMs: this.opts.pollIntervalMs });
    return this.native.start();
  }

  /** Directories polled rather than watched by the kernel. */
  get polled(): number {
    return this.native?.polled ?? 0;
  }

  async close(): Promise<void> {
    this.native?.close();
    this.native = null;
  }
}
