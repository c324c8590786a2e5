/*
 * One suite, every backend (issue 8): success, failure with its exit code,
 * stdout/stderr captured, timeout, cancel of queued and running jobs, retry,
 * hostile file names, directories of declared outputs created before the
 * recipe runs, outputs visible to the engine (cascades), and an engine
 * killed while jobs run re-attaching to them on restart instead of running
 * them again. Backends are listed in test/helpers/conformance.ts.
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.js';
import { alive, type LiveEngine } from '../helpers/engine.js';
import { CONFORMANCE_BACKENDS, type ConformanceBackend } from '../helpers/conformance.js';
import { requireComponentAsync, type Component } from '../helpers/components.js';
import { track } from '../helpers/resources.js';
import { meowJson, waitFor, type TempWorkspace } from '../helpers/workspace.js';
import type { JobRecord } from '../../src/core/types.js';
import { useLiveWorkspace } from '../helpers/live-workspace.js';

interface JobJson {
  id: string;
  status: string;
  input: string;
  attempt: number;
  exit_code: number | null;
  error: string | null;
  job_dir: string;
}

/** Runs a workspace's engine until idle, in this process; returns every job. */
async function untilIdle(root: string): Promise<JobRecord[]> {
  const engine = await Engine.open(root);
  const untrack = track(engine, `engine in ${root}`, () => engine.close({ cancelRunning: true }));
  try {
    await engine.runUntilIdle();
    return engine.store.listJobs();
  } finally {
    untrack();
    await engine.close();
  }
}

/** Pids written to `dir` by recipes (one file per job, `$$` and child pids). */
async function pidsIn(dir: string): Promise<number[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const all = await Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')));
  return all.flatMap((t) => t.split(/\s+/).filter(Boolean).map(Number));
}

const log = (ws: TempWorkspace, job: { jobDir?: string; job_dir?: string }, name: string) => readFileSync(ws.path(join(job.jobDir ?? job.job_dir ?? '', name)), 'utf8');

describe.each(CONFORMANCE_BACKENDS)('backend conformance: $name', (b: ConformanceBackend) => {
  let backend: Component;
  let ws: TempWorkspace;
  let live: LiveEngine | null = null;
  let pidDirs: string[] = [];

  beforeAll(async () => {
    backend = await requireComponentAsync(`the ${b.name} backend`, () => b.available());
  });

  const fx = useLiveWorkspace();
  afterEach(async () => {
    await live?.close();
    live = null;
    // Whatever a failed test left running goes too.
    for (const d of pidDirs) for (const pid of await pidsIn(d)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    pidDirs = [];
  });

  /** A fresh workspace for backend `b`; false when the backend is not available (a loud skip, a failure in CI). */
  async function setup(extra = ''): Promise<boolean> {
    if (!backend.ready()) return false;
    ws = await fx.workspace(`meow-conf-${b.name}-`);
    await ws.write('meow.yaml', `kill_grace: 300ms\n${extra}${b.meowYaml(ws.root)}`);
    return true;
  }

  const pattern = (recipe: string, paths: string, more = '') => `recipe: ${recipe}\nbackend: ${b.name}\ntrigger: {paths: "${paths}"}\n${more}`;

  it('runs a job to success and captures its stdout and stderr', async () => {
    if (!(await setup())) return;
    await ws.write('recipes/hello.sh', 'echo "out: $(basename "$input_file")"\necho "err: to stderr" >&2\n');
    await ws.write('patterns/hello.yaml', pattern('hello', 'data/*.txt'));
    await ws.write('data/a.txt', 'a');
    const [job] = await untilIdle(ws.root);
    expect(job).toMatchObject({ status: 'succeeded', exitCode: 0, error: null, attempt: 1, backend: b.name });
    expect(log(ws, job, 'stdout.log')).toBe('out: a.txt\n');
    expect(log(ws, job, 'stderr.log')).toBe('err: to stderr\n');
  });

  it('fails a job with its exit code and the end of its stderr', async () => {
    if (!(await setup())) return;
    await ws.write('recipes/bad.sh', 'echo "reading $(basename "$input_file")"\necho "no such column: intensity" >&2\nexit 3\n');
    await ws.write('patterns/bad.yaml', pattern('bad', 'data/*.txt'));
    await ws.write('data/a.txt', 'a');
    const [job] = await untilIdle(ws.root);
    expect(job).toMatchObject({ status: 'failed', exitCode: 3, attempt: 1 });
    expect(job.error).toBe('exit code 3: no such column: intensity');
    expect(log(ws, job, 'stdout.log')).toBe('reading a.txt\n');
  });

  it('times out a job and stops its processes', async () => {
    if (!(await setup())) return;
    pidDirs.push((await ws.write('pids/.keep', '')).replace(/\/\.keep$/, ''));
    // `sleep 600` outlives the test: only the timeout's kill can end the job.
    await ws.write('recipes/slow.sh', 'sleep 600 &\necho "$$ $!" > "$pids/$(basename "$input_file")"\nwait\n');
    await ws.write('patterns/slow.yaml', pattern('slow', 'data/*.txt', 'timeout: 1s\nvariables: {pids: "{workspace}/pids"}\n'));
    await ws.write('data/a.txt', 'a');
    const [job] = await untilIdle(ws.root);
    expect(job).toMatchObject({ status: 'failed', exitCode: null, error: 'timed out after 1.0s' });
    const pids = await pidsIn(ws.path('pids'));
    expect(pids).toHaveLength(2);
    await waitFor(() => pids.every((p) => !alive(p)), 'the timed-out processes to be gone', 30_000);
  });

  it('cancels queued and running jobs, stopping the running ones', async () => {
    if (!(await setup())) return;
    pidDirs.push(ws.path('pids'));
    await ws.write('pids/.keep', '');
    await ws.write('recipes/hold.sh', 'sleep 60 &\necho "$$ $!" > "$pids/$(basename "$input_file")"\nwait\necho finished >> "$pids/../finished"\n');
    await ws.write('patterns/hold.yaml', pattern('hold', 'data/*', 'variables: {pids: "{workspace}/pids"}\n'));
    for (let i = 0; i < 5; i++) await ws.write(`data/f${i}`, String(i));
    live = await fx.start(ws.root);
    const store = live.engine.store;
    const running = b.maxRunning ?? 5;
    // Each running recipe wrote its pid and its child's (a file is counted once written, not once created).
    await waitFor(async () => (await pidsIn(ws.path('pids'))).length === 2 * running, `${running} running jobs`, 30_000);
    const before = store.countJobs();
    expect(before).toMatchObject({ running, queued: 5 - running });
    // Newest first: cancelling a running job first would start a queued one in its place.
    for (const j of store.listJobs().reverse()) expect(live.engine.scheduler.cancel(j.id, 'cancelled by the test')?.status).toBe('cancelled');
    const pids = await pidsIn(ws.path('pids'));
    expect(pids).toHaveLength(2 * running);
    await waitFor(() => pids.every((p) => !alive(p)), 'every cancelled process and child to be gone', 10_000);
    expect(store.countJobs()).toMatchObject({ cancelled: 5, running: 0, queued: 0 });
    // Queued jobs never started, and nothing ran to its end.
    expect(live.started).toHaveLength(running);
    expect(await readFile(ws.path('finished'), 'utf8').catch(() => '')).toBe('');
  });

  it('retries a failed attempt as a new attempt', async () => {
    if (!(await setup())) return;
    await ws.write('recipes/flaky.sh', 'if [ ! -e "$marks/$(basename "$input_file")" ]; then touch "$marks/$(basename "$input_file")"; echo "first attempt fails" >&2; exit 1; fi\necho second\n');
    await ws.write('patterns/flaky.yaml', pattern('flaky', 'data/*.txt', 'retries: 2\nvariables: {marks: "{workspace}/marks"}\n'));
    await ws.write('marks/.keep', '');
    await ws.write('data/a.txt', 'a');
    const [job] = await untilIdle(ws.root);
    expect(job).toMatchObject({ status: 'succeeded', attempt: 2, exitCode: 0, error: null });
    expect(log(ws, job, 'stderr.log')).toBe('first attempt fails\n');
    expect(log(ws, job, 'stdout.log')).toBe('second\n');
  });

  it('hands hostile file names to recipes as data, never to a shell', async () => {
    if (!(await setup())) return;
    const names = ['with space.txt', `quote's "double".txt`, '$(touch PWNED).txt', '`touch PWNED2`.txt', '-n.txt', 'new\nline.txt', '; rm -rf x;.txt', 'ü-ñ-漢字.txt'];
    // A file per job: bash line-buffers stdout, so a name with a newline is appended in two writes another job's may split.
    await ws.write('recipes/names.sh', `printf '%s' "$input_file" > "$(mktemp "$ledger/XXXXXX")"\n`);
    await ws.write('recipes/echo.yaml', 'command: [printf, "%s", "{path}"]\n');
    await ws.write('patterns/names.yaml', pattern('names', 'data/*.txt', 'variables: {ledger: "{workspace}/ledger"}\n'));
    await ws.write('patterns/echo.yaml', pattern('echo', 'data/*.txt'));
    await ws.write('ledger/.keep', '');
    for (const n of names) await ws.write(`data/${n}`, 'x');
    const jobs = await untilIdle(ws.root);
    expect(jobs.filter((j) => j.status === 'succeeded')).toHaveLength(2 * names.length);
    const entries = (await readdir(ws.path('ledger'))).filter((n) => n !== '.keep');
    const ledger = await Promise.all(entries.map((n) => readFile(ws.path(`ledger/${n}`), 'utf8')));
    expect(ledger.sort()).toEqual(names.map((n) => ws.path(`data/${n}`)).sort());
    for (const j of jobs.filter((x) => x.pattern === 'echo')) expect(log(ws, j, 'stdout.log')).toBe(j.input);
    expect((await readdir(ws.root)).filter((n) => n.startsWith('PWNED'))).toEqual([]);
  });

  it('makes declared outputs visible to the engine, so cascades continue', async () => {
    if (!(await setup())) return;
    await ws.write('recipes/reduce.sh', 'mkdir -p "$(dirname "$out")"\nwc -c < "$input_file" > "$out"\n');
    await ws.write('recipes/report.sh', 'mkdir -p "$(dirname "$out")"\necho "report of $(cat "$input_file")" > "$out"\n');
    await ws.write('patterns/reduce.yaml', pattern('reduce', 'data/*.txt', 'variables: {out: "{workspace}/reduced/{stem}.n"}\noutputs: ["reduced/{stem}.n"]\n'));
    await ws.write('patterns/report.yaml', pattern('report', 'reduced/*.n', 'variables: {out: "{workspace}/reports/{stem}.txt"}\noutputs: ["reports/{stem}.txt"]\n'));
    await ws.write('data/a.txt', 'abcd');
    await ws.write('data/b.txt', 'xy');
    const jobs = await untilIdle(ws.root);
    expect(jobs.map((j) => [j.pattern, j.status, j.generation])).toEqual([
      ['reduce', 'succeeded', 0],
      ['reduce', 'succeeded', 0],
      ['report', 'succeeded', 1],
      ['report', 'succeeded', 1],
    ]);
    const byInput = new Map(jobs.map((j) => [j.input, j]));
    expect(byInput.get('reduced/a.n')?.cause).toBe(byInput.get('data/a.txt')?.id);
    expect(await readFile(ws.path('reports/a.txt'), 'utf8')).toBe('report of 4\n');
    expect(await readFile(ws.path('reports/b.txt'), 'utf8')).toBe('report of 2\n');
  });

  it('creates the directories of declared outputs before the recipe runs', async () => {
    if (!(await setup())) return;
    // No mkdir: the recipe writes straight into directories that do not exist yet.
    await ws.write('recipes/write.sh', 'wc -c < "$input_file" > "$out"\necho done > "$WORKSPACE_LOG"\n');
    await ws.write('patterns/write.yaml', pattern('write', 'data/*.txt', 'variables: {out: "{workspace}/results/deep/{stem}.n", WORKSPACE_LOG: "{workspace}/logs/{stem}/done.txt"}\noutputs: ["results/deep/{stem}.n", "logs/{stem}/*.txt"]\n'));
    await ws.write('data/a.txt', 'abcd');
    const [job] = await untilIdle(ws.root);
    expect(job, job.error ?? '').toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect((await readFile(ws.path('results/deep/a.n'), 'utf8')).trim()).toBe('4');
    expect(await readFile(ws.path('logs/a/done.txt'), 'utf8')).toBe('done\n');
  });

  it('re-attaches to jobs running when the engine was killed, recording their real outcome without running them again', async () => {
    if (!(await setup())) return;
    pidDirs.push(ws.path('pids'));
    await ws.write('pids/.keep', '');
    const recipe = [
      'name=$(basename "$input_file")',
      'echo "start $name" >> "$marks/ledger"',
      'echo "$$" > "$marks/../pids/$name"',
      'while [ ! -e "$marks/go-$name" ]; do sleep 0.05; done',
      'echo "end $name" >> "$marks/ledger"',
      '[ "$name" = bad ] && exit 4',
      'exit 0',
      '',
    ].join('\n');
    await ws.write('recipes/hold.sh', recipe);
    await ws.write('patterns/hold.yaml', pattern('hold', 'data/*', 'variables: {marks: "{workspace}/marks"}\n'));
    await ws.write('marks/.keep', '');
    await ws.write('data/ok', 'ok');
    await ws.write('data/bad', 'bad');
    let engine = await fx.process(ws.root);
    try {
      const running = await waitFor(async () => {
        const js = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
        return js.filter((j) => j.status === 'running').length === 2 && (await readdir(ws.path('pids'))).length === 3 ? js : null;
      }, 'two running jobs', 30_000);
      engine.child.kill('SIGKILL');
      await engine.stop();
      // One job ends while no engine runs; its exit status must still be known.
      await writeFile(ws.path('marks/go-ok'), '');
      await waitFor(async () => (await readFile(ws.path('marks/ledger'), 'utf8')).includes('end ok'), 'the job to end while the engine is down');
      engine = await fx.process(ws.root);
      await writeFile(ws.path('marks/go-bad'), '');
      const jobs = await waitFor(async () => {
        const js = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
        return js.every((j) => j.status !== 'running' && j.status !== 'queued') ? js : null;
      }, 'both jobs to end', 30_000);
      const by = new Map(jobs.map((j) => [j.input, j]));
      expect(by.get('data/ok')).toMatchObject({ status: 'succeeded', exit_code: 0, attempt: 1, id: running.find((j) => j.input === 'data/ok')?.id });
      expect(by.get('data/bad')).toMatchObject({ status: 'failed', exit_code: 4, attempt: 1 });
      expect(jobs).toHaveLength(2);
      const ledger = (await readFile(ws.path('marks/ledger'), 'utf8')).split('\n').filter(Boolean).sort();
      expect(ledger).toEqual(['end bad', 'end ok', 'start bad', 'start ok']);
    } finally {
      await engine.stop();
    }
  });
});
