import type { FileEvent } from '../core/types.js';

/** A file as last seen: its content version and inode (for telling renames). */
export interface FileState {
  version: string;
  ino: number | null;
  generation?: number;
  cause?: string | null;
}

/** A known file as the files table holds it. */
export interface KnownFile extends FileState {
  path: string;
}

/**
 * The events that turn `known` into `seen`: new paths are `created`, changed
 * versions `modified`, vanished paths `deleted` — except that a vanished path
 * whose inode and version reappear under a new path is one `moved` event.
 * Pure: the engine feeds it the files table and a scan of the tree.
 */
export function diffTree(known: ReadonlyMap<string, FileState>, seen: ReadonlyMap<string, FileState>): FileEvent[] {
  return diffKnown(
    (function* () {
      for (const [path, k] of known) yield { ...k, path };
    })(),
    seen,
  );
}

/**
 * {@link diffTree} with the known files read once, one at a time (the files
 * table's rows as they come): what it holds besides the scan is a mark per
 * scanned file and the known files that changed or vanished, not a second
 * map of the whole tree. Events come in the scan's order, vanished files last.
 */
export function diffKnown(known: Iterable<KnownFile>, seen: ReadonlyMap<string, FileState>): FileEvent[] {
  const events: FileEvent[] = [];
  /** Scanned files that were known: unchanged (true) or modified (the known file). */
  const matched = new Map<FileState, KnownFile | true>();
  const vanished = new Map<string, KnownFile>(); // "ino:version" → the vanished file
  for (const k of known) {
    const s = seen.get(k.path);
    if (s) matched.set(s, s.version === k.version ? true : k);
    else if (k.ino !== null) vanished.set(`${k.ino}:${k.version}`, k);
    else events.push(deleted(k.path, k));
  }
  for (const [path, s] of seen) {
    const k = matched.get(s);
    if (k !== undefined) {
      if (k !== true) events.push({ kind: 'modified', path, oldPath: null, version: s.version, generation: k.generation ?? 0, cause: k.cause ?? null });
      continue;
    }
    const id = s.ino !== null ? `${s.ino}:${s.version}` : null;
    const from = id !== null ? vanished.get(id) : undefined;
    if (from !== undefined && id !== null) {
      vanished.delete(id);
      events.push({ kind: 'moved', path, oldPath: from.path, version: s.version, generation: from.generation ?? 0, cause: from.cause ?? null });
    } else {
      events.push({ kind: 'created', path, oldPath: null, version: s.version, generation: 0, cause: null });
    }
  }
  for (const k of vanished.values()) events.push(deleted(k.path, k));
  return events;
}

function deleted(path: string, k: FileState | undefined): FileEvent {
  return { kind: 'deleted', path, oldPath: null, version: `deleted:${k?.version ?? ''}`, generation: k?.generation ?? 0, cause: k?.cause ?? null };
}
