/**
 * Where forwarded files came from: one row per (path, version) a source
 * announced and the engine accepted, in `.meow/remote.db` beside the state
 * database, so `meow trace` can name the forwarding host as the origin.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The origin of one forwarded file version. */
export interface Origin {
  host: string;
  source: string;
  received_at: string;
}

/** The origins database of a workspace. */
export function originsPath(root: string): string {
  return join(root, '.meow', 'remote.db');
}

/** Records origins; owns its database: call `close()`. */
export class OriginStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;

  constructor(root: string) {
    this.db = new Database(originsPath(root));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS origins (
      path TEXT NOT NULL, version TEXT NOT NULL, host TEXT NOT NULL, source TEXT NOT NULL, received_at TEXT NOT NULL,
      PRIMARY KEY (path, version))`);
    this.insert = this.db.prepare('INSERT OR REPLACE INTO origins (path, version, host, source, received_at) VALUES (?, ?, ?, ?, ?)');
  }

  record(path: string, version: string, host: string, source: string): void {
    this.insert.run(path, version, host, source, new Date().toISOString());
  }

  close(): void {
    this.db.close();
  }
}

/** The latest recorded origin of a path, or null (no remote database, or a local file). */
export function originOf(root: string, path: string): Origin | null {
  const file = originsPath(root);
  if (!existsSync(file)) return null;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const row = db.prepare('SELECT host, source, received_at FROM origins WHERE path = ? ORDER BY received_at DESC LIMIT 1').get(path) as Origin | undefined;
    return row ?? null;
  } catch {
    return null;
  } finally {
    db.close();
  }
}
