/*
 * The two spawn supervisors (runtime/spawn_supervisor.py and
 * spawn-supervisor.ts) start a job's process alike: its own session, stdin
 * from /dev/null, logs appended, no signal ignored or blocked, no inherited
 * descriptor, the environment exactly the job's. And the engine falls back
 * from a Python that cannot run the supervisor to the next, then to Node.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessSpawner, type Exited, type ProcessTask, type Started, type SupervisorChoice } from '../../src/runner/backends/local/process-spawner.js';
import { tempDirs } from '../helpers/temp-dirs.js';
import { supervisorOf } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const CHOICES: Record<'python' | 'node', SupervisorChoice> = {
  python: { pythons: ['/usr/bin/python3', 'python3'], node: false },
  node: { pythons: [], node: true },
};

const spawners: ProcessSpawner[] = [];
afterEach(async () => {
  for (const s of spawners.splice(0)) await s.close();
});

function spawner(choice: SupervisorChoice, deadlines?: { readyMs: number; startMs: number }): ProcessSpawner {
  const s = new ProcessSpawner(choice, deadlines);
  spawners.push(s);
  return s;
}

async function run(s: ProcessSpawner, task: ProcessTask): Promise<{ started: Started; exited: Exited }> {
  const { started, exited } = s.spawn(task);
  return { started: await started, exited: await exited };
}

/** The pids of processes whose environment holds `mark` (a NAME=value). */
function marked(mark: string): number[] {
  const needle = Buffer.from(`\0${mark}\0`);
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (Buffer.concat([Buffer.from('\0'), readFileSync(`/proc/${name}/environ`)]).indexOf(needle) >= 0) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return env;
}

describe.each(['python', 'node'] as const)('the %s spawn supervisor', (kind) => {
  const tmp = tempDirs('meow-spawn-');

  it('starts a process in a session of its own, stdin from /dev/null, no signal ignored or blocked, only fds 0-2, the job environment exactly', async () => {
    const dir = tmp();
    const s = spawner(CHOICES[kind]);
    const env: Record<string, string> = { ...baseEnv(), MEOW_JOB_ID: 'j1', SPACES: ' a  b ', NEWLINE: 'x\ny', UNICODE: 'Δ€' };
    delete env.HOME;
    const script = [
      'set -e',
      'echo "pid=$$ sid=$(cut -d" " -f6 /proc/$$/stat) pgid=$(cut -d" " -f5 /proc/$$/stat)"',
      // Read by the shell itself: a child reading /proc/$$ may catch dash blocking every signal around its fork and wait.
      'while read -r key value; do case $key in SigIgn:|SigBlk:) echo "$key $value";; esac; done < /proc/$$/status',
      'echo "stdin=$(readlink /proc/$$/fd/0)"',
      'echo "cwd=$PWD"',
      'env -0 > "$0.env"',
      'echo to-stderr >&2',
      'exit 7',
    ].join('\n');
    const { started, exited } = await run(s, { file: '/bin/sh', args: ['-c', script, join(dir, 'out')], cwd: dir, env, stdout: join(dir, 'stdout.log'), stderr: join(dir, 'stderr.log') });
    expect(started).toMatchObject({ pid: expect.any(Number) });
    expect('start' in started && started.start).toMatch(/^\d+$/);
    expect(exited).toEqual({ code: 7, signal: null });
    expect(s.supervisorKind).toBe(kind);
    const out = await readFile(join(dir, 'stdout.log'), 'utf8');
    const pid = 'pid' in started ? started.pid : 0;
    expect(out).toContain(`pid=${pid} sid=${pid} pgid=${pid}`);
    // glibc's posix_spawn leaves its two internal signals (32 and 33) ignored in the child; no program sees them as
    // signals of its own (glibc's threads install their handlers), and sigaddset refuses them, so none can ask otherwise.
    const ignored = BigInt(`0x${/SigIgn:\s+([0-9a-f]+)/.exec(out)?.[1] ?? 'ff'}`) & ~0x180000000n;
    expect(ignored).toBe(0n);
    expect(out).toMatch(/SigBlk:\s+0+\n/);
    expect(out).toContain('stdin=/dev/null');
    // ls lists its own descriptors: the three it was given and the one it reads the directory with.
    await run(s, { file: '/bin/ls', args: ['/proc/self/fd'], cwd: dir, env, stdout: join(dir, 'fds.log'), stderr: join(dir, 'fds.err') });
    // Nothing the supervisor inherited passes on, though this test's own parent may have left descriptors open to it.
    expect((await readFile(join(dir, 'fds.log'), 'utf8')).split('\n').filter(Boolean).map(Number).sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
    expect(out).toContain(`cwd=${dir}`);
    expect(await readFile(join(dir, 'stderr.log'), 'utf8')).toBe('to-stderr\n');
    const got = Object.fromEntries(
      (await readFile(join(dir, 'out.env'), 'utf8'))
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    // sh sets PWD itself (and may add OLDPWD); everything else is the task's, exactly.
    delete got.PWD;
    delete got.OLDPWD;
    const want: Record<string, string> = { ...env };
    delete want.PWD;
    delete want.OLDPWD;
    expect(got).toEqual(want);
  });

  it('passes on to a job no descriptor the engine inherited open', async () => {
    const dir = tmp();
    // An engine (the built spawner, in a process of its own) whose parent left descriptors open to it, not close-on-exec.
    const built = join(process.cwd(), 'dist', 'src', 'runner', 'backends', 'local', 'process-spawner.js');
    expect(existsSync(built), `${built} (npm run build)`).toBe(true);
    const engine = join(dir, 'engine.mjs');
    await writeFile(
      engine,
      [
        `import { ProcessSpawner } from ${JSON.stringify(built)};`,
        `const s = new ProcessSpawner(${JSON.stringify(CHOICES[kind])});`,
        `const t = s.spawn({ file: '/bin/ls', args: ['/proc/self/fd'], cwd: ${JSON.stringify(dir)}, env: { ...process.env }, stdout: ${JSON.stringify(join(dir, 'fds'))}, stderr: ${JSON.stringify(join(dir, 'err'))} });`,
        'console.log(JSON.stringify([await t.started, await t.exited, s.supervisorKind]));',
        'await s.close();',
      ].join('\n'),
    );
    // The shell leaves descriptors 7 and 300 open, as a login shell or a job runner may.
    const r = spawnSync('/bin/bash', ['-c', 'exec "$0" "$1" 7>/dev/null 300>/dev/null', process.execPath, engine], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'], timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ pid: expect.any(Number) }), { code: 0, signal: null }, kind]);
    // ls lists its own descriptors: the three it was given and the one it reads the directory with.
    expect((await readFile(join(dir, 'fds'), 'utf8')).split('\n').filter(Boolean).map(Number).sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
  });

  it('appends to logs that exist, reports a signal by name, and says why a process cannot start', async () => {
    const dir = tmp();
    const s = spawner(CHOICES[kind]);
    const logs = { stdout: join(dir, 'o.log'), stderr: join(dir, 'e.log') };
    await run(s, { file: '/bin/sh', args: ['-c', 'echo one'], cwd: dir, env: baseEnv(), ...logs });
    const killed = await run(s, { file: '/bin/sh', args: ['-c', 'echo two; kill -TERM $$'], cwd: dir, env: baseEnv(), ...logs });
    expect(killed.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(await readFile(logs.stdout, 'utf8')).toBe('one\ntwo\n');

    const missing = await run(s, { file: join(dir, 'no-such-program'), args: [], cwd: dir, env: baseEnv(), ...logs });
    expect(missing.started).toMatchObject({ error: expect.stringContaining(`cannot start ${join(dir, 'no-such-program')}`) });
    expect(missing.exited).toBeNull();
    const noLogs = await run(s, { file: '/bin/true', args: [], cwd: dir, env: baseEnv(), stdout: join(dir, 'gone', 'o.log'), stderr: logs.stderr });
    expect(noLogs.started).toMatchObject({ error: expect.stringContaining("cannot open the job's log files") });
    // Still serving after the refusals.
    expect((await run(s, { file: '/bin/sh', args: ['-c', 'exit 0'], cwd: dir, env: baseEnv(), ...logs })).exited).toEqual({ code: 0, signal: null });
  });

  it('says which working directory is missing, and serves the next task after its last one was removed', async () => {
    const dir = tmp();
    const s = spawner(CHOICES[kind]);
    const logs = { stdout: join(dir, 'o.log'), stderr: join(dir, 'e.log') };
    const scan = join(dir, 'scan');
    await mkdir(scan);
    expect((await run(s, { file: '/bin/sh', args: ['-c', 'exit 0'], cwd: scan, env: baseEnv(), ...logs })).exited).toEqual({ code: 0, signal: null });
    await rm(scan, { recursive: true });
    const missing = await run(s, { file: '/bin/sh', args: ['-c', 'exit 0'], cwd: scan, env: baseEnv(), ...logs });
    expect(missing.started).toMatchObject({ error: expect.stringContaining(`working directory ${scan}`) });
    expect((await run(s, { file: '/bin/sh', args: ['-c', 'exit 4'], cwd: dir, env: baseEnv(), ...logs })).exited).toEqual({ code: 4, signal: null });
  });

  it('says a task lost when its supervisor is killed under it only once its process, if it started at all, can be found', async () => {
    const dir = tmp();
    const s = spawner(CHOICES[kind]);
    const task = (i: number): ProcessTask => ({ file: '/bin/sleep', args: ['60'], cwd: dir, env: { ...baseEnv(), MEOW_MARK: `${dir}:${i}` }, stdout: join(dir, 'o'), stderr: join(dir, 'e') });
    const mark = (i: number) => marked(`MEOW_MARK=${dir}:${i}`);
    expect((await run(s, { ...task(-1), file: '/bin/true', args: [] })).exited).toEqual({ code: 0, signal: null });
    const supervisor = supervisorOf(process.pid);
    expect(supervisor).not.toBeNull();
    const n = 40;
    const seenWhenLost = new Map<number, boolean>();
    const tasks = Array.from({ length: n }, (_, i) => {
      const t = s.spawn(task(i));
      void t.started.then((st) => {
        if ('error' in st && st.lost) seenWhenLost.set(i, mark(i).length > 0);
      });
      return t;
    });
    try {
      // Killed as soon as it has started one: it is in the midst of starting the others.
      await tasks[0].started;
      process.kill(supervisor ?? 0, 'SIGKILL');
      const started = await Promise.all(tasks.map((t) => t.started));
      expect(started.some((st) => 'error' in st && st.lost)).toBe(true);
      for (const [i, st] of started.entries()) {
        if ('pid' in st) continue;
        expect(st).toMatchObject({ lost: true, error: expect.stringContaining('exited') });
        // Not found when said lost: it never started, and never will.
        if (seenWhenLost.get(i) === false) expect(mark(i), `task ${i}`).toEqual([]);
      }
    } finally {
      const all = () => Array.from({ length: n }, (_, i) => mark(i)).flat();
      for (const pid of all()) process.kill(pid, 'SIGKILL');
      await waitFor(() => all().length === 0, 'the sleeps to be gone', 10_000);
    }
    // The next task gets a new supervisor.
    expect((await run(s, { ...task(-2), file: '/bin/sh', args: ['-c', 'exit 4'] })).exited).toEqual({ code: 4, signal: null });
  });

  it('answers, when closed, every task it was sent before it goes: no process starts that the engine was not told of', async () => {
    const dir = tmp();
    const s = spawner(CHOICES[kind]);
    const n = 20;
    const mark = (i: number) => marked(`MEOW_MARK=${dir}:${i}`);
    // Up and ready: the tasks go to it at once.
    expect((await run(s, { file: '/bin/true', args: [], cwd: dir, env: baseEnv(), stdout: join(dir, 'o'), stderr: join(dir, 'e') })).exited).toEqual({ code: 0, signal: null });
    const tasks = Array.from({ length: n }, (_, i) => s.spawn({ file: '/bin/sleep', args: ['60'], cwd: dir, env: { ...baseEnv(), MEOW_MARK: `${dir}:${i}` }, stdout: join(dir, 'o'), stderr: join(dir, 'e') }));
    try {
      await s.close();
      const started = await Promise.all(tasks.map((t) => t.started));
      for (const [i, st] of started.entries()) {
        // Started and said so, or not started at all.
        if ('pid' in st) expect(mark(i), `task ${i}`).toEqual([st.pid]);
        else expect(mark(i), `task ${i}: ${st.error}`).toEqual([]);
      }
      expect(started.filter((st) => 'pid' in st).length).toBeGreaterThan(0);
    } finally {
      const all = () => Array.from({ length: n }, (_, i) => mark(i)).flat();
      for (const pid of all()) process.kill(pid, 'SIGKILL');
      await waitFor(() => all().length === 0, 'the sleeps to be gone', 10_000);
    }
  });

  it('starts many processes at once and reports each exit to its own task', async () => {
    const dir = tmp();
    const s = spawner(CHOICES[kind]);
    const tasks = Array.from({ length: 40 }, (_, i) => run(s, { file: '/bin/sh', args: ['-c', `exit ${i % 7}`], cwd: dir, env: baseEnv(), stdout: join(dir, `${i}.o`), stderr: join(dir, `${i}.e`) }));
    const results = await Promise.all(tasks);
    expect(results.map((r) => r.exited)).toEqual(Array.from({ length: 40 }, (_, i) => ({ code: i % 7, signal: null })));
  });
});

describe('choosing the spawn supervisor', () => {
  const tmp = tempDirs('meow-spawn-');

  it('goes past a Python that cannot run it to the next one, then to the Node supervisor, losing no task', async () => {
    const dir = tmp();
    const s = spawner({ pythons: [join(dir, 'no-python'), '/bin/false'], node: true });
    const tasks = Array.from({ length: 3 }, (_, i) => run(s, { file: '/bin/sh', args: ['-c', `exit ${i}`], cwd: dir, env: baseEnv(), stdout: join(dir, `${i}.o`), stderr: join(dir, `${i}.e`) }));
    expect((await Promise.all(tasks)).map((r) => r.exited)).toEqual([0, 1, 2].map((code) => ({ code, signal: null })));
    expect(s.supervisorKind).toBe('node');
  });

  it('fails every task, saying why, when the supervisor chosen by name cannot start (never running one itself)', async () => {
    const dir = tmp();
    const s = spawner({ pythons: ['/bin/false'], node: false });
    for (let i = 0; i < 3; i++) {
      const r = await run(s, { file: '/bin/sh', args: ['-c', `echo ran >> ${JSON.stringify(join(dir, 'ran'))}`], cwd: dir, env: baseEnv(), stdout: join(dir, 'o'), stderr: join(dir, 'e') });
      expect(r.started).toMatchObject({ error: expect.stringContaining('the spawn supervisor (/bin/false) exited (status 1) before it was ready') });
    }
    expect(existsSync(join(dir, 'ran'))).toBe(false);
  });

  it("gives jobs the engine's environment, not what a Python shim or Python's locale coercion put in the supervisor's own", async () => {
    const dir = tmp();
    const shim = join(dir, 'python3');
    await writeFile(shim, '#!/bin/sh\nexport SHIM_ADDED=1 PATH="/shim/bin:$PATH"\nunset LANG LC_ALL LC_CTYPE\nexec /usr/bin/python3 "$@"\n', { mode: 0o755 });
    const s = spawner({ pythons: [shim], node: false });
    const env = baseEnv();
    const r = await run(s, { file: '/usr/bin/env', args: ['-0'], cwd: dir, env, stdout: join(dir, 'env'), stderr: join(dir, 'err') });
    expect(r.exited).toEqual({ code: 0, signal: null });
    const got = Object.fromEntries(
      (await readFile(join(dir, 'env'), 'utf8'))
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    expect(got).toEqual(env);
  });

  it('starts the same Python again when something else kills its supervisor before it is ready (no task fails, no fall back)', async () => {
    const dir = tmp();
    const pidFile = join(dir, 'first.pid');
    // The first start parks (never ready) and says its pid; later ones are the real supervisor.
    const shim = join(dir, 'python3');
    await writeFile(shim, `#!/bin/sh\nif [ ! -e ${JSON.stringify(pidFile)} ]; then echo $$ > ${JSON.stringify(pidFile)}; exec sleep 60; fi\nexec /usr/bin/python3 "$@"\n`, { mode: 0o755 });
    const s = spawner({ pythons: [shim], node: false });
    const task = s.spawn({ file: '/bin/sh', args: ['-c', 'exit 9'], cwd: dir, env: baseEnv(), stdout: join(dir, 'o'), stderr: join(dir, 'e') });
    const first = Number(await waitFor(() => (existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() || null : null), 'the first supervisor to start'));
    process.kill(first, 'SIGKILL');
    expect(await task.started).toMatchObject({ pid: expect.any(Number) });
    expect(await task.exited).toEqual({ code: 9, signal: null });
    expect(s.supervisorKind).toBe('python');
  });

  it('gives up a Python supervisor that never says it is ready, for the next choice', async () => {
    const dir = tmp();
    const silent = join(dir, 'python3');
    await writeFile(silent, '#!/bin/sh\nexec sleep 60\n', { mode: 0o755 });
    const s = spawner({ pythons: [silent], node: true }, { readyMs: 300, startMs: 30_000 });
    const r = await run(s, { file: '/bin/sh', args: ['-c', 'exit 5'], cwd: dir, env: baseEnv(), stdout: join(dir, 'o'), stderr: join(dir, 'e') });
    expect(r.exited).toEqual({ code: 5, signal: null });
    expect(s.supervisorKind).toBe('node');
  });

  it('replaces a supervisor that takes a task and never answers; the task is reported lost (it may have started), the next one runs', async () => {
    const dir = tmp();
    // Ready, then reads and never answers (a wedged or stopped supervisor).
    const mute = join(dir, 'python3');
    await writeFile(mute, `#!/bin/sh\nif [ -e ${JSON.stringify(join(dir, 'muted-once'))} ]; then exec /usr/bin/python3 "$@"; fi\ntouch ${JSON.stringify(join(dir, 'muted-once'))}\necho '{"type":"ready"}'\nexec cat > /dev/null\n`, { mode: 0o755 });
    const s = spawner({ pythons: [mute], node: false }, { readyMs: 15_000, startMs: 300 });
    const lost = await run(s, { file: '/bin/sh', args: ['-c', 'exit 0'], cwd: dir, env: baseEnv(), stdout: join(dir, 'o'), stderr: join(dir, 'e') });
    expect(lost.started).toMatchObject({ lost: true, error: expect.stringContaining('did not answer within 0.3 s and was killed') });
    const next = await run(s, { file: '/bin/sh', args: ['-c', 'exit 6'], cwd: dir, env: baseEnv(), stdout: join(dir, 'o'), stderr: join(dir, 'e') });
    expect(next.exited).toEqual({ code: 6, signal: null });
  });
});
