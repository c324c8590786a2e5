import type { EngineApi } from './engine-api.js';
import type { JobStatus } from '../core/types.js';

/** The answer of `POST /until-idle`. */
export interface UntilIdleJson {
  /** Jobs that ended `failed` while the request waited. */
  failed: number;
  /** Jobs created by the reconcile scans it asked for. */
  created: number;
  /** Job counts by state once idle. */
  jobs: Record<JobStatus, number>;
}

/**
 * For `meow run --until-idle` beside a live engine: reconciles the tree with
 * the database, then waits until nothing is pending — jobs ran, their
 * cascades followed and a last scan found nothing new — as a local
 * `--until-idle` would. The live engine runs every job, within its own
 * limits; the caller only waits.
 */
export async function untilIdle(engine: EngineApi): Promise<UntilIdleJson> {
  const failedBefore = engine.failedCount;
  let created = 0;
  for (;;) {
    const n = await engine.reconcileLive();
    created += n;
    await engine.whenIdle();
    if (n === 0 && engine.busy === 0) break;
    // Paths still settling are pending without a job yet: look again shortly, not in a tight loop.
    if (n === 0) await new Promise((r) => setTimeout(r, 50));
  }
  return { failed: engine.failedCount - failedBefore, created, jobs: engine.statusJson().jobs };
}

/** The last line of `meow run --until-idle --json`, whether the command or a live engine ran the workspace. */
export function idleRecord(r: UntilIdleJson): string {
  return `${JSON.stringify({ at: new Date().toISOString(), kind: 'idle', failed: r.failed, created: r.created, jobs: r.jobs })}\n`;
}
