import { realpathSync } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { scanTree, versionOf } from './scanner.js';
import type { WorkspaceConfig } from '../core/types.js';
import { lstatQuick } from '../core/quick-io.js';
import type { WatchScope } from '../rules/scope.js';
import type { FileState } from '../rules/tree-diff.js';

/** The engine's own state: a link into it is never followed (it holds every variable and log). */
const STATE_DIR = '.meow';

/**
 * The watched tree as the engine reads it: the scope (globs, depth and
 * length bounds) and the symlink policy (`follow_symlinks`), applied alike
 * by scans and by the stats behind live events. Each problem it meets is
 * reported once (a path and its message), however many scans meet it.
 *
 * Symbolic links to directories are never descended, and a path reached
 * through one (a directory replaced by a symlink while events for its old
 * files were in flight) is no file of the tree.
 */
export class WatchedTree {
  readonly root: string;
  /** The root with every symlink resolved: targets are compared with it. */
  private readonly realRoot: string;
  private readonly follow: WorkspaceConfig['followSymlinks'];
  private readonly reported = new Set<string>();
  /** Parent checks of the current turn of the event loop: a burst's files share a few directories. */
  private parents = new Map<string, Promise<boolean>>();

  constructor(
    config: Pick<WorkspaceConfig, 'root' | 'followSymlinks'>,
    readonly scope: WatchScope,
    private readonly log: (message: string) => void,
  ) {
    this.root = config.root;
    this.follow = config.followSymlinks;
    try {
      this.realRoot = realpathSync(config.root);
    } catch {
      this.realRoot = config.root;
    }
  }

  /** Reports `message` about `path` unless it was reported already. */
  report(path: string, message: string): void {
    const key = `${path}\0${message}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.log(`${path}: ${message}`);
  }

  /** Every file in scope under `under` (the whole tree by default), problems reported once. */
  async scan(under = ''): Promise<Map<string, FileState>> {
    if (under !== '' && !(await this.realDir(under))) return new Map();
    const { files, problems } = await scanTree(this.root, this.scope, under, (path) => this.linkRefusal(this.target(path)));
    for (const p of problems) this.report(p.path, p.message);
    return files;
  }

  /**
   * The state of one workspace-relative path now, or null when it is no
   * file of the tree: gone, not a regular file, a symlink the policy does not
   * follow (reported once), or reached through a symlinked directory.
   */
  async stat(path: string): Promise<FileState | null> {
    const abs = join(this.root, path);
    try {
      let st = await lstat(abs, { bigint: true });
      if (st.isSymbolicLink()) {
        const refused = this.linkRefusal(await realpath(abs).catch(() => null));
        if (refused) {
          this.report(path, refused);
          return null;
        }
        st = await stat(abs, { bigint: true });
      }
      if (!st.isFile() || !(await this.realParent(path))) return null;
      return { version: versionOf(st), ino: Number(st.ino) };
    } catch {
      return null;
    }
  }

  /** Why a link resolving to `target` (null: dangling or a loop, so nothing to read) is not followed; null when it is. */
  private linkRefusal(target: string | null): string | null {
    return symlinkRefusal(target, this.realRoot, this.follow);
  }

  /** The resolved target of a link, synchronously (links are rare; scans call this for each one). */
  private target(path: string): string | null {
    try {
      return realpathSync(join(this.root, path));
    } catch {
      return null;
    }
  }

  /** True when the directory `dir` is reached from the root through no symlink. */
  private async realDir(dir: string): Promise<boolean> {
    const real = await realpath(join(this.root, dir)).catch(() => null);
    return real === join(this.realRoot, dir);
  }

  /** True when the path's directory is reached through no symlink; checks made in one turn of the event loop are shared. */
  private realParent(path: string): Promise<boolean> {
    const dir = dirname(path);
    if (dir === '.') return Promise.resolve(true);
    let check = this.parents.get(dir);
    if (!check) {
      if (this.parents.size === 0) setImmediate(() => (this.parents = new Map()));
      check = this.realDir(dir);
      this.parents.set(dir, check);
    }
    return check;
  }
}

/** Why a link resolving to `target` (null: dangling or a loop) is not followed under `follow`; null when it is. */
function symlinkRefusal(target: string | null, realRoot: string, follow: WorkspaceConfig['followSymlinks']): string | null {
  if (target === null) return null;
  if (follow === 'none') return 'a symbolic link: not followed (follow_symlinks: none in meow.yaml)';
  const rel = target.startsWith(`${realRoot}/`) ? target.slice(realRoot.length + 1) : null;
  if (rel !== null && (rel === STATE_DIR || rel.startsWith(`${STATE_DIR}/`))) {
    return `a symbolic link into the engine's state (${rel}): never followed`;
  }
  if (rel === null && follow === 'inside') {
    return `a symbolic link to ${target}, outside the workspace: not followed, no job (follow_symlinks: inside; "follow_symlinks: all" in meow.yaml follows it)`;
  }
  return null;
}

/**
 * Why the file at `path` may not be read now: it is a link whose target the
 * policy refuses. Checked again when a job starts, so a link swapped after
 * its job was queued is not read through. Null when it may be read.
 */
export async function linkRefusalNow(config: Pick<WorkspaceConfig, 'root' | 'followSymlinks'>, path: string): Promise<string | null> {
  const abs = join(config.root, path);
  // Before every job start: on the engine thread while the disk answers quickly.
  const st = await lstatQuick(abs);
  if (!st?.isSymbolicLink()) return null;
  const realRoot = await realpath(config.root).catch(() => config.root);
  return symlinkRefusal(await realpath(abs).catch(() => null), realRoot, config.followSymlinks);
}
