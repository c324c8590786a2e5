import { join } from 'node:path';
import { rawSpawn } from '../lib/baselines.js';
import { throughputBesidePeers } from '../lib/peer-runs.js';
import { EngineProbe } from '../lib/probe.js';
import { now, round } from '../lib/stats.js';
import { createWorkspace, filePaths, patternYaml, writeFiles } from '../lib/workspace.js';
import type { Detail, Measurement, Workload, WorkloadContext } from '../lib/types.js';

const RECIPE = '#!/usr/bin/env bash\ncat "$input_file" > /dev/null\n';

/** meow_base's figure for this workload, and 10× it (issue 6). */
const FLOOR = 250;

/** Files per round and rounds of the live engine beside its peers. */
const besideSize = (quick: boolean) => (quick ? { files: 100, rounds: 1 } : { files: 400, rounds: 3 });

/**
 * The same recipe run by a live engine as the files are written, beside
 * Watchman triggers, inotifywait + spawn and raw spawn (issue 18).
 */
async function besidePeers(ctx: WorkloadContext, cpus: number): Promise<Detail[]> {
  const root = await createWorkspace(join(ctx.tmp, 'live'), {
    patterns: { 'cat.yaml': patternYaml({ recipe: 'cat', paths: 'data/in/*.txt' }) },
    recipes: { 'cat.sh': RECIPE },
  });
  const probe = await EngineProbe.open(root);
  try {
    await probe.engine.startLive();
    const { files, rounds } = besideSize(ctx.quick);
    const { details } = await throughputBesidePeers(ctx, { probe, root, dir: 'data/in', recipe: join(root, 'recipes', 'cat.sh'), base: join(ctx.tmp, 'peers'), files, rounds, concurrency: cpus });
    probe.expectNoFailures();
    probe.expectCounts({ succeeded: files * rounds });
    return details;
  } finally {
    await probe.close();
  }
}

export const bashThroughput: Workload = {
  id: '2',
  title: 'files processed by a bash recipe `cat "$input_file" > /dev/null`',
  async run(ctx): Promise<Measurement> {
    const files = ctx.quick ? 200 : 1_000;
    const root = await createWorkspace(join(ctx.tmp, 'ws'), {
      patterns: { 'cat.yaml': patternYaml({ recipe: 'cat', paths: 'data/in/*.txt' }) },
      recipes: { 'cat.sh': RECIPE },
    });
    const paths = filePaths('data/in', files);
    await writeFiles(root, paths);

    const probe = await EngineProbe.open(root);
    const cpus = probe.engine.config.cpus;
    let seconds: number;
    let baseline: number;
    let figure: number;
    try {
      // Baseline first, on the same files, at the engine's concurrency.
      baseline = await rawSpawn(join(root, 'recipes', 'cat.sh'), paths.map((p) => join(root, p)), cpus, root);
      ctx.log(`baseline: raw spawn of bash at concurrency ${cpus}: ${round(baseline)} runs/s`);
      const t0 = now();
      await probe.engine.runUntilIdle();
      seconds = (now() - t0) / 1000;
      probe.expectNoFailures();
      probe.expectCounts({ succeeded: files });
      figure = files / seconds;
      ctx.log(`engine: ${files} jobs in ${round(seconds)} s (run --until-idle, scan to idle), ${cpus} slots`);
    } finally {
      await probe.close();
    }
    const details = await besidePeers(ctx, cpus);
    return {
      metric: 'throughput (run until idle)',
      figure,
      unit: 'jobs/s',
      baseline,
      baselineWhat: `raw child_process.spawn of the same bash script, ${cpus} at a time`,
      target: `≥ 0.6× baseline and ≥ ${FLOOR} jobs/s`,
      pass: figure >= 0.6 * baseline && figure >= FLOOR && details.every((d) => d.pass !== false),
      size: `${files} files, ${cpus} slots; live and peers ${besideSize(ctx.quick).files} files × ${besideSize(ctx.quick).rounds}`,
      details,
    };
  },
};
