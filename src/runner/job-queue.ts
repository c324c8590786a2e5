import { RESOURCE_KINDS, type ResourceKind } from './backend.js';
import type { Allocation, ResourcePool } from './resource-pool.js';
import type { JobRecord, Resources } from '../core/types.js';

/** How far past a blocked head a lane is searched for jobs that need none of what it waits for. */
export const LOOKAHEAD = 256;

/** A queued job as the choice of what starts next sees it. */
export interface Waiting {
  id: string;
  /** What it asks for, with the pattern that asks (for the error of a job that can never fit); null when its backend keeps no pool or its rule is gone. */
  demand: { resources: Resources; pattern: { name: string; file: string } } | null;
}

/** What to do with one waiting job. */
export type StartDecision = { id: string; kind: 'start'; allocation: Allocation | null } | { id: string; kind: 'refuse'; error: string };

/** The resource kinds a job takes (every job takes cpus). */
function kindsOf(res: Resources): ResourceKind[] {
  return RESOURCE_KINDS.filter((k) => (k === 'cpus' ? true : k === 'gpus' ? res.gpus > 0 : res.memory !== null));
}

/**
 * What starts next on one backend: a function of the waiting jobs (in FIFO
 * order) and a copy of the backend's free capacity (`pool`, taken from as
 * jobs are chosen; null for a backend without a capacity). From the head, up
 * to `lookahead` jobs deep: the first job that does not fit holds back the
 * kinds of resource it is short of, and a later one may pass it only when it
 * needs none of them, so nothing starves; the search stops where cpus are
 * held back (every job needs them). A job that could never fit is refused.
 */
export function nextToStart(waiting: Iterable<Waiting>, pool: ResourcePool | null, lookahead = LOOKAHEAD): StartDecision[] {
  const held = new Set<ResourceKind>();
  const out: StartDecision[] = [];
  let seen = 0;
  // Read lazily: a full backend stops the search at its first job.
  for (const { id, demand } of waiting) {
    if (seen++ >= lookahead || held.has('cpus')) break;
    if (!pool || !demand) {
      out.push({ id, kind: 'start', allocation: null });
      continue;
    }
    const never = pool.impossible(demand.resources, demand.pattern);
    if (never) {
      out.push({ id, kind: 'refuse', error: never });
      continue;
    }
    if (kindsOf(demand.resources).some((k) => held.has(k))) continue;
    const taken = pool.take(demand.resources);
    if (!taken) {
      for (const k of pool.short(demand.resources)) held.add(k);
      continue;
    }
    out.push({ id, kind: 'start', allocation: taken });
  }
  return out;
}

/** The queue of one backend: jobs in FIFO order, consumed from `head`. */
class Lane {
  readonly jobs: (JobRecord | null)[] = [];
  head = 0;

  /** Drops the consumed head now and then. */
  compact(): void {
    while (this.head < this.jobs.length && this.jobs[this.head] === null) this.head++;
    if (this.head > 4096 && this.head * 2 > this.jobs.length) {
      this.jobs.splice(0, this.head);
      this.head = 0;
    }
  }
}

/**
 * The queued jobs: one FIFO lane per backend (backends fill up
 * independently), and the jobs of paused patterns parked aside.
 */
export class JobQueue {
  private readonly lanes = new Map<string, Lane>();
  private readonly queued = new Set<string>();
  private readonly parked = new Map<string, JobRecord[]>();

  get size(): number {
    return this.queued.size;
  }

  has(id: string): boolean {
    return this.queued.has(id);
  }

  /** Adds a job at the end of its backend's lane. */
  push(job: JobRecord): void {
    this.queued.add(job.id);
    let lane = this.lanes.get(job.backend);
    if (!lane) this.lanes.set(job.backend, (lane = new Lane()));
    lane.jobs.push(job);
  }

  /** Keeps a paused pattern's job aside (not pending) until `unpark`. */
  park(job: JobRecord): void {
    const list = this.parked.get(job.pattern) ?? [];
    if (!list.some((j) => j.id === job.id)) list.push(job);
    this.parked.set(job.pattern, list);
  }

  /** Takes a pattern's queued jobs out of the lanes, oldest first. */
  takePattern(pattern: string): JobRecord[] {
    const out: JobRecord[] = [];
    for (const lane of this.lanes.values()) {
      for (let i = lane.head; i < lane.jobs.length; i++) {
        const job = lane.jobs[i];
        if (job && job.pattern === pattern && this.queued.has(job.id)) {
          this.queued.delete(job.id);
          lane.jobs[i] = null;
          out.push(job);
        }
      }
      lane.compact();
    }
    return out;
  }

  /** A resumed pattern's parked jobs, oldest first (no longer parked). */
  unpark(pattern: string): JobRecord[] {
    const list = this.parked.get(pattern) ?? [];
    this.parked.delete(pattern);
    return list;
  }

  /** Forgets a job (cancelled): its lane slot is dropped when next met. */
  remove(id: string): void {
    this.queued.delete(id);
  }

  /** The backends with a lane. */
  backends(): string[] {
    return [...this.lanes.keys()];
  }

  /** The still-queued jobs of a backend's lane, from its head, read lazily (up to `lookahead`). */
  *waiting(backend: string, lookahead = LOOKAHEAD): Generator<JobRecord> {
    const lane = this.lanes.get(backend);
    if (!lane) return;
    let n = 0;
    try {
      for (let i = lane.head; i < lane.jobs.length && n < lookahead; i++) {
        const job = lane.jobs[i];
        if (job === null || !this.queued.has(job.id)) {
          lane.jobs[i] = null;
          continue;
        }
        n++;
        yield job;
      }
    } finally {
      lane.compact();
    }
  }
}
