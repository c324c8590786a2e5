import { join } from 'node:path';
import { chokidarDelivery } from '../lib/baselines.js';
import { EngineProbe } from '../lib/probe.js';
import { now, round } from '../lib/stats.js';
import { createWorkspace, filePaths, NOOP_JS, patternYaml, writeFiles } from '../lib/workspace.js';
import type { Measurement, Workload, WorkloadContext } from '../lib/types.js';

/** Files dropped at once into a live engine until every job succeeded; the rate, for workload 8. */
export async function dropRun(ctx: WorkloadContext, files: number, dir: string): Promise<{ ms: number; jobsPerSecond: number }> {
  const root = await createWorkspace(dir, {
    patterns: { 'noop.yaml': patternYaml({ recipe: 'noop', paths: 'data/in/*.txt' }) },
    recipes: { 'noop.mjs': NOOP_JS },
  });
  const probe = await EngineProbe.open(root);
  try {
    await probe.engine.startLive();
    const t0 = now();
    await writeFiles(root, filePaths('data/in', files));
    await probe.untilSucceeded(files, 600_000);
    const ms = probe.lastSucceededAt - t0;
    probe.expectCounts({ succeeded: files });
    ctx.log(`engine: ${files} jobs succeeded ${round(ms / 1000)} s after the first write`);
    return { ms, jobsPerSecond: files / (ms / 1000) };
  } finally {
    await probe.close();
  }
}

export const drop: Workload = {
  id: '1',
  title: 'files dropped at once, 1 pattern, JS no-op recipe, settle 0',
  async run(ctx): Promise<Measurement> {
    const files = ctx.quick ? 1_000 : 10_000;
    // The baseline before and after the engine, the better of the two: the machine's load drifts.
    const before = await chokidarDelivery(join(ctx.tmp, 'baseline-1'), filePaths('data/in', files), 120_000);
    const { ms } = await dropRun(ctx, files, join(ctx.tmp, 'ws'));
    const after = await chokidarDelivery(join(ctx.tmp, 'baseline-2'), filePaths('data/in', files), 120_000);
    const baseMs = Math.min(before, after);
    ctx.log(`baseline: chokidar delivered ${files} add events in ${round(before / 1000)} s before, ${round(after / 1000)} s after`);
    const figure = ms / 1000;
    const baseline = baseMs / 1000;
    return {
      metric: 'time until all jobs succeeded',
      figure,
      unit: 's',
      baseline,
      baselineWhat: `bare chokidar delivering the same ${files} add events`,
      target: '≤ 2× baseline',
      pass: figure <= 2 * baseline,
      size: `${files} files`,
      details: [{ metric: 'throughput', value: files / figure, unit: 'jobs/s', baseline: null, target: '', pass: null }],
    };
  },
};
