import { LineageStore } from './lineage-store.js';
import type { Store } from './store.js';
import type { JobRecord, Variables } from '../core/types.js';

/** One step of a file's lineage: the file and the job that wrote it (null for a file from outside). */
export interface TraceStep {
  path: string;
  job: string | null;
  pattern: string | null;
  recipe: string | null;
  /** The files the job read (its triggering input). */
  inputs: string[];
  status: JobRecord['status'] | null;
  generation: number;
  variables: Variables | null;
  pattern_version: string | null;
  recipe_version: string | null;
  input_hash: string | null;
  host: string | null;
  started_at: string | null;
  finished_at: string | null;
  /** True when the job wrote the file without declaring it in `outputs`. */
  inferred: boolean;
}

/** Everything derived from a file: the jobs it triggered and, under each, what their outputs triggered. */
export interface ForwardNode {
  job: string;
  pattern: string;
  status: JobRecord['status'];
  outputs: { path: string; inferred: boolean; derived: ForwardNode[] }[];
}

function producer(store: Store, lineage: LineageStore, path: string): { job: JobRecord; inferred: boolean } | null {
  const file = store.getFile(path);
  const id = file?.cause ?? lineage.producersOf(path)[0] ?? null;
  const job = id ? store.getJob(id) : null;
  if (!job) return null;
  const inferred = lineage.outputsOf(job.id).find((o) => o.path === path)?.inferred === 1;
  return { job, inferred };
}

/**
 * The chain from a file back to the files that came from outside: the file,
 * the job that wrote it, that job's input, the job that wrote that, and so on.
 * Each job's own `cause` is followed, so a regenerated input never rewrites
 * the history of an older output.
 */
export function traceBack(store: Store, path: string): TraceStep[] {
  const lineage = new LineageStore(store.db);
  const steps: TraceStep[] = [];
  const seen = new Set<string>();
  let current: { job: JobRecord; inferred: boolean } | null = producer(store, lineage, path);
  let currentPath = path;
  while (current && !seen.has(current.job.id)) {
    const { job, inferred } = current;
    seen.add(job.id);
    const l = lineage.get(job.id);
    steps.push({
      path: currentPath,
      job: job.id,
      pattern: job.pattern,
      recipe: job.recipe,
      inputs: [job.input],
      status: job.status,
      generation: job.generation + 1,
      variables: job.variables,
      pattern_version: l?.pattern_hash.slice(0, 12) ?? null,
      recipe_version: l?.recipe_hash.slice(0, 12) ?? null,
      input_hash: l?.input_hash ?? null,
      host: l?.host ?? null,
      started_at: job.startedAt,
      finished_at: job.finishedAt,
      inferred,
    });
    currentPath = job.input;
    const parent = job.cause ? store.getJob(job.cause) : null;
    current = parent ? { job: parent, inferred: lineage.outputsOf(parent.id).find((o) => o.path === job.input)?.inferred === 1 } : null;
  }
  steps.push({
    path: currentPath,
    job: null,
    pattern: null,
    recipe: null,
    inputs: [],
    status: null,
    generation: 0,
    variables: null,
    pattern_version: null,
    recipe_version: null,
    input_hash: null,
    host: null,
    started_at: null,
    finished_at: null,
    inferred: false,
  });
  return steps;
}

/** Everything derived from a file, as a tree of jobs and their outputs. */
export function traceForward(store: Store, path: string, seen = new Set<string>()): ForwardNode[] {
  const lineage = new LineageStore(store.db);
  const nodes: ForwardNode[] = [];
  for (const job of store.listJobs({ input: path })) {
    if (seen.has(job.id)) continue;
    seen.add(job.id);
    nodes.push({
      job: job.id,
      pattern: job.pattern,
      status: job.status,
      outputs: lineage.outputsOf(job.id).map((o) => ({ path: o.path, inferred: o.inferred === 1, derived: traceForward(store, o.path, seen) })),
    });
  }
  return nodes;
}
