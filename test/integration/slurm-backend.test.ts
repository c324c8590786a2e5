/*
 * The Slurm backend against a real one-node cluster (munged, slurmctld,
 * slurmd on localhost with two fake GPUs), started by scripts/start-slurm.sh.
 * In CI a missing cluster fails the suite; elsewhere it is skipped, loudly.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SlurmBackend } from '../../src/runner/backends/slurm/slurm-backend.js';
import { sbatchArgs, slurmScript } from '../../src/runner/backends/slurm/slurm-script.js';
import { parseElapsed } from '../../src/runner/backends/slurm/slurm-tracker.js';
import { parseConfig } from '../../src/core/config-schema.js';
import { requireComponent } from '../helpers/components.js';
import { track } from '../helpers/resources.js';
import { meow, meowJson, startEngineProcess, tempWorkspace, waitFor, type TempWorkspace } from '../helpers/workspace.js';
import { brief, functionRequest, processRequest, recordedHandles, slurmMissing } from '../helpers/remote-backends.js';

const slurm = requireComponent('the test Slurm cluster', slurmMissing);

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function workspace(prefix = 'meow-slurm-'): Promise<TempWorkspace> {
  const ws = await tempWorkspace(prefix);
  open.push({ close: () => ws.cleanup() });
  return ws;
}

/** A backend named "cluster" as meow.yaml would configure it. */
function backend(ws: TempWorkspace, extra = ''): SlurmBackend {
  const yaml = `backends:\n  cluster: {type: slurm, poll_interval: 200ms, partition: debug${extra}}\n`;
  const { config, errors } = parseConfig(ws.root, yaml, 2);
  expect(errors).toEqual([]);
  const b = new SlurmBackend(config.backends.cluster, config, (m) => console.warn(m));
  const untrack = track(b, `slurm backend in ${ws.root}`, () => b.close());
  open.push({ close: async () => (untrack(), await b.close()) });
  return b;
}

function slurmId(handle: string | null): string {
  const id = /^slurm:(\d+)$/.exec(handle ?? '')?.[1];
  if (!id) throw new Error(`not a Slurm handle: ${handle}`);
  return id;
}

function squeueState(id: string): string {
  try {
    return execFileSync('squeue', ['-h', '-t', 'all', '-j', id, '-o', '%T'], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

function scontrolJob(id: string): string {
  return execFileSync('scontrol', ['show', 'job', id], { encoding: 'utf8' });
}

slurm.describe('Slurm backend (real cluster)', () => {
  it('has a Slurm cluster to test against', () => {
    expect(slurm.missing, 'start it with: bash scripts/start-slurm.sh').toBeNull();
  });

  it('runs a job to success, with stdout and stderr in the job dir and the job script kept', async () => {
    const ws = await workspace();
    const b = backend(ws);
    const a = await processRequest(ws.root, ['bash', '-c', 'echo "out $MEOW_JOB_ID"; echo err >&2; pwd'], { resources: { cpus: 2, memory: 64 * 1024 ** 2 }, timeoutMs: 300_000 });
    const o = await b.run(a.req);
    expect(brief(o)).toEqual({ exitCode: 0, cancelled: false, timedOut: false, error: null });
    expect(a.handle()).toMatch(/^slurm:\d+$/);
    const out = await readFile(join(a.req.jobDir, 'stdout.log'), 'utf8');
    expect(out).toContain(`out ${a.req.job.id}`);
    expect(out).toContain(ws.root); // the launch's working directory
    expect(await readFile(join(a.req.jobDir, 'stderr.log'), 'utf8')).toContain('err');
    const script = await readFile(join(a.req.jobDir, 'job.sbatch'), 'utf8');
    expect(script).toContain('--cpus-per-task=2');
    expect(script).toContain('--mem=64M');
    expect(script).toContain('--time=5');
    expect(script).toContain('--partition=debug');
    const info = scontrolJob(slurmId(a.handle()));
    expect(info).toMatch(/NumCPUs=2/);
    expect(info).toMatch(/TimeLimit=00:05:00/);
  });

  it("translates Slurm's refusal of a request no node can satisfy: what was asked, what the partition offers, which key to change", async () => {
    const ws = await workspace();
    const a = await processRequest(ws.root, ['true'], { resources: { gpus: 3 } });
    const o = await backend(ws).run(a.req);
    expect(o.error).toMatch(
      new RegExp(
        `^backend cluster: Slurm refused the job: pattern "${a.req.job.pattern}" asks for 1 cpu, 3 GPUs, but partition "debug" offers at most 2 GPUs, \\d+ cpus and \\d+ MB per node; ` +
          `lower resources\\.gpus of pattern "${a.req.job.pattern}" to at most 2, or choose a partition with more \\(backends\\.cluster\\.partition in meow\\.yaml\\) \\(Slurm said: .+\\)$`,
      ),
    );
  });

  it('reports a failure with its exit code', async () => {
    const ws = await workspace();
    const o = await backend(ws).run((await processRequest(ws.root, ['bash', '-c', 'echo bad >&2; exit 3'])).req);
    expect(brief(o)).toEqual({ exitCode: 3, cancelled: false, timedOut: false, error: null });
  });

  it('says clearly when the program cannot be started', async () => {
    const ws = await workspace();
    const o = await backend(ws).run((await processRequest(ws.root, ['no-such-program-meow', 'x'])).req);
    expect(o.error).toMatch(/cannot start no-such-program-meow: not found/);
  });

  it('times out a running job (scancel) and records it as timed out', async () => {
    const ws = await workspace();
    // `sleep 600` outlives the test: only the timeout's scancel can end the run.
    const o = await backend(ws).run((await processRequest(ws.root, ['sleep', '600'], { timeoutMs: 1500 })).req);
    expect(brief(o)).toMatchObject({ timedOut: true, cancelled: false });
  });

  it('cancels a running job with scancel', async () => {
    const ws = await workspace();
    const b = backend(ws);
    const a = await processRequest(ws.root, ['bash', '-c', 'echo started; sleep 120 && echo finished']);
    const run = b.run(a.req);
    const id = slurmId(await a.started);
    await waitFor(() => squeueState(id) === 'RUNNING', 'the job to run', 30_000, 100);
    await waitFor(async () => (await readFile(join(a.req.jobDir, 'stdout.log'), 'utf8')).includes('started'), 'the job to start', 30_000, 100);
    a.controller.abort();
    const o = await run;
    expect(o.cancelled).toBe(true);
    expect(squeueState(id)).toMatch(/^(CANCELLED|)$/);
    expect(await readFile(join(a.req.jobDir, 'stdout.log'), 'utf8')).not.toContain('finished');
  });

  it('cancels a job still waiting in the queue', async () => {
    const ws = await workspace();
    const b = backend(ws);
    // The node has 8 CPUs: the first job takes them all, so the second waits.
    const blocker = await processRequest(ws.root, ['sleep', '120'], { resources: { cpus: 8 } });
    const blocked = b.run(blocker.req);
    const blockerId = slurmId(await blocker.started);
    await waitFor(() => squeueState(blockerId) === 'RUNNING', 'the blocker to run', 30_000, 100);
    const a = await processRequest(ws.root, ['bash', '-c', 'echo ran > ran.txt'], { cwd: ws.root });
    const run = b.run(a.req);
    const id = slurmId(await a.started);
    await waitFor(() => squeueState(id) === 'PENDING', 'the second job to wait', 30_000, 100);
    a.controller.abort();
    const o = await run;
    expect(o.cancelled).toBe(true);
    expect(squeueState(id)).toMatch(/^(CANCELLED|)$/);
    blocker.controller.abort();
    expect((await blocked).cancelled).toBe(true);
    await expect(readFile(ws.path('ran.txt'), 'utf8')).rejects.toThrow();
  });

  it.each([
    ['quotes, $(…), backticks and %-patterns', `meow slurm 'q' "d" $(touch pwned) \`x\` %j %u ; & `],
    ['a backslash', `meow slurm back\\slash %j `],
  ])('passes hostile file names through untouched, in a workspace whose path holds %s', async (_what, prefix) => {
    const ws = await workspace(prefix);
    const b = backend(ws);
    const name = `it's a "file" $(touch pwned2) \`id\` %j;&|<>*?[x]\n\ttab ünï.txt`;
    await ws.write('data/x', 'x');
    const a = await processRequest(ws.root, ['bash', '-c', 'printf "%s" "$1" > "$2"; printf "%s" "$HOSTILE" > env.txt', 'argv0', name, join(ws.root, 'data', 'name.txt')], {
      env: { HOSTILE: name },
    });
    const o = await b.run(a.req);
    expect(brief(o)).toEqual({ exitCode: 0, cancelled: false, timedOut: false, error: null });
    expect(await readFile(ws.path('data/name.txt'), 'utf8')).toBe(name);
    expect(await readFile(ws.path('env.txt'), 'utf8')).toBe(name);
    for (const dir of [ws.root, a.req.jobDir]) for (const p of ['pwned', 'pwned2']) await expect(readFile(join(dir, p))).rejects.toThrow();
  });

  it('asks Slurm for a GPU, and the job sees the devices Slurm gave it', async () => {
    const ws = await workspace();
    const b = backend(ws);
    const a = await processRequest(ws.root, ['bash', '-c', 'echo "cuda=$CUDA_VISIBLE_DEVICES gpus=${SLURM_JOB_GPUS:-}"'], { resources: { gpus: 1 } });
    const o = await b.run(a.req);
    expect(brief(o)).toMatchObject({ exitCode: 0, error: null });
    expect(await readFile(join(a.req.jobDir, 'job.sbatch'), 'utf8')).toContain('--gres=gpu:1');
    expect(scontrolJob(slurmId(a.handle()))).toMatch(/gres[:/]gpu[:=]1/);
    expect(await readFile(join(a.req.jobDir, 'stdout.log'), 'utf8')).toMatch(/cuda=[01] gpus=[01]/);
  });

  it('runs JavaScript recipes with node on the compute node and returns their result', async () => {
    const ws = await workspace();
    const mod = await ws.write('recipes/add.mjs', 'export default async (vars, ctx) => { ctx.log.info("adding", vars.a, vars.b); return { sum: vars.a + vars.b, job: ctx.jobId }; };\n');
    const a = await functionRequest(ws.root, mod, { a: 2, b: 3 });
    const o = await backend(ws).run(a.req);
    expect(brief(o)).toEqual({ exitCode: 0, cancelled: false, timedOut: false, error: null });
    expect(o.result).toEqual({ sum: 5, job: a.req.job.id });
    expect(await readFile(join(a.req.jobDir, 'stdout.log'), 'utf8')).toContain('adding 2 3');
    const bad = await ws.write('recipes/bad.mjs', 'export default async () => { throw new Error("no way"); };\n');
    const f = await backend(ws).run((await functionRequest(ws.root, bad, {})).req);
    expect(f.error).toMatch(/no way/);
  });

  it('re-attaches to a running job from a new backend instance by its handle, without resubmitting', async () => {
    const ws = await workspace();
    const first = backend(ws);
    const marker = ws.path('runs.txt');
    const a = await processRequest(ws.root, ['bash', '-c', 'echo run >> "$1"; sleep 3; exit 7', 'x', marker]);
    const run = first.run(a.req);
    const handle = await a.started;
    await first.close(); // the engine went away; the job keeps running on the cluster
    expect((await run).error).toMatch(/closed/);
    const second = backend(ws);
    const o = await second.reattach(a.req, handle ?? '');
    expect(o && brief(o)).toEqual({ exitCode: 7, cancelled: false, timedOut: false, error: null });
    expect(await readFile(marker, 'utf8')).toBe('run\n');
    // A handle Slurm never heard of: gone without a known outcome.
    expect(await second.reattach(a.req, 'slurm:99999999')).toBeNull();
  });

  it('packs a burst into one job array: each job keeps its own task handle, exit status and logs, and cancelling one task stops only it', async () => {
    // A hostile workspace name: the array script names every job dir, quoted, never parsed by a shell.
    const ws = await workspace("meow slurm 'q' $(x) `y` ");
    const b = backend(ws, ', array_window: 30s, array_size: 4');
    const marker = ws.path('cancelled-ran-on.txt');
    const attempts = await Promise.all([
      processRequest(ws.root, ['bash', '-c', 'echo "out $MEOW_JOB_ID"; echo err >&2']),
      processRequest(ws.root, ['bash', '-c', 'exit 3']),
      processRequest(ws.root, ['bash', '-c', 'echo started; sleep 120; echo on >> "$1"', 'x', marker]),
      processRequest(ws.root, ['no-such-program-meow']),
    ]);
    const runs = attempts.map((a) => b.run(a.req));
    const handles = await Promise.all(attempts.map((a) => a.started));
    const ids = handles.map((h) => /^slurm:(\d+)_(\d+)$/.exec(h ?? ''));
    expect(ids.every((m) => m !== null), `handles: ${handles.join(', ')}`).toBe(true);
    expect(new Set(ids.map((m) => m?.[1])).size).toBe(1);
    expect(ids.map((m) => m?.[2]).sort()).toEqual(['0', '1', '2', '3']);
    const sleeper = attempts[2];
    await waitFor(async () => (await readFile(join(sleeper.req.jobDir, 'stdout.log'), 'utf8').catch(() => '')).includes('started'), 'the third task to start', 60_000, 100);
    sleeper.controller.abort();
    const outcomes = await Promise.all(runs);
    expect(outcomes.map(brief)).toEqual([
      { exitCode: 0, cancelled: false, timedOut: false, error: null },
      { exitCode: 3, cancelled: false, timedOut: false, error: null },
      expect.objectContaining({ cancelled: true }),
      expect.objectContaining({ error: expect.stringMatching(/cannot start no-such-program-meow: not found/) }),
    ]);
    expect(await readFile(join(attempts[0].req.jobDir, 'stdout.log'), 'utf8')).toContain(`out ${attempts[0].req.job.id}`);
    expect(await readFile(join(attempts[0].req.jobDir, 'stderr.log'), 'utf8')).toContain('err');
    expect(squeueState(`${ids[2]?.[1]}_${ids[2]?.[2]}`)).toMatch(/^(CANCELLED|)$/);
    expect(await readFile(marker, 'utf8').catch(() => 'never')).toBe('never');
  });

  it('re-attaches to a task of a job array by its handle from a new backend instance', async () => {
    const ws = await workspace();
    const first = backend(ws, ', array_window: 30s, array_size: 2');
    const marker = ws.path('runs.txt');
    const attempts = await Promise.all([0, 1].map((i) => processRequest(ws.root, ['bash', '-c', `echo run${i} >> "$1"; sleep 2; exit ${5 + i}`, 'x', marker])));
    const runs = attempts.map((a) => first.run(a.req));
    const handles = await Promise.all(attempts.map((a) => a.started));
    // The two jobs reach the packer in either order; both are tasks of one array.
    expect(handles.map((h) => /^slurm:\d+_(\d+)$/.exec(h ?? '')?.[1]).sort()).toEqual(['0', '1']);
    expect(new Set(handles.map((h) => h?.replace(/_\d+$/, ''))).size).toBe(1);
    await first.close();
    for (const r of runs) expect((await r).error).toMatch(/closed/);
    const second = backend(ws);
    const outcomes = await Promise.all(attempts.map((a, i) => second.reattach(a.req, handles[i] ?? '')));
    expect(outcomes.map((o) => o && brief(o))).toEqual([5, 6].map((exitCode) => ({ exitCode, cancelled: false, timedOut: false, error: null })));
    expect((await readFile(marker, 'utf8')).trim().split('\n').sort()).toEqual(['run0', 'run1']);
  });

  it('tracks many jobs with one squeue call per poll', async () => {
    const ws = await workspace();
    const b = backend(ws);
    const attempts = await Promise.all(Array.from({ length: 6 }, (_, i) => processRequest(ws.root, ['bash', '-c', `sleep 1; exit ${i}`])));
    const outcomes = await Promise.all(attempts.map((a) => b.run(a.req)));
    expect(outcomes.map((o) => o.exitCode)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('reports bad options for every job instead of stopping', async () => {
    const ws = await workspace();
    const b = backend(ws, ', poll_intervall: 1s');
    const o = await b.run((await processRequest(ws.root, ['true'])).req);
    expect(o.error).toMatch(/meow\.yaml: backends\.cluster\.poll_intervall: unknown key .*did you mean "poll_interval"/);
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

slurm.describe('Slurm backend through the engine', () => {
  const CLUSTER = 'backends:\n  cluster: {type: slurm, poll_interval: 200ms}\n';

  it('a pattern with backend: cluster and resources: {gpus: 1} gets a GPU from Slurm, and its declared outputs cascade', async () => {
    const ws = await workspace();
    await ws.write('meow.yaml', CLUSTER);
    await ws.write('patterns/gpu.yaml', 'recipe: gpu\ntrigger:\n  paths: "data/*.txt"\nbackend: cluster\nresources: {gpus: 1}\noutputs: ["out/{stem}.gpu"]\n');
    await ws.write('recipes/gpu.sh', 'mkdir -p out\necho "cuda=$CUDA_VISIBLE_DEVICES" > "out/$(basename "$input_file" .txt).gpu"\n');
    await ws.write('patterns/next.yaml', 'recipe: next\ntrigger:\n  paths: "out/*.gpu"\n');
    await ws.write('recipes/next.sh', 'cat "$input_file" >> "$MEOW_WORKSPACE/seen.txt"\n');
    await ws.write('data/a.txt', 'a');
    const run = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(run.code, run.stderr).toBe(0);
    const jobs = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(jobs.map((j) => [j.pattern, j.status])).toEqual([
      ['gpu', 'succeeded'],
      ['next', 'succeeded'],
    ]);
    expect(await readFile(ws.path(join(jobs[0].job_dir, 'job.sbatch')), 'utf8')).toContain('--gres=gpu:1');
    expect(await readFile(ws.path('seen.txt'), 'utf8')).toMatch(/^cuda=[01]\n$/);
  });

  it('killing the engine while 5 jobs run on Slurm, then restarting it, re-attaches to them and records their real outcome without resubmitting', async () => {
    const ws = await workspace();
    await ws.write('meow.yaml', CLUSTER);
    await ws.write('patterns/work.yaml', 'recipe: work\ntrigger:\n  paths: "data/*.txt"\nbackend: cluster\n');
    // Each run leaves a line in the ledger; it exits with the code its input holds.
    await ws.write('recipes/work.sh', 'echo "$MEOW_JOB_ID" >> "$MEOW_WORKSPACE/ledger.txt"\nsleep 4\nexit "$(cat "$input_file")"\n');
    for (let i = 0; i < 5; i++) await ws.write(`data/f${i}.txt`, i === 4 ? '3' : '0');
    const engine = await startEngineProcess(ws.root);
    await waitFor(async () => (await readFile(ws.path('ledger.txt'), 'utf8').catch(() => '')).trim().split('\n').length === 5, 'five jobs running on Slurm', 60_000, 100);
    await waitFor(() => recordedHandles(ws.root).size === 5, 'the engine to record their Slurm job ids', 30_000, 100);
    await engine.stop('SIGKILL');
    const before = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(before.map((j) => j.status)).toEqual(Array(5).fill('running'));
    const run = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(run.stderr).toMatch(/5 re-attached/);
    const after = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(after.map((j) => j.status).sort()).toEqual(['failed', 'succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(after.find((j) => j.status === 'failed')?.exit_code).toBe(3);
    expect(run.code).toBe(1); // a job failed
    // Ran once each: nothing was submitted again.
    const ledger = (await readFile(ws.path('ledger.txt'), 'utf8')).trim().split('\n');
    expect(ledger.sort()).toEqual(after.map((j) => j.id).sort());
  });
});

// The pure parts: no cluster needed.
describe('Slurm job script and state parsing', () => {
  it('turns resources, timeout and options into sbatch arguments, escaping %-patterns in log paths', async () => {
    const ws = await workspace('meow ws 100%j ');
    const a = await processRequest(ws.root, ['true'], { timeoutMs: 61_000, resources: { cpus: 4, gpus: 2, memory: 1.5 * 1024 ** 3 } });
    const options = { partition: 'gpu', account: 'lab', sbatchArgs: ['--qos=high'], timeMs: null, pollIntervalMs: 1000, node: 'node', arrayWindowMs: 500, arraySize: 1000 };
    const args = sbatchArgs(a.req, options, '/x/job.sbatch');
    const escaped = `${ws.root.replaceAll('%', '%%')}/${a.req.job.jobDir}`;
    expect(args).toEqual(
      expect.arrayContaining(['--parsable', '--cpus-per-task=4', '--mem=1536M', '--gres=gpu:2', '--time=2', '--partition=gpu', '--account=lab', `--output=${escaped}/stdout.log`, `--error=${escaped}/stderr.log`]),
    );
    expect(args.slice(-2)).toEqual(['--qos=high', '/x/job.sbatch']);
    // A backslash turns Slurm's patterns off in a way that also changes the path: the script redirects instead.
    const ws2 = await workspace('meow back\\slash ');
    const b = await processRequest(ws2.root, ['true']);
    expect(sbatchArgs(b.req, options, '/x/job.sbatch')).toContain('--output=/dev/null');
    expect(slurmScript(b.req, 'cluster', [])).toContain('exec >> stdout.log 2>> stderr.log');
  });

  it('reads squeue run times', () => {
    expect(parseElapsed('0:05')).toBe(5000);
    expect(parseElapsed('1:02:03')).toBe(3_723_000);
    expect(parseElapsed('2-01:00:00')).toBe(2 * 86_400_000 + 3_600_000);
    expect(parseElapsed('INVALID')).toBeNull();
  });
});
