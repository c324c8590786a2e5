import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { MeowError } from '../core/errors.js';
import { nowIso } from '../core/ids.js';

/**
 * One engine per workspace.
 *
 * The lock is SQLite's own file lock on `.meow/engine.lock`, a database that
 * holds no data: the connection sets `locking_mode = EXCLUSIVE` and keeps an
 * exclusive transaction open for the engine's lifetime. The lock is an fcntl
 * lock held by the kernel for this process, so it vanishes when the process
 * dies however it dies (kill -9, power loss on a local disk): there is never a
 * stale lock to clean up. A second engine gets SQLITE_BUSY at once (busy
 * timeout 0) and reads who holds the lock from `.meow/engine.pid`, which the
 * holder writes after taking it.
 */

/** Who holds a workspace's lock (the content of `.meow/engine.pid`). */
export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
}

/** The lock file of a workspace. */
export function lockPath(root: string): string {
  return join(root, '.meow', 'engine.lock');
}

/** The file naming the lock's holder. */
export function holderPath(root: string): string {
  return join(root, '.meow', 'engine.pid');
}

/** A held workspace lock. `release()` gives it up (dying does too). */
export class WorkspaceLock {
  private constructor(
    private readonly db: Database.Database,
    readonly root: string,
  ) {}

  /**
   * Takes the workspace's lock, or throws MEOW_ENGINE_RUNNING naming the
   * engine that holds it. Creates `.meow/` when missing.
   */
  static acquire(root: string, retried = false): WorkspaceLock {
    mkdirSync(join(root, '.meow'), { recursive: true, mode: 0o700 });
    const db = new Database(lockPath(root));
    try {
      db.pragma('busy_timeout = 0');
      db.pragma('locking_mode = EXCLUSIVE');
      // Takes the exclusive lock now; nothing is ever written, so no journal appears.
      db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      db.close();
      if (isBusy(err)) throw runningError(root, awaitHolder(root));
      if ((err as { code?: unknown }).code === 'SQLITE_NOTADB' && !retried) {
        // The lock holds no data, and no engine can hold a lock on a file that is not a database:
        // emptied in place (the same inode, so a racing engine locks the same file), it serves again.
        truncateSync(lockPath(root), 0);
        return WorkspaceLock.acquire(root, true);
      }
      throw new MeowError('MEOW_CONFLICT', `.meow/engine.lock: cannot take the workspace lock: ${(err as Error).message}; check that .meow is writable by this user`, { cause: err });
    }
    const lock = new WorkspaceLock(db, root);
    try {
      writeHolder(root, { pid: process.pid, host: hostname(), startedAt: nowIso() });
    } catch (err) {
      lock.release();
      throw new MeowError('MEOW_CONFLICT', `.meow/engine.pid: cannot record this engine: ${(err as Error).message}; check that .meow is writable by this user`, { cause: err });
    }
    return lock;
  }

  /** True while this lock is held. */
  get held(): boolean {
    return this.db.open;
  }

  /** Gives the lock up. */
  release(): void {
    if (!this.db.open) return;
    try {
      this.db.exec('ROLLBACK');
    } finally {
      this.db.close();
    }
  }
}

/**
 * Whether an engine holds the workspace's lock now (without keeping it):
 * its holder, or null when none does.
 */
export function lockHolder(root: string): LockHolder | 'unknown' | null {
  let db: Database.Database;
  try {
    db = new Database(lockPath(root), { fileMustExist: true });
  } catch {
    return null; // never locked: no engine ever ran here
  }
  try {
    db.pragma('busy_timeout = 0');
    // A shared lock is refused while an engine holds its exclusive one.
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return null;
  } catch (err) {
    if (isBusy(err)) return readHolder(root) ?? 'unknown';
    throw err;
  } finally {
    db.close();
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

function writeHolder(root: string, holder: LockHolder): void {
  const path = holderPath(root);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(holder)}\n`);
  renameSync(tmp, path);
}

/** The holder named in `.meow/engine.pid`, when it is readable. */
export function readHolder(root: string): LockHolder | null {
  try {
    const v = JSON.parse(readFileSync(holderPath(root), 'utf8')) as Partial<LockHolder>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string' || typeof v.startedAt !== 'string') return null;
    return { pid: v.pid, host: v.host, startedAt: v.startedAt };
  } catch {
    return null;
  }
}

/**
 * The holder, waiting up to a second for it to write `.meow/engine.pid`: an
 * engine that took the lock an instant ago may not have written it yet, or
 * the file may still name the previous engine, now dead.
 */
function awaitHolder(root: string): LockHolder | null {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; ; i++) {
    const h = readHolder(root);
    if ((h && (h.host !== hostname() || pidAlive(h.pid))) || i >= 20) return h;
    Atomics.wait(pause, 0, 0, 50);
  }
}

/** Describes the engine holding the lock, for messages. */
export function describeHolder(holder: LockHolder | 'unknown' | null): string {
  if (!holder || holder === 'unknown') return 'another engine (it has not written .meow/engine.pid yet)';
  return `the engine with pid ${holder.pid} on ${holder.host}, started ${holder.startedAt}`;
}

function runningError(root: string, holder: LockHolder | null): MeowError {
  // The holder file may still name a dead engine when the new holder took the lock an instant ago.
  const live = holder && holder.host === hostname() && !pidAlive(holder.pid) ? null : holder;
  const err = new MeowError(
    'MEOW_ENGINE_RUNNING',
    `an engine is already running in ${root}: ${describeHolder(live)} holds .meow/engine.lock; stop it first (or talk to it: \`meow status\`, \`meow run --until-idle\`)`,
  );
  return Object.assign(err, { holder: live });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
