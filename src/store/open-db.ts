/**
 * Opening the state database, and what its errors mean. A raw SQLite message
 * ("file is not a database", "attempt to write a readonly database") names
 * neither the file nor the way out; every error met opening or migrating
 * `.meow/state.db` is translated here into one that names the file, what is
 * wrong (corrupt, read-only, locked, newer than this version) and the
 * recovery, which docs/guarantees.md ("Recovery") describes in full.
 */
import Database from 'better-sqlite3';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MeowError, errorCode, errorMessage } from '../core/errors.js';

/** Modes of the `.meow/` directory: readable by its owner only, or shared with the group (setgid, so files keep the group). */
export const STATE_DIR_MODES = { private: 0o700, group: 0o2770 } as const;

/** How the state database is opened. */
export interface OpenOptions {
  /** Open for reading only (the CLI); never creates anything. @default false */
  readonly?: boolean;
  /** The mode `.meow/` is created with, and set to when it differs. @default STATE_DIR_MODES.private */
  dirMode?: number;
}

const RECOVERY = 'see "Recovery" in docs/guarantees.md';

/** The error to show for `err`, met opening or using the database at `path`. */
export function stateError(path: string, err: unknown): Error {
  if (err instanceof MeowError) return err;
  const code = errorCode(err) ?? '';
  const raw = errorMessage(err);
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new MeowError(
      'MEOW_STATE',
      `${path}: the state database is corrupt (${raw}). Stop the engine, move the file aside (mv ${path} ${path}.corrupt) and restore a backup, ` +
        `or start with none: the next start re-registers the definitions and triggers the existing files again, but the job history is gone; ${RECOVERY}`,
      { cause: err },
    );
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'EACCES' || code === 'EROFS') {
    return new MeowError(
      'MEOW_STATE',
      `${path}: the state database is read-only (${raw}); the engine must write it. Give your user write permission on ${path} and its directory ` +
        `(chmod u+w ${path} ${dirname(path)}), or run as the user who owns them; ${RECOVERY}`,
      { cause: err },
    );
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new MeowError(
      'MEOW_STATE',
      `${path}: the state database is locked by another process (${raw}): another engine, or a program holding a write transaction. ` +
        `Stop it (meow status shows a running engine) and try again; ${RECOVERY}`,
      { cause: err },
    );
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code === 'ENOENT' || code === 'ENOTDIR') {
    return new MeowError(
      'MEOW_STATE',
      `${path}: the state database cannot be opened (${raw}); check that ${dirname(path)} is a directory your user can write; ${RECOVERY}`,
      { cause: err },
    );
  }
  return new MeowError('MEOW_STATE', `${path}: the state database failed (${raw}); ${RECOVERY}`, { cause: err });
}

/**
 * Opens (creating when needed, unless read-only) the database at `path`:
 * WAL, a busy timeout, and a write probe, so that a read-only or locked file
 * is reported now, not at the first job.
 * @throws MeowError MEOW_STATE naming the file, the problem and the recovery.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Database.Database {
  const readonly = options.readonly ?? false;
  if (!readonly && path !== ':memory:') stateDir(dirname(path), options.dirMode ?? STATE_DIR_MODES.private);
  let db: Database.Database | null = null;
  try {
    db = new Database(path, { readonly, fileMustExist: readonly });
    db.pragma('busy_timeout = 10000');
    // SQLite's page cache, per connection: 4 MiB (better-sqlite3's default is 16). The hot pages of the
    // engine's writes are few, and the OS caches the file for the rest; an engine's memory stays flat.
    db.pragma('cache_size = -4000');
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec('BEGIN IMMEDIATE; ROLLBACK');
    }
    return db;
  } catch (err) {
    db?.close();
    throw stateError(path, err);
  }
}

/** Runs `fn` on the open database; an error closes it and is translated. */
export function guardState<T>(path: string, db: Database.Database, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (db.open) db.close();
    throw stateError(path, err);
  }
}

/** Creates the `.meow/` directory with `mode`, and brings an existing one to it (when this user owns it). */
function stateDir(dir: string, mode: number): void {
  try {
    mkdirSync(dir, { recursive: true, mode });
    // Only the engine's own directory: a database elsewhere (tests) leaves its directory alone.
    if (basename(dir) !== '.meow') return;
    const st = statSync(dir);
    if ((st.mode & 0o7777) !== mode && st.uid === process.getuid?.()) chmodSync(dir, mode);
  } catch (err) {
    throw stateError(`${dir}/state.db`, err);
  }
}

/** The database file of a workspace. */
export function statePath(root: string): string {
  return join(root, '.meow', 'state.db');
}
