/**
 * Append-only numbered migrations. Migration N brings `PRAGMA user_version`
 * from N-1 to N. Never edit a released migration: add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: definitions, rules, jobs, transitions, files, events
  `
  CREATE TABLE definitions (
    kind TEXT NOT NULL CHECK (kind IN ('pattern', 'recipe')),
    name TEXT NOT NULL,
    file TEXT NOT NULL,
    hash TEXT NOT NULL,
    body TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    PRIMARY KEY (kind, name)
  );
  CREATE TABLE rules (
    name TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    key TEXT,
    pattern TEXT NOT NULL,
    recipe TEXT NOT NULL,
    rule_version TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    input_version TEXT NOT NULL,
    event TEXT NOT NULL,
    old_path TEXT,
    variables TEXT NOT NULL,
    sweep_point TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    retries INTEGER NOT NULL DEFAULT 0,
    timeout_ms INTEGER,
    exit_code INTEGER,
    error TEXT,
    result TEXT,
    backend TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    cause TEXT,
    job_dir TEXT NOT NULL,
    pid INTEGER,
    pid_start TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
  );
  -- A cancelled job of a removed rule releases its key (NULL), so a rule
  -- registered again may run that input again.
  CREATE UNIQUE INDEX jobs_key ON jobs (key);
  CREATE INDEX jobs_status ON jobs (status);
  CREATE INDEX jobs_pattern ON jobs (pattern, status);
  CREATE INDEX jobs_input ON jobs (input);
  CREATE TABLE transitions (
    job_id TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    at TEXT NOT NULL,
    note TEXT
  );
  CREATE INDEX transitions_job ON transitions (job_id);
  CREATE TABLE files (
    path TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    ino INTEGER,
    generation INTEGER NOT NULL DEFAULT 0,
    cause TEXT,
    seen_at TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    old_path TEXT,
    version TEXT NOT NULL,
    generation INTEGER NOT NULL,
    cause TEXT,
    at TEXT NOT NULL
  );
  `,
  // 2: the backend's handle of a running attempt (pid, Slurm job id, …), for re-attaching after a restart
  `ALTER TABLE jobs ADD COLUMN handle TEXT;`,
  // 3: lineage — the identity of each job's input and definitions, and the files each job wrote
  `
  CREATE TABLE lineage (
    job_id TEXT PRIMARY KEY,
    input_size INTEGER,
    input_mtime TEXT,
    input_hash TEXT,
    pattern_hash TEXT NOT NULL,
    recipe_hash TEXT NOT NULL,
    host TEXT
  ) WITHOUT ROWID;
  CREATE TABLE job_outputs (
    job_id TEXT NOT NULL,
    path TEXT NOT NULL,
    version TEXT NOT NULL,
    inferred INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, path)
  ) WITHOUT ROWID;
  CREATE INDEX job_outputs_path ON job_outputs (path);
  `,
  // 4: paused patterns (their queued jobs wait until they resume)
  `CREATE TABLE paused_patterns (name TEXT PRIMARY KEY, paused_at TEXT NOT NULL) WITHOUT ROWID;`,
  // 5: registration epochs — each rule's current one, and the last one every name ever had (re-registering runs again)
  `
  ALTER TABLE rules ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE rule_epochs (name TEXT PRIMARY KEY, epoch INTEGER NOT NULL) WITHOUT ROWID;
  `,
  // 6: fan-in — pending groups and their members (they survive restarts), a set job's members, and every file a job read
  `
  ALTER TABLE jobs ADD COLUMN inputs TEXT;
  CREATE TABLE fanin_groups (
    pattern TEXT NOT NULL,
    key TEXT NOT NULL,
    rule_version TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'fired')),
    marker TEXT,
    marker_at INTEGER,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    PRIMARY KEY (pattern, key)
  ) WITHOUT ROWID;
  CREATE TABLE fanin_members (
    pattern TEXT NOT NULL,
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    version TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    cause TEXT,
    UNIQUE (pattern, key, path)
  );
  CREATE INDEX fanin_members_path ON fanin_members (path);
  CREATE TABLE job_inputs (
    job_id TEXT NOT NULL,
    path TEXT NOT NULL,
    version TEXT,
    declared INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, path)
  );
  CREATE INDEX job_inputs_path ON job_inputs (path);
  `,
];
