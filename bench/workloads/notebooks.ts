import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nbconvertCold, run } from '../lib/baselines.js';
import { EngineProbe } from '../lib/probe.js';
import { now, round } from '../lib/stats.js';
import { createWorkspace, filePaths, patternYaml, writeFiles } from '../lib/workspace.js';
import type { Measurement, Workload } from '../lib/types.js';

const code = (source: string, tags: string[] = []) => ({ cell_type: 'code', metadata: tags.length ? { tags } : {}, source, outputs: [], execution_count: null });

/** A small notebook: a parameters cell and two cells of arithmetic. */
const NOTEBOOK = JSON.stringify({
  cells: [code('input_file = ""\nscale = 2', ['parameters']), code('values = [i * scale for i in range(1000)]'), code('print(len(input_file), sum(values))')],
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
  nbformat: 4,
  nbformat_minor: 4,
});

const PYTHON = '/usr/bin/python3';

export const notebooks: Workload = {
  id: '9',
  title: 'small notebook jobs',
  async run(ctx): Promise<Measurement> {
    const count = ctx.quick ? 6 : 50;
    const have = await run(PYTHON, ['-c', 'import nbclient, ipykernel, nbconvert']);
    if (have.code !== 0) {
      const why = have.stderr.trim().split('\n').pop() ?? `exit ${have.code}`;
      const note = `skipped: ${PYTHON} cannot import nbclient, ipykernel and nbconvert (${why}); apt-get install jupyter-nbconvert python3-nbclient python3-ipykernel`;
      ctx.log(note);
      return { metric: 'per-job time (wall time / jobs)', figure: 0, unit: 's', baseline: null, baselineWhat: '`jupyter nbconvert --execute` of the same notebook, cold', target: '≤ 0.5× baseline', pass: false, size: `${count} notebooks`, details: [], note };
    }
    const root = await createWorkspace(join(ctx.tmp, 'ws'), {
      config: `python: ${PYTHON}\n`,
      patterns: { 'nb.yaml': patternYaml({ recipe: 'small', paths: 'data/*.txt' }) },
      recipes: { 'small.ipynb': NOTEBOOK },
    });
    const nb = join(ctx.tmp, 'small.ipynb');
    await writeFile(nb, NOTEBOOK);
    const baseMs = await nbconvertCold(nb, ctx.tmp, ctx.quick ? 1 : 3);
    ctx.log(`baseline: jupyter nbconvert --execute, cold: ${round(baseMs / 1000)} s`);

    await writeFiles(root, filePaths('data', count));
    const probe = await EngineProbe.open(root);
    let seconds: number;
    const cpus = probe.engine.config.cpus;
    try {
      const t0 = now();
      await probe.engine.runUntilIdle();
      seconds = (now() - t0) / 1000;
      probe.expectNoFailures();
      probe.expectCounts({ succeeded: count });
    } finally {
      await probe.close();
    }
    const figure = seconds / count;
    const baseline = baseMs / 1000;
    ctx.log(`engine: ${count} notebook jobs in ${round(seconds)} s with ${cpus} slots = ${round(figure)} s per job`);
    return {
      metric: 'per-job time (wall time / jobs)',
      figure,
      unit: 's',
      baseline,
      baselineWhat: '`jupyter nbconvert --execute` of the same notebook, cold',
      target: '≤ 0.5× baseline',
      pass: figure <= 0.5 * baseline,
      size: `${count} notebooks, ${cpus} slots`,
      details: [{ metric: 'one notebook job alone (wall time × slots / jobs)', value: (seconds * cpus) / count, unit: 's', baseline, target: '', pass: null }],
    };
  },
};
