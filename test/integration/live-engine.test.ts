import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.js';
import { alive, type LiveEngine } from '../helpers/engine.js';
import { track } from '../helpers/resources.js';
import { meow, meowJson, waitFor, type TempWorkspace, readLines } from '../helpers/workspace.js';
import { useLiveWorkspace } from '../helpers/live-workspace.js';
import { scaled } from '../helpers/pace.js';

const LEDGER_SH = `printf '%s\\n' "$input_file" >> "$MEOW_WORKSPACE/ledger.txt"\n`;

const lines = readLines;

describe('the live engine', () => {
  let ws: TempWorkspace;
  let live: LiveEngine | null = null;
  const fx = useLiveWorkspace();

  it('starts the job of a dropped file right after it settles', async () => {
    ws = await fx.workspace();
    await ws.write('recipes/ledger.sh', LEDGER_SH);
    await ws.write('patterns/drop.yaml', 'recipe: ledger\ntrigger: {paths: "incoming/*.h5", settle: 100ms}\n');
    await mkdir(ws.path('incoming'));
    live = await fx.start(ws.root);
    const t0 = Date.now();
    await writeFile(ws.path('incoming/frame-1.h5'), 'data');
    const job = await waitFor(() => live?.started.find((j) => j.input === 'incoming/frame-1.h5'), 'the job to start', 10_000, 5);
    const latency = Date.parse(job.startedAt ?? '') - t0;
    expect(latency).toBeGreaterThanOrEqual(100); // never before the settle time
    await waitFor(async () => (await lines(ws.path('ledger.txt'))).length === 1, 'the recipe to run');
  });

  it('polls instead of watching with watch_mode: poll (network filesystems)', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'watch_mode: poll\npoll_interval: 100ms\n');
    await ws.write('recipes/ledger.sh', LEDGER_SH);
    await ws.write('patterns/drop.yaml', 'recipe: ledger\ntrigger: {paths: "incoming/*"}\n');
    await mkdir(ws.path('incoming'));
    live = await fx.start(ws.root);
    await writeFile(ws.path('incoming/a'), 'a');
    await mkdir(ws.path('incoming/sub'));
    await writeFile(ws.path('incoming/b'), 'b');
    await waitFor(async () => (await lines(ws.path('ledger.txt'))).length === 2, 'two jobs');
  });

  it('cancels the running and queued jobs of a deleted pattern and kills their process trees', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'cpus: 3\nkill_grace: 500ms\n');
    await ws.write('recipes/hold.sh', 'sleep 600 &\necho "$$ $!" > "$MEOW_WORKSPACE/pids/$(basename "$input_file")"\nwait\n');
    await ws.write('patterns/hold.yaml', 'recipe: hold\ntrigger: {paths: "data/*"}\n');
    await mkdir(ws.path('pids'));
    for (let i = 0; i < 8; i++) await ws.write(`data/f${i}`, String(i));
    live = await fx.start(ws.root);
    // A pid file exists before the recipe's echo has written it: wait for all six pids, not three files.
    const readPids = async () =>
      (await Promise.all((await readdir(ws.path('pids'))).map((f) => readFile(ws.path(`pids/${f}`), 'utf8'))))
        .flatMap((l) => l.trim().split(' ').filter(Boolean))
        .map(Number);
    await waitFor(async () => (await readPids()).length === 6, '3 running jobs and their children');
    const pids = await readPids();
    expect(pids).toHaveLength(6);
    expect(live.engine.store.countJobs()).toMatchObject({ running: 3, queued: 5 });

    await rm(ws.path('patterns/hold.yaml'));
    await waitFor(() => live?.engine.store.countJobs().cancelled === 8, '8 cancelled jobs', 30_000, 10);
    await waitFor(() => pids.every((p) => !alive(p)), 'every recipe process and child to be gone', 30_000, 10);
    expect(live.engine.store.countJobs()).toMatchObject({ running: 0, queued: 0, cancelled: 8 });
    expect(new Set(live.engine.store.listJobs().map((j) => j.error))).toEqual(new Set(['pattern "hold" was removed']));
  });

  it('says, when only the recipe was removed, that its recipe went (the pattern stays, waiting)', async () => {
    ws = await fx.workspace();
    await ws.write('recipes/hold.sh', 'sleep 600\n');
    await ws.write('patterns/p.yaml', 'recipe: hold\ntrigger: {paths: "data/*"}\n');
    await ws.write('data/a', 'a');
    live = await fx.start(ws.root);
    await waitFor(() => live?.engine.store.countJobs().running === 1, 'the job to run');
    await rm(ws.path('recipes/hold.sh'));
    await waitFor(() => live?.engine.store.countJobs().cancelled === 1, 'the job to be cancelled', 30_000);
    expect(live.engine.store.listJobs()[0].error).toBe('the recipe "hold" of pattern "p" was removed');
  });

  it('re-triggers every file when a variable is edited, as the plan predicted', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'cpus: 1\n');
    await ws.write('recipes/tag.sh', 'printf "%s %s\\n" "$tag" "$(basename "$input_file")" >> "$MEOW_WORKSPACE/ledger.txt"\n[ "$tag" = v1 ] && sleep 30\nexit 0\n');
    await ws.write('patterns/tag.yaml', 'recipe: tag\ntrigger: {paths: "data/*"}\nvariables: {tag: v1}\n');
    for (let i = 0; i < 5; i++) await ws.write(`data/f${i}`, String(i));
    live = await fx.start(ws.root);
    // One v1 job running (sleeping), four queued.
    await waitFor(() => live?.engine.store.countJobs().running === 1 && live.engine.store.countJobs().queued === 4, 'one running, four queued');
    const edited = 'recipe: tag\ntrigger: {paths: "data/*"}\nvariables: {tag: v2}\n';
    const predicted = await live.engine.changeDefinition('patterns/tag.yaml', edited, true);
    expect(predicted.plan.changes).toMatchObject([{ name: 'tag', change: 'changed', triggers: 5 }]);
    expect(predicted.plan.changes[0].cancels).toHaveLength(5);
    await writeFile(ws.path('patterns/tag.yaml'), edited);
    await waitFor(() => live?.engine.store.countJobs().succeeded === 5, 'the five new jobs', 20_000);
    expect(live.engine.store.countJobs()).toMatchObject({ cancelled: 5, succeeded: 5, failed: 0, running: 0, queued: 0 });
    const v2 = (await lines(ws.path('ledger.txt'))).filter((l) => l.startsWith('v2 '));
    expect(v2.sort()).toEqual(['v2 f0', 'v2 f1', 'v2 f2', 'v2 f3', 'v2 f4']);
  });

  it('triggers a waiting pattern on every existing file when its recipe is added', async () => {
    ws = await fx.workspace();
    await ws.write('patterns/late.yaml', 'recipe: late\ntrigger: {paths: "data/*.txt"}\n');
    for (let i = 0; i < 4; i++) await ws.write(`data/f${i}.txt`, String(i));
    live = await fx.start(ws.root);
    expect(live.engine.waiting.map((p) => p.name)).toEqual(['late']);
    await ws.write('recipes/late.sh', LEDGER_SH);
    await waitFor(async () => (await lines(ws.path('ledger.txt'))).length === 4, 'four jobs');
    expect(live.engine.waiting).toEqual([]);
  });

  it('gives one job for a file written in 20 chunks over 2 s, after the last chunk', async () => {
    ws = await fx.workspace();
    await ws.write('recipes/ledger.sh', LEDGER_SH);
    // The settle time is well above the writer's pauses, even on a loaded machine whose event loop stalls.
    await ws.write('patterns/big.yaml', 'recipe: ledger\ntrigger: {paths: "data/*.raw", settle: 1500ms}\n');
    await mkdir(ws.path('data'));
    live = await fx.start(ws.root);
    let last = 0;
    for (let i = 0; i < 20; i++) {
      await appendFile(ws.path('data/volume.raw'), Buffer.alloc(64 * 1024, i));
      last = Date.now();
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitFor(async () => (await lines(ws.path('ledger.txt'))).length === 1, 'one job');
    const job = live.started[0];
    expect(Date.parse(job.startedAt ?? '')).toBeGreaterThanOrEqual(last);
    expect(statSync(ws.path('data/volume.raw')).size).toBe(20 * 64 * 1024);
    // Nothing more comes once the engine has nothing settling and nothing to run.
    await waitFor(() => live?.engine.busy === 0, 'the engine to be idle', 30_000);
    expect(live.started).toHaveLength(1);
  });

  it('reports a rename as one moved event, and fires deletion patterns', async () => {
    ws = await fx.workspace();
    await ws.write('recipes/ledger.sh', 'printf "%s %s\\n" "$ev" "$input_file" >> "$MEOW_WORKSPACE/ledger.txt"\n');
    await ws.write('patterns/moves.yaml', 'recipe: ledger\ntrigger: {paths: "data/**", events: [moved]}\nvariables: {ev: "{event}"}\n');
    await ws.write('patterns/gone.yaml', 'recipe: ledger\ntrigger: {paths: "data/**", events: [deleted]}\nvariables: {ev: "{event}"}\n');
    await ws.write('data/a.txt', 'a');
    live = await fx.start(ws.root);
    live.events.length = 0;
    await rename(ws.path('data/a.txt'), ws.path('data/b.txt'));
    await waitFor(() => live?.events.some((e) => e.kind === 'moved'), 'the moved event');
    const moved = live.events.filter((e) => e.path === 'data/b.txt' || e.path === 'data/a.txt');
    expect(moved).toEqual([expect.objectContaining({ kind: 'moved', path: 'data/b.txt', oldPath: 'data/a.txt' })]);
    await rm(ws.path('data/b.txt'));
    await waitFor(() => live?.finished.length === 2, 'the moved and deleted jobs');
    const jobs = live.engine.store.listJobs();
    expect(jobs.map((j) => [j.pattern, j.event, j.input])).toEqual([
      ['moves', 'moved', 'data/b.txt'],
      ['gone', 'deleted', 'data/b.txt'],
    ]);
    expect(jobs[0].oldPath).toBe('data/a.txt');
  });

  it('holds a paused pattern\'s jobs queued and starts them when it resumes', async () => {
    ws = await fx.workspace();
    await ws.write('recipes/ledger.sh', LEDGER_SH);
    await ws.write('patterns/hold.yaml', 'recipe: ledger\ntrigger: {paths: "data/*"}\n');
    await ws.write('patterns/free.yaml', 'recipe: ledger\ntrigger: {paths: "data/*"}\n');
    await mkdir(ws.path('data'));
    live = await fx.start(ws.root);
    live.engine.setPaused('hold', true);
    for (let i = 0; i < 3; i++) await writeFile(ws.path(`data/f${i}`), String(i));
    await waitFor(() => live?.engine.store.countJobs().succeeded === 3, 'the free pattern\'s jobs');
    expect(live.engine.store.listJobs({ pattern: 'hold' }).map((j) => j.status)).toEqual(['queued', 'queued', 'queued']);
    expect(live.engine.scheduler.pending).toBe(0); // parked jobs are not pending work
    expect(() => live?.engine.setPaused('nope', true)).toThrow(/no pattern "nope"/);
    live.engine.setPaused('hold', false);
    await waitFor(() => live?.engine.store.countJobs().succeeded === 6, 'the held jobs');
  });

  it('sees files renamed into directories created a moment before', async () => {
    ws = await fx.workspace();
    await ws.write('recipes/ledger.sh', LEDGER_SH);
    await ws.write('patterns/runs.yaml', 'recipe: ledger\ntrigger: {paths: "runs/*/a.json"}\n');
    await mkdir(ws.path('runs'));
    live = await fx.start(ws.root);
    for (let i = 0; i < 10; i++) {
      await mkdir(ws.path(`runs/r${i}`));
      await writeFile(ws.path(`runs/r${i}/.a.json.tmp`), String(i));
      await rename(ws.path(`runs/r${i}/.a.json.tmp`), ws.path(`runs/r${i}/a.json`));
    }
    // The periodic scan is a minute away: only the watcher and the new-directory scans can see these.
    await waitFor(async () => (await lines(ws.path('ledger.txt'))).length === 10, 'ten jobs', 5000);
  });

  it('creates exactly one job for each of 10,000 files created as fast as possible', async () => {
    ws = await fx.workspace();
    await ws.write('recipes/noop.mjs', 'export default async () => null;\n');
    await ws.write('patterns/noop.yaml', 'recipe: noop\ntrigger: {paths: "burst/*.dat"}\n');
    await mkdir(ws.path('burst'));
    live = await fx.start(ws.root);
    const N = 10_000;
    for (let i = 0; i < N; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => writeFile(ws.path(`burst/f${i + j}.dat`), '')));
    }
    await waitFor(() => live?.engine.store.countJobs().succeeded === N, `${N} succeeded jobs`, 120_000, 200);
    await live.engine.reconcileLive();
    const jobs = live.engine.store.listJobs();
    expect(jobs).toHaveLength(N);
    expect(new Set(jobs.map((j) => j.input)).size).toBe(N);
  }, scaled(180_000));
});

describe('the engine process and its control socket', () => {
  let ws: TempWorkspace;
  const fx = useLiveWorkspace();

  it('cancels and retries jobs through `meow job`, and refuses other users', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'cpus: 1\n');
    await ws.write('recipes/wait.sh', 'while [ ! -f "$MEOW_WORKSPACE/go" ]; do sleep 0.05; done\n' + LEDGER_SH);
    await ws.write('patterns/wait.yaml', 'recipe: wait\ntrigger: {paths: "data/*"}\n');
    await ws.write('data/a', 'a');
    await ws.write('data/b', 'b');
    const engine = await fx.process(ws.root);
    try {
      const sock = ws.path('.meow/engine.sock');
      expect(statSync(sock).mode & 0o777).toBe(0o600);
      const status = await meowJson<{ engine: string; jobs: Record<string, number> }>(['status', '-w', ws.root]);
      expect(status).toMatchObject({ engine: 'running', patterns: 1, recipes: 1 });
      const jobs = await waitFor(async () => {
        const js = await meowJson<{ id: string; status: string; input: string }[]>(['jobs', '-w', ws.root]);
        return js.some((j) => j.status === 'running') ? js : null;
      }, 'a running job');
      const running = jobs.find((j) => j.status === 'running');
      const queued = jobs.find((j) => j.status === 'queued');
      expect(running && queued).toBeTruthy();
      const c1 = await meowJson<{ status: string }>(['job', 'cancel', running?.id ?? '', '-w', ws.root]);
      const c2 = await meowJson<{ status: string }>(['job', 'cancel', queued?.id ?? '', '-w', ws.root]);
      expect([c1.status, c2.status]).toEqual(['cancelled', 'cancelled']);
      const again = await meow(['job', 'cancel', queued?.id ?? '', '-w', ws.root]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('only queued or running jobs can be cancelled');
      await writeFile(ws.path('go'), '');
      const r = await meowJson<{ status: string }>(['job', 'retry', queued?.id ?? '', '-w', ws.root]);
      expect(r.status).toBe('queued');
      await waitFor(async () => (await meowJson<{ status: string }>(['job', 'show', queued?.id ?? '', '-w', ws.root])).status === 'succeeded', 'the retried job');

      // Another user may not connect (the socket is 0600; root could, so use nobody).
      const probe = spawnSync(process.execPath, ['-e', `require('net').connect(${JSON.stringify(sock)}).on('error', e => { console.log(e.code); process.exit(0) }).on('connect', () => { console.log('CONNECTED'); process.exit(0) })`], { uid: 65534, gid: 65534, encoding: 'utf8' });
      expect(probe.stdout.trim()).toMatch(/^(EACCES|EPERM)$/);
    } finally {
      expect(await engine.stop()).toBe(0);
    }
    expect((await meowJson<{ engine: string }>(['status', '-w', ws.root])).engine).toBe('stopped');
  });

  it('predicts with `meow plan` what the next start applies', async () => {
    ws = await fx.workspace();
    await ws.write('recipes/ledger.sh', LEDGER_SH);
    await ws.write('patterns/one.yaml', 'recipe: ledger\ntrigger: {paths: "data/*.txt"}\n');
    for (let i = 0; i < 3; i++) await ws.write(`data/f${i}.txt`, String(i));
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    await ws.write('patterns/one.yaml', 'recipe: ledger\ntrigger: {paths: "data/*.txt"}\nvariables: {x: 2}\n');
    await ws.write('patterns/two.yaml', 'recipe: ledger\ntrigger: {paths: "data/f1.txt"}\n');
    const plan = await meowJson<{ changes: { pattern: string; change: string; triggers: number; cancels: number }[] }>(['plan', '-w', ws.root]);
    expect(plan.changes.map((c) => [c.pattern, c.change, c.triggers, c.cancels])).toEqual([
      ['one', 'changed', 3, 0],
      ['two', 'added', 1, 0],
    ]);
    const text = await meow(['plan', '-w', ws.root]);
    expect(text.stdout).toContain('this change triggers 4 jobs and cancels 0');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    expect(await lines(ws.path('ledger.txt'))).toHaveLength(7);
  });
  it('applies a definition edited while it started up, before its watchers attached', async () => {
    ws = await fx.workspace();
    await ws.write('recipes/tagged.sh', `printf '%s %s\\n' "$tag" "$input_file" >> "$MEOW_WORKSPACE/ledger.txt"\n`);
    const pattern = (tag: string) => `recipe: tagged\ntrigger: {paths: "incoming/*"}\nvariables: {tag: ${tag}}\n`;
    await ws.write('patterns/drop.yaml', pattern('v1'));
    await ws.write('incoming/a', 'a');
    const engine = await Engine.open(ws.root);
    const untrack = track(engine, `engine in ${ws.root}`, () => engine.close({ cancelRunning: true }));
    try {
      // Start-up registers v1 (and says so) before the definitions watcher attaches: the edit lands in between.
      engine.once('rules:changed', () => writeFileSync(ws.path('patterns/drop.yaml'), pattern('v2')));
      await engine.startLive();
      await waitFor(async () => (await lines(ws.path('ledger.txt'))).some((l) => l.startsWith('v2 ') && l.endsWith('/incoming/a')), 'the edit made during start-up to run');
    } finally {
      untrack();
      await engine.close({ cancelRunning: true });
    }
  });
});
