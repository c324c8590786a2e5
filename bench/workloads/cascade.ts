import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { dropRun } from './drop.js';
import { EngineProbe } from '../lib/probe.js';
import { now, round } from '../lib/stats.js';
import { check } from '../lib/types.js';
import { createWorkspace, filePaths, patternYaml, writeFiles } from '../lib/workspace.js';
import type { Measurement, Workload } from '../lib/types.js';

/** A step that writes its output where the next pattern looks. */
const STEP_JS = `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default async (vars, ctx) => {
  writeFileSync(join(ctx.workspace, vars.out), 'step\\n');
  return null;
};
`;

const steps = [
  { name: 'a', from: 'data/in', to: 'data/s1' },
  { name: 'b', from: 'data/s1', to: 'data/s2' },
  { name: 'c', from: 'data/s2', to: 'data/out' },
];

export const cascade: Workload = {
  id: '8',
  title: '3-step cascade, JS recipes',
  async run(ctx): Promise<Measurement> {
    const files = ctx.quick ? 200 : 1_000;
    const w1 = ctx.prior['1'];
    const dropFiles = ctx.quick ? 1_000 : 10_000;
    // The baseline is workload 1's rate in this run; measured here when workload 1 did not run.
    const baseline = w1 ? dropFiles / w1.figure : (await dropRun(ctx, dropFiles, join(ctx.tmp, 'drop'))).jobsPerSecond;

    const patterns: Record<string, string> = {};
    for (const s of steps) {
      const out = `${s.to}/{stem}.txt`;
      patterns[`${s.name}.yaml`] = patternYaml({ recipe: 'step', paths: `${s.from}/*.txt`, variables: { out }, outputs: [out] });
    }
    const root = await createWorkspace(join(ctx.tmp, 'ws'), { patterns, recipes: { 'step.mjs': STEP_JS } });
    for (const s of steps) await mkdir(join(root, s.to), { recursive: true });
    const probe = await EngineProbe.open(root);
    const jobs = files * steps.length;
    let seconds: number;
    try {
      await probe.engine.startLive();
      const t0 = now();
      await writeFiles(root, filePaths('data/in', files));
      await probe.untilSucceeded(jobs, 600_000);
      seconds = (probe.lastSucceededAt - t0) / 1000;
      probe.expectCounts({ succeeded: jobs });
      const outs = (await readdir(join(root, 'data', 'out'))).filter((f) => f.endsWith('.txt'));
      check(outs.length === files, `expected ${files} files at the end of the cascade, found ${outs.length}`);
    } finally {
      await probe.close();
    }
    const figure = jobs / seconds;
    ctx.log(`cascade: ${jobs} jobs in ${round(seconds)} s = ${round(figure)} jobs/s; workload 1: ${round(baseline)} jobs/s`);
    return {
      metric: 'throughput, every step counted',
      figure,
      unit: 'jobs/s',
      baseline,
      baselineWhat: `workload 1's rate in this run (${dropFiles} single-step jobs)`,
      target: '≥ 0.5× baseline',
      pass: figure >= 0.5 * baseline,
      size: `${files} files × 3 steps`,
      details: [],
    };
  },
};
