import { watch, type FSWatcher } from 'chokidar';
import { join } from 'node:path';
import { PATTERNS_DIR, RECIPES_DIR } from './definitions-reader.js';
import { inotifyLimitMessage } from './inotify-limits.js';

/** Options of the definitions watcher. */
export interface DefinitionsWatcherOptions {
  poll: boolean;
  pollIntervalMs: number;
  debounceMs: number;
  /** Reports a fault the watcher worked around (said once). */
  warn?: (message: string) => void;
}

/** Kernel refusals that polling works around. */
const LIMIT_CODES = new Set(['ENOSPC', 'EMFILE', 'ENFILE', 'ENOMEM']);

/**
 * Watches `patterns/` and `recipes/` and calls `onChange` once a burst of
 * edits has been quiet for `debounceMs` (an editor's save is several events).
 * When the kernel refuses a watch (its inotify limits), it polls instead,
 * says so once, and re-reads the definitions in case an edit fell in
 * between. Owns the watcher: call `close()`.
 */
export class DefinitionsWatcher {
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling: boolean;
  private closed = false;
  private ready: (() => void) | null = null;

  constructor(
    private readonly root: string,
    private readonly onChange: () => void,
    private readonly opts: DefinitionsWatcherOptions,
  ) {
    this.polling = opts.poll;
  }

  /** Starts watching; resolves once the watcher (or, past a kernel limit, its polling successor) is ready. */
  start(): Promise<void> {
    return new Promise((resolve) => {
      this.ready = resolve;
      this.open();
    });
  }

  private open(): void {
    const w = watch([join(this.root, PATTERNS_DIR), join(this.root, RECIPES_DIR)], {
      ignoreInitial: true,
      depth: 0,
      usePolling: this.polling,
      interval: this.opts.pollIntervalMs,
      atomic: false,
    });
    this.watcher = w;
    for (const e of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) w.on(e, () => this.fire());
    // A watcher whose watch was refused never becomes ready: its successor's readiness counts.
    w.on('error', (err: unknown) => {
      if (w === this.watcher) this.failed(err);
    });
    w.once('ready', () => {
      if (w === this.watcher) this.ready?.();
    });
  }

  private fire(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.onChange();
    }, this.opts.debounceMs);
  }

  /** A watch failed: past a kernel limit, poll instead; anything else is reported and the watcher carries on. */
  private failed(err: unknown): void {
    if (this.closed) return;
    const code = (err as NodeJS.ErrnoException | null)?.code ?? '';
    if (this.polling || !LIMIT_CODES.has(code)) {
      this.opts.warn?.(`watching patterns/ and recipes/: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.polling = true;
    this.opts.warn?.(`patterns/ and recipes/: ${inotifyLimitMessage(code, 2, this.opts.pollIntervalMs)}`);
    const old = this.watcher;
    this.open();
    // Not awaited: a watcher whose watch was refused may never finish closing.
    void old?.close();
    this.fire();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const w = this.watcher;
    this.watcher = null;
    this.ready?.();
    await w?.close();
  }
}
