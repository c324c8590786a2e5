import { WatchedTree } from '../monitor/watched-tree.js';
import type { EmitEvent } from '../store/job-transitions.js';
import type { FileState, KnownFile } from '../rules/tree-diff.js';
import type { WatchScope } from '../rules/scope.js';
import type { Store } from '../store/store.js';
import type { WorkspaceConfig } from '../core/types.js';

/**
 * The watched tree as scanned (truth: scope, depth and path bounds, the
 * symlink policy; monitor/watched-tree.ts) and as last recorded (the files
 * table). A scan problem is reported once, not at every periodic scan.
 */
export class WorkspaceTree {
  /** Scans and stats within the scope and the symlink policy. */
  readonly watched: WatchedTree;

  constructor(
    config: Pick<WorkspaceConfig, 'root' | 'followSymlinks'>,
    readonly scope: WatchScope,
    private readonly store: Store,
    log: EmitEvent,
  ) {
    this.watched = new WatchedTree(config, scope, (message) => log('log', 'warn', message));
  }

  /** Scans the watched tree (or the part under `under`). */
  scan(under?: string): Promise<Map<string, FileState>> {
    return this.watched.scan(under);
  }

  /** The state of one workspace-relative path, or null when it is not a file the policy lets the engine read. */
  stat(path: string): Promise<FileState | null> {
    return this.watched.stat(path);
  }

  /** Known files with their last state, from the database. */
  known(): Map<string, FileState> {
    const known = new Map<string, FileState>();
    for (const f of this.knownRows()) known.set(f.path, { version: f.version, ino: f.ino, generation: f.generation, cause: f.cause });
    return known;
  }

  /** Known files, one row at a time (for {@link diffKnown}: no map of the whole tree). */
  knownRows(): Iterable<KnownFile> {
    return this.store.eachFile();
  }

  /** Keeps generation and cause of files already known (outputs of jobs) on a scanned tree. */
  static withKnownLineage(tree: Map<string, FileState>, known: Iterable<KnownFile>): Map<string, FileState> {
    for (const k of known) {
      const st = tree.get(k.path);
      if (st && k.version === st.version) {
        st.generation = k.generation;
        st.cause = k.cause;
      }
    }
    return tree;
  }
}
