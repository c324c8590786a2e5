import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inotifyDelivery } from '../lib/baselines.js';
import { EngineProbe } from '../lib/probe.js';
import { now, round, waitUntil } from '../lib/stats.js';
import { check, type Measurement, type Workload, type WorkloadContext } from '../lib/types.js';
import { createWorkspace, filePaths, writeFiles } from '../lib/workspace.js';

const MAX_FILES = 500;

/** A batch pattern over detector frames: every 500 frames or every 2 s, whichever comes first. */
const PATTERN = `recipe: tally
trigger: {paths: "frames/*.h5", events: [created], settle: 0}
batch: {max_files: ${MAX_FILES}, max_wait: 2s}
`;

/** Appends the batch's list of frames to a ledger, one absolute path a line, in one write. */
const TALLY_JS = `import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
export default async (vars, ctx) => {
  await appendFile(join(ctx.workspace, 'ledger.txt'), vars.input_files.map((f) => f + '\\n').join(''));
  return vars.input_files.length;
};
`;

interface FanInRun {
  ms: number;
  jobs: number;
  largest: number;
}

/**
 * Frames written at once into a live engine with the batch pattern; the time
 * from the first write until every frame was in a succeeded job. Fails the
 * run unless the jobs cover every frame exactly once, none holds more than
 * 500, and the recipes received exactly those lists.
 */
async function batchRun(ctx: WorkloadContext, frames: readonly string[]): Promise<FanInRun> {
  const root = await createWorkspace(join(ctx.tmp, 'ws'), { patterns: { 'tally.yaml': PATTERN }, recipes: { 'tally.mjs': TALLY_JS } });
  const probe = await EngineProbe.open(root);
  try {
    let covered = 0;
    probe.engine.on('job:finished', (job) => {
      if (job.status === 'succeeded') covered += job.inputs?.length ?? 0;
    });
    await probe.engine.startLive();
    const t0 = now();
    await writeFiles(root, frames);
    await waitUntil(() => covered >= frames.length || probe.bad.length > 0, `every frame in a succeeded batch job (${covered} of ${frames.length})`, 300_000, 2);
    const ms = now() - t0;
    probe.expectNoFailures();
    const jobs = probe.engine.store.listJobs({ pattern: 'tally' });
    probe.expectCounts({ succeeded: jobs.length });
    const taken = jobs.flatMap((j) => j.inputs ?? []);
    const sizes = jobs.map((j) => j.inputs?.length ?? 0);
    const largest = Math.max(...sizes);
    check(taken.length === frames.length, `the batch jobs hold ${taken.length} frames in all, expected ${frames.length} (each exactly once)`);
    const takenSet = new Set(taken);
    const missing = frames.filter((f) => !takenSet.has(f));
    check(takenSet.size === frames.length && missing.length === 0, `the batch jobs do not cover every frame exactly once (${missing.length} missing, e.g. ${missing[0] ?? 'none'})`);
    check(largest <= MAX_FILES, `a batch job holds ${largest} frames, more than max_files ${MAX_FILES}`);
    const ledger = (await readFile(join(root, 'ledger.txt'), 'utf8')).split('\n').filter(Boolean);
    const expected = new Set(frames.map((f) => join(root, f)));
    check(ledger.length === frames.length && new Set(ledger).size === frames.length && ledger.every((f) => expected.has(f)), `the recipes received ${ledger.length} frame paths (${new Set(ledger).size} distinct), expected each of the ${frames.length} frames once`);
    ctx.log(`engine: ${frames.length} frames in ${jobs.length} batch jobs (largest ${largest}) ${round(ms / 1000)} s after the first write`);
    return { ms, jobs: jobs.length, largest };
  } finally {
    await probe.close();
  }
}

/**
 * Fan-in (issue 17): 10,000 detector frames written as fast as the disk takes
 * them into a batch pattern (`max_files: 500`, `max_wait: 2s`); frames per
 * second until every frame was in a succeeded batch job, beside bare inotify
 * delivering the same burst in the same run.
 */
export const fanIn: Workload = {
  id: '11',
  title: 'frames written at once into a batch pattern (max_files 500, max_wait 2s), JS recipe',
  async run(ctx): Promise<Measurement> {
    const count = ctx.quick ? 2_000 : 10_000;
    const frames = filePaths('frames', count, 1, 'h5');
    // The baseline before and after the engine, the better of the two: the machine's load drifts.
    const before = await inotifyDelivery(join(ctx.tmp, 'baseline-1'), frames, 120_000);
    const run = await batchRun(ctx, frames);
    const after = await inotifyDelivery(join(ctx.tmp, 'baseline-2'), frames, 120_000);
    const baseMs = Math.min(before, after);
    ctx.log(`baseline: inotify reported all ${count} names ${round(before / 1000)} s after the first write before, ${round(after / 1000)} s after`);
    const figure = count / (run.ms / 1000);
    const baseline = count / (baseMs / 1000);
    return {
      metric: 'frames/s until every frame was in a succeeded batch job',
      figure,
      unit: 'frames/s',
      baseline,
      baselineWhat: `bare inotify (fs.watch on the directory) reporting the same ${count} frames`,
      target: 'every frame in exactly one job of ≤ 500 (checked); rate reported beside inotify',
      pass: true,
      size: `${count} frames`,
      details: [
        { metric: 'time until every frame was in a succeeded job', value: run.ms / 1000, unit: 's', baseline: baseMs / 1000, target: '', pass: null },
        { metric: 'batch jobs (largest)', value: run.jobs, unit: `jobs (${run.largest})`, baseline: null, target: '', pass: null },
      ],
    };
  },
};
