import { join } from 'node:path';
import { checkStateBeforeOpen, StateWatch, type StateOpening } from './state-check.js';
import { rebuildState, type RebuildReport } from './state-rebuild.js';
import { WorkspaceLock } from './workspace-lock.js';
import type { Store } from './store.js';
import type { ParsedPattern, ParsedRecipe, Rule } from '../core/types.js';

/**
 * What an engine holds of its workspace beside the database: the workspace
 * lock (taken before the database is opened or migrated), the verdict on the
 * state it found, and the watch on its database and socket. Owned by the
 * engine: `release()` when it closes.
 */
export class WorkspaceState {
  private timer: NodeJS.Timeout | null = null;
  private lost: string | null = null;
  private readonly files = new StateWatch();
  private onLost: (message: string) => void = () => {};
  /** Set once `rebuild()` ran. */
  rebuilt: RebuildReport | null = null;

  constructor(
    readonly root: string,
    readonly lock: WorkspaceLock,
    readonly opening: StateOpening,
  ) {}

  /** Records the database the engine opened: `check()` compares with it from now on. */
  opened(): void {
    this.files.track('.meow/state.db', join(this.root, '.meow', 'state.db'));
  }

  /** Rebuilds a new database from the job records (`meow run --rebuild-state`). */
  async rebuild(store: Store, defs: { patterns: readonly ParsedPattern[]; recipes: readonly ParsedRecipe[] }, rules: readonly Rule[]): Promise<RebuildReport> {
    this.rebuilt = await rebuildState(store, this.root, defs, rules);
    return this.rebuilt;
  }

  /**
   * Watches the database and the socket (as they are now) every `intervalMs`;
   * `onLost` runs once when either is removed or replaced.
   */
  watch(root: string, intervalMs: number, onLost: (message: string) => void): void {
    this.files.track('.meow/engine.sock', join(root, '.meow', 'engine.sock'));
    this.onLost = onLost;
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  /** Checks now; returns the message (and stops watching) once the state is lost. */
  check(): string | null {
    if (this.lost) return this.lost;
    const what = this.files.check();
    if (!what) return null;
    this.lost =
      `${what} (${this.root}): the engine stops, since what it records would no longer reach the workspace's state. ` +
      'Restore .meow from a backup, or start `meow run` again (`meow run --rebuild-state` when state.db is gone but .meow/jobs remains)';
    this.unwatch();
    this.onLost(this.lost);
    return this.lost;
  }

  unwatch(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stops watching and gives the workspace lock up. */
  release(): void {
    this.unwatch();
    this.lock.release();
  }
}

/**
 * Takes the workspace lock, then checks the state database before anyone
 * opens it: throws MEOW_ENGINE_RUNNING when another engine holds the
 * workspace, MEOW_STATE_LOST for a lost state.db (store/state-check.ts).
 */
export function openWorkspaceState(root: string, options: { rebuild: boolean }): WorkspaceState {
  const lock = WorkspaceLock.acquire(root);
  try {
    return new WorkspaceState(root, lock, checkStateBeforeOpen(root, { rebuild: options.rebuild }));
  } catch (err) {
    lock.release();
    throw err;
  }
}
