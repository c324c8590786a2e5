import { copyFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { directoryWalk, run } from '../lib/baselines.js';
import { EngineProbe } from '../lib/probe.js';
import { now, round, waitUntil } from '../lib/stats.js';
import { check } from '../lib/types.js';
import { createWorkspace, filePaths, patternYaml, REPO, writeFiles } from '../lib/workspace.js';
import type { Measurement, Workload } from '../lib/types.js';

/**
 * A recipe that holds its slot until cancelled: the jobs are queued, not run
 * to the end. Capped at 20 s, because a job cancelled while its job directory
 * is being created never sees its abort (see BENCHMARKS.md), and closing the
 * engine waits for it.
 */
export const HOLD_JS = `export default (vars, ctx) => new Promise((resolve) => {
  const timer = setTimeout(() => resolve(null), 20000);
  ctx.signal.addEventListener('abort', () => (clearTimeout(timer), resolve(null)));
});
`;

export const newPattern: Workload = {
  id: '5',
  title: 'a new pattern over existing files: retroactive triggers',
  async run(ctx): Promise<Measurement> {
    const files = ctx.quick ? 5_000 : 100_000;
    const dirs = ctx.quick ? 10 : 100;
    const root = await createWorkspace(join(ctx.tmp, 'ws'), { recipes: { 'hold.mjs': HOLD_JS } });
    const t = now();
    await writeFiles(root, filePaths('data', files, dirs));
    ctx.log(`wrote ${files} files in ${dirs} directories in ${round((now() - t) / 1000)} s`);
    const walk = directoryWalk(join(root, 'data'));
    check(walk.files === files, `the directory walk found ${walk.files} files, expected ${files}`);
    ctx.log(`baseline: directory walk (readdir + stat) of ${files} files: ${round(walk.ms)} ms`);

    // The engine learns the tree (no pattern yet) and stops.
    const first = await EngineProbe.open(root);
    try {
      const s0 = now();
      await first.engine.startLive();
      ctx.log(`first start over ${files} unknown files: ${round((now() - s0) / 1000)} s`);
    } finally {
      await first.close();
    }

    // `meow plan` with the new pattern on disk, the engine stopped.
    const pattern = join(ctx.tmp, 'all.yaml');
    await writeFile(pattern, patternYaml({ recipe: 'hold', paths: 'data/**/*.txt' }));
    await copyFile(pattern, join(root, 'patterns', 'all.yaml'));
    const p0 = now();
    const plan = await run(process.execPath, [join(REPO, 'bin', 'meow.js'), 'plan', '--json', '-w', root]);
    const planMs = now() - p0;
    check(plan.code === 0, `meow plan exited ${plan.code}: ${plan.stderr.slice(-1000)}`);
    const planned = (JSON.parse(plan.stdout) as { changes?: { name: string; triggers: number }[] }).changes ?? [];
    check(planned.length === 1 && planned[0].triggers === files, `meow plan reported ${JSON.stringify(planned)}; expected pattern "all" to trigger ${files} jobs`);
    ctx.log(`meow plan: ${round(planMs)} ms`);
    await rm(join(root, 'patterns', 'all.yaml'));

    // The live engine gets the pattern: every existing file triggers it (MEOW rule 4).
    const probe = await EngineProbe.open(root);
    let queuedMs: number;
    try {
      await probe.engine.startLive();
      const before = probe.queued;
      check(before === 0, `restarting with no pattern queued ${before} jobs`);
      const t0 = now();
      await copyFile(pattern, join(root, 'patterns', 'all.yaml'));
      await waitUntil(() => probe.queued >= files, `${files} queued jobs (${probe.queued} so far)`, 300_000, 2);
      queuedMs = now() - t0;
      await new Promise((r) => setTimeout(r, 200));
      const c = probe.engine.store.countJobs();
      check(probe.queued === files && c.queued + c.running === files && c.succeeded + c.failed + c.cancelled === 0, `expected ${files} queued or running jobs, found ${JSON.stringify(c)} (${probe.queued} job:queued events)`);
      ctx.log(`live: ${files} jobs queued ${round(queuedMs / 1000)} s after the pattern file was written`);
    } finally {
      const c0 = now();
      await probe.close();
      const closeMs = now() - c0;
      if (closeMs > 5000) ctx.log(`warning: closing the engine took ${round(closeMs / 1000)} s: a cancelled job missed its abort signal`);
    }
    const figure = queuedMs / 1000;
    const planS = planMs / 1000;
    return {
      metric: 'pattern written → all jobs queued',
      figure,
      unit: 's',
      baseline: walk.ms / 1000,
      baselineWhat: 'a plain directory walk (readdir + stat) of the same tree',
      target: '≤ 5 s',
      pass: figure <= 5 && planS <= 3,
      size: `${files} files`,
      details: [{ metric: '`meow plan` (a process, start to exit)', value: planS, unit: 's', baseline: walk.ms / 1000, target: '≤ 3 s', pass: planS <= 3 }],
    };
  },
};
