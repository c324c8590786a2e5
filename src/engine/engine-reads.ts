import { EventEmitter } from 'node:events';
import type { EngineEvents } from '../core/engine-events.js';
import type { JobRecord, JobStatus } from '../core/types.js';
import type { JobQuery, JobSearch, Store } from '../store/store.js';

/**
 * The engine's reads of its jobs for the control socket and the CLI: straight
 * queries of the state database, which the engine subclass owns.
 */
export abstract class EngineReads extends EventEmitter<EngineEvents> {
  /** The state database (read it; job states change only through the transitions). */
  abstract readonly store: Store;

  /** A job by id or unique id prefix, with whether it is superseded. */
  findJob(idOrPrefix: string): JobRecord | null {
    return this.store.findJob(idOrPrefix);
  }

  /** Jobs matching the query, oldest first. */
  listJobs(q: JobQuery): JobRecord[] {
    return this.store.listJobs(q);
  }

  /** A window of jobs, newest first, with how many match. */
  searchJobs(q: JobSearch): { total: number; jobs: JobRecord[] } {
    return this.store.searchJobs(q);
  }

  /** Job counts by state for each pattern; `current` leaves out superseded failures and cancellations. */
  jobCountsByPattern(options: { current?: boolean } = {}): Map<string, Record<JobStatus, number>> {
    return this.store.countJobsByPattern(options);
  }
}
