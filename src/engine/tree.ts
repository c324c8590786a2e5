import { scanTree } from '../monitor/scanner.js';
import type { EmitEvent } from '../store/job-transitions.js';
import type { FileState } from '../rules/tree-diff.js';
import type { WatchScope } from '../rules/scope.js';
import type { Store } from '../store/store.js';

/**
 * The watched tree as scanned (truth) and as last recorded (the files
 * table). A scan problem is reported once, not at every periodic scan.
 */
export class WorkspaceTree {
  private readonly reported = new Set<string>();

  constructor(
    private readonly root: string,
    readonly scope: WatchScope,
    private readonly store: Store,
    private readonly log: EmitEvent,
  ) {}

  /** Scans the watched tree (or the part under `under`). */
  async scan(under?: string): Promise<Map<string, FileState>> {
    const { files, problems } = await scanTree(this.root, this.scope, under);
    for (const p of problems) {
      const key = `${p.path}\0${p.message}`;
      if (this.reported.has(key)) continue;
      this.reported.add(key);
      this.log('log', 'warn', `scan: ${p.path}: ${p.message}`);
    }
    return files;
  }

  /** Known files with their last state, from the database. */
  known(): Map<string, FileState> {
    return new Map(this.store.allFiles().map((f) => [f.path, { version: f.version, ino: f.ino, generation: f.generation, cause: f.cause }]));
  }

  /** Keeps generation and cause of files already known (outputs of jobs) on a scanned tree. */
  static withKnownLineage(tree: Map<string, FileState>, known: ReadonlyMap<string, FileState>): Map<string, FileState> {
    for (const [path, st] of tree) {
      const k = known.get(path);
      if (k && k.version === st.version) {
        st.generation = k.generation;
        st.cause = k.cause;
      }
    }
    return tree;
  }
}
