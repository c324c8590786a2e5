import { LineageStore } from './lineage-store.js';
import type { Store } from './store.js';
import type { JobRecord, Variables } from '../core/types.js';

/** One step of a file's lineage: the file and the job that wrote it (null for a file from outside). */
export interface TraceStep {
  path: string;
  job: string | null;
  pattern: string | null;
  recipe: string | null;
  /** The files the job read: its triggering input, or every member of its set, then its declared inputs. */
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
  /** Steps from the file asked about (0) back along what each job read. */
  depth: number;
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

/** The files a job read: its set's members (or its triggering input) and its declared inputs, each with the job that wrote it. */
function readsOf(store: Store, lineage: LineageStore, job: JobRecord): { path: string; from: { job: JobRecord; inferred: boolean } | null }[] {
  const rows = lineage.inputsOf(job.id);
  const out: { path: string; from: { job: JobRecord; inferred: boolean } | null }[] = [];
  const wrote = (id: string | null, path: string) => {
    const j = id ? store.getJob(id) : null;
    return j ? { job: j, inferred: lineage.outputsOf(j.id).find((o) => o.path === path)?.inferred === 1 } : null;
  };
  // A single-file job follows its own `cause`, so a regenerated input never rewrites the history of an older output.
  if (job.inputs === null) out.push({ path: job.input, from: wrote(job.cause, job.input) });
  for (const r of rows) out.push({ path: r.path, from: wrote(r.version === null ? null : lineage.producerOf(r.path, r.version), r.path) });
  return out;
}

/**
 * The lineage of a file back to the files that came from outside: the file,
 * the job that wrote it, every file that job read (a set's members, declared
 * inputs), the jobs that wrote those, and so on, breadth first. Each step has
 * its `depth` (0 for the file asked about); each file and job appears once.
 */
export function traceBack(store: Store, path: string): TraceStep[] {
  const lineage = new LineageStore(store.db);
  const steps: TraceStep[] = [];
  const seenJobs = new Set<string>();
  const seenPaths = new Set<string>();
  const queue: { path: string; from: { job: JobRecord; inferred: boolean } | null; depth: number }[] = [{ path, from: producer(store, lineage, path), depth: 0 }];
  for (let i = 0; i < queue.length; i++) {
    const { path: at, from, depth } = queue[i];
    const id = `${at}\0${from?.job.id ?? ''}`;
    if (seenPaths.has(id) || (from && seenJobs.has(from.job.id))) continue;
    seenPaths.add(id);
    if (!from) {
      steps.push({ path: at, job: null, pattern: null, recipe: null, inputs: [], status: null, generation: 0, variables: null, pattern_version: null, recipe_version: null, input_hash: null, host: null, started_at: null, finished_at: null, inferred: false, depth });
      continue;
    }
    const { job, inferred } = from;
    seenJobs.add(job.id);
    const l = lineage.get(job.id);
    const reads = readsOf(store, lineage, job);
    steps.push({
      path: at,
      job: job.id,
      pattern: job.pattern,
      recipe: job.recipe,
      inputs: reads.map((r) => r.path),
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
      depth,
    });
    for (const r of reads) queue.push({ path: r.path, from: r.from, depth: depth + 1 });
  }
  return steps;
}

/** Everything derived from a file, as a tree of jobs and their outputs. */
export function traceForward(store: Store, path: string, seen = new Set<string>()): ForwardNode[] {
  const lineage = new LineageStore(store.db);
  const nodes: ForwardNode[] = [];
  const readers = new Set(lineage.consumersOf(path));
  const jobs = [...store.listJobs({ input: path }).filter((j) => !readers.has(j.id)), ...[...readers].flatMap((id) => store.getJob(id) ?? [])];
  for (const job of jobs) {
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

/** Whether the database knows anything of `path`: a file the engine watches, a job's input, or a file a job wrote or read. */
export function knowsPath(store: Store, path: string): boolean {
  const lineage = new LineageStore(store.db);
  return store.getFile(path) !== null || store.listJobs({ input: path, limit: 1 }).length > 0 || lineage.producersOf(path).length > 0 || lineage.consumersOf(path).length > 0;
}
