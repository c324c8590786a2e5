import Database from 'better-sqlite3';
import { guardState, openDatabase, type OpenOptions } from './open-db.js';
import { MIGRATIONS } from './migrations.js';
import { MeowError } from '../core/errors.js';
import { parseExact, stateJson } from '../core/exact-json.js';
import { CURRENT_ENDING, JOB_COLUMNS, SUPERSEDED, toJob, type JobQuery, type JobRow, type JobSearch, type JobUpdate } from './job-row.js';
import { nowIso } from '../core/ids.js';
import { JOB_STATES } from '../core/types.js';
import type { FileEvent, JobRecord, JobStatus, ParsedPattern, ParsedRecipe } from '../core/types.js';

/** A row of the files table: the last state of a path the engine saw. */
export interface FileRow {
  path: string;
  version: string;
  ino: number | null;
  generation: number;
  cause: string | null;
}

export type { JobQuery, JobSearch, JobUpdate } from './job-row.js';

/** The conditions of a job query by state and pattern, as SQL with its arguments. */
function jobFilter(q: { status?: JobStatus | null; pattern?: string | null }): { where: string[]; args: string[] } {
  const where: string[] = [];
  const args: string[] = [];
  if (q.status) {
    where.push('status = ?');
    args.push(q.status);
  }
  if (q.pattern) {
    where.push('pattern = ?');
    args.push(q.pattern);
  }
  return { where, args };
}

/**
 * The engine's durable state in SQLite (WAL). Owns the connection: call
 * `close()`. Writers batch in `transaction()`; callers emit engine events only
 * after it returns, i.e. after the commit.
 */
export class Store {
  readonly db: Database.Database;
  private readonly stmts;
  /** Statements prepared on demand, by SQL text (preparing costs more than most runs). */
  private readonly prepared = new Map<string, Database.Statement>();

  /** @throws MeowError naming the file, what is wrong (corrupt, read-only, locked, newer) and the recovery (store/open-db.ts). */
  constructor(path: string, options: OpenOptions = {}) {
    let db = openDatabase(path, options);
    // A reader of an older schema (`meow plan` before the first run of an upgrade) reads an in-memory copy brought up to date: the file is not written.
    const older = options.readonly === true && guardState(path, db, () => (db.pragma('user_version', { simple: true }) as number) < MIGRATIONS.length);
    if (older) {
      const copy = guardState(path, db, () => {
        const image = db.serialize();
        // Header bytes 18–19 say WAL (2); an in-memory database opens only in rollback mode (1).
        image[18] = 1;
        image[19] = 1;
        return new Database(image);
      });
      db.close();
      db = copy;
    }
    this.db = db;
    this.stmts = guardState(path, this.db, () => (options.readonly && !older ? this.checkVersion() : this.migrate(), this.prepare()));
  }

  private checkVersion(): number {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      this.db.close();
      throw new MeowError(
        'MEOW_DB_NEWER',
        `${this.db.name}: the state database is newer than this version of meowflow (schema ${version}, this version understands up to ${MIGRATIONS.length}); ` +
          'upgrade meowflow, or restore the backup of .meow/ taken before the upgrade; see "Recovery" in docs/guarantees.md',
      );
    }
    return version;
  }

  private migrate(): void {
    const version = this.checkVersion();
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        // Read again under the write lock: another connection may have migrated meanwhile.
        if ((this.db.pragma('user_version', { simple: true }) as number) > v) return;
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  }

  private prepare() {
    const db = this.db;
    return {
      insertJob: db.prepare(
        `INSERT OR IGNORE INTO jobs (${JOB_COLUMNS}) VALUES (${JOB_COLUMNS.split(', ').map(() => '?').join(', ')})`,
      ),
      getJob: db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`),
      transition: db.prepare('INSERT INTO transitions (job_id, from_status, to_status, at, note) VALUES (?, ?, ?, ?, ?)'),
      getFile: db.prepare('SELECT path, version, ino, generation, cause FROM files WHERE path = ?'),
      upsertFile: db.prepare(
        `INSERT INTO files (path, version, ino, generation, cause, seen_at) VALUES (@path, @version, @ino, @generation, @cause, @seen_at)
         ON CONFLICT (path) DO UPDATE SET version = excluded.version, ino = excluded.ino, generation = excluded.generation, cause = excluded.cause, seen_at = excluded.seen_at`,
      ),
      deleteFile: db.prepare('DELETE FROM files WHERE path = ?'),
      insertEvent: db.prepare(
        'INSERT INTO events (kind, path, old_path, version, generation, cause, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
    };
  }

  /** Runs `fn` in one IMMEDIATE transaction. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** The statement for `sql`, prepared once per connection. */
  private sql(sql: string): Database.Statement {
    let stmt = this.prepared.get(sql);
    if (!stmt) {
      // Bounded: only listJobs' LIMIT varies, and a few hundred shapes cover every use.
      if (this.prepared.size >= 256) this.prepared.clear();
      this.prepared.set(sql, (stmt = this.db.prepare(sql)));
    }
    return stmt;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---- definitions and rules ----

  /** The definitions registered last, as they were parsed then. */
  registeredDefinitions(): { patterns: ParsedPattern[]; recipes: ParsedRecipe[] } {
    const rows = this.sql('SELECT kind, body FROM definitions ORDER BY name').all() as { kind: string; body: string }[];
    return {
      patterns: rows.filter((r) => r.kind === 'pattern').map((r) => parseExact(r.body) as unknown as ParsedPattern),
      recipes: rows.filter((r) => r.kind === 'recipe').map((r) => parseExact(r.body) as unknown as ParsedRecipe),
    };
  }

  /** Replaces the registered definitions with these. */
  saveDefinitions(patterns: readonly ParsedPattern[], recipes: readonly ParsedRecipe[]): void {
    const at = nowIso();
    this.sql('DELETE FROM definitions').run();
    const ins = this.sql('INSERT INTO definitions (kind, name, file, hash, body, registered_at) VALUES (?, ?, ?, ?, ?, ?)');
    for (const p of patterns) ins.run('pattern', p.name, p.file, p.hash, stateJson(p), at);
    for (const r of recipes) ins.run('recipe', r.name, r.file, r.hash, stateJson(r), at);
  }

  /** Registered rule versions by rule name. */
  ruleVersions(): Map<string, string> {
    const rows = this.sql('SELECT name, version FROM rules').all() as { name: string; version: string }[];
    return new Map(rows.map((r) => [r.name, r.version]));
  }

  saveRules(rules: ReadonlyMap<string, string>): void {
    this.sql('DELETE FROM rules').run();
    const ins = this.sql('INSERT INTO rules (name, version, created_at) VALUES (?, ?, ?)');
    const at = nowIso();
    for (const [name, version] of rules) ins.run(name, version, at);
  }

  // ---- jobs ----

  /** Inserts a job unless one with the same key exists. True when inserted. */
  insertJob(job: JobRecord): boolean {
    // Positional, in JOB_COLUMNS order: binding 27 named parameters costs about as much as the insert.
    const info = this.stmts.insertJob.run(
      job.id, job.key, job.pattern, job.recipe, job.ruleVersion, job.status, job.input, job.inputVersion, job.inputs === null ? null : JSON.stringify(job.inputs), job.event, job.oldPath,
      stateJson(job.variables), job.sweepPoint ? stateJson(job.sweepPoint) : null,
      job.attempt, job.retries, job.timeoutMs, job.exitCode, job.error, job.result === null ? null : stateJson(job.result),
      job.backend, job.generation, job.cause, job.jobDir, job.pid, job.createdAt, job.startedAt, job.finishedAt,
    );
    if (info.changes === 0) return false;
    this.stmts.transition.run(job.id, null, job.status, job.createdAt, null);
    return true;
  }

  getJob(id: string): JobRecord | null {
    const row = this.stmts.getJob.get(id) as JobRow | undefined;
    return row ? toJob(row) : null;
  }

  /**
   * A job by id or unique id prefix, with whether it is superseded; null when
   * none matches. A prefix of several jobs throws (MEOW_USAGE), naming some.
   */
  findJob(idOrPrefix: string): JobRecord | null {
    const cols = `${JOB_COLUMNS}, ${SUPERSEDED} AS superseded`;
    const exact = this.sql(`SELECT ${cols} FROM jobs WHERE id = ?`).get(idOrPrefix) as JobRow | undefined;
    if (exact) return toJob(exact);
    if (idOrPrefix === '') return null;
    const rows = this.sql(`SELECT ${cols} FROM jobs WHERE id >= ? AND id < ? ORDER BY id LIMIT 4`)
      .all(idOrPrefix, `${idOrPrefix}\uffff`) as JobRow[];
    if (rows.length > 1) {
      const some = rows.slice(0, 3).map((r) => r.id).join(', ');
      throw new MeowError('MEOW_USAGE', `job id prefix "${idOrPrefix}" matches ${rows.length > 3 ? 'more than 3' : rows.length} jobs (${some}${rows.length > 3 ? ', …' : ''}); give more of the id`);
    }
    return rows.length === 1 ? toJob(rows[0]) : null;
  }

  /** Jobs matching the query, oldest first (newest last). */
  listJobs(q: JobQuery = {}): JobRecord[] {
    const { where, args } = jobFilter(q);
    if (q.input) {
      where.push('input = ?');
      args.push(q.input);
    }
    if (q.current) where.push(`NOT ${SUPERSEDED}`);
    const cond = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const cols = `${JOB_COLUMNS}, ${SUPERSEDED} AS superseded`;
    const sql = q.limit
      ? `SELECT * FROM (SELECT ${cols}, seq FROM jobs ${cond} ORDER BY seq DESC LIMIT ${Math.floor(q.limit)}) ORDER BY seq`
      : `SELECT ${cols} FROM jobs ${cond} ORDER BY seq`;
    return (this.sql(sql).all(...args) as JobRow[]).map(toJob);
  }

  /** Job counts by state (every state present); `current` leaves out superseded failed and cancelled jobs. */
  countJobs(options: { current?: boolean } = {}): Record<JobStatus, number> {
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobStatus, number>;
    // Current counts leave out superseded failures and cancellations (what is broken now); checked only on those rows, so counting stays cheap at a million jobs.
    const cond = options.current ? `WHERE ${CURRENT_ENDING}` : '';
    const rows = this.sql(`SELECT status, COUNT(*) AS n FROM jobs ${cond} GROUP BY status`).all() as { status: JobStatus; n: number }[];
    for (const r of rows) counts[r.status] = r.n;
    return counts;
  }

  /** Queued and running jobs, oldest first. */
  activeJobs(): JobRecord[] {
    return (
      this.sql(`SELECT ${JOB_COLUMNS} FROM jobs WHERE status IN ('queued', 'running') ORDER BY seq`).all() as JobRow[]
    ).map(toJob);
  }

  /**
   * Moves a job to a new state, recording the transition. Returns the job as
   * it is now (the row the UPDATE wrote, not read again), or null when the
   * job was not in `from` (another path already moved it).
   */
  transition(id: string, from: JobStatus | readonly JobStatus[], to: JobStatus, update: JobUpdate = {}, note: string | null = null): JobRecord | null {
    const froms = Array.isArray(from) ? from : [from];
    const sets = ['status = ?'];
    const args: unknown[] = [to];
    const map: [keyof JobUpdate, string][] = [
      ['attempt', 'attempt'],
      ['exitCode', 'exit_code'],
      ['error', 'error'],
      ['pid', 'pid'],
      ['pidStart', 'pid_start'],
      ['handle', 'handle'],
      ['startedAt', 'started_at'],
      ['finishedAt', 'finished_at'],
    ];
    for (const [k, col] of map) {
      if (k in update) {
        sets.push(`${col} = ?`);
        args.push(update[k] ?? null);
      }
    }
    if ('result' in update) {
      sets.push('result = ?');
      args.push(update.result == null ? null : stateJson(update.result));
    }
    const stmt = this.sql(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ? AND status IN (${froms.map(() => '?').join(', ')}) RETURNING ${JOB_COLUMNS}`);
    // The state and its transition row commit together: one commit, never a state without its history.
    const move = (): JobRecord | null => {
      const row = stmt.get(...args, id, ...froms) as JobRow | undefined;
      if (!row) return null;
      this.stmts.transition.run(id, froms.length === 1 ? froms[0] : null, to, nowIso(), note);
      return toJob(row);
    };
    return this.db.inTransaction ? move() : this.transaction(move);
  }

  /** The backend handle of a job's running attempt. */
  handleOf(id: string): string | null {
    const row = this.sql('SELECT handle FROM jobs WHERE id = ?').get(id) as { handle: string | null } | undefined;
    return row?.handle ?? null;
  }

  /** Names of paused patterns. */
  pausedPatterns(): Set<string> {
    return new Set((this.db.prepare('SELECT name FROM paused_patterns').all() as { name: string }[]).map((r) => r.name));
  }

  setPaused(name: string, paused: boolean): void {
    if (paused) this.db.prepare('INSERT OR IGNORE INTO paused_patterns (name, paused_at) VALUES (?, ?)').run(name, nowIso());
    else this.db.prepare('DELETE FROM paused_patterns WHERE name = ?').run(name);
  }

  /**
   * A window of jobs, newest first, and how many the filter matches: by
   * state, pattern and part of the input path (`text`); with `current`,
   * superseded failures and cancellations are left out (as in {@link countJobs}).
   */
  searchJobs(q: JobSearch): { total: number; jobs: JobRecord[] } {
    const { where, args } = jobFilter(q);
    if (q.current) where.push(CURRENT_ENDING);
    if (q.text) {
      where.push("input LIKE ? ESCAPE '\\'");
      args.push(`%${q.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    }
    const cond = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM jobs ${cond}`).get(...args) as { n: number }).n;
    const rows = this.db.prepare(`SELECT ${JOB_COLUMNS}, ${SUPERSEDED} AS superseded FROM jobs ${cond} ORDER BY seq DESC LIMIT ? OFFSET ?`).all(...args, q.limit, q.offset) as JobRow[];
    return { total, jobs: rows.map(toJob) };
  }

  /** Job counts by state for each pattern; `current` leaves out superseded failures and cancellations. */
  countJobsByPattern(options: { current?: boolean } = {}): Map<string, Record<JobStatus, number>> {
    const out = new Map<string, Record<JobStatus, number>>();
    const cond = options.current ? `WHERE ${CURRENT_ENDING}` : '';
    const rows = this.sql(`SELECT pattern, status, COUNT(*) AS n FROM jobs ${cond} GROUP BY pattern, status`).all() as { pattern: string; status: JobStatus; n: number }[];
    for (const r of rows) {
      if (!out.has(r.pattern)) out.set(r.pattern, Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobStatus, number>);
      (out.get(r.pattern) as Record<JobStatus, number>)[r.status] = r.n;
    }
    return out;
  }

  /** Releases a job's idempotence key, so the same input may trigger its rule again. */
  releaseKey(id: string): void {
    this.sql('UPDATE jobs SET key = NULL WHERE id = ?').run(id);
  }

  // ---- files and events ----

  getFile(path: string): FileRow | null {
    return (this.stmts.getFile.get(path) as FileRow | undefined) ?? null;
  }

  /** Every known file, one row at a time (100,000 rows are not held at once). */
  eachFile(): IterableIterator<FileRow> {
    return this.sql('SELECT path, version, ino, generation, cause FROM files').iterate() as IterableIterator<FileRow>;
  }

  /** Known file paths under a directory. */
  filesUnder(dir: string): string[] {
    const lo = `${dir}/`;
    const rows = this.sql('SELECT path FROM files WHERE path >= ? AND path < ?').all(lo, `${dir}0`) as { path: string }[];
    return rows.map((r) => r.path);
  }

  upsertFile(row: FileRow): void {
    this.stmts.upsertFile.run({ ...row, seen_at: nowIso() });
  }

  deleteFile(path: string): void {
    this.stmts.deleteFile.run(path);
  }

  /** Records a file event (and the new state of its path). */
  recordEvent(e: FileEvent, ino: number | null): void {
    this.stmts.insertEvent.run(e.kind, e.path, e.oldPath, e.version, e.generation, e.cause, nowIso());
    if (e.kind === 'deleted') this.deleteFile(e.path);
    else {
      if (e.kind === 'moved' && e.oldPath) this.deleteFile(e.oldPath);
      this.upsertFile({ path: e.path, version: e.version, ino, generation: e.generation, cause: e.cause });
    }
  }
}
