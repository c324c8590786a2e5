import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jobKey } from '../rules/job-key.js';
import { statFile } from '../monitor/scanner.js';
import { RuleEpochs } from './rule-epochs.js';
import type { Store } from './store.js';
import type { JobJson } from '../api/job-json.js';
import type { JobRecord, ParsedPattern, ParsedRecipe, Rule } from '../core/types.js';

/**
 * `meow run --rebuild-state`: a new state.db rebuilt from the job records
 * (`.meow/jobs/<id>/job.yaml`) left by earlier work.
 *
 * The definitions on disk are registered (no retroactive trigger), and every
 * job record is imported. A succeeded or failed job whose pattern is
 * registered now keeps the key the engine computes for the input as it is
 * now, so when the start-up scan then reports every file as new, the files
 * already processed are not run again, while files no job processed (or
 * whose input changed since) run. The rebuild assumes the records were made
 * by the definitions now on disk; a record of a pattern no longer registered
 * is imported as history only.
 */

/**
 * A job.yaml record: the `meow jobs --json` shape ({@link JobJson}); records
 * written before `inputs` and `superseded` existed lack those two.
 */
type JobFile = Omit<JobJson, 'inputs' | 'superseded'> & Partial<Pick<JobJson, 'inputs' | 'superseded'>>;

/** What a rebuild did. */
export interface RebuildReport {
  /** Job records imported. */
  imported: number;
  /** Imported jobs whose input will not run again. */
  done: number;
  /** Job directories without a readable record (an attempt cut short): their inputs run again. */
  unreadable: number;
}

async function readRecord(root: string, dir: string): Promise<JobFile | null> {
  try {
    const v = JSON.parse(await readFile(join(root, '.meow', 'jobs', dir, 'job.yaml'), 'utf8')) as Partial<JobFile>;
    if (typeof v.id !== 'string' || typeof v.pattern !== 'string' || typeof v.input !== 'string' || typeof v.status !== 'string') return null;
    return v as JobFile;
  } catch {
    return null;
  }
}

/**
 * Rebuilds the state in `store` (a new, empty database) from the job records,
 * registering `patterns` and `recipes` as `rules` (their epochs included).
 */
export async function rebuildState(
  store: Store,
  root: string,
  defs: { patterns: readonly ParsedPattern[]; recipes: readonly ParsedRecipe[] },
  rules: readonly Rule[],
): Promise<RebuildReport> {
  let dirs: string[] = [];
  try {
    dirs = (await readdir(join(root, '.meow', 'jobs'), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    dirs = [];
  }
  const byName = new Map(rules.map((r) => [r.name, r]));
  const records: JobRecord[] = [];
  let unreadable = 0;
  let done = 0;
  for (const dir of dirs.sort()) {
    const r = await readRecord(root, dir);
    if (!r) {
      unreadable++;
      continue;
    }
    const rule = byName.get(r.pattern);
    const input = r.event === 'deleted' ? null : await statFile(join(root, r.input));
    const final = r.status === 'succeeded' || r.status === 'failed';
    const keep = final && rule !== undefined && rule.recipe.name === r.recipe && input !== null;
    if (keep) done++;
    records.push({
      id: r.id,
      inputs: null,
      // No key: the input may trigger again (a job cut short, a pattern changed or gone, an input gone).
      key: keep ? jobKey(rule.version, r.input, input.version, r.sweep_point, rule.epoch) : (null as unknown as string),
      pattern: r.pattern,
      recipe: r.recipe,
      ruleVersion: rule?.version ?? 'rebuilt',
      // A record not final (a retry pending) is history now: its input runs again under a new job.
      status: final || r.status === 'cancelled' ? r.status : 'cancelled',
      input: r.input,
      inputVersion: input?.version ?? '',
      event: r.event,
      oldPath: r.old_path ?? null,
      variables: r.variables ?? {},
      sweepPoint: r.sweep_point ?? null,
      attempt: r.attempt ?? 0,
      retries: r.retries ?? 0,
      timeoutMs: null,
      exitCode: r.exit_code ?? null,
      error: final || r.status === 'cancelled' ? (r.error ?? null) : 'state rebuilt while this job waited for a retry',
      result: r.result ?? null,
      backend: r.backend ?? 'local',
      generation: r.generation ?? 0,
      cause: r.cause ?? null,
      jobDir: r.job_dir ?? `.meow/jobs/${r.id}`,
      pid: null,
      createdAt: r.created_at,
      startedAt: r.started_at ?? null,
      finishedAt: r.finished_at ?? null,
    });
  }
  // Oldest first, so `meow jobs` lists them in the order they ran.
  records.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const epochs = new RuleEpochs(store.db);
  store.transaction(() => {
    store.saveDefinitions(defs.patterns, defs.recipes);
    store.saveRules(new Map(rules.map((r) => [r.name, r.version])));
    epochs.save(rules);
    for (const job of records) store.insertJob(job);
  });
  return { imported: records.length, done, unreadable };
}
