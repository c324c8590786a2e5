import type Database from 'better-sqlite3';

/** The identity of a job's input and definitions (lineage). */
export interface LineageRow {
  job_id: string;
  input_size: number | null;
  /** ISO time of the input's mtime when triggered. */
  input_mtime: string | null;
  /** sha256 of the input, null until hashed (or with `hash: none`). */
  input_hash: string | null;
  pattern_hash: string;
  recipe_hash: string;
  host: string | null;
}

/** A file a job wrote: declared in `outputs`, or inferred (appeared under an output directory during the job). */
export interface OutputRow {
  job_id: string;
  path: string;
  version: string;
  inferred: 0 | 1;
}

/** A file a job read besides its triggering input: a member of its set, or a declared input (`inputs:`). */
export interface InputRow {
  path: string;
  version: string | null;
  declared: 0 | 1;
}

const cache = new WeakMap<Database.Database, ReturnType<typeof prepare>>();

function prepare(db: Database.Database) {
  return {
    insert: db.prepare(
      'INSERT OR IGNORE INTO lineage (job_id, input_size, input_mtime, input_hash, pattern_hash, recipe_hash, host) VALUES (@job_id, @input_size, @input_mtime, @input_hash, @pattern_hash, @recipe_hash, @host)',
    ),
    setHash: db.prepare('UPDATE lineage SET input_hash = ? WHERE job_id = ?'),
    get: db.prepare('SELECT * FROM lineage WHERE job_id = ?'),
    output: db.prepare(
      'INSERT INTO job_outputs (job_id, path, version, inferred) VALUES (?, ?, ?, ?) ON CONFLICT (job_id, path) DO UPDATE SET version = excluded.version',
    ),
    outputsOf: db.prepare('SELECT job_id, path, version, inferred FROM job_outputs WHERE job_id = ? ORDER BY path'),
    input: db.prepare('INSERT INTO job_inputs (job_id, path, version, declared) VALUES (?, ?, ?, ?) ON CONFLICT (job_id, path) DO NOTHING'),
    inputsOf: db.prepare('SELECT path, version, declared FROM job_inputs WHERE job_id = ? ORDER BY declared, rowid'),
    consumers: db.prepare('SELECT DISTINCT i.job_id FROM job_inputs i JOIN jobs j ON j.id = i.job_id WHERE i.path = ? ORDER BY j.seq'),
    producerOf: db.prepare('SELECT o.job_id FROM job_outputs o JOIN jobs j ON j.id = o.job_id WHERE o.path = ? AND o.version = ? ORDER BY j.seq DESC LIMIT 1'),
    producers: db.prepare('SELECT o.job_id FROM job_outputs o JOIN jobs j ON j.id = o.job_id WHERE o.path = ? ORDER BY j.seq DESC'),
  };
}

function stmts(db: Database.Database) {
  let s = cache.get(db);
  if (!s) cache.set(db, (s = prepare(db)));
  return s;
}

/** Lineage records of jobs, over the store's connection. */
export class LineageStore {
  constructor(private readonly db: Database.Database) {}

  insert(row: LineageRow): void {
    stmts(this.db).insert.run(row);
  }

  setInputHash(jobId: string, hash: string): void {
    stmts(this.db).setHash.run(hash, jobId);
  }

  get(jobId: string): LineageRow | null {
    return (stmts(this.db).get.get(jobId) as LineageRow | undefined) ?? null;
  }

  recordOutput(jobId: string, path: string, version: string, inferred: boolean): void {
    stmts(this.db).output.run(jobId, path, version, inferred ? 1 : 0);
  }

  outputsOf(jobId: string): OutputRow[] {
    return stmts(this.db).outputsOf.all(jobId) as OutputRow[];
  }

  /** Records a file a job read: a set member, or a declared input (`declared`). */
  recordInput(jobId: string, path: string, version: string | null, declared: boolean): void {
    stmts(this.db).input.run(jobId, path, version, declared ? 1 : 0);
  }

  /** The members and declared inputs of a job (members first); empty for a single-file job without `inputs:`. */
  inputsOf(jobId: string): InputRow[] {
    return stmts(this.db).inputsOf.all(jobId) as InputRow[];
  }

  /** Jobs that read this path as a set member or declared input, oldest first. */
  consumersOf(path: string): string[] {
    return (stmts(this.db).consumers.all(path) as { job_id: string }[]).map((r) => r.job_id);
  }

  /** The job that wrote this version of a path, or null. */
  producerOf(path: string, version: string): string | null {
    return (stmts(this.db).producerOf.get(path, version) as { job_id: string } | undefined)?.job_id ?? null;
  }

  /** Jobs that wrote this path, newest first. */
  producersOf(path: string): string[] {
    return (stmts(this.db).producers.all(path) as { job_id: string }[]).map((r) => r.job_id);
  }
}
