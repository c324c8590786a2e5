import type { FileEvent } from '../core/types.js';

/** A file as last seen: its content version and inode (for telling renames). */
export interface FileState {
  version: string;
  ino: number | null;
  generation?: number;
  cause?: string | null;
}

/**
 * The events that turn `known` into `seen`: new paths are `created`, changed
 * versions `modified`, vanished paths `deleted` — except that a vanished path
 * whose inode and version reappear under a new path is one `moved` event.
 * Pure: the engine feeds it the files table and a scan of the tree.
 */
export function diffTree(known: ReadonlyMap<string, FileState>, seen: ReadonlyMap<string, FileState>): FileEvent[] {
  const events: FileEvent[] = [];
  const vanished = new Map<string, string>(); // "ino:version" → old path
  for (const [path, k] of known) {
    if (seen.has(path)) continue;
    if (k.ino !== null) vanished.set(`${k.ino}:${k.version}`, path);
    else events.push(deleted(path, k));
  }
  for (const [path, s] of seen) {
    const k = known.get(path);
    if (k) {
      if (k.version !== s.version) events.push({ kind: 'modified', path, oldPath: null, version: s.version, generation: k.generation ?? 0, cause: k.cause ?? null });
      continue;
    }
    const id = s.ino !== null ? `${s.ino}:${s.version}` : null;
    const from = id !== null ? vanished.get(id) : undefined;
    if (from !== undefined && id !== null) {
      vanished.delete(id);
      const old = known.get(from);
      events.push({ kind: 'moved', path, oldPath: from, version: s.version, generation: old?.generation ?? 0, cause: old?.cause ?? null });
    } else {
      events.push({ kind: 'created', path, oldPath: null, version: s.version, generation: 0, cause: null });
    }
  }
  for (const path of vanished.values()) events.push(deleted(path, known.get(path)));
  return events;
}

function deleted(path: string, k: FileState | undefined): FileEvent {
  return { kind: 'deleted', path, oldPath: null, version: `deleted:${k?.version ?? ''}`, generation: k?.generation ?? 0, cause: k?.cause ?? null };
}
