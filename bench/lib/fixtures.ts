import { hostname } from 'node:os';
import { nowIso } from '../../src/core/ids.js';
import { Engine, newJobRecord } from '../../src/engine.js';
import { linkRules } from '../../src/rules/linker.js';
import { diffTree } from '../../src/rules/tree-diff.js';
import { LineageStore } from '../../src/store/lineage-store.js';
import { JobTransitions } from '../../src/store/job-transitions.js';
import { check } from './types.js';
import { now, round } from './stats.js';
import { createWorkspace, filePaths, NOOP_JS, patternYaml, writeFiles } from './workspace.js';
import type { FileEvent, JobRecord, Rule } from '../../src/core/types.js';
import type { Store } from '../../src/store/store.js';

/** A job of `rule` for `event`, as the engine creates it (its key, variables and job directory). */
export function jobFor(rule: Rule, event: FileEvent, root: string, createdAt: string): JobRecord {
  return newJobRecord(rule, event, null, createdAt, root);
}

/** Records processed jobs of one rule as the engine would have: the input's event, the job, its lineage and its three transitions. */
class JobRecorder {
  private readonly lineage: LineageStore;
  private readonly transitions: JobTransitions;
  private readonly host = hostname();

  constructor(
    private readonly store: Store,
    private readonly rule: Rule,
    private readonly root: string,
  ) {
    this.lineage = new LineageStore(store.db);
    this.transitions = new JobTransitions(store);
  }

  /** Runs `fn` in one transaction. */
  batch(fn: () => void): void {
    this.transitions.batch(fn);
  }

  /** A job of the rule for a created file (its version "size:mtime_ns"), ended `failed` (exit code 1) or `succeeded`. */
  record(path: string, version: string, ino: number | null, at: string, failed = false): void {
    const { rule } = this;
    const event: FileEvent = { kind: 'created', path, oldPath: null, version, generation: 0, cause: null };
    this.store.recordEvent(event, ino);
    const job = jobFor(rule, event, this.root, at);
    check(this.transitions.create(job), `fixture: duplicate job for ${path}`);
    const [size, ns] = version.split(':');
    this.lineage.insert({ job_id: job.id, input_size: Number(size), input_mtime: new Date(Number(BigInt(ns) / 1_000_000n)).toISOString(), input_hash: null, pattern_hash: rule.pattern.hash, recipe_hash: rule.recipe.hash, host: this.host });
    this.transitions.start(job.id, 1, at);
    this.transitions.finish(job.id, failed ? 'failed' : 'succeeded', failed ? { exitCode: 1, error: 'exit code 1', result: null } : { exitCode: 0, error: null, result: null });
  }
}

/**
 * A workspace whose `files` files were all processed: one pattern over
 * `data/**`, every file known to the files table, one succeeded job per file
 * with its three transitions and its lineage, written through the store's
 * own methods in one transaction (running 100,000 real jobs first would take
 * minutes and measure nothing new). Checked: a restart sees no change.
 */
export async function processedWorkspace(root: string, files: number, dirs: number, log: (m: string) => void): Promise<void> {
  await createWorkspace(root, {
    patterns: { 'all.yaml': patternYaml({ recipe: 'noop', paths: 'data/**/*.txt' }) },
    recipes: { 'noop.mjs': NOOP_JS },
  });
  let t = now();
  await writeFiles(root, filePaths('data', files, dirs));
  log(`wrote ${files} files in ${dirs} directories in ${round((now() - t) / 1000)} s`);
  t = now();
  const engine = await Engine.open(root);
  try {
    const [defs, tree] = await Promise.all([engine.loadDefinitions(), engine.scan()]);
    const { rules } = linkRules(defs.patterns, defs.recipes);
    check(rules.length === 1 && tree.size === files, `fixture: ${rules.length} rules over ${tree.size} files`);
    const rule = rules[0];
    const store = engine.store;
    const jobs = new JobRecorder(store, rule, root);
    jobs.batch(() => {
      store.saveDefinitions(defs.patterns, defs.recipes);
      store.saveRules(new Map([[rule.name, rule.version]]));
      const at = nowIso();
      for (const [path, st] of tree) jobs.record(path, st.version, st.ino, at);
    });
    // What start() will compare: the registered rules and the files table against the tree.
    const plan = engine.plan(defs, tree.keys());
    check(plan.changes.length === 0, `fixture: a restart would change rules: ${plan.changes.map((c) => `${c.name} ${c.change}`).join(', ')}`);
    check(diffTree(engine.knownFiles(), tree).length === 0, 'fixture: a restart would see changed files');
    check(engine.store.countJobs().succeeded === files, 'fixture: job count');
  } finally {
    await engine.close();
  }
  log(`recorded ${files} processed files and succeeded jobs in ${round((now() - t) / 1000)} s`);
}

/**
 * Adds `jobs` jobs of history to a processed workspace (see
 * {@link processedWorkspace}): jobs of the same pattern for files that were
 * processed and have since been deleted (`archive/…`, archived away, as a
 * beamline's raw data is), each with its created and deleted events, its
 * three transitions and its lineage. One job in `failedEvery` failed (exit
 * code 1); the rest succeeded. Written in transactions of 50,000 jobs.
 * Returns how many failed.
 */
export async function addHistory(root: string, jobs: number, failedEvery: number, log: (m: string) => void): Promise<number> {
  const t = now();
  const engine = await Engine.open(root);
  let failed = 0;
  try {
    const defs = await engine.loadDefinitions();
    const { rules } = linkRules(defs.patterns, defs.recipes);
    const store = engine.store;
    const recorder = new JobRecorder(store, rules[0], root);
    const before = store.countJobs();
    const chunk = 50_000;
    for (let from = 0; from < jobs; from += chunk) {
      recorder.batch(() => {
        const at = nowIso();
        for (let i = from; i < Math.min(jobs, from + chunk); i++) {
          const path = `archive/r${Math.floor(i / 1000)}/f${i % 1000}.txt`;
          const fails = i % failedEvery === failedEvery - 1;
          if (fails) failed++;
          recorder.record(path, `${100 + (i % 900)}:${1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n}`, null, at, fails);
          store.recordEvent({ kind: 'deleted', path, oldPath: null, version: 'deleted', generation: 0, cause: null }, null);
        }
      });
    }
    const after = store.countJobs();
    check(after.succeeded - before.succeeded === jobs - failed && after.failed - before.failed === failed, `history: job counts ${JSON.stringify(after)}`);
  } finally {
    await engine.close();
  }
  log(`recorded ${jobs} jobs of history (${failed} failed) for deleted files in ${round((now() - t) / 1000)} s`);
  return failed;
}
