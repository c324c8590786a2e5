import { watch, type FSWatcher } from 'chokidar';
import { join } from 'node:path';
import { PATTERNS_DIR, RECIPES_DIR } from './definitions-reader.js';

/**
 * Watches `patterns/` and `recipes/` and calls `onChange` once a burst of
 * edits has been quiet for `debounceMs` (an editor's save is several events).
 * Owns the watcher: call `close()`.
 */
export class DefinitionsWatcher {
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly root: string,
    private readonly onChange: () => void,
    private readonly opts: { poll: boolean; pollIntervalMs: number; debounceMs: number },
  ) {}

  start(): Promise<void> {
    this.watcher = watch([join(this.root, PATTERNS_DIR), join(this.root, RECIPES_DIR)], {
      ignoreInitial: true,
      depth: 0,
      usePolling: this.opts.poll,
      interval: this.opts.pollIntervalMs,
      atomic: false,
    });
    const fire = () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        this.onChange();
      }, this.opts.debounceMs);
    };
    for (const e of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) this.watcher.on(e, fire);
    const w = this.watcher;
    return new Promise((resolve) => w.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.watcher?.close();
    this.watcher = null;
  }
}
