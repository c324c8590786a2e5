import { join } from 'node:path';
import { directoryWalk } from '../lib/baselines.js';
import { processedWorkspace } from '../lib/fixtures.js';
import { EngineProbe } from '../lib/probe.js';
import { now, round } from '../lib/stats.js';
import type { Measurement, Workload } from '../lib/types.js';

export const restart: Workload = {
  id: '6',
  title: 'restart over processed files',
  async run(ctx): Promise<Measurement> {
    const files = ctx.quick ? 5_000 : 100_000;
    const dirs = ctx.quick ? 10 : 100;
    const root = join(ctx.tmp, 'ws');
    await processedWorkspace(root, files, dirs, ctx.log);
    const walk = directoryWalk(join(root, 'data'));
    ctx.log(`baseline: directory walk (readdir + stat) of ${files} files: ${round(walk.ms)} ms`);

    // Live: open, catch up, attach the watchers, reconcile scan: ready for new events.
    const t0 = now();
    const live = await EngineProbe.open(root);
    let readyMs: number;
    let rerun: number;
    try {
      await live.engine.startLive();
      readyMs = now() - t0;
      // Anything the restart would re-run has been queued by now; give the watchers a moment anyway.
      await new Promise((r) => setTimeout(r, 500));
      rerun = live.queued;
      live.expectCounts({ succeeded: files });
    } finally {
      await live.close();
    }
    ctx.log(`live restart: ready in ${round(readyMs / 1000)} s, ${rerun} jobs re-run`);

    // Batch: `meow run --until-idle` over the same state.
    const b0 = now();
    const batch = await EngineProbe.open(root);
    try {
      await batch.engine.runUntilIdle();
      rerun += batch.queued;
      batch.expectCounts({ succeeded: files });
    } finally {
      await batch.close();
    }
    const batchMs = now() - b0;
    ctx.log(`batch restart (run until idle): ${round(batchMs / 1000)} s, ${batch.queued} jobs re-run`);
    const figure = readyMs / 1000;
    return {
      metric: 'restart → ready (live: watchers attached)',
      figure,
      unit: 's',
      baseline: walk.ms / 1000,
      baselineWhat: 'a plain directory walk (readdir + stat) of the same tree',
      target: '≤ 5 s, 0 re-run',
      pass: figure <= 5 && rerun === 0,
      size: `${files} files and succeeded jobs`,
      details: [
        { metric: 'jobs re-run (live and batch restarts)', value: rerun, unit: 'jobs', baseline: null, target: '0', pass: rerun === 0 },
        { metric: 'restart → idle (run --until-idle)', value: batchMs / 1000, unit: 's', baseline: walk.ms / 1000, target: '', pass: null },
      ],
    };
  },
};
