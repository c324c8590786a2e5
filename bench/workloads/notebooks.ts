import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nbconvertCold, run } from '../lib/baselines.js';
import { EngineProbe } from '../lib/probe.js';
import { median, now, round, waitUntil } from '../lib/stats.js';
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
/** How long a pool's kernels must use no CPU to count as started and idle. */
const QUIET_MS = 500;

/** Fields of /proc/PID/stat after the command name, or null when it is gone. */
function statFields(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The kernels of the workspace's kernel pool (children of the process running kernel_pool.py with a socket under root). */
function poolKernels(root: string): number[] {
  const procs = readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number);
  const cmd = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      return [];
    }
  };
  const pools = new Set(procs.filter((pid) => {
    const argv = cmd(pid);
    return argv.some((a) => a.endsWith('kernel_pool.py')) && argv.some((a) => a.startsWith(join(root, '.meow')));
  }));
  return procs.filter((pid) => pools.has(Number(statFields(pid)?.[1])) && cmd(pid).includes('ipykernel_launcher'));
}

/** CPU ticks a process has used, or -1 when it is gone. */
function ticks(pid: number): number {
  const f = statFields(pid);
  return f ? Number(f[11]) + Number(f[12]) : -1;
}

/**
 * Waits until the pool holds an idle kernel: one exists and the pool's kernels
 * used no CPU for QUIET_MS (a kernel starting up is busy importing).
 */
async function untilKernelIdle(root: string, timeoutMs: number): Promise<void> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const kernels = poolKernels(root);
    const before = kernels.map(ticks);
    await new Promise((r) => setTimeout(r, QUIET_MS));
    if (kernels.length > 0 && kernels.every((k, i) => ticks(k) === before[i] && before[i] >= 0)) return;
    if (now() > deadline) throw new Error(`no idle warm kernel after ${timeoutMs} ms`);
  }
}

/**
 * One notebook job at a time on a live engine with warm kernels, each started
 * once the pool holds an idle kernel, interleaved with cold nbconvert runs of
 * the same notebook. Returns each run's milliseconds: the job from queued to
 * finished (the engine's whole cost of it, without the watcher's delivery),
 * and nbconvert from spawn to exit.
 */
async function singleJobs(root: string, notebook: string, outDir: string, runs: number): Promise<{ warm: number[]; cold: number[] }> {
  const probe = await EngineProbe.open(root);
  const queuedAt = new Map<string, number>();
  const took = new Map<string, number>();
  probe.engine.on('job:queued', (job) => queuedAt.set(job.input, now()));
  probe.engine.on('job:finished', (job) => took.set(job.input, now() - (queuedAt.get(job.input) ?? NaN)));
  const warm: number[] = [];
  const cold: number[] = [];
  try {
    await probe.engine.startLive();
    for (let i = 0; i <= runs; i++) {
      await untilKernelIdle(root, 120_000);
      const input = `single/n${i}.txt`;
      await writeFile(join(root, input), String(i));
      await waitUntil(() => took.has(input) || probe.bad.length > 0, `the notebook job of ${input}`, 120_000);
      probe.expectNoFailures();
      // The first job only warms the engine's own caches (interpreter detection, kernel list).
      if (i > 0) warm.push(took.get(input) ?? NaN);
      if (i > 0) cold.push(await nbconvertCold(notebook, outDir, 1));
    }
  } finally {
    await probe.close();
  }
  return { warm, cold };
}

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
      patterns: { 'nb.yaml': patternYaml({ recipe: 'small', paths: 'data/*.txt' }), 'single.yaml': patternYaml({ recipe: 'small', paths: 'single/*.txt' }) },
      recipes: { 'small.ipynb': NOTEBOOK },
    });
    const nb = join(ctx.tmp, 'small.ipynb');
    await writeFile(nb, NOTEBOOK);
    await mkdir(join(root, 'single'), { recursive: true });
    const firstMs = await nbconvertCold(nb, ctx.tmp, 1);

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
    ctx.log(`engine: ${count} notebook jobs in ${round(seconds)} s with ${cpus} slots = ${round(figure)} s per job`);
    const single = await singleJobs(root, nb, ctx.tmp, ctx.quick ? 3 : 5);
    // The baseline: every cold nbconvert of this run, the first one included.
    const baseline = median([firstMs, ...single.cold]) / 1000;
    const alone = median(single.warm) / 1000;
    ctx.log(`baseline: jupyter nbconvert --execute, cold: ${single.cold.map((ms) => round(ms / 1000)).join(', ')} s (and ${round(firstMs / 1000)} s first); median ${round(baseline)} s`);
    ctx.log(`one job alone on a warm kernel (queued → finished): ${single.warm.map((ms) => round(ms / 1000)).join(', ')} s; median ${round(alone)} s = ${round(alone / baseline)}× the cold nbconvert`);
    return {
      metric: 'per-job time (wall time / jobs)',
      figure,
      unit: 's',
      baseline,
      baselineWhat: '`jupyter nbconvert --execute` of the same notebook, cold',
      target: '≤ 0.5× baseline',
      pass: figure <= 0.5 * baseline && alone <= 0.25 * baseline,
      size: `${count} notebooks, ${cpus} slots; ${single.warm.length} single jobs beside ${single.cold.length + 1} cold nbconvert runs`,
      details: [
        { metric: 'one notebook job alone, warm kernel (queued → finished, median)', value: alone, unit: 's', baseline, target: '≤ 0.25× baseline', pass: alone <= 0.25 * baseline },
        { metric: 'per slot in the 50-job run (wall time × slots / jobs)', value: (seconds * cpus) / count, unit: 's', baseline, target: '', pass: null },
      ],
    };
  },
};
