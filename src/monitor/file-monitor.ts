import { DirectoryWatcher } from './directory-watcher.js';
import type { WatchedTree } from './watched-tree.js';

/** Raw observations from the operating system, before settling. */
export interface MonitorHandlers {
  /** Something happened to the file at this workspace-relative path. */
  file(path: string): void;
  /** A directory vanished: every file known under it is gone too. */
  dirGone(path: string): void;
  /**
   * A directory appeared, and every directory below it is watched now.
   * Files moved into it before its watch was in place are never reported,
   * so its content is scanned.
   */
  dirAdded(path: string): void;
  /** Events may have been lost (a kernel queue overflow): a reconcile scan should follow. */
  error(message: string): void;
}

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
