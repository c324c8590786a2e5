/**
 * The forwarder's durable outbox (SQLite, WAL). A settled file becomes a row
 * in the same transaction that records its version as forwarded-to-be; the
 * row leaves the outbox only after the bus acknowledged its event. A crash
 * anywhere in between leaves the row, and the row is sent again under the
 * same message id, which the bus deduplicates: nothing is lost, nothing is
 * delivered twice.
 *
 * Row states: `pending` (settled, not yet transferred) → `transferred` (the
 * file is in the workspace) → deleted (the bus acknowledged its event). A row
 * whose file changed or vanished before it was sent is dropped: the newer
 * version has its own row.
 */
import Database from 'better-sqlite3';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FileState } from '../rules/tree-diff.js';

/** One file version waiting to be forwarded. */
export interface OutboxRow {
  seq: number;
  path: string;
  version: string;
  state: 'pending' | 'transferred';
  created_at: string;
}

/** What `meow forward --status --json` prints (besides where things are). */
export interface OutboxStatus {
  /** File versions not yet acknowledged by the bus. */
  backlog: number;
  /** Of those, already in the workspace and waiting for the bus. */
  transferred: number;
  /** Events the bus acknowledged since the outbox was created. */
  sent: number;
  oldest_pending: string | null;
  last_sent_at: string | null;
  last_error: string | null;
  /** Pid of the running forwarder, or null. */
  pid: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, version TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL, version TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending', created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
`;

/** The outbox database; call `close()`. */
export class Outbox {
  readonly db: Database.Database;

  constructor(file: string, options: { readonly?: boolean } = {}) {
    if (!options.readonly) mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    this.db.pragma('busy_timeout = 5000');
    if (options.readonly) return;
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
  }

  /** Paths with the version last queued for them. */
  known(): Map<string, FileState> {
    const rows = this.db.prepare('SELECT path, version FROM files').all() as { path: string; version: string }[];
    return new Map(rows.map((r) => [r.path, { version: r.version, ino: null }]));
  }

  knownVersion(path: string): FileState | null {
    const r = this.db.prepare('SELECT version FROM files WHERE path = ?').get(path) as { version: string } | undefined;
    return r ? { version: r.version, ino: null } : null;
  }

  /** Queues new file versions and forgets deleted paths, in one transaction. */
  record(changed: readonly { path: string; version: string }[], gone: readonly string[]): void {
    const now = new Date().toISOString();
    const upsert = this.db.prepare('INSERT INTO files (path, version) VALUES (?, ?) ON CONFLICT(path) DO UPDATE SET version = excluded.version');
    const add = this.db.prepare('INSERT INTO outbox (path, version, created_at) VALUES (?, ?, ?)');
    const forget = this.db.prepare('DELETE FROM files WHERE path = ?');
    this.db.transaction(() => {
      for (const c of changed) {
        upsert.run(c.path, c.version);
        add.run(c.path, c.version, now);
      }
      for (const p of gone) forget.run(p);
    })();
  }

  /** The oldest rows, up to `limit`. */
  next(limit: number): OutboxRow[] {
    return this.db.prepare('SELECT seq, path, version, state, created_at FROM outbox ORDER BY seq LIMIT ?').all(limit) as OutboxRow[];
  }

  markTransferred(seqs: readonly number[]): void {
    const st = this.db.prepare("UPDATE outbox SET state = 'transferred' WHERE seq = ?");
    this.db.transaction(() => {
      for (const s of seqs) st.run(s);
    })();
  }

  /** Rows whose events the bus acknowledged (`sent`), or that are stale (not counted). */
  remove(seqs: readonly number[], sent: boolean): void {
    if (seqs.length === 0) return;
    const del = this.db.prepare('DELETE FROM outbox WHERE seq = ?');
    this.db.transaction(() => {
      for (const s of seqs) del.run(s);
      if (sent) {
        this.bump('sent', seqs.length);
        this.set('last_sent_at', new Date().toISOString());
        this.set('last_error', null);
      }
    })();
  }

  private bump(key: string, by: number): void {
    this.db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + ?").run(key, String(by), by);
  }

  set(key: string, value: string | null): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  get(key: string): string | null {
    const r = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string | null } | undefined;
    return r?.value ?? null;
  }

  status(): OutboxStatus {
    const c = this.db.prepare("SELECT COUNT(*) AS n, SUM(state = 'transferred') AS t, MIN(created_at) AS oldest FROM outbox").get() as { n: number; t: number | null; oldest: string | null };
    const pid = Number.parseInt(this.get('pid') ?? '', 10);
    return {
      backlog: c.n,
      transferred: c.t ?? 0,
      sent: Number.parseInt(this.get('sent') ?? '0', 10),
      oldest_pending: c.oldest,
      last_sent_at: this.get('last_sent_at'),
      last_error: this.get('last_error'),
      pid: Number.isInteger(pid) && isOwner(pid, this.get('pid_start')) ? pid : null,
    };
  }

  /** Records this process as the outbox's forwarder (null: none runs). */
  claim(pid: number | null): void {
    this.set('pid', pid === null ? null : String(pid));
    this.set('pid_start', pid === null ? null : processStart(pid));
  }

  close(): void {
    this.db.close();
  }
}

/**
 * True when the recorded forwarder still runs: its pid is alive and, where
 * /proc tells, started when the recorded one did (after a `kill -9` the pid
 * may since belong to another process).
 */
function isOwner(pid: number, start: string | null): boolean {
  if (!alive(pid)) return false;
  const now = processStart(pid);
  return start === null || now === null || now === start;
}

/** A process's start time (clock ticks since boot, field 22 of /proc/PID/stat), or null where /proc does not tell. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** True when a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
