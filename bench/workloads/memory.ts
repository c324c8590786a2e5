import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../lib/baselines.js';
import { processedWorkspace } from '../lib/fixtures.js';
import { round } from '../lib/stats.js';
import { check } from '../lib/types.js';
import type { Measurement, Workload } from '../lib/types.js';

const PROBE = join(dirname(fileURLToPath(import.meta.url)), '..', 'memory-probe.js');
const MiB = 2 ** 20;
const LIMIT_MIB = 150;

export const memory: Workload = {
  id: '7',
  title: 'jobs in the database: engine memory and database size',
  async run(ctx): Promise<Measurement> {
    const jobs = ctx.quick ? 5_000 : 100_000;
    const extra = ctx.quick ? 100 : 10_000;
    const root = join(ctx.tmp, 'ws');
    await processedWorkspace(root, jobs, ctx.quick ? 10 : 100, ctx.log);
    const db = join(root, '.meow', 'state.db');
    const dbBytes = statSync(db).size + (existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0);
    const perJob = dbBytes / jobs;
    ctx.log(`database: ${round(dbBytes / MiB)} MiB, ${round(perJob)} bytes per job (job, 3 transitions, lineage, file and event rows)`);

    const r = await run(process.execPath, [PROBE, root, String(extra)]);
    check(r.code === 0, `the engine process exited ${r.code}: ${r.stderr.slice(-2000)}`);
    const m = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
    check(m.succeeded === jobs + extra, `expected ${jobs + extra} succeeded jobs after the engine ran, found ${m.succeeded}`);
    const readyPeak = m.readyPeakRss / MiB;
    const peak = m.peakRss / MiB;
    ctx.log(`engine RSS: peak ${round(readyPeak)} MiB until ready, ${round(m.readyRss / MiB)} MiB when ready, ${round(m.rss / MiB)} MiB after ${extra} more jobs, peak ${round(peak)} MiB`);
    return {
      metric: `engine peak RSS until ready (live, ${jobs} jobs and files known)`,
      figure: readyPeak,
      unit: 'MiB',
      baseline: null,
      baselineWhat: '—',
      target: `≤ ${LIMIT_MIB} MiB`,
      pass: readyPeak <= LIMIT_MIB && peak <= LIMIT_MIB,
      size: `${jobs} jobs in the database, +${extra} run`,
      details: [
        { metric: `engine peak RSS, then running ${extra} new jobs`, value: peak, unit: 'MiB', baseline: null, target: `≤ ${LIMIT_MIB} MiB`, pass: peak <= LIMIT_MIB },
        { metric: 'engine RSS once ready', value: m.readyRss / MiB, unit: 'MiB', baseline: null, target: '', pass: null },
        { metric: `engine RSS after ${extra} new jobs`, value: m.rss / MiB, unit: 'MiB', baseline: null, target: '', pass: null },
        { metric: 'database bytes per job', value: perJob, unit: 'B', baseline: null, target: '', pass: null },
      ],
    };
  },
};
