/*
 * Warm kernels (docs/recipes.md#warm-kernels): notebook jobs run on
 * pre-started kernels of a pool, each kernel for one job only. Real kernels,
 * real engines; what is asserted is behaviour, not speed: no job sees another's
 * variables, cancel and timeout stop the kernel, a kernel that dies fails only
 * its own job, the pool is gone after the engine closes or is killed, and
 * `warm_kernels: 0` runs every job on a kernel of its own.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { alive, type LiveEngine } from '../helpers/engine.js';
import { requireComponent } from '../helpers/components.js';
import { scaled } from '../helpers/pace.js';
import { useLiveWorkspace } from '../helpers/live-workspace.js';
import { meowJson, waitFor, type TempWorkspace } from '../helpers/workspace.js';
import type { JobRecord } from '../../src/core/types.js';

const PYTHON = '/usr/bin/python3';
const jupyter = requireComponent('Jupyter', () =>
  spawnSync(PYTHON, ['-c', 'import nbclient, ipykernel']).status === 0
    ? null
    : `${PYTHON} cannot "import nbclient, ipykernel"; install them with: apt-get install jupyter-nbconvert python3-nbclient python3-ipykernel`,
);

const code = (source: string, tags: string[] = []) => ({ cell_type: 'code', metadata: tags.length ? { tags } : {}, source, outputs: [], execution_count: null });
const notebook = (...cells: ReturnType<typeof code>[]) =>
  JSON.stringify({ cells, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, nbformat: 4, nbformat_minor: 4 });

/**
 * Reports, to out/<stem>.json: whether a variable of an earlier job is
 * visible, the kernel's pid, the command line of its parent (the pool, or the
 * job's own nb_runner.py), its job id and working directory.
 */
const PROBE = notebook(
  code('input_file = ""', ['parameters']),
  code(
    [
      'import json, os',
      'seen = "left_by_a_job" in globals()',
      'left_by_a_job = input_file',
      'parent = open(f"/proc/{os.getppid()}/cmdline").read().split("\\0")',
      'stem = os.path.basename(input_file)',
      'if stem.startswith("die"):',
      '    os.kill(os.getpid(), 9)',
      'if stem.startswith("hold"):',
      '    open(f"out/{stem}.pid", "w").write(str(os.getpid()))',
      '    import time',
      '    while not os.path.exists(f"out/{stem}.go"): time.sleep(0.05)',
      'if stem.startswith("slow"):',
      '    open(f"out/{stem}.pid", "w").write(str(os.getpid()))',
      '    import time; time.sleep(600)',
      'json.dump({"seen": seen, "pid": os.getpid(), "parent": parent, "job": os.environ.get("MEOW_JOB_ID"), "cwd": os.getcwd()}, open(f"out/{stem}.json", "w"))',
    ].join('\n'),
  ),
);

interface Probe {
  seen: boolean;
  pid: number;
  parent: string[];
  job: string;
  cwd: string;
}

/** Processes running `runtime/kernel_pool.py` for this workspace (its socket is under the workspace's .meow). */
function poolPids(root: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.endsWith('kernel_pool.py')) && argv.some((a) => a.startsWith(join(root, '.meow')))) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/** The children of `pid` (a pool's kernels). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

async function workspace(fx: ReturnType<typeof useLiveWorkspace>, config: string, pattern = ''): Promise<TempWorkspace> {
  const ws = await fx.workspace('meow-warm-');
  await ws.write('meow.yaml', `python: ${PYTHON}\ncpus: 2\nkill_grace: 5s\n${config}`);
  await ws.write('recipes/probe.ipynb', PROBE);
  await ws.write('patterns/probe.yaml', `recipe: probe\ntrigger: {paths: "data/*"}\n${pattern}`);
  await ws.write('out/.keep', '');
  await ws.write('data/.keep', '');
  return ws;
}

const probeOf = async (ws: TempWorkspace, stem: string): Promise<Probe> => JSON.parse(await readFile(ws.path(`out/${stem}.json`), 'utf8')) as Probe;

/** Waits until the workspace's pool holds `n` idle kernels; returns the pool's pid and theirs. */
async function idleKernels(root: string, n: number): Promise<{ pool: number; kernels: number[] }> {
  const pool = await waitFor(() => poolPids(root)[0], 'the kernel pool to start');
  const kernels = await waitFor(() => (childrenOf(pool).length >= n ? childrenOf(pool) : null), `${n} idle kernel(s)`, 60_000);
  return { pool, kernels };
}

/** The pid a slow cell wrote, once it runs (fails at once if its job ended first). */
async function slowKernel(ws: TempWorkspace, live: LiveEngine, stem: string): Promise<number> {
  const seen = await waitFor(async () => {
    const ended = finished(live.finished, `data/${stem}`);
    if (ended) return { ended, pid: 0 };
    const pid = Number(await readFile(ws.path(`out/${stem}.pid`), 'utf8').catch(() => ''));
    return pid ? { ended: null, pid } : null;
  }, 'the slow cell to start', 60_000);
  if (seen.ended) throw new Error(`the job ended before its slow cell ran: ${seen.ended.status} ${seen.ended.error ?? ''}`);
  return seen.pid;
}

function finished(jobs: JobRecord[], input: string): JobRecord | undefined {
  return jobs.find((j) => j.input === input);
}

jupyter.describe('warm kernels', () => {
  const fx = useLiveWorkspace();

  jupyter.it('runs each job on a kernel of the pool that ran nothing else: two jobs in a row do not see each other', async () => {
    const ws = await workspace(fx, 'warm_kernels: 1\n');
    const live = await fx.start(ws.root);
    await idleKernels(ws.root, 1);
    const probes: Probe[] = [];
    for (const stem of ['one', 'two']) {
      await ws.write(`data/${stem}`, stem);
      const job = await waitFor(() => finished(live.finished, `data/${stem}`), `job of data/${stem}`, 60_000);
      expect(job.status, job.error ?? '').toBe('succeeded');
      const probe = await probeOf(ws, stem);
      expect(probe.seen).toBe(false);
      expect(probe.parent.some((a) => a.endsWith('kernel_pool.py'))).toBe(true);
      expect(probe.job).toBe(job.id);
      expect(probe.cwd).toBe(ws.root);
      // The job's guarantees stay: progress in its log, the output notebook written.
      const dir = ws.path(job.jobDir);
      expect(await readFile(join(dir, 'stdout.log'), 'utf8')).toContain('[meowflow] cell 2 done (2/2 code cells');
      expect(JSON.parse(await readFile(join(dir, 'output.ipynb'), 'utf8')).metadata.papermill.exception).toBe(false);
      probes.push(probe);
    }
    expect(probes[0].pid).not.toBe(probes[1].pid);
    // A used kernel is shut down: only the pool's fresh replacement is left.
    await waitFor(() => !alive(probes[0].pid) && !alive(probes[1].pid), 'the used kernels to be gone');
  });

  jupyter.it('a kernel that dies fails only its own job; the next job runs on a fresh kernel', async () => {
    const ws = await workspace(fx, 'warm_kernels: 1\n');
    const live = await fx.start(ws.root);
    await idleKernels(ws.root, 1);
    await ws.write('data/die', 'x');
    const died = await waitFor(() => finished(live.finished, 'data/die'), 'job of data/die', 60_000);
    expect(died.status).toBe('failed');
    expect(died.error).toMatch(/cell 2 raised DeadKernelError/);
    await ws.write('data/after', 'x');
    const after = await waitFor(() => finished(live.finished, 'data/after'), 'job of data/after', 60_000);
    expect(after.status, after.error ?? '').toBe('succeeded');
    const probe = await probeOf(ws, 'after');
    expect(probe.seen).toBe(false);
    expect(probe.parent.some((a) => a.endsWith('kernel_pool.py'))).toBe(true);
  });

  jupyter.it('cancel stops a warm job and kills its kernel; the output notebook is written', async () => {
    const ws = await workspace(fx, 'warm_kernels: 1\n');
    const live = await fx.start(ws.root);
    await idleKernels(ws.root, 1);
    await ws.write('data/slow1', 'x');
    const kernel = await slowKernel(ws, live, 'slow1');
    const job = live.started.find((j) => j.input === 'data/slow1');
    if (!job) throw new Error('no job started for data/slow1');
    expect(readFileSync(`/proc/${kernel}/cmdline`, 'utf8')).toContain('ipykernel_launcher');
    live.engine.cancelJob(job.id, 'by the test');
    const ended = await waitFor(() => finished(live.finished, 'data/slow1'), 'the cancelled job to end');
    expect(ended.status).toBe('cancelled');
    await waitFor(() => !alive(kernel), 'the kernel of the cancelled job to be gone');
    const out = await waitFor(async () => JSON.parse(await readFile(join(ws.path(job.jobDir), 'output.ipynb'), 'utf8')) as { metadata: { papermill: { exception: boolean } } }, 'the output notebook');
    expect(out.metadata.papermill.exception).toBe(true);
  });

  jupyter.it('a timeout stops a warm job and kills its kernel', async () => {
    // Long enough for the cell to start on a loaded machine.
    const seconds = Math.ceil(scaled(5000) / 1000);
    const ws = await workspace(fx, 'warm_kernels: 1\n', `timeout: ${seconds}s\n`);
    const live = await fx.start(ws.root);
    await idleKernels(ws.root, 1);
    await ws.write('data/slow2', 'x');
    const kernel = await slowKernel(ws, live, 'slow2');
    const job = await waitFor(() => finished(live.finished, 'data/slow2'), 'the job to time out', 60_000);
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/^timed out after /);
    await waitFor(() => !alive(kernel), 'the kernel of the timed-out job to be gone');
  });

  jupyter.it('warm_kernels: 0 runs each job on a kernel of its own, and starts no pool', async () => {
    const ws = await workspace(fx, 'warm_kernels: 0\n');
    const live = await fx.start(ws.root);
    await ws.write('data/cold', 'x');
    const job = await waitFor(() => finished(live.finished, 'data/cold'), 'job of data/cold', 60_000);
    expect(job.status, job.error ?? '').toBe('succeeded');
    const probe = await probeOf(ws, 'cold');
    expect(probe.parent.some((a) => a.endsWith('nb_runner.py'))).toBe(true);
    expect(poolPids(ws.root)).toEqual([]);
  });

  jupyter.it('the pool and its kernels are gone after the engine closes', async () => {
    const ws = await workspace(fx, 'warm_kernels: 2\n');
    const live = await fx.start(ws.root);
    const { pool, kernels } = await idleKernels(ws.root, 2);
    await live.close();
    expect(alive(pool)).toBe(false);
    await waitFor(() => kernels.every((k) => !alive(k)), 'the idle kernels to be gone');
  });

  jupyter.it('the pool and its kernels exit on their own when the engine is killed with SIGKILL', async () => {
    const ws = await workspace(fx, 'warm_kernels: 1\n');
    const engine = await fx.process(ws.root);
    const { pool, kernels } = await idleKernels(ws.root, 1);
    engine.child.kill('SIGKILL');
    await engine.stop();
    await waitFor(() => !alive(pool) && kernels.every((k) => !alive(k)), 'the pool and its kernel to exit');
  });

  jupyter.it('a warm job survives a SIGKILL of the engine: it runs to its end, the pool then exits, and the restarted engine records it', async () => {
    const ws = await workspace(fx, 'warm_kernels: 1\n');
    const first = await fx.process(ws.root);
    const { pool } = await idleKernels(ws.root, 1);
    await ws.write('data/hold', 'x');
    const kernel = await waitFor(async () => Number(await readFile(ws.path('out/hold.pid'), 'utf8').catch(() => '')), 'the holding cell to start', 60_000);
    first.child.kill('SIGKILL');
    await first.stop();
    // The idle kernel goes at once; the job's kernel runs on, and so does the pool, for it.
    expect(alive(kernel)).toBe(true);
    await ws.write('out/hold.go', '');
    const probe = await waitFor(() => probeOf(ws, 'hold').catch(() => undefined), 'the job to run to its end', 60_000);
    expect(probe.parent.some((a) => a.endsWith('kernel_pool.py'))).toBe(true);
    await waitFor(() => !alive(pool) && !alive(kernel), 'the pool to exit once its job ended');
    await fx.process(ws.root);
    const jobs = await waitFor(async () => {
      const all = await meowJson<{ input: string; status: string; attempt: number }[]>(['jobs', '-w', ws.root]);
      const hold = all.find((j) => j.input === 'data/hold');
      return hold && hold.status !== 'running' && hold.status !== 'queued' ? hold : null;
    }, 'the restarted engine to record the job', 60_000);
    expect(jobs).toMatchObject({ status: 'succeeded', attempt: 1 });
  });
});
