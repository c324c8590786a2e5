import { watch, type FSWatcher } from 'node:fs';
import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { DirectoryPoller } from './directory-poller.js';
import { inotifyLimitMessage, inotifySetting, noteEvent, onLargeBatch } from './inotify-limits.js';
import type { MonitorHandlers } from './monitor-handlers.js';
import type { WatchedTree } from './watched-tree.js';

/** Options of a directory watcher. */
export interface DirectoryWatcherOptions {
  /** Poll every directory instead of asking the kernel (`watch_mode: poll`). */
  poll: boolean;
  /** Milliseconds between polling rounds. */
  pollIntervalMs: number;
}

/** How long a suspected queue overflow waits for its burst to end before the rescan. */
const OVERFLOW_QUIET_MS = 300;
/** The longest a burst delays that rescan. */
const OVERFLOW_MAX_WAIT_MS = 3000;

/**
 * inotify through `fs.watch`, one watch per directory (not per file): a tree
 * of 100,000 files in 100 directories costs 100 watches. Each event names the
 * entry that changed; files go to the settler as raw observations, new
 * directories are watched (and scanned, for what arrived before the watch),
 * vanished ones are reported.
 *
 * Faults degrade, they never stop the engine:
 * - a directory the kernel will not watch (ENOSPC: `max_user_watches`
 *   reached; EMFILE: `max_user_instances`) is polled instead, and the first
 *   such failure is reported once, with the sysctl that fixes it;
 * - the kernel drops events when its queue (`max_queued_events`) overflows,
 *   and libuv drops the IN_Q_OVERFLOW notice that says so; but an overflow
 *   means at least a queue's worth of events was read at once, so a batch
 *   half that size asks for a rescan once the burst is over;
 * - directories past `max_depth` or `max_path_length` are reported once and
 *   skipped.
 * Owns its watches, its poller and its timers: call `close()`.
 */
export class DirectoryWatcher {
  private readonly watches = new Map<string, FSWatcher>();
  private readonly poller: DirectoryPoller;
  private closed = false;
  private starting = true;
  /** The first inotify limit met, reported once. */
  private limit: { code: string; reported: boolean } | null = null;
  private overflow: { since: number; events: number; largest: number; timer: NodeJS.Timeout } | null = null;
  private readonly unlisten: () => void;

  constructor(
    private readonly tree: WatchedTree,
    private readonly on: MonitorHandlers,
    private readonly opts: DirectoryWatcherOptions,
  ) {
    this.poller = new DirectoryPoller(tree.root, tree.scope, opts.pollIntervalMs, {
      file: (path) => this.on.file(path),
      dirFound: (path) => void this.found(path),
      dirGone: (path) => this.gone(path),
      problem: (path, message) => this.tree.report(path, message),
    });
    this.unlisten = onLargeBatch((events) => this.suspectOverflow(events));
  }

  /** Directories polled because the kernel would not watch them (or all of them, with `poll`). */
  get polled(): number {
    return this.poller.size;
  }

  /** Watches every directory of the tree; resolves once all are watched (or polled). */
  async start(): Promise<void> {
    await this.addTree('');
    this.starting = false;
    this.reportLimit();
  }

  private abs(rel: string): string {
    return rel ? join(this.tree.root, rel) : this.tree.root;
  }

  /** True when the directory should be descended; a directory past the bounds is reported. */
  private wanted(rel: string): boolean {
    if (rel === '' || !this.tree.scope.prunes(rel)) return true;
    const beyond = this.tree.scope.beyond(rel, true);
    if (beyond) this.tree.report(rel, beyond);
    return false;
  }

  /** Watches (or polls) a directory and every directory below it; false when `rel` is known already or cannot be. */
  private async addTree(rel: string): Promise<boolean> {
    if (!this.add(rel)) return false;
    const dirs = [rel];
    while (dirs.length > 0 && !this.closed) {
      const dir = dirs.pop() as string;
      try {
        for await (const entry of await opendir(this.abs(dir), { bufferSize: 256 })) {
          const path = dir ? `${dir}/${entry.name}` : entry.name;
          if (entry.isDirectory() && this.wanted(path) && this.add(path)) dirs.push(path);
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') this.tree.report(dir || '.', `cannot be read, so it is not watched: ${(err as Error).message}`);
      }
    }
    return true;
  }

  /** Watches one directory, or polls it when the kernel will not; false when it is known already or cannot be either. */
  private add(rel: string): boolean {
    if (this.closed || this.watches.has(rel) || this.poller.has(rel)) return false;
    if (this.opts.poll || this.limit) {
      // Past a limit every later watch would fail too: poll without asking again.
      this.poller.add(rel);
      return true;
    }
    try {
      const w = watch(this.abs(rel), { persistent: true }, (_type, name) => this.event(rel, name));
      w.on('error', () => this.gone(rel));
      this.watches.set(rel, w);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      if (code === 'ENOSPC' || code === 'EMFILE' || code === 'ENFILE' || code === 'ENOMEM') {
        this.limit = { code, reported: false };
        this.poller.add(rel);
        if (!this.starting) this.reportLimit();
        return true;
      }
      this.tree.report(rel || '.', `cannot be watched: ${(err as Error).message}`);
      return false;
    }
  }

  /** Says once that directories are polled because of a kernel limit, and how to raise it. */
  private reportLimit(): void {
    if (!this.limit || this.limit.reported) return;
    this.limit.reported = true;
    this.tree.report('watcher', inotifyLimitMessage(this.limit.code, this.poller.size, this.opts.pollIntervalMs));
  }

  private event(dir: string, name: string | Buffer | null): void {
    noteEvent();
    if (this.closed) return;
    // Linux always names the entry; elsewhere a nameless event means "something changed here".
    if (name === null) return void this.found(dir, true);
    const path = dir ? `${dir}/${name.toString()}` : name.toString();
    if (this.watches.has(path)) {
      void this.checkDir(path);
      return;
    }
    if (this.tree.scope.includes(path)) this.on.file(path);
    // Perhaps a new directory: only an lstat tells (for a file it costs little next to the settler's stat).
    void lstat(this.abs(path)).then(
      (st) => {
        if (st.isDirectory()) void this.found(path);
      },
      () => undefined,
    );
  }

  /**
   * A directory appeared: it and everything below are watched (or polled),
   * then reported once, so that its content is scanned after every watch
   * below it is in place (a file that arrived before its directory's watch
   * is seen by that scan, one that arrived after by the watch).
   */
  private async found(path: string, again = false): Promise<void> {
    if (path !== '' && !this.wanted(path)) return;
    if ((await this.addTree(path)) || again) this.on.dirAdded(path);
  }

  /** A watched directory changed: it may be gone (or replaced by a file or a symlink). */
  private async checkDir(path: string): Promise<void> {
    const st = await lstat(this.abs(path)).catch(() => null);
    if (st?.isDirectory()) return;
    this.gone(path);
    if (st && this.tree.scope.includes(path)) this.on.file(path);
  }

  /** Stops watching (or polling) a directory and everything below it, and reports it gone. */
  private gone(path: string): void {
    let known = this.poller.has(path);
    this.poller.remove(path);
    for (const [p, w] of this.watches) {
      if (p === path || p.startsWith(`${path}/`)) {
        w.close();
        this.watches.delete(p);
        known = true;
      }
    }
    if (known && !this.closed) this.on.dirGone(path);
  }

  /** A batch large enough to have overflowed the kernel's queue: rescan once the burst is over. */
  private suspectOverflow(events: number): void {
    if (this.closed || this.watches.size === 0) return;
    const o = this.overflow;
    if (o) clearTimeout(o.timer);
    const since = o?.since ?? Date.now();
    const total = (o?.events ?? 0) + events;
    const largest = Math.max(o?.largest ?? 0, events);
    const fire = () => {
      this.overflow = null;
      if (this.closed) return;
      const max = inotifySetting('max_queued_events');
      this.on.error(`${total} events arrived in bursts of up to ${largest}, so the kernel's event queue (fs.inotify.max_queued_events = ${max ?? '?'}) may have overflowed and dropped some`);
    };
    const wait = Math.max(0, Math.min(OVERFLOW_QUIET_MS, since + OVERFLOW_MAX_WAIT_MS - Date.now()));
    this.overflow = { since, events: total, largest, timer: setTimeout(fire, wait) };
  }

  close(): void {
    this.closed = true;
    this.unlisten();
    if (this.overflow) clearTimeout(this.overflow.timer);
    this.overflow = null;
    this.poller.close();
    for (const w of this.watches.values()) w.close();
    this.watches.clear();
  }
}
