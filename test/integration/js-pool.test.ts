import { getEventListeners } from 'node:events';
import { ExactNumber } from '../../src/core/exact-number.js';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JsPool, type JsJobContext } from '../../src/runner/js-pool.js';
import { waitFor as waitUntil } from '../helpers/wait.js';

/*
 * Worker threads cannot load TypeScript, so the worker is compiled from its
 * source for this run: the test exercises the current code, never a stale dist/.
 */
let workerDir: string;
let workerFile: string;
let dir: string;
let pool: JsPool | null = null;

beforeAll(async () => {
  workerDir = await mkdtemp(join(tmpdir(), 'meow-worker-'));
  const source = await readFile(new URL('../../src/runner/js-worker.ts', import.meta.url), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
  });
  workerFile = join(workerDir, 'js-worker.mjs');
  await writeFile(workerFile, outputText);
});

afterAll(async () => {
  await rm(workerDir, { recursive: true, force: true });
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meow-js-'));
  await mkdir(join(dir, 'job'));
});

afterEach(async () => {
  await pool?.close();
  pool = null;
  await rm(dir, { recursive: true, force: true });
});

function open(graceMs = 300, maxThreads = 2): JsPool {
  pool = new JsPool({ maxThreads, graceMs, workerFile });
  return pool;
}

async function recipe(name: string, body: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, body);
  return file;
}

function ctx(signal = new AbortController().signal, jobId = 'j-1'): JsJobContext {
  return { jobId, jobDir: join(dir, 'job'), workspace: dir, signal };
}

/** Polls until `check` is true, or fails after `ms` (stretched on a loaded machine). */
async function waitFor(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  await waitUntil(() => check().catch(() => false), what, ms);
}

describe('JsPool', () => {
  it('returns the function result and writes ctx.log lines to the job logs', async () => {
    const file = await recipe('double.mjs', [
      'export default async function (vars, ctx) {',
      "  ctx.log.info('doubling', vars.x);",
      "  ctx.log.warn('careful');",
      '  return { doubled: vars.x * 2, job: ctx.jobId, workspace: ctx.workspace, aborted: ctx.signal.aborted };',
      '}',
    ].join('\n'));
    const out = await open().run(file, 'v1', { x: 21 }, ctx());
    expect(out).toEqual({ ok: true, result: { doubled: 42, job: 'j-1', workspace: dir, aborted: false } });
    expect(await readFile(join(dir, 'job', 'stdout.log'), 'utf8')).toBe('doubling 21\n');
    expect(await readFile(join(dir, 'job', 'stderr.log'), 'utf8')).toBe('warning: careful\n');
  });

  it('reports a thrown error with its message and stack', async () => {
    const file = await recipe('throws.mjs', "export default async () => {\n  throw new TypeError('kaboom: input is empty');\n};\n");
    const out = await open().run(file, 'v1', {}, ctx());
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.error).toMatch(/^TypeError: kaboom: input is empty\n\s+at /);
    expect(out.error).toContain('throws.mjs');
  });

  it('says what is wrong with a module without a default function or a non-JSON result', async () => {
    const none = await recipe('none.mjs', 'export const x = 1;\n');
    expect(await open().run(none, 'v1', {}, ctx())).toEqual({ ok: false, error: expect.stringMatching(/none\.mjs: expected "export default async function \(vars, ctx\)"/) });
    const loop = await recipe('loop.mjs', 'const o = {};\no.self = o;\nexport default () => o;\n');
    expect(await pool?.run(loop, 'v1', {}, ctx())).toEqual({ ok: false, error: expect.stringMatching(/not JSON/) });
    // A bigint is a value a job record holds exactly (an exact int), not an error.
    const big = await recipe('big.mjs', 'export default () => ({ n: 1n, m: 1733322222123456789n });\n');
    expect(await pool?.run(big, 'v1', {}, ctx())).toEqual({ ok: true, result: { n: 1, m: new ExactNumber('1733322222123456789', 'int') } });
  });

  it('re-imports an edited recipe under a new version', async () => {
    const file = await recipe('edit.mjs', 'export default () => 1;\n');
    const p = open(300, 1);
    expect(await p.run(file, 'a', {}, ctx())).toEqual({ ok: true, result: 1 });
    await writeFile(file, 'export default () => 2;\n');
    expect(await p.run(file, 'b', {}, ctx())).toEqual({ ok: true, result: 2 });
  });

  it('lets a cooperative function stop on its signal, well within the grace period', async () => {
    const file = await recipe('polite.mjs', [
      'export default (vars, ctx) => new Promise((_, reject) => {',
      "  ctx.log.info('started');",
      "  ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));",
      '});',
    ].join('\n'));
    const controller = new AbortController();
    // A grace longer than the test: only the abort can end the run in time.
    const running = open(600_000).run(file, 'v1', {}, ctx(controller.signal));
    await waitFor('the function to start', async () => (await readFile(join(dir, 'job', 'stdout.log'), 'utf8')).includes('started'));
    controller.abort();
    const out = await running;
    expect(out).toEqual({ ok: false, error: expect.stringMatching(/job j-1 was cancelled/) });
  });

  it('stops a function whose cancel reached the thread before the task did, and a later task of the same job runs', async () => {
    const hold = await recipe('hold.mjs', [
      'export default (vars, ctx) => new Promise((resolve) => {',
      "  ctx.log.info('holding');",
      '  setTimeout(resolve, 400);',
      '});',
    ].join('\n'));
    const polite = await recipe('polite.mjs', [
      'export default (vars, ctx) => new Promise((resolve, reject) => {',
      '  if (ctx.signal.aborted) return reject(ctx.signal.reason);',
      "  ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));",
      "  setTimeout(() => resolve('ran'), 200);",
      '});',
    ].join('\n'));
    // One thread, busy with the first job: the second waits in the pool's queue while it is cancelled.
    const p = open(600_000, 1);
    const first = p.run(hold, 'v1', {}, ctx(new AbortController().signal, 'j-hold'));
    await waitFor('the first function to start', async () => (await readFile(join(dir, 'job', 'stdout.log'), 'utf8')).includes('holding'));
    const controller = new AbortController();
    const queued = p.run(polite, 'v1', {}, ctx(controller.signal, 'j-2'));
    controller.abort();
    // The grace is longer than the test: only the early cancel, kept by the thread, can end it in time.
    expect(await queued).toEqual({ ok: false, error: expect.stringMatching(/job j-2 was cancelled/) });
    expect(await first).toEqual({ ok: true, result: null });
    // The same job again (a retry) is a new task: the old cancel does not touch it.
    expect(await p.run(polite, 'v1', {}, ctx(new AbortController().signal, 'j-2'))).toEqual({ ok: true, result: 'ran' });
  });

  it('terminates a function that ignores cancellation, and keeps serving jobs', async () => {
    const file = await recipe('stubborn.mjs', [
      'export default (vars, ctx) => {',
      "  ctx.log.info('started');",
      '  for (;;) {}',
      '};',
    ].join('\n'));
    const ok = await recipe('ok.mjs', 'export default () => "fine";\n');
    const p = open(200, 1);
    const controller = new AbortController();
    const running = p.run(file, 'v1', {}, ctx(controller.signal));
    await waitFor('the function to start', async () => (await readFile(join(dir, 'job', 'stdout.log'), 'utf8')).includes('started'));
    controller.abort();
    const out = await running;
    expect(out).toEqual({ ok: false, error: expect.stringMatching(/ignored its abort signal for 200 ms, so its worker thread was terminated/) });
    expect(await p.run(ok, 'v1', {}, ctx())).toEqual({ ok: true, result: 'fine' });
  });

  it('runs 2,000 small jobs without leaking listeners', async () => {
    const file = await recipe('square.mjs', 'export default async ({ n }) => n * n;\n');
    const p = open(300, 2);
    const signals: AbortSignal[] = [];
    const outs = await Promise.all(
      Array.from({ length: 2000 }, (_, n) => {
        const signal = new AbortController().signal;
        signals.push(signal);
        return p.run(file, 'v1', { n }, ctx(signal, `j-${n}`));
      }),
    );
    outs.forEach((out, n) => expect(out).toEqual({ ok: true, result: n * n }));
    expect(signals.filter((s) => getEventListeners(s, 'abort').length > 0)).toHaveLength(0);
  });

  it('refuses work once closed and reports a job cancelled before it started', async () => {
    const file = await recipe('one.mjs', 'export default () => 1;\n');
    const p = open();
    const controller = new AbortController();
    controller.abort();
    expect(await p.run(file, 'v1', {}, ctx(controller.signal))).toEqual({ ok: false, error: expect.stringMatching(/cancelled before it started/) });
    await p.close();
    expect(await p.run(file, 'v1', {}, ctx())).toEqual({ ok: false, error: expect.stringMatching(/pool is closed/) });
  });
});
