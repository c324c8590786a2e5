import { Engine } from '../../src/engine.js';
import { JOB_STATES, type JobStatus } from '../../src/core/types.js';
import { check } from './types.js';
import { now, waitUntil } from './stats.js';

/**
 * An engine opened for a benchmark, with counters on its events. Every job
 * that ends in anything but `succeeded` is kept, so that a workload can fail
 * the run for it. Owns the engine: call `close()`.
 */
export class EngineProbe {
  queued = 0;
  started = 0;
  succeeded = 0;
  /** When the last job succeeded (ms, `now()`). */
  lastSucceededAt = 0;
  /** Jobs that ended failed or cancelled: "pattern input: error". */
  readonly bad: string[] = [];
  /** When each input's first job started (ms, `now()`). */
  readonly startedAt = new Map<string, number>();
  /** Warnings and errors the engine logged. */
  readonly logs: string[] = [];

  private constructor(readonly engine: Engine) {
    engine.on('job:queued', () => this.queued++);
    engine.on('job:started', (job) => {
      this.started++;
      if (!this.startedAt.has(job.input)) this.startedAt.set(job.input, now());
    });
    engine.on('job:finished', (job) => {
      if (job.status === 'succeeded') {
        this.succeeded++;
        this.lastSucceededAt = now();
      } else if (job.status !== 'queued') this.bad.push(`${job.pattern} ${job.input}: ${job.status}: ${job.error ?? ''}`);
    });
    engine.on('log', (level, message) => {
      if (level !== 'info' && this.logs.length < 20) this.logs.push(`${level}: ${message}`);
    });
  }

  static async open(root: string): Promise<EngineProbe> {
    return new EngineProbe(await Engine.open(root));
  }

  /** Waits until `n` jobs succeeded in total; fails the run at the first job that did not. */
  async untilSucceeded(n: number, timeoutMs: number): Promise<void> {
    await waitUntil(() => this.succeeded >= n || this.bad.length > 0, `${n} succeeded jobs (${this.succeeded} so far)`, timeoutMs, 2);
    this.expectNoFailures();
  }

  expectNoFailures(): void {
    check(this.bad.length === 0, `${this.bad.length} job(s) did not succeed, e.g. ${this.bad[0]}${this.logs.length ? `; engine log: ${this.logs.join(' | ')}` : ''}`);
  }

  /** Checks the job counts in the database exactly: the states given, and 0 in every other. */
  expectCounts(expected: Partial<Record<JobStatus, number>>): void {
    const counts = this.engine.store.countJobs();
    for (const s of JOB_STATES) {
      const want = expected[s] ?? 0;
      check(counts[s] === want, `expected ${want} ${s} job(s) in the database, found ${counts[s]} (all counts: ${JSON.stringify(counts)})`);
    }
  }

  close(): Promise<void> {
    return this.engine.close({ cancelRunning: true });
  }
}
