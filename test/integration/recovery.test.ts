/*
 * Crash recovery and resource faults (issue 5, items 1 and 4): the engine
 * killed with SIGKILL at random points, attempts whose processes vanished,
 * orphaned processes, half-written job dirs, logs past max_log_size, recipes
 * that fork and leave, and recipes that ignore SIGTERM.
 */
import Database from 'better-sqlite3';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { alive, type LiveEngine } from '../helpers/engine.js';
import type { JobRecord } from '../../src/core/types.js';
import { meow, meowJson, waitFor, writeWhole, type EngineProcess, type TempWorkspace, readLines } from '../helpers/workspace.js';
import { jobProcesses } from '../../src/runner/process-tree.js';
import { parentOf, supervisorOf } from '../helpers/processes.js';
import { useLiveWorkspace } from '../helpers/live-workspace.js';
import { scaled } from '../helpers/pace.js';
import { seededRandom } from '../../bench/lib/random.js';

interface JobJson {
  id: string;
  status: string;
  input: string;
  attempt: number;
  exit_code: number | null;
  error: string | null;
  result: unknown;
  job_dir: string;
}

const random = seededRandom;

const lines = readLines;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The parent pid of a process, or null when it is gone. */
describe('crash recovery', () => {
  let ws: TempWorkspace;
  let engine: EngineProcess | null = null;
  const fx = useLiveWorkspace();

  /** A workspace whose jobs append their input's name to ledger.txt (no retries, 2 slots), and an engine process on it. */
  async function ledgerEngine(): Promise<EngineProcess> {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'cpus: 2\n');
    await ws.write('recipes/ledger.sh', 'echo "$(basename "$input_file")" >> "$MEOW_WORKSPACE/ledger.txt"\n');
    await ws.write('patterns/ledger.yaml', 'recipe: ledger\ntrigger: {paths: "data/*"}\nretries: 0\n');
    return fx.process(ws.root);
  }

  async function killEngine(): Promise<void> {
    engine?.child.kill('SIGKILL');
    await engine?.stop();
    engine = null;
  }

  it('survives three SIGKILLs of the engine at random points: every file succeeds exactly once', async () => {
    const seed = Number(process.env.MEOW_FAULT_SEED ?? Date.now() % 1_000_000);
    const rand = random(seed);
    const between = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo));
    ws = await fx.workspace('meow-fault-');
    await ws.write('meow.yaml', 'cpus: 2\nkill_grace: 300ms\n');
    await ws.write('recipes/ledger.sh', 'printf "%s\\n" "$(basename "$input_file")" >> "$MEOW_WORKSPACE/ledger.txt"\n');
    // Attempts a crash interrupts before they could be re-attached are queued again: three crashes, three more attempts.
    await ws.write('patterns/ledger.yaml', 'recipe: ledger\ntrigger: {paths: "data/*"}\nretries: 3\n');
    const N = 2000;
    const name = (i: number) => `f${String(i).padStart(4, '0')}`;
    // Each file appears whole: the test is about kills, not about files caught empty under load (see writeWhole).
    const writeRange = async (from: number, to: number) => {
      for (let i = from; i < to; i++) await writeWhole(ws.path(`data/${name(i)}`), String(i));
    };
    await ws.write('data/.keep', '');
    await writeRange(0, 1000);
    const ledger = ws.path('ledger.txt');
    const kills: string[] = [];

    // 1: during start-up catch-up (1,000 existing files).
    engine = await fx.process(ws.root);
    await sleep(between(0, 800));
    kills.push(`1 after ${(await lines(ledger)).length} ledger lines`);
    await killEngine();
    // Files created while the engine is down are caught up at the next start.
    await writeRange(1000, 1500);
    // 2: while live, after some hundreds more jobs.
    engine = await fx.process(ws.root);
    await writeRange(1500, 2000);
    const target = (await lines(ledger)).length + between(50, 600);
    await waitFor(async () => (await lines(ledger)).length >= target, `${target} ledger lines`, 120_000, 5);
    kills.push(`2 after ${(await lines(ledger)).length} ledger lines`);
    await killEngine();
    // 3: a few jobs after a restart.
    engine = await fx.process(ws.root);
    const third = (await lines(ledger)).length + between(1, 300);
    await waitFor(async () => (await lines(ledger)).length >= third, `${third} ledger lines`, 120_000, 5);
    kills.push(`3 after ${(await lines(ledger)).length} ledger lines`);
    await killEngine();

    engine = await fx.process(ws.root);
    const last = engine;
    await waitFor(async () => {
      const s = await meowJson<{ jobs: Record<string, number> }>(['status', '-w', ws.root]);
      return s.jobs.succeeded + s.jobs.failed + s.jobs.cancelled === N && s.jobs.queued === 0 && s.jobs.running === 0;
    }, 'every job to end', 240_000, 200).catch(async (err: unknown) => {
      // A failure explains itself: the counts, the jobs not ended with their transitions, the engine's last words.
      const status = await meow(['status', '--json', '-w', ws.root]).then((r) => r.stdout, (e: unknown) => String(e));
      const db = new Database(ws.path('.meow/state.db'), { readonly: true });
      const open = db.prepare("SELECT j.id, j.input, j.status, j.attempt, j.pid, j.handle, (SELECT group_concat(t.from_status || '>' || t.to_status || ' ' || IFNULL(t.note, ''), ' | ') FROM transitions t WHERE t.job_id = j.id) AS history FROM jobs j WHERE j.status IN ('queued', 'running') LIMIT 10").all();
      const twice = db.prepare('SELECT input, event, input_version, status, created_at FROM jobs WHERE input IN (SELECT input FROM jobs GROUP BY input HAVING COUNT(*) > 1) ORDER BY input, seq LIMIT 20').all();
      db.close();
      throw new Error(`${(err as Error).message}\nseed ${seed}; kills ${kills.join('; ')}\nstatus: ${status}\njobs not ended (first 10): ${JSON.stringify(open, null, 1)}\ninputs with more than one job: ${JSON.stringify(twice, null, 1)}\nengine alive: ${last.child.exitCode === null}\nengine output (end):\n${last.output().slice(-4000)}`, { cause: err });
    });
    expect(await engine.stop()).toBe(0);
    engine = null;

    const jobs = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    const succeeded = new Map<string, number>();
    for (const j of jobs) if (j.status === 'succeeded') succeeded.set(j.input, (succeeded.get(j.input) ?? 0) + 1);
    expect(jobs.filter((j) => j.status !== 'succeeded')).toEqual([]);
    expect(succeeded.size).toBe(N);
    expect([...succeeded.values()].every((n) => n === 1)).toBe(true);

    const seen = new Map<string, number>();
    for (const l of await lines(ledger)) seen.set(l, (seen.get(l) ?? 0) + 1);
    expect(seen.size).toBe(N);
    const twice = [...seen].filter(([, n]) => n > 1).map(([n]) => n);
    // A name may appear twice only for an attempt that was running at a crash and could not be re-attached.
    const db = new Database(ws.path('.meow/state.db'), { readonly: true });
    try {
      const interrupted = new Set(
        (db.prepare("SELECT j.input FROM transitions t JOIN jobs j ON j.id = t.job_id WHERE t.note LIKE 'the engine stopped while attempt%'").all() as { input: string }[]).map((r) => r.input.slice('data/'.length)),
      );
      for (const n of twice) expect(interrupted.has(n), `${n} ran twice without an interrupted attempt`).toBe(true);
      const byAttempt = new Map<number, number>();
      for (const j of jobs) byAttempt.set(j.attempt, (byAttempt.get(j.attempt) ?? 0) + 1);
      console.log(
        `fault injection (MEOW_FAULT_SEED=${seed}): kills ${kills.join('; ')}; ${interrupted.size} attempt(s) interrupted and queued again, ` +
          `${twice.length} name(s) in the ledger twice (${twice.join(', ') || 'none'}); jobs by attempt: ${JSON.stringify(Object.fromEntries(byAttempt))}`,
      );
    } finally {
      db.close();
    }
    expect(jobProcesses(ws.root).size).toBe(0);
  }, scaled(300_000));

  it('runs an attempt whose process vanished without an exit status again, from a clean job dir, without counting it against retries', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'cpus: 2\nkill_grace: 300ms\n');
    const recipe = [
      'name=$(basename "$input_file")',
      'echo "run $name" >> "$MEOW_WORKSPACE/ledger.txt"',
      'if [ ! -e "$MEOW_WORKSPACE/marks/$name" ]; then',
      '  touch "$MEOW_WORKSPACE/marks/$name"',
      `  echo '{"stale": true}' > "$MEOW_JOB_DIR/meow_result.json"`,
      '  echo "$PPID" > "$MEOW_WORKSPACE/wrappers/$name"',
      '  sleep 300',
      'fi',
      '',
    ].join('\n');
    await ws.write('recipes/once.sh', recipe);
    await ws.write('patterns/again.yaml', 'recipe: once\ntrigger: {paths: "data/again"}\nretries: 1\n');
    await ws.write('patterns/never.yaml', 'recipe: once\ntrigger: {paths: "data/never"}\n');
    await ws.write('marks/.keep', '');
    await ws.write('wrappers/.keep', '');
    await ws.write('data/again', '1');
    await ws.write('data/never', '2');
    engine = await fx.process(ws.root);
    await waitFor(async () => (await readdir(ws.path('wrappers'))).length === 3, 'both jobs running');
    await killEngine();
    // The machine "rebooted": the recipes are gone too, and no exit status was written.
    for (const n of ['again', 'never']) process.kill(-Number(readFileSync(ws.path(`wrappers/${n}`), 'utf8')), 'SIGKILL');
    engine = await fx.process(ws.root);
    const jobs = await waitFor(async () => {
      const js = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
      return js.every((j) => j.status === 'succeeded' || j.status === 'failed') ? js : null;
    }, 'both jobs to end');
    const again = jobs.find((j) => j.input === 'data/again');
    const never = jobs.find((j) => j.input === 'data/never');
    // The lost attempt was the engine's failure: it does not count, with retries: 1 or retries: 0.
    expect(again).toMatchObject({ status: 'succeeded', attempt: 1, result: null });
    // The new attempt did not read what the lost one left behind.
    expect(existsSync(ws.path(join(again?.job_dir ?? '', 'meow_result.json')))).toBe(false);
    expect(never).toMatchObject({ status: 'succeeded', attempt: 1, result: null, error: null });
    expect(existsSync(ws.path(join(never?.job_dir ?? '', 'meow_result.json')))).toBe(false);
    expect((await lines(ws.path('ledger.txt'))).sort()).toEqual(['run again', 'run again', 'run never', 'run never']);
  });

  it('queues again, without counting, attempts lost while a JavaScript function ran inside the engine or before a process existed (retries: 0)', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'cpus: 2\nkill_grace: 300ms\n');
    await ws.write(
      'recipes/hold.mjs',
      [
        "import { appendFileSync, existsSync, writeFileSync } from 'node:fs';",
        'export default async (vars, ctx) => {',
        "  appendFileSync(ctx.workspace + '/ledger.txt', 'run js\\n');",
        "  writeFileSync(ctx.workspace + '/js-started', '');",
        "  while (!existsSync(ctx.workspace + '/go')) await new Promise((r) => setTimeout(r, 50));",
        '  return 7;',
        '};',
        '',
      ].join('\n'),
    );
    await ws.write('recipes/wait.sh', 'echo "run sh" >> "$MEOW_WORKSPACE/ledger.txt"\necho "$PPID" > "$MEOW_WORKSPACE/wrapper"\nwhile [ ! -e "$MEOW_WORKSPACE/go" ]; do sleep 0.05; done\n');
    await ws.write('patterns/js.yaml', 'recipe: hold\ntrigger: {paths: "data/j"}\n');
    await ws.write('patterns/sh.yaml', 'recipe: wait\ntrigger: {paths: "data/s"}\n');
    await ws.write('data/j', '1');
    await ws.write('data/s', '2');
    engine = await fx.process(ws.root);
    await waitFor(() => existsSync(ws.path('js-started')) && existsSync(ws.path('wrapper')), 'both attempts running');
    await killEngine(); // the function dies with the engine
    // The shell attempt is put back to where the engine would be had it died before the fork: no process, no handle, no attempt record.
    process.kill(-Number(readFileSync(ws.path('wrapper'), 'utf8')), 'SIGKILL');
    const sh = (await meowJson<JobJson[]>(['jobs', '-w', ws.root])).find((j) => j.input === 'data/s');
    await rm(ws.path(join(sh?.job_dir ?? 'none', 'attempt.json')), { force: true });
    const db = new Database(ws.path('.meow/state.db'));
    try {
      expect(db.prepare("UPDATE jobs SET handle = NULL, pid = NULL WHERE status = 'running'").run().changes).toBe(2);
    } finally {
      db.close();
    }
    await writeFile(ws.path('go'), '');
    engine = await fx.process(ws.root);
    const jobs = await waitFor(async () => {
      const js = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
      return js.every((j) => j.status === 'succeeded' || j.status === 'failed') ? js : null;
    }, 'both jobs to end');
    expect(jobs.map((j) => [j.input, j.status, j.attempt])).toEqual([
      ['data/j', 'succeeded', 1],
      ['data/s', 'succeeded', 1],
    ]);
    expect(jobs.find((j) => j.input === 'data/j')?.result).toBe(7);
    expect((await lines(ws.path('ledger.txt'))).sort()).toEqual(['run js', 'run js', 'run sh', 'run sh']);
    expect(engine?.output()).toMatch(/2 queued again as a new attempt, 0 failed/);
  });

  it('adopts an attempt whose handle never reached the database (the engine died right after the fork)', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'cpus: 2\nkill_grace: 300ms\n');
    await ws.write('recipes/hold.sh', 'echo "run $(basename "$input_file")" >> "$MEOW_WORKSPACE/ledger.txt"\nwhile [ ! -e "$MEOW_WORKSPACE/go" ]; do sleep 0.05; done\nexit 0\n');
    await ws.write('patterns/hold.yaml', 'recipe: hold\ntrigger: {paths: "data/*"}\nretries: 2\n');
    await ws.write('data/a', 'a');
    engine = await fx.process(ws.root);
    await waitFor(async () => (await lines(ws.path('ledger.txt'))).length === 1, 'the job to run');
    await killEngine();
    const db = new Database(ws.path('.meow/state.db'));
    try {
      expect(db.prepare("UPDATE jobs SET handle = NULL, pid = NULL WHERE status = 'running'").run().changes).toBe(1);
    } finally {
      db.close();
    }
    engine = await fx.process(ws.root);
    await writeFile(ws.path('go'), '');
    const [job] = await waitFor(async () => {
      const js = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
      return js[0]?.status === 'succeeded' || js[0]?.status === 'failed' ? js : null;
    }, 'the adopted attempt to end');
    // Its real outcome, from the same process: not a second run.
    expect(job).toMatchObject({ status: 'succeeded', attempt: 1, exit_code: 0 });
    expect(await lines(ws.path('ledger.txt'))).toEqual(['run a']);
  });

  it.each(['python', 'node'])('the spawn supervisor (%s) exits with an engine killed by SIGKILL, the job it started runs on and is adopted; one killed under a live engine is replaced', async (kind) => {
    // The engine processes of this test inherit the choice of supervisor.
    const before = process.env.MEOW_SPAWN_SUPERVISOR;
    process.env.MEOW_SPAWN_SUPERVISOR = kind;
    onTestFinished(() => {
      if (before === undefined) delete process.env.MEOW_SPAWN_SUPERVISOR;
      else process.env.MEOW_SPAWN_SUPERVISOR = before;
    });
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'cpus: 2\nkill_grace: 300ms\n');
    await ws.write('recipes/hold.sh', 'echo "run $(basename "$input_file")" >> "$MEOW_WORKSPACE/ledger.txt"\nwhile [ ! -e "$MEOW_WORKSPACE/go-$(basename "$input_file")" ]; do sleep 0.05; done\nexit 3\n');
    await ws.write('patterns/hold.yaml', 'recipe: hold\ntrigger: {paths: "data/*"}\n');
    await ws.write('data/a', 'a');
    engine = await fx.process(ws.root);
    await waitFor(async () => (await lines(ws.path('ledger.txt'))).length === 1, 'the job to run');
    const enginePid = engine.child.pid ?? 0;
    const supervisor = supervisorOf(enginePid);
    expect(supervisor, 'a spawn supervisor, child of the engine').not.toBeNull();
    expect(readFileSync(`/proc/${supervisor}/cmdline`, 'utf8')).toContain(kind === 'python' ? 'spawn_supervisor.py' : 'spawn-supervisor.js');
    const [wrapper] = jobProcesses(ws.root).get((await meowJson<JobJson[]>(['jobs', '-w', ws.root]))[0].id) ?? [];
    expect(parentOf(wrapper)).toBe(supervisor);
    await killEngine();
    await waitFor(() => !alive(supervisor ?? 0), 'the supervisor to exit with the engine', 10_000, 20);
    expect(alive(wrapper), 'the job, running on without the engine').toBe(true);

    engine = await fx.process(ws.root);
    await writeFile(ws.path('go-a'), '');
    await waitFor(async () => (await meowJson<JobJson[]>(['jobs', '-w', ws.root]))[0]?.status === 'failed', 'the adopted job to end');
    expect((await meowJson<JobJson[]>(['jobs', '-w', ws.root]))[0]).toMatchObject({ attempt: 1, exit_code: 3 });

    // Killed under a live engine: the job it started is followed to its real end, and the next job gets a new supervisor.
    await ws.write('data/b', 'b');
    await waitFor(async () => (await lines(ws.path('ledger.txt'))).length === 2, 'the second job to run');
    const second = supervisorOf(engine.child.pid ?? 0);
    expect(second).not.toBeNull();
    process.kill(second ?? 0, 'SIGKILL');
    await waitFor(() => !alive(second ?? 0), 'the supervisor to die');
    await writeFile(ws.path('go-b'), '');
    const ended = async (input: string) => (await meowJson<JobJson[]>(['jobs', '-w', ws.root])).find((j) => j.input === input && j.status !== 'running' && j.status !== 'queued');
    expect(await waitFor(() => ended('data/b'), 'data/b to end')).toMatchObject({ status: 'failed', attempt: 1, exit_code: 3 });
    await writeFile(ws.path('go-c'), '');
    await ws.write('data/c', 'c');
    expect(await waitFor(() => ended('data/c'), 'data/c to end')).toMatchObject({ status: 'failed', exit_code: 3 });
    const third = supervisorOf(engine.child.pid ?? 0);
    expect(third).not.toBeNull();
    expect(third).not.toBe(second);

    // A Ctrl-C goes to the whole terminal group: the supervisor ignores it and goes with the engine.
    process.kill(third ?? 0, 'SIGINT');
    await writeFile(ws.path('go-d'), '');
    await ws.write('data/d', 'd');
    expect(await waitFor(() => ended('data/d'), 'data/d to end')).toMatchObject({ status: 'failed', exit_code: 3 });
    expect(supervisorOf(engine.child.pid ?? 0)).toBe(third);
    expect(await engine.stop()).toBe(0);
    engine = null;
    await waitFor(() => !alive(third ?? 0), 'the supervisor to exit with the engine', 10_000, 20);
  });

  it('a spawn supervisor killed again and again under a burst: every file runs exactly once, no job fails for it', async () => {
    engine = await ledgerEngine();
    const enginePid = engine.child.pid ?? 0;
    const n = 150;
    await Promise.all(Array.from({ length: n }, (_, i) => ws.write(`data/f${i}`, String(i))));
    let kills = 0;
    await waitFor(
      async () => {
        const sup = supervisorOf(enginePid);
        if (sup !== null) {
          process.kill(sup, 'SIGKILL');
          kills++;
        }
        const jobs = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
        return jobs.length === n && jobs.every((j) => j.status !== 'queued' && j.status !== 'running');
      },
      'every job to end while its supervisors are killed',
      60_000,
      30,
    );
    const jobs = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(jobs.filter((j) => j.status !== 'succeeded').map((j) => `${j.input}: ${j.status} ${j.error ?? ''}`)).toEqual([]);
    const ledger = await lines(ws.path('ledger.txt'));
    expect(ledger.length, `${kills} supervisor kills`).toBe(n);
    expect(new Set(ledger).size).toBe(n);
    expect(kills).toBeGreaterThan(0);
  });

  it('a job cancelled while a stopped spawn supervisor holds its start never runs its recipe, even when the supervisor goes on', async () => {
    engine = await ledgerEngine();
    const jobs = () => meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    const of = async (name: string) => (await jobs()).find((j) => j.input === `data/${name}`);
    await ws.write('data/first', '1');
    await waitFor(async () => (await of('first'))?.status === 'succeeded', 'the first job');
    const supervisor = supervisorOf(engine.child.pid ?? 0);
    expect(supervisor).not.toBeNull();
    process.kill(supervisor ?? 0, 'SIGSTOP');
    try {
      await ws.write('data/held-a', 'a');
      await ws.write('data/held-b', 'b');
      const held = await waitFor(async () => {
        const js = (await jobs()).filter((j) => j.input.startsWith('data/held-'));
        return js.length === 2 && js.every((j) => j.status === 'running') ? js : null;
      }, 'both jobs handed to the stopped supervisor');
      for (const j of held) expect((await meow(['job', 'cancel', j.id, '-w', ws.root])).code).toBe(0);
      await waitFor(async () => (await jobs()).filter((j) => j.status === 'cancelled').length === 2, 'both cancels');
      for (const j of held) expect(existsSync(join(ws.root, j.job_dir, 'cancelled-before-start')), j.id).toBe(true);
    } finally {
      process.kill(supervisor ?? 0, 'SIGCONT');
    }
    // The supervisor goes on with what it was handed, then with the next job.
    await ws.write('data/last', 'z');
    await waitFor(async () => (await of('last'))?.status === 'succeeded', 'the last job');
    expect(await lines(ws.path('ledger.txt'))).toEqual(['first', 'last']);
    expect((await jobs()).filter((j) => j.input.startsWith('data/held-')).map((j) => j.status)).toEqual(['cancelled', 'cancelled']);
  });

  it('kills at restart the processes a crash orphaned: leftovers of re-queued attempts and of jobs cancelled meanwhile; an offline cancel stops its job\'s processes at once', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'cpus: 3\nkill_grace: 300ms\n');
    // A child that left the job's session, then the recipe waits.
    await ws.write('recipes/fork.sh', 'setsid sleep 300 &\necho "$! $$ $PPID" > "$MEOW_WORKSPACE/pids/$(basename "$input_file")"\nsleep 300\n');
    await ws.write('patterns/fork.yaml', 'recipe: fork\ntrigger: {paths: "data/*"}\nretries: 1\ntimeout: 5m\n');
    await ws.write('pids/.keep', '');
    await ws.write('data/requeued', '1');
    await ws.write('data/cancelled', '2');
    await ws.write('data/by-hand', '3');
    engine = await fx.process(ws.root);
    await waitFor(async () => (await readdir(ws.path('pids'))).length === 4, 'three jobs running');
    const pids = (n: string) => readFileSync(ws.path(`pids/${n}`), 'utf8').trim().split(' ').map(Number);
    const [escapedA, recipeA, wrapperA] = pids('requeued');
    const [escapedB, recipeB] = pids('cancelled');
    const [escapedC, recipeC] = pids('by-hand');
    await killEngine();
    // The first job's attempt vanishes (its escaped child stays); the second is cancelled with `meow job cancel`
    // while no engine runs; the third is marked cancelled in the database by hand (its processes are left).
    process.kill(-wrapperA, 'SIGKILL');
    const cancelled = (await meowJson<JobJson[]>(['jobs', '-w', ws.root])).find((j) => j.input === 'data/cancelled');
    expect((await meow(['job', 'cancel', cancelled?.id ?? '', '-w', ws.root])).code).toBe(0);
    // The offline cancel found the cancelled job's processes by their environment, its escaped child included.
    await waitFor(() => ![escapedB, recipeB].some(alive), 'the cancelled job\'s processes to be stopped');
    const db = new Database(ws.path('.meow/state.db'));
    try {
      expect(db.prepare("UPDATE jobs SET status = 'cancelled' WHERE input = 'data/by-hand'").run().changes).toBe(1);
    } finally {
      db.close();
    }
    await waitFor(() => !alive(recipeA), 'the vanished attempt to be gone');
    expect([escapedA, escapedC, recipeC].every(alive)).toBe(true);
    await writeFile(ws.path('pids/requeued'), ''); // the new attempt writes it again
    engine = await fx.process(ws.root);
    await waitFor(() => [escapedA, escapedC, recipeC].every((p) => !alive(p)), 'the orphans to be killed');
    expect(engine.output()).toMatch(/queued again as a new attempt, 0 failed \(no retries left\), [3-9] orphaned process\(es\) killed/);
    // The vanished attempt runs again, and (lost by the engine) it does not count against retries.
    await waitFor(async () => readFileSync(ws.path('pids/requeued'), 'utf8').trim() !== '', 'the new attempt');
    const requeued = (await meowJson<JobJson[]>(['jobs', '-w', ws.root])).find((j) => j.input === 'data/requeued');
    expect(requeued).toMatchObject({ status: 'running', attempt: 1 });
  });
});

describe('resource faults', () => {
  let ws: TempWorkspace;
  let live: LiveEngine | null = null;
  const fx = useLiveWorkspace();

  /** Runs one bash recipe on one file under `config` until its job fails; the job and its directory. */
  async function failedJob(config: string, recipe: string): Promise<{ job: JobRecord; dir: string }> {
    ws = await fx.workspace();
    await ws.write('meow.yaml', config);
    await ws.write('recipes/loud.sh', recipe);
    await ws.write('patterns/loud.yaml', 'recipe: loud\ntrigger: {paths: "data/*"}\n');
    await ws.write('data/a', 'a');
    live = await fx.start(ws.root);
    const job = await waitFor(() => live?.finished.find((j) => j.status === 'failed'), 'the job to fail', 60_000);
    return { job, dir: ws.path(job.jobDir) };
  }

  it('caps each log at max_log_size, noting the cut and keeping the end of the output', async () => {
    // 24 MB on stdout over about a second, 8 MB on stderr, then the line that says what went wrong.
    const { job, dir } = await failedJob(
      'max_log_size: 256KiB\n',
      'for i in $(seq 24); do head -c 1000000 /dev/zero | tr "\\0" o; sleep 0.04; done\nhead -c 8000000 /dev/zero | tr "\\0" e >&2\necho "the real error" >&2\nexit 2\n',
    );
    for (const [log, total] of [['stdout', 24_000_000], ['stderr', 8_000_015]] as const) {
      const text = readFileSync(join(dir, `${log}.log`), 'utf8');
      expect(statSync(join(dir, `${log}.log`)).size).toBeLessThanOrEqual(256 * 1024);
      const note = new RegExp(`\\[meowflow: ${log}\\.log reached max_log_size \\(262144 bytes\\); at least (\\d+) bytes of output after this point were discarded; the last 64 KiB of them are in ${log}\\.tail\\.log\\]\\n$`);
      const m = note.exec(text);
      expect(m, `${log}.log ends with the note`).not.toBeNull();
      // Bytes written in the instant between the last size check and the cut go uncounted
      // (hence "at least"); on a loaded machine that instant can hold a few pipe buffers.
      const counted = Number(m?.[1]) + text.indexOf('\n[meowflow:');
      expect(counted).toBeLessThanOrEqual(total);
      expect(counted).toBeGreaterThan(total - 1024 * 1024);
      expect(statSync(join(dir, `${log}.tail.log`)).size).toBe(64 * 1024);
    }
    expect(readFileSync(join(dir, 'stderr.tail.log'), 'utf8').endsWith('eeethe real error\n')).toBe(true);
    // The job's error quotes the end of the output, not the note.
    expect(job.error).toMatch(/^exit code 2: e+the real error$/);
  });

  it('moves what a recipe wrote after its log was cut, its last words, to the tail file when the job ends', async () => {
    // Cut by a check while the recipe sleeps; the error line that follows is shorter than the room left for the note.
    const { job, dir } = await failedJob('max_log_size: 64KiB\n', 'head -c 200000 /dev/zero | tr "\\0" x >&2\nsleep 1\necho "FATAL: the real error" >&2\nexit 2\n');
    const log = readFileSync(join(dir, 'stderr.log'), 'utf8');
    expect(log).toMatch(/\[meowflow: stderr\.log reached max_log_size \(65536 bytes\); at least \d+ bytes of output after this point were discarded; the last 64 KiB of them are in stderr\.tail\.log\]\n$/);
    expect(log).not.toContain('FATAL');
    const tail = readFileSync(join(dir, 'stderr.tail.log'), 'utf8');
    expect(tail.endsWith('xxx\nFATAL: the real error\n') || tail.endsWith('xxxFATAL: the real error\n')).toBe(true);
    expect(tail.length).toBe(64 * 1024);
    expect(job.error).toMatch(/FATAL: the real error$/);
  });

  it('reaps the children a recipe forked, wherever they went, on cancel and on timeout', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'cpus: 2\nkill_grace: 500ms\n');
    const recipe = [
      'out="$MEOW_WORKSPACE/pids/$(basename "$input_file")"',
      '( sleep 300 & echo "$!" > "$out.grandchild" )', // forks and exits: the grandchild is re-parented
      'setsid sleep 300 & echo "$!" > "$out.session"', // leaves the process group
      'echo "$$" > "$out"',
      'sleep 300',
      '',
    ].join('\n');
    await ws.write('recipes/fork.sh', recipe);
    await ws.write('patterns/cancel.yaml', 'recipe: fork\ntrigger: {paths: "data/cancel"}\n');
    await ws.write('patterns/timeout.yaml', 'recipe: fork\ntrigger: {paths: "data/timeout"}\ntimeout: 2s\n');
    await ws.write('pids/.keep', '');
    await ws.write('data/cancel', '1');
    await ws.write('data/timeout', '2');
    live = await fx.start(ws.root);
    // Six pid files, each written (a file created but not yet written would read as no pid).
    const written = async () => Promise.all((await readdir(ws.path('pids'))).filter((n) => n !== '.keep').map(async (n) => (await readFile(ws.path(`pids/${n}`), 'utf8')).trim()));
    await waitFor(async () => (await written()).filter((t) => /^\d+$/.test(t)).length === 6, 'both recipes and their children');
    const pids = (await written()).map(Number);
    expect(pids.every(alive)).toBe(true);
    const cancel = live.engine.store.listJobs().find((j) => j.input === 'data/cancel');
    live.engine.scheduler.cancel(cancel?.id ?? '', 'cancelled by the test');
    await waitFor(() => live?.finished.some((j) => j.input === 'data/timeout'), 'the timeout', 10_000);
    await waitFor(() => pids.every((p) => !alive(p)), 'every process of both jobs to be gone', 5000);
    expect(live.engine.store.listJobs().map((j) => [j.input, j.status, j.error])).toEqual([
      ['data/cancel', 'cancelled', 'cancelled by the test'],
      ['data/timeout', 'failed', 'timed out after 2.0s'],
    ]);
  });

  it('SIGKILLs a recipe that ignores SIGTERM after kill_grace, and lets one that handles it clean up', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'cpus: 2\nkill_grace: 1500ms\n');
    await ws.write('recipes/stubborn.sh', `trap '' TERM\necho "$$" > "$MEOW_WORKSPACE/stubborn.pid"\nwhile :; do sleep 0.1; done\n`);
    await ws.write('recipes/tidy.sh', `trap 'echo tidied > "$MEOW_WORKSPACE/tidied"; exit 0' TERM\nsleep 300 &\nwait\n`);
    await ws.write('patterns/stubborn.yaml', 'recipe: stubborn\ntrigger: {paths: "data/stubborn"}\ntimeout: 1s\n');
    await ws.write('patterns/tidy.yaml', 'recipe: tidy\ntrigger: {paths: "data/tidy"}\ntimeout: 1s\n');
    await ws.write('data/stubborn', '1');
    await ws.write('data/tidy', '2');
    live = await fx.start(ws.root);
    await waitFor(() => existsSync(ws.path('stubborn.pid')), 'the stubborn recipe');
    const pid = Number(readFileSync(ws.path('stubborn.pid'), 'utf8'));
    const done = await waitFor(() => (live && live.finished.length === 2 ? live.finished : null), 'both timeouts', 15_000);
    const stubborn = done.find((j) => j.input === 'data/stubborn');
    const tidy = done.find((j) => j.input === 'data/tidy');
    expect(stubborn).toMatchObject({ status: 'failed', error: 'timed out after 1.0s' });
    expect(tidy).toMatchObject({ status: 'failed', error: 'timed out after 1.0s' });
    // The stubborn one outlived SIGTERM for the whole grace period; the tidy one ran its handler at once.
    const ran = (j: typeof stubborn) => Date.parse(j?.finishedAt ?? '') - Date.parse(j?.startedAt ?? '');
    expect(ran(stubborn)).toBeGreaterThanOrEqual(2400);
    expect(ran(tidy)).toBeLessThan(2400);
    expect(alive(pid)).toBe(false);
    expect(readFileSync(ws.path('tidied'), 'utf8')).toBe('tidied\n');
  });
});
