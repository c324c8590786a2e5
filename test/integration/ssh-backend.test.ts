/*
 * The SSH backend against a real sshd on 127.0.0.1 (its own config, host key
 * and authorized_keys), started by scripts/start-sshd.sh. The "remote"
 * workspace mirror lives in the sshd's work dir, apart from the workspace, so
 * staging and fetching are real copies. In CI a missing sshd fails the
 * suite; elsewhere it is skipped, loudly.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SshBackend } from '../../src/runner/backends/ssh/ssh-backend.js';
import { PathMap, matchOutputs, outputDirs } from '../../src/runner/backends/ssh/ssh-stage.js';
import { parseConfig } from '../../src/core/config-schema.js';
import { requireComponent } from '../helpers/components.js';
import { track } from '../helpers/resources.js';
import { alive } from '../helpers/engine.js';
import { meow, meowJson, startEngineProcess, tempWorkspace, waitFor, type TempWorkspace } from '../helpers/workspace.js';
import { brief, functionRequest, processRequest, recordedHandles, type Attempt, sshTarget, sshTestArgs, type SshTarget } from '../helpers/remote-backends.js';

const target = sshTarget();
const sshd = requireComponent('the test sshd', () => (typeof target === 'string' ? target : null));

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function workspace(prefix = 'meow-ssh-'): Promise<TempWorkspace> {
  const ws = await tempWorkspace(prefix);
  // The workspace and its mirror on the "host".
  open.push({ close: async () => (await ws.cleanup(), await rm(PathMap.for(ws.root, t().workdir).remote, { recursive: true, force: true })) });
  return ws;
}

function t(): SshTarget {
  if (typeof target === 'string') throw new Error(target);
  return target;
}

/** meow.yaml (JSON is YAML) for a backend named "gpubox" on the test sshd. */
function sshYaml(extra: Record<string, unknown> = {}): string {
  const s = t();
  const spec = { type: 'ssh', host: s.host, port: s.port, user: s.user, identity: s.identity, workdir: s.workdir, ssh_args: sshTestArgs(s), poll_interval: '200ms', ...extra };
  return JSON.stringify({ backends: { gpubox: spec } });
}

function backend(ws: TempWorkspace, extra: Record<string, unknown> = {}): SshBackend {
  const { config, errors } = parseConfig(ws.root, sshYaml(extra), 2);
  expect(errors).toEqual([]);
  const b = new SshBackend(config.backends.gpubox, { ...config, killGraceMs: 500 }, (m) => console.warn(m));
  const untrack = track(b, `ssh backend in ${ws.root}`, () => b.close());
  open.push({ close: async () => (untrack(), await b.close()) });
  return b;
}

/** The pid the job's wrapper recorded on the host (the "remote" is this machine). */
async function remotePid(a: Attempt): Promise<number> {
  const rel = await waitFor(async () => (await remoteFiles()).find((f) => f.endsWith(`${a.req.job.id}/meow-ssh/pid`)), 'the job to start on the host', 30_000, 50);
  return Number((await readFile(join(t().workdir, rel), 'utf8')).trim());
}

/** Files under the test sshd's work dir (the remote side). */
async function remoteFiles(): Promise<string[]> {
  return (await readdir(t().workdir, { recursive: true })).map(String);
}

sshd.describe('SSH backend (real sshd on 127.0.0.1)', () => {
  it('has an sshd to test against', () => {
    expect(sshd.missing, 'start it with: bash scripts/start-sshd.sh').toBeNull();
  });

  it('stages the job, runs it on the host in the mirror, and brings logs and declared outputs back', async () => {
    const ws = await workspace();
    const b = backend(ws);
    await ws.write('data/in.txt', 'hello from the workspace\n');
    const script = 'cat "$1" | tr a-z A-Z > data/out/upper.txt; echo scratch > data/out/undeclared.tmp; echo "cwd=$PWD"; echo "dir=$MEOW_JOB_DIR"; echo oops >&2';
    const a = await processRequest(ws.root, ['bash', '-c', `mkdir -p data/out; ${script}`, 'x', ws.path('data/in.txt')], {
      outputs: ['data/out/*.txt'],
      job: { input: 'data/in.txt' },
    });
    const o = await b.run(a.req);
    expect(brief(o)).toEqual({ exitCode: 0, cancelled: false, timedOut: false, error: null });
    expect(a.handle()).toMatch(/^ssh:.+@127\.0\.0\.1:\d+$/);
    expect(await readFile(ws.path('data/out/upper.txt'), 'utf8')).toBe('HELLO FROM THE WORKSPACE\n');
    expect(existsSync(ws.path('data/out/undeclared.tmp'))).toBe(false); // not declared: stays on the host
    const out = await readFile(join(a.req.jobDir, 'stdout.log'), 'utf8');
    // It ran in the mirror under the remote workdir, not in the workspace.
    expect(out).toMatch(new RegExp(`cwd=${t().workdir}/meow-ssh-`));
    expect(out).toMatch(new RegExp(`dir=${t().workdir}/.*/\\.meow/jobs/${a.req.job.id}`));
    expect(await readFile(join(a.req.jobDir, 'stderr.log'), 'utf8')).toContain('oops');
    expect(existsSync(join(a.req.jobDir, 'meow-ssh'))).toBe(false); // the host's control files stay there
    // The remote job dir is cleared; the workspace mirror stays.
    expect((await remoteFiles()).some((f) => f.includes(a.req.job.id))).toBe(false);
  });

  it('stages, starts and brings back a burst of jobs in batches over one session: hostile names, each its own outputs and exit status', async () => {
    const ws = await workspace("meow ssh 'b' $(x) ");
    const b = backend(ws, { cpus: 8, batch_window: '500ms' });
    // Count the commands the backend sends: a burst shares its requests instead of one round of them per job.
    const conn = (b as unknown as { conn: { exec: (s: string, ms?: number) => Promise<unknown> } }).conn;
    const sent: string[] = [];
    const exec = conn.exec.bind(conn);
    conn.exec = (s: string, ms?: number) => (sent.push(s), exec(s, ms));
    const names = ['plain.txt', "it's $(touch pwned) `y`.txt", '-dash.txt', 'sp ace;&|<>*?[x].txt', 'ünï "q".txt'];
    const attempts = await Promise.all(
      names.map(async (n, i) => {
        await ws.write(`in/${n}`, `${i}\n`);
        return processRequest(ws.root, ['bash', '-c', 'mkdir -p out; cp -- "$1" "out/$3-$2"; exit "$3"', 'x', ws.path(`in/${n}`), n, String(i)], { outputs: [`out/${i}-*`], job: { input: `in/${n}` } });
      }),
    );
    const outcomes = await Promise.all(attempts.map((a) => b.run(a.req)));
    expect(outcomes.map((o) => o.exitCode)).toEqual(names.map((_, i) => i));
    for (const [i, n] of names.entries()) expect(await readFile(ws.path(`out/${i}-${n}`), 'utf8')).toBe(`${i}\n`);
    expect(existsSync(ws.path('pwned')) || (await remoteFiles()).some((f) => f.endsWith('pwned'))).toBe(false);
    const starts = sent.filter((s) => s.includes('setsid bash'));
    const collects = sent.filter((s) => s.includes('tar -c'));
    expect(starts.length, 'staging-and-start requests').toBeLessThan(names.length);
    expect(collects.length, 'collecting requests').toBeLessThan(names.length);
    for (const a of attempts) expect((await remoteFiles()).some((f) => f.includes(a.req.job.id))).toBe(false);
  });

  it('reports a failure with its exit code', async () => {
    const ws = await workspace();
    const o = await backend(ws).run((await processRequest(ws.root, ['bash', '-c', 'echo bad >&2; exit 3'])).req);
    expect(brief(o)).toEqual({ exitCode: 3, cancelled: false, timedOut: false, error: null });
  });

  it('says clearly when the program cannot be started on the host', async () => {
    const ws = await workspace();
    const o = await backend(ws).run((await processRequest(ws.root, ['no-such-program-meow'])).req);
    expect(o.error).toMatch(/cannot start no-such-program-meow: not found/);
  });

  it('times out a job and kills its remote process group', async () => {
    const ws = await workspace();
    const b = backend(ws);
    // `sleep 600` outlives the test: only the timeout's kill can end the run.
    const a = await processRequest(ws.root, ['bash', '-c', 'sleep 600 & wait'], { timeoutMs: 1500 });
    const run = b.run(a.req);
    const pid = await remotePid(a);
    const o = await run;
    expect(brief(o)).toMatchObject({ timedOut: true, cancelled: false });
    await waitFor(() => !alive(pid), 'the remote wrapper to end', 30_000, 50);
  });

  it('cancels a running job: the whole remote process group goes', async () => {
    const ws = await workspace();
    const b = backend(ws);
    const a = await processRequest(ws.root, ['bash', '-c', 'echo started; sleep 120 & wait; echo finished']);
    const run = b.run(a.req);
    const pid = await remotePid(a);
    expect(alive(pid)).toBe(true); // the "remote" host is this machine
    // Live (not zombie) processes in the job's session: setsid made the wrapper its leader.
    const group = () =>
      execFileSync('ps', ['-eo', 'sid=,stat=,pid='], { encoding: 'utf8' })
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter(([sid, stat]) => sid === String(pid) && !stat?.startsWith('Z'))
        .map(([, , p]) => p)
        .join(' ');
    await waitFor(() => group().split(' ').length >= 3, 'the job and its children to run', 20_000, 50);
    a.controller.abort();
    const o = await run;
    expect(o.cancelled).toBe(true);
    await waitFor(() => !alive(pid), 'the remote wrapper to end', 10_000, 50);
    expect(group()).toBe(''); // no live process is left in the job's session
    expect(await readFile(join(a.req.jobDir, 'stdout.log'), 'utf8')).not.toContain('finished');
  });

  it('states its capacity (cpus from the host, GPUs from meow.yaml) and shows each job only the GPUs it was granted', async () => {
    const ws = await workspace();
    const b = backend(ws, { gpus: 2 });
    const cap = await b.capacity();
    expect(cap.gpus).toEqual(['0', '1']);
    expect(cap.cpus).toBeGreaterThanOrEqual(1);
    expect(cap.sources.cpus).toMatch(/nproc on 127\.0\.0\.1/);
    expect((await backend(ws, { cpus: 3 }).capacity()).cpus).toBe(3);
    const show = (gpus: string[]) => processRequest(ws.root, ['bash', '-c', 'echo "gpu=${CUDA_VISIBLE_DEVICES-unset}"'], { gpus });
    const attempts = await Promise.all([show(['0']), show(['1']), show([])]);
    await Promise.all(attempts.map((a) => b.run(a.req)));
    const seen = await Promise.all(attempts.map(async (a) => (await readFile(join(a.req.jobDir, 'stdout.log'), 'utf8')).trim()));
    expect(seen).toEqual(['gpu=0', 'gpu=1', 'gpu=']);
  });

  it('cancels a job before it starts on the host', async () => {
    const ws = await workspace();
    const b = backend(ws);
    const a = await processRequest(ws.root, ['bash', '-c', 'echo ran > ran.txt']);
    a.controller.abort();
    expect(brief(await b.run(a.req))).toMatchObject({ cancelled: true });
    expect(a.handle()).toBeNull();
    expect((await remoteFiles()).some((f) => f.includes(a.req.job.id))).toBe(false);
  });

  it('passes hostile file names through untouched, in a workspace whose path is hostile too', async () => {
    const ws = await workspace(`meow ssh 'q' "d" $(touch pwned) \`x\` %j ; & `);
    const b = backend(ws);
    const name = `it's a "file" $(touch pwned2) \`id\` ;&|<>*?[x] ünï`;
    const input = await ws.write(`data/${name}.txt`, 'payload\n');
    const a = await processRequest(ws.root, ['bash', '-c', 'cp -- "$1" "data/copy of $(basename -- "$1")"; printf "%s" "$HOSTILE" > data/env.txt', 'x', input], {
      env: { HOSTILE: `${name}\nline two` },
      outputs: ['data/copy of *', 'data/env.txt'],
    });
    const o = await b.run(a.req);
    expect(brief(o)).toEqual({ exitCode: 0, cancelled: false, timedOut: false, error: null });
    expect(await readFile(ws.path(`data/copy of ${name}.txt`), 'utf8')).toBe('payload\n');
    expect(await readFile(ws.path('data/env.txt'), 'utf8')).toBe(`${name}\nline two`);
    for (const p of ['pwned', 'pwned2']) expect(existsSync(ws.path(p)) || (await remoteFiles()).some((f) => f.endsWith(p))).toBe(false);
  });

  it('runs JavaScript recipes with node on the host, with remote paths, and returns their result', async () => {
    const ws = await workspace();
    await ws.write('recipes/helper.mjs', 'export const twice = (x) => 2 * x;\n');
    const mod = await ws.write('recipes/add.mjs', 'import { twice } from "./helper.mjs";\nexport default async (vars, ctx) => { ctx.log.info("in", ctx.workspace); return { sum: twice(vars.a + vars.b), input: vars.input_file }; };\n');
    await ws.write('data/input.txt', 'x');
    const a = await functionRequest(ws.root, mod, { a: 2, b: 3, input_file: ws.path('data/input.txt') });
    const o = await backend(ws).run(a.req);
    expect(brief(o)).toEqual({ exitCode: 0, cancelled: false, timedOut: false, error: null });
    expect(o.result).toMatchObject({ sum: 10 });
    expect(String((o.result as { input: string }).input)).toMatch(new RegExp(`^${t().workdir}/.*/data/input\\.txt$`));
    expect(await readFile(join(a.req.jobDir, 'stdout.log'), 'utf8')).toContain(`in ${t().workdir}`);
  });

  it('keeps running when the connection drops, and re-attaches from a new backend instance by its handle', async () => {
    const ws = await workspace();
    const first = backend(ws);
    const a = await processRequest(ws.root, ['bash', '-c', 'echo run >> data/runs.txt; sleep 3; echo done; exit 7'], { outputs: ['data/runs.txt'] });
    const run = first.run(a.req);
    const handle = await a.started;
    const pid = await remotePid(a);
    // Closing the backend closes the master connection: the engine is gone, the job is not.
    await first.close();
    expect((await run).error).toMatch(/closed/);
    expect(alive(pid)).toBe(true);
    const second = backend(ws);
    const o = await second.reattach(a.req, handle ?? '');
    expect(o && brief(o)).toEqual({ exitCode: 7, cancelled: false, timedOut: false, error: null });
    expect(await readFile(join(a.req.jobDir, 'stdout.log'), 'utf8')).toContain('done');
    expect(await readFile(ws.path('data/runs.txt'), 'utf8')).toBe('run\n'); // ran once
    // A job the host does not know: no outcome, so the engine would run it again.
    const other = await processRequest(ws.root, ['true']);
    expect(await second.reattach(other.req, handle ?? '')).toBeNull();
  });

  it('reports an unreachable host clearly', async () => {
    const ws = await workspace();
    const b = backend(ws, { port: 1 });
    const o = await b.run((await processRequest(ws.root, ['true'])).req);
    expect(o.error).toMatch(/cannot reach .*127\.0\.0\.1:1 over ssh/);
  });
});

interface JobJson {
  id: string;
  pattern: string;
  status: string;
  exit_code: number | null;
  error: string | null;
  job_dir: string;
}

sshd.describe('SSH backend through the engine', () => {
  it('two jobs asking one GPU each on a 2-GPU host get different devices, a third waits; declared outputs come back and cascade', async () => {
    const ws = await workspace();
    await ws.write('meow.yaml', sshYaml({ gpus: 2, cpus: 4 }));
    await ws.write('patterns/gpu.yaml', 'recipe: gpu\ntrigger:\n  paths: "data/*.txt"\nbackend: gpubox\nresources: {gpus: 1}\noutputs: ["out/{stem}.gpu"]\n');
    // Start and end times (ms) and the devices, in the output that comes back.
    await ws.write('recipes/gpu.sh', 'start=$(date +%s%3N); sleep 2; echo "$CUDA_VISIBLE_DEVICES $start $(date +%s%3N)" > "out/$(basename "$input_file" .txt).gpu"\n');
    await ws.write('patterns/next.yaml', 'recipe: next\ntrigger:\n  paths: "out/*.gpu"\n');
    await ws.write('recipes/next.sh', 'cat "$input_file" >> "$MEOW_WORKSPACE/seen.txt"\n');
    for (const n of ['a', 'b', 'c']) await ws.write(`data/${n}.txt`, n);
    const run = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(run.code, run.stderr).toBe(0);
    const jobs = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(jobs.filter((j) => j.status === 'succeeded')).toHaveLength(6);
    const runs = (await readFile(ws.path('seen.txt'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([gpu, start, end]) => ({ gpu, start: Number(start), end: Number(end) }))
      .sort((x, y) => x.start - y.start);
    expect(runs).toHaveLength(3);
    const [first, second, third] = runs;
    expect(first.gpu).not.toBe(second.gpu);
    expect(['0', '1']).toContain(first.gpu);
    expect(['0', '1']).toContain(second.gpu);
    expect(second.start).toBeLessThan(first.end); // the first two overlap
    expect(third.start).toBeGreaterThanOrEqual(Math.min(first.end, second.end)); // the third waited for a GPU
  });

  it('stages every member of a set job and the files its declared inputs match, and nothing else', async () => {
    const ws = await workspace();
    await ws.write('meow.yaml', sshYaml());
    // A set of three projections on the host: the recipe reads each member through MEOW_INPUTS.
    await ws.write('patterns/stack.yaml', 'recipe: stack\ntrigger: {paths: "raw/*/proj_*.tif"}\ncollect: {by: "{dir}", complete: {count: 3}}\nvariables: {scan: "{name}"}\nbackend: gpubox\noutputs: ["out/{name}.txt"]\n');
    await ws.write('recipes/stack.sh', 'set -eu\nmkdir -p out\nxargs -0 cat < "$MEOW_INPUTS" > "out/$scan.txt"\n');
    // A job reading files it was not triggered by: its declared inputs, one with a placeholder.
    await ws.write('patterns/calibrate.yaml', 'recipe: calibrate\ntrigger: {paths: "runs/*.go"}\ninputs: ["calib/*.json", "notes/{stem}.txt"]\nbackend: gpubox\noutputs: ["out/{stem}.cal"]\n');
    await ws.write('recipes/calibrate.sh', 'set -eu\nmkdir -p out\nstem=$(basename "$input_file" .go)\ncat calib/*.json "notes/$stem.txt" > "out/$stem.cal"\nls calib notes > "out/$stem.seen"\n');
    for (const i of [0, 1, 2]) await ws.write(`raw/scan-1/proj_${i}.tif`, `projection ${i}\n`);
    await ws.write('calib/a.json', '{"a": 1}\n');
    await ws.write('calib/b.json', '{"b": 2}\n');
    await ws.write('calib/readme.md', 'not declared\n');
    await ws.write('notes/r1.txt', 'note for r1\n');
    await ws.write('notes/r2.txt', 'note for r2\n');
    await ws.write('runs/r1.go', 'go');
    const run = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(run.code, run.stderr).toBe(0);
    expect(await readFile(ws.path('out/scan-1.txt'), 'utf8')).toBe('projection 0\nprojection 1\nprojection 2\n');
    expect(await readFile(ws.path('out/r1.cal'), 'utf8')).toBe('{"a": 1}\n{"b": 2}\nnote for r1\n');
    // Only what the job declared reached the host's mirror: not calib/readme.md, not another run's note.
    const mirror = PathMap.for(ws.root, t().workdir).remote;
    expect((await readdir(join(mirror, 'calib'))).sort()).toEqual(['a.json', 'b.json']);
    expect(await readdir(join(mirror, 'notes'))).toEqual(['r1.txt']);
  });

  it('killing the engine while jobs run on the host, then restarting it, re-attaches and brings their outputs back', async () => {
    const ws = await workspace();
    await ws.write('meow.yaml', sshYaml({ cpus: 4 }));
    await ws.write('patterns/work.yaml', 'recipe: work\ntrigger:\n  paths: "data/*.txt"\nbackend: gpubox\noutputs: ["out/{stem}.done"]\n');
    await ws.write('recipes/work.sh', 'sleep 4\nmkdir -p out; echo ok > "out/$(basename "$input_file" .txt).done"\nexit "$(cat "$input_file")"\n');
    await ws.write('data/f0.txt', '0');
    await ws.write('data/f1.txt', '5');
    const engine = await startEngineProcess(ws.root);
    // Both started on the host, and the engine recorded their handles.
    await waitFor(() => recordedHandles(ws.root).size === 2, 'two jobs started on the host', 60_000, 100);
    await engine.stop('SIGKILL');
    const run = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(run.stderr).toMatch(/2 re-attached/);
    const after = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(after.map((j) => [j.status, j.exit_code]).sort()).toEqual([
      ['failed', 5],
      ['succeeded', 0],
    ]);
    expect(await readFile(ws.path('out/f0.done'), 'utf8')).toBe('ok\n');
    expect(await readFile(ws.path('out/f1.done'), 'utf8')).toBe('ok\n');
  });
});

// The pure parts of staging: no sshd needed.
describe('SSH staging: path mapping and outputs', () => {
  it('rewrites the workspace root only where it is a whole path', () => {
    const map = new PathMap('/tmp/ws', '/scratch/m/ws-1');
    expect(map.toRemote('/tmp/ws/data/a.txt')).toBe('/scratch/m/ws-1/data/a.txt');
    expect(map.toRemote('/tmp/ws')).toBe('/scratch/m/ws-1');
    expect(map.toRemote('/tmp/ws/recipes:/usr/lib/py')).toBe('/scratch/m/ws-1/recipes:/usr/lib/py');
    expect(map.toRemote('{"input_file": "/tmp/ws/x"}')).toBe('{"input_file": "/scratch/m/ws-1/x"}');
    expect(map.toRemote("path = '/tmp/ws/x'")).toBe("path = '/scratch/m/ws-1/x'");
    expect(map.toRemote('/tmp/ws2/a')).toBe('/tmp/ws2/a');
    expect(map.toRemote('/tmp/ws.old/a')).toBe('/tmp/ws.old/a');
    expect(map.toRemote('/other/tmp/ws/a')).toBe('/other/tmp/ws/a');
    expect(map.relativeOf('/tmp/ws/data/a')).toBe('data/a');
    expect(map.relativeOf('/tmp/wsx/a')).toBeNull();
    // A mirror named after the workspace, unique per workspace path.
    expect(PathMap.for('/tmp/my ws', '/w/').remote).toMatch(/^\/w\/my_ws-[0-9a-f]{12}$/);
    expect(PathMap.for('/a/ws', '/w').remote).not.toBe(PathMap.for('/b/ws', '/w').remote);
  });

  it('matches declared outputs (absolute or relative globs) among the files a job changed', () => {
    const changed = ['out/a.gpu', 'out/b.tmp', 'out/sub/c.gpu', 'data/x.txt', '.meow/jobs/j/stdout.log'];
    expect(matchOutputs(['out/*.gpu'], '/ws', changed)).toEqual(['out/a.gpu']);
    expect(matchOutputs(['/ws/out/**/*.gpu'], '/ws', changed)).toEqual(['out/a.gpu', 'out/sub/c.gpu']);
    expect(matchOutputs(['data/x.txt'], '/ws', changed)).toEqual(['data/x.txt']);
    expect(matchOutputs(['**'], '/ws', changed)).not.toContain('.meow/jobs/j/stdout.log');
    expect(outputDirs(['out/{a,b}/*.n', '/ws/reports/x.txt', 'top.txt'], '/ws')).toEqual(['out', 'reports']);
  });
});
