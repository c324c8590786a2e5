import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord, ParsedRecipe, RecipeKind, Rule, Variables, WorkspaceConfig } from '../../src/core/types.js';
import { CONFIG_DEFAULTS } from '../../src/core/config-schema.js';
import type { Executor, ExecutorContext, ExecutorOutcome, Launch } from '../../src/runner/executor.js';
import { NotebookExecutor } from '../../src/runner/executors/notebook-executor.js';
import { PythonExecutor } from '../../src/runner/executors/python-executor.js';
import { parseRecipe } from '../../src/core/recipe-schema.js';
import { clearKernelCache } from '../../src/runner/notebook-params/kernels.js';
import { detectPython } from '../../src/runner/python-detect.js';
import { requireComponent } from '../helpers/components.js';
import { waitFor as waitUntil } from '../helpers/wait.js';

const SYSTEM_PYTHON = '/usr/bin/python3';
/** Needs real Jupyter: fails in CI when it is missing, skips loudly elsewhere. */
const jupyter = requireComponent('Jupyter', () =>
  spawnSync(SYSTEM_PYTHON, ['-c', 'import nbclient, ipykernel']).status === 0
    ? null
    : `${SYSTEM_PYTHON} cannot "import nbclient, ipykernel"; install them with: apt-get install jupyter-nbconvert python3-nbclient python3-ipykernel`,
);

let root: string;

function config(): WorkspaceConfig {
  return { ...CONFIG_DEFAULTS, watch: [...CONFIG_DEFAULTS.watch], ignore: [], root, cpus: 2, backends: {} };
}

/** A job context for a recipe file already written under recipes/. */
async function context(file: string, kind: RecipeKind, variables: Variables, id: string): Promise<ExecutorContext> {
  const source = await readFile(join(root, file), 'utf8');
  const recipe: ParsedRecipe = { name: id, file, hash: `h-${id}`, kind, source, command: null };
  const rule: Rule = {
    name: 'p', version: `v-${id}`, recipe,
    pattern: {
      name: 'p', file: 'patterns/p.yaml', hash: 'ph', recipe: recipe.name,
      trigger: { paths: ['data/*'], events: ['created'], ignore: [], settleMs: 0 },
      input: 'input_file', variables: {}, sweep: {}, outputs: [], backend: 'local',
      resources: { cpus: 1, gpus: 0, memory: null }, timeoutMs: null, retries: 0, loop: false,
    },
  };
  const jobDir = join(root, '.meow', 'jobs', id);
  await mkdir(jobDir, { recursive: true });
  const job: JobRecord = {
    id, key: id, pattern: 'p', recipe: recipe.name, ruleVersion: rule.version, status: 'running', input: 'data/x', inputs: null,
    inputVersion: '1', event: 'created', oldPath: null, variables, sweepPoint: null, attempt: 1, retries: 0,
    timeoutMs: 120_000, exitCode: null, error: null, result: null, backend: 'local', generation: 0, cause: null,
    jobDir: `.meow/jobs/${id}`, pid: null, createdAt: new Date().toISOString(), startedAt: null, finishedAt: null,
  };
  const env = { MEOW_JOB_ID: id, MEOW_JOB_DIR: jobDir, MEOW_WORKSPACE: root, MEOW_PARAMS: join(jobDir, 'params.json') };
  return { job, rule, config: config(), jobDir, variables, placeholders: {}, env };
}

/** Prepares, runs (a plain spawn, logs appended to the job dir) and finishes one job. */
async function runJob(
  executor: Executor,
  ctx: ExecutorContext,
  whileRunning?: (child: ChildProcess) => Promise<void>,
): Promise<ExecutorOutcome & { launch: Launch; exitCode: number | null }> {
  const launch = await executor.prepare(ctx);
  if (launch.type !== 'process') throw new Error('expected a process launch');
  const out = openSync(join(ctx.jobDir, 'stdout.log'), 'a');
  const err = openSync(join(ctx.jobDir, 'stderr.log'), 'a');
  const child = spawn(launch.file, launch.args, { cwd: launch.cwd, env: { ...process.env, ...launch.env }, stdio: ['ignore', out, err] });
  closeSync(out);
  closeSync(err);
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  await whileRunning?.(child);
  const code = await exited;
  const stderrTail = await readFile(join(ctx.jobDir, 'stderr.log'), 'utf8');
  return { ...(await executor.finish(ctx, code, stderrTail)), launch, exitCode: code };
}

interface Cell { cell_type: string; source: string | string[]; metadata: Record<string, unknown>; outputs?: { output_type: string; [k: string]: unknown }[]; execution_count?: number | null }

function notebook(cells: { source: string; tags?: string[] }[]): string {
  return JSON.stringify({
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: cells.map((c, i) => ({
      id: `c${i}`, cell_type: 'code', execution_count: null, outputs: [], source: c.source, metadata: c.tags ? { tags: c.tags } : {},
    })),
  });
}

async function outputNotebook(ctx: ExecutorContext): Promise<{ cells: Cell[]; metadata: Record<string, { [k: string]: unknown }> }> {
  return JSON.parse(await readFile(join(ctx.jobDir, 'output.ipynb'), 'utf8'));
}

const text = (src: string | string[]): string => (Array.isArray(src) ? src.join('') : src);

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'meow-nb-'));
  await mkdir(join(root, 'recipes'));
  await mkdir(join(root, 'data'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Polls until `check` returns a value, or fails after `ms` (stretched on a loaded machine). */
function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms = 30_000): Promise<NonNullable<T>> {
  return waitUntil(() => check().catch(() => undefined), what, ms, 50);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

jupyter.describe('NotebookExecutor on a real kernel', () => {
  beforeAll(() => {
    if (jupyter.missing) throw new Error(jupyter.missing);
  });

  it('injects the variables, runs every cell, and keeps the executed notebook', async () => {
    await writeFile(join(root, 'recipes', 'segment.ipynb'), notebook([
      { source: 'threshold = 10\ninput_file = None', tags: ['parameters'] },
      { source: 'import sys\nfrom pathlib import Path\nvalue = threshold * 2\nPath(input_file).with_suffix(".out").write_text(str(value))\nprint("wrote", value)' },
      { source: '{"value": value, "python": sys.executable}', tags: ['result'] },
    ]));
    const input = join(root, 'data', 'sample.txt');
    await writeFile(input, 'x');
    const ctx = await context('recipes/segment.ipynb', 'notebook', { threshold: 42, input_file: input }, 'j-nb-ok');
    const outcome = await runJob(new NotebookExecutor(), ctx);

    expect(outcome.error).toBeNull();
    expect(await readFile(join(root, 'data', 'sample.out'), 'utf8')).toBe('84');
    // The kernel runs on the interpreter that was checked for nbclient, not whatever "python3" kernelspec is installed.
    const python = await detectPython(ctx.config, 'jupyter');
    expect(outcome.launch.type === 'process' && outcome.launch.file).toBe(python);
    expect(outcome.result).toEqual({ value: 84, python });

    const nb = await outputNotebook(ctx);
    expect(nb.cells).toHaveLength(4);
    expect(nb.cells[1].metadata.tags).toEqual(['injected-parameters']);
    expect(text(nb.cells[1].source)).toBe(`# Parameters\nthreshold = 42\ninput_file = ${JSON.stringify(input).replace(/"/g, "'")}\n`);
    expect(nb.cells[2].outputs).toHaveLength(1);
    expect(nb.cells[2].outputs?.[0]).toMatchObject({ output_type: 'stream', name: 'stdout' });
    expect(text(nb.cells[2].outputs?.[0]?.text as string | string[])).toBe('wrote 84\n');
    expect(nb.cells[3].outputs?.[0]?.output_type).toBe('execute_result');
    expect(nb.metadata.papermill.parameters).toEqual({ threshold: 42, input_file: input });
    for (const cell of nb.cells) expect(cell.metadata.papermill).toMatchObject({ status: 'completed', duration: expect.any(Number), start_time: expect.any(String), end_time: expect.any(String) });
    expect(await readFile(join(ctx.jobDir, 'stdout.log'), 'utf8')).toContain('wrote 84');
  });

  it('fails at the raising cell with its index and traceback, and runs nothing after it', async () => {
    await writeFile(join(root, 'recipes', 'broken.ipynb'), notebook([
      { source: 'n = 1', tags: ['parameters'] },
      { source: 'a = n + 1' },
      { source: 'def explode(v):\n    raise ValueError(f"boom {v}")' },
      { source: 'explode(a)' },
      { source: 'from pathlib import Path\nPath("after.txt").write_text("ran")' },
    ]));
    const ctx = await context('recipes/broken.ipynb', 'notebook', { n: 5 }, 'j-nb-fail');
    const outcome = await runJob(new NotebookExecutor(), ctx);

    expect(outcome.error).toMatch(/^cell 4 raised ValueError: boom 6\n/);
    expect(outcome.error).toContain('explode(a)');
    expect(outcome.error).not.toContain('\x1b[');
    const nb = await outputNotebook(ctx);
    // papermill's banner first, its anchor just above the failed cell.
    expect(nb.cells[0].metadata.tags).toEqual(['papermill-error-cell-tag']);
    expect(text(nb.cells[0].source)).toContain('href="#papermill-error-cell"');
    expect(text(nb.cells[0].source)).toContain('(cell 4)');
    expect(nb.cells[5].metadata.tags).toEqual(['papermill-error-cell-tag']);
    expect(text(nb.cells[5].source)).toContain('id="papermill-error-cell"');
    const failed = nb.cells[6];
    expect(failed.metadata.papermill).toMatchObject({ status: 'failed' });
    expect(failed.outputs?.[0]).toMatchObject({ output_type: 'error', ename: 'ValueError', evalue: 'boom 6' });
    const after = nb.cells[7];
    expect(after.metadata.papermill).toMatchObject({ status: 'pending', start_time: null });
    expect(after.outputs).toEqual([]);
    expect(after.execution_count).toBeNull();
    expect(nb.metadata.papermill.exception).toBe(true);
    await expect(readFile(join(root, 'after.txt'), 'utf8')).rejects.toThrow();
  });

  it('warns in stderr.log when no cell is tagged parameters', async () => {
    await writeFile(join(root, 'recipes', 'untagged.ipynb'), notebook([{ source: 'print(k)' }]));
    const ctx = await context('recipes/untagged.ipynb', 'notebook', { k: 'v' }, 'j-nb-warn');
    const outcome = await runJob(new NotebookExecutor(), ctx);
    expect(outcome.error).toBeNull();
    expect(await readFile(join(ctx.jobDir, 'stderr.log'), 'utf8')).toMatch(/recipes\/untagged\.ipynb: no cell is tagged "parameters"/);
    expect(await readFile(join(ctx.jobDir, 'stdout.log'), 'utf8')).toContain('v\n');
  });

  it('takes "parameterize: assignments" from the notebook\'s metadata, the pattern\'s choice winning', async () => {
    const untagged = JSON.parse(notebook([{ source: 'import json' }, { source: 'threshold = 10' }, { source: 'threshold * 2', tags: ['result'] }])) as { metadata: Record<string, unknown> };
    untagged.metadata.meowflow = { parameterize: 'assignments' };
    const source = JSON.stringify(untagged);
    await writeFile(join(root, 'recipes', 'meta.ipynb'), source);
    const parsed = parseRecipe('recipes/meta.ipynb', source).recipe;
    expect(parsed?.parameterize).toBe('assignments');

    const ctx = await context('recipes/meta.ipynb', 'notebook', { threshold: 42 }, 'j-nb-meta');
    ctx.rule.recipe.parameterize = parsed?.parameterize;
    expect(await runJob(new NotebookExecutor(), ctx)).toMatchObject({ error: null, result: 84 });

    // The pattern's explicit papermill wins: the injected cell goes first and the notebook's own 10 overwrites it.
    const ctx2 = await context('recipes/meta.ipynb', 'notebook', { threshold: 42 }, 'j-nb-meta2');
    ctx2.rule.recipe.parameterize = parsed?.parameterize;
    ctx2.rule.pattern.parameterize = 'papermill';
    expect(await runJob(new NotebookExecutor(), ctx2)).toMatchObject({ error: null, result: 20 });
  });

  it('runs the kernel the notebook names, and starts it once more when it dies on the way up', async () => {
    // A kernelspec whose first start exits at once, as a kernel that lost a port race does.
    const kernels = join(root, 'jupyter', 'kernels', 'flaky');
    await mkdir(kernels, { recursive: true });
    await writeFile(join(kernels, 'launch.py'), [
      'import os, sys',
      `marker = ${JSON.stringify(join(root, 'flaky-started-once'))}`,
      'if not os.path.exists(marker):',
      '    open(marker, "w").close()',
      '    sys.exit(1)',
      'os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", sys.argv[1]])',
    ].join('\n'));
    await writeFile(join(kernels, 'kernel.json'), JSON.stringify({ argv: [SYSTEM_PYTHON, join(kernels, 'launch.py'), '{connection_file}'], display_name: 'Flaky', language: 'python' }));
    const nb = JSON.parse(notebook([{ source: 'x = 1', tags: ['parameters'] }, { source: 'import os\nx * 2', tags: ['result'] }])) as { metadata: Record<string, unknown> };
    nb.metadata.kernelspec = { name: 'flaky', display_name: 'Flaky', language: 'python' };
    await writeFile(join(root, 'recipes', 'flaky.ipynb'), JSON.stringify(nb));
    const saved = process.env.JUPYTER_PATH;
    process.env.JUPYTER_PATH = join(root, 'jupyter');
    clearKernelCache();
    try {
      const ctx = await context('recipes/flaky.ipynb', 'notebook', { x: 21 }, 'j-nb-flaky');
      expect(await runJob(new NotebookExecutor(), ctx)).toMatchObject({ error: null, result: 42 });
      expect(await readFile(join(ctx.jobDir, 'stderr.log'), 'utf8')).toMatch(/the kernel did not start .*; starting it once more/);
    } finally {
      if (saved === undefined) delete process.env.JUPYTER_PATH;
      else process.env.JUPYTER_PATH = saved;
      clearKernelCache();
    }
  });

  it('on SIGTERM stops the kernel, writes output.ipynb and reports the cell', async () => {
    await writeFile(join(root, 'recipes', 'slow.ipynb'), notebook([
      { source: 'import os, time' },
      { source: 'open("kernel.pid", "w").write(str(os.getpid()))\ntime.sleep(600)' },
    ]));
    const ctx = await context('recipes/slow.ipynb', 'notebook', {}, 'j-nb-term');
    let kernel = 0;
    // The cell sleeps past the test's timeout: only the signal ends it.
    const outcome = await runJob(new NotebookExecutor(), ctx, async (child) => {
      kernel = await waitFor('the kernel to start the slow cell', async () => Number(await readFile(join(root, 'kernel.pid'), 'utf8')) || undefined);
      child.kill('SIGTERM');
    });
    expect(outcome.exitCode).toBe(143);
    expect(outcome.error).toBe('stopped by signal 15 during cell 2');
    await waitFor('the kernel to exit', async () => (alive(kernel) ? undefined : true), 10_000);
    const nb = await outputNotebook(ctx);
    // No variables, so nothing is injected (papermill's rule).
    expect(nb.cells[1].metadata.papermill).toMatchObject({ status: 'failed' });
  });
});

describe('PythonExecutor', () => {
  it('runs the parameterised copy from the workspace root, the pattern winning over defaults', async () => {
    await writeFile(join(root, 'recipes', 'helper.py'), 'def double(v):\n    return v * 2\n');
    await writeFile(join(root, 'recipes', 'step.py'), [
      '"""Doubles a threshold."""',
      'import json, os',
      'from helper import double',
      'threshold = 10',
      "json.dump({'value': double(threshold), 'cwd': os.getcwd(), 'input': input_file}, open(os.path.join(os.environ['MEOW_JOB_DIR'], 'meow_result.json'), 'w'))",
      '',
    ].join('\n'));
    const ctx = await context('recipes/step.py', 'python', { threshold: 21, input_file: '/data/in.txt' }, 'j-py-ok');
    const outcome = await runJob(new PythonExecutor(), ctx);
    expect(outcome.error).toBeNull();
    expect(outcome.result).toEqual({ value: 42, cwd: root, input: '/data/in.txt' });
    expect(await readFile(join(ctx.jobDir, 'recipe.py'), 'utf8')).toContain('threshold = 21\n');
  });

  it('fails with the exit code and the end of stderr; a bad result file is an error', async () => {
    await writeFile(join(root, 'recipes', 'fail.py'), 'import sys\nprint("first", file=sys.stderr)\nraise SystemExit("the input is empty")\n');
    const failed = await runJob(new PythonExecutor(), await context('recipes/fail.py', 'python', {}, 'j-py-fail'));
    expect(failed.error).toBe('exit code 1: first\nthe input is empty');

    await writeFile(join(root, 'recipes', 'bad.py'), 'import os\nopen(os.path.join(os.environ["MEOW_JOB_DIR"], "meow_result.json"), "w").write("{nope")\n');
    const bad = await runJob(new PythonExecutor(), await context('recipes/bad.py', 'python', {}, 'j-py-bad'));
    expect(bad.error).toMatch(/^meow_result\.json in the job directory is not valid JSON/);
  });
});
