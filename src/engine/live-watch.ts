import { DefinitionsWatcher } from '../monitor/definitions-watcher.js';
import { FileMonitor } from '../monitor/file-monitor.js';
import { Settler } from '../monitor/settler.js';
import { startSources, type Sources } from '../sources/sources.js';
import { diffKnown } from '../rules/tree-diff.js';
import { collectAfterScan } from '../core/heap.js';
import { fanInOf, groupKeyOf } from '../rules/collect-group.js';
import type { EngineTimings } from './timings.js';
import type { EventSink, Outputs } from './outputs.js';
import type { WorkspaceTree } from './tree.js';
import type { WorkspaceConfig } from '../core/types.js';
import type { RuleSet } from '../rules/matcher.js';
import type { EmitEvent } from '../store/job-transitions.js';
import type { Store } from '../store/store.js';

/** What the live watcher hands on. */
export interface LiveTarget extends EventSink {
  /** The definitions on disk changed: re-read and apply them. */
  definitionsChanged(): void;
  /** The compiled rules now (for the settle time of a path). */
  readonly ruleSet: RuleSet;
}

/**
 * The live engine's eyes: the settler (an event waits until its file is
 * unchanged for its patterns' `settle`), the file monitor, the definitions
 * watcher and the periodic reconcile scan. Notifications are invalidations:
 * a path reported is stat'ed and compared with the files table, which is
 * truth. Reconcile scans and definition changes are serialized. Owns its
 * watchers and timers: call `close()`; nothing is handed on after it.
 */
export class LiveWatch {
  private settler: Settler | null = null;
  private monitor: FileMonitor | null = null;
  private defsWatcher: DefinitionsWatcher | null = null;
  private scanTimer: NodeJS.Timeout | null = null;
  /** Remote event sources (`sources:` in meow.yaml, docs/remote.md). */
  private sources: Sources | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private serial: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** A reconcile scan requested and not started yet: later requests join it. */
  private pendingReconcile: Promise<number> | null = null;

  constructor(
    private readonly config: WorkspaceConfig,
    private readonly store: Store,
    private readonly tree: WorkspaceTree,
    private readonly outputs: Outputs,
    private readonly target: LiveTarget,
    private readonly timings: EngineTimings,
    private readonly log: EmitEvent,
  ) {}

  /** Settling paths and held deletions. */
  get pending(): number {
    return this.settler?.pending ?? 0;
  }

  /**
   * True while the settler holds a file that would join the group `key` of
   * the fan-in pattern `pattern` (still being written, or settled and not yet
   * recorded): its marker or quiet time must not complete the set yet.
   */
  holds(pattern: string, key: string): boolean {
    const c = this.target.ruleSet.byName.get(pattern);
    const fan = c ? fanInOf(c.rule.pattern) : null;
    if (!c || !fan || !this.settler) return false;
    for (const path of this.settler.paths()) if (c.covers(path) && groupKeyOf(fan, path) === key) return true;
    return false;
  }

  /** The settler first (catch-up at start may already claim outputs), before the engine's start. */
  prepare(): void {
    this.outputs.live = true;
    this.settler = new Settler({
      settleFor: (path) => {
        let ms = 0;
        for (const c of this.target.ruleSet.rules) if (c.rule.pattern.trigger.settleMs > ms && c.covers(path)) ms = c.rule.pattern.trigger.settleMs;
        return ms;
      },
      known: (path) => this.store.getFile(path),
      stat: (path) => this.tree.stat(path),
      claimed: (path) => this.outputs.isClaimed(path),
      onEvents: (events, states) => this.target.handleEvents(events, states),
      moveWindowMs: this.timings.moveWindowMs,
    });
  }

  /** Attaches the watchers, scans for what changed while they attached, and starts the reconcile timer. */
  async start(): Promise<void> {
    const { root } = this.config;
    this.monitor = new FileMonitor(
      { tree: this.tree.watched, poll: this.config.watchMode === 'poll', pollIntervalMs: this.config.pollIntervalMs },
      {
        file: (path) => this.settler?.observe(path),
        dirGone: (dir) => {
          for (const path of this.store.filesUnder(dir)) this.settler?.observe(path);
        },
        dirAdded: (dir) => {
          // Now, and once more shortly after: a file renamed in while the
          // directory's watch was being set up is seen by one of the two.
          void this.observeTree(dir);
          const t = setTimeout(() => {
            this.timers.delete(t);
            void this.observeTree(dir);
          }, this.timings.reobserveDelayMs);
          t.unref();
          this.timers.add(t);
        },
        error: (message) => {
          this.log('log', 'warn', `watcher: ${message}; rescanning`);
          void this.reconcile();
        },
      },
    );
    await this.monitor.start();
    this.defsWatcher = new DefinitionsWatcher(root, () => this.target.definitionsChanged(), {
      poll: this.config.watchMode === 'poll',
      pollIntervalMs: this.config.pollIntervalMs,
      debounceMs: this.timings.definitionsDebounceMs,
      warn: (message) => this.log('log', 'warn', message),
    });
    await this.defsWatcher.start();
    // A definition edited after start-up read them and before the watcher attached is read now.
    this.target.definitionsChanged();
    await this.reconcile();
    if (this.config.scanIntervalMs > 0) {
      this.scanTimer = setInterval(() => void this.reconcile(), this.config.scanIntervalMs);
      this.scanTimer.unref();
    }
    // Events from other hosts enter where the watcher's do: the settler.
    this.sources = startSources(this.config, {
      root: this.config.root,
      scope: this.tree.scope,
      observe: (path) => void this.observe(path),
      committed: (path) => this.store.getFile(path)?.version ?? null,
      log: (level, message) => this.log('log', level, message),
    });
  }

  /** Runs `fn` after every earlier definition change or scan (they must not interleave). */
  serialize<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.serial.then(fn, fn);
    this.serial = next.catch(() => undefined);
    return next;
  }

  /**
   * A reconcile scan while live: catches whatever the OS did not report
   * (overflow, a watcher attached late). Paths still settling are left to the
   * settler, and the declared outputs of running jobs to their jobs.
   */
  reconcile(): Promise<number> {
    // Coalesced: one scan running and at most one waiting, which serves every request made meanwhile.
    if (this.pendingReconcile) return this.pendingReconcile;
    const next = this.serialize(async () => {
      this.pendingReconcile = null;
      if (this.closed) return 0;
      const tree = await this.tree.scan();
      const busy = (p: string | null) => p !== null && (this.settler?.isPending(p) ?? false);
      // A running job's declared outputs are the job's to report, when it ends (with the job as their cause).
      const ours = (p: string | null) => p !== null && this.outputs.isClaimed(p);
      const events = diffKnown(this.tree.knownRows(), tree).filter((e) => !busy(e.path) && !busy(e.oldPath) && !ours(e.path) && !ours(e.oldPath));
      // Files a running job wrote without declaring them are attributed to it: not lost events either.
      const missed = events.filter((e) => this.outputs.attribute(e) === null).length;
      if (missed) this.log('log', 'info', `reconcile scan: ${missed} change(s) the watcher had not reported`);
      const created = this.target.handleEvents(events, tree);
      collectAfterScan(tree.size);
      return created;
    });
    this.pendingReconcile = next;
    return next;
  }

  /** Something happened at a path; false when no settler runs (not live). */
  observe(path: string): boolean {
    if (!this.settler) return false;
    this.settler.observe(path);
    return true;
  }

  /** Hands every file under a directory to the settler (which ignores what did not change). */
  private async observeTree(dir: string): Promise<void> {
    if (this.closed || !this.settler) return;
    const files = await this.tree.scan(dir);
    for (const path of files.keys()) this.settler?.observe(path);
  }

  /** Stops watching; resolves once a scan or definition change in progress has ended. */
  async close(): Promise<void> {
    this.closed = true;
    await this.sources?.close();
    if (this.scanTimer) clearInterval(this.scanTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.defsWatcher?.close();
    await this.monitor?.close();
    this.settler?.close();
    await this.serial;
  }
}
