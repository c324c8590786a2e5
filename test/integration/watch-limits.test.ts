/**
 * The kernel's inotify limits, reached for real. Each engine runs in a child
 * process inside a new user namespace: since Linux 4.9 the inotify limits are
 * counted per user namespace (/proc/sys/user/max_inotify_watches and
 * max_inotify_instances), so the child's limits can be lowered without
 * touching the machine-wide fs.inotify settings that every other process
 * (and every other test running beside this one) depends on.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { track } from '../helpers/resources.js';
import { MEOW, meowJson, tempWorkspace, waitFor, writeWhole, type TempWorkspace } from '../helpers/workspace.js';

const DIRS = 200;

/** True when this machine lets an unprivileged user namespace set its own inotify limits. */
function namespacesWork(): boolean {
  const r = spawnSync('unshare', ['--user', '--map-root-user', 'sh', '-c', 'echo 10 > /proc/sys/user/max_inotify_watches'], { stdio: 'ignore' });
  return r.status === 0;
}
const available = namespacesWork();
if (!available) {
  const why = 'watch-limits: user namespaces with their own inotify limits (unshare --user, Linux ≥ 4.9) are not available here';
  if (process.env.CI) throw new Error(`${why}; CI must provide them`);
  console.warn(`SKIPPED ${why}`);
}

/** `meow run` in a new user namespace whose inotify limits are `watches` and `instances`. */
async function confinedEngine(root: string, watches: number, instances: number) {
  const script = 'echo "$1" > /proc/sys/user/max_inotify_watches && echo "$2" > /proc/sys/user/max_inotify_instances && exec "$3" "$4" run --no-tui -w "$5"';
  const child = spawn('unshare', ['--user', '--map-root-user', 'bash', '-c', script, 'confined', String(watches), String(instances), process.execPath, MEOW, root], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const untrack = track(child, `confined engine in ${root}`, async () => {
    child.kill('SIGKILL');
    await exited;
  });
  return {
    output: () => out,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop(): Promise<number | null> {
      untrack();
      child.kill('SIGINT');
      return exited;
    },
  };
}

/** Runs `wait`; when it fails, the error carries the engine's counts and the end of its output (a failure explains itself). */
async function explained(root: string, engine: { output(): string; alive(): boolean }, wait: () => Promise<unknown>): Promise<void> {
  try {
    await wait();
  } catch (err) {
    const status = await meowJson<unknown>(['status', '-w', root]).then((s) => JSON.stringify(s), (e: unknown) => `meow status failed: ${String(e)}`);
    throw new Error(`${(err as Error).message}\nengine alive: ${engine.alive()}\nstatus: ${status}\nengine output (end):\n${engine.output().slice(-4000)}`, { cause: err });
  }
}

const succeeded = async (root: string) => (await meowJson<{ jobs: { succeeded: number } }>(['status', '-w', root])).jobs.succeeded;

describe.skipIf(!available)('inotify limits reached (a user namespace with low limits)', () => {
  let ws: TempWorkspace;
  let stop: (() => Promise<number | null>) | null = null;
  afterEach(async () => {
    await stop?.();
    stop = null;
    await ws?.cleanup();
  });

  /** A workspace of DIRS directories holding one file each, and a pattern for every file. */
  async function workspace(): Promise<TempWorkspace> {
    ws = await tempWorkspace();
    await ws.write('meow.yaml', 'poll_interval: 200ms\n');
    await ws.write('recipes/noop.mjs', 'export default async () => null;\n');
    await ws.write('patterns/every.yaml', 'recipe: noop\ntrigger: {paths: "data/**/*.txt"}\n');
    for (let i = 0; i < DIRS; i++) await ws.write(`data/d${i}/first.txt`, 'x');
    return ws;
  }

  /** The engine processes the existing files, then new files in every directory and in a new one. */
  async function processesEverything(engine: Awaited<ReturnType<typeof confinedEngine>>): Promise<void> {
    await explained(ws.root, engine, () => waitFor(async () => (await succeeded(ws.root)) === DIRS, `${DIRS} jobs for the files there at the start`, 120_000, 250));
    // Written whole: one event, one job each, however loaded the machine.
    for (let i = 0; i < DIRS; i++) await writeWhole(ws.path(`data/d${i}/second.txt`), 'y');
    await mkdir(ws.path('data/new/deeper'), { recursive: true });
    await writeWhole(ws.path('data/new/deeper/third.txt'), 'z');
    await explained(ws.root, engine, () => waitFor(async () => (await succeeded(ws.root)) === 2 * DIRS + 1, 'jobs for the files written while it ran', 120_000, 250));
    expect(engine.alive()).toBe(true);
  }

  it('with max_user_watches far below the number of directories: starts, processes every file, says once how to raise the limit', async () => {
    await workspace();
    const engine = await confinedEngine(ws.root, 40, 128);
    stop = engine.stop;
    await processesEverything(engine);
    const said = engine.output().split('\n').filter((l) => l.includes('fs.inotify.max_user_watches'));
    const data = said.filter((l) => l.includes('warn: watcher: the kernel refused to watch more directories (ENOSPC'));
    expect(data).toHaveLength(1);
    expect(data[0]).toMatch(/\d+ directories are polled every 200 ms instead/);
    expect(data[0]).toContain('sysctl -w fs.inotify.max_user_watches=');
    // The definitions watcher, when it too met the limit, says so for itself (once).
    expect(said.length - data.length).toBeLessThanOrEqual(1);
    expect(await stop()).toBe(0);
    stop = null;
  }, 300_000);

  it('with no inotify instance to be had (EMFILE): polls everything, definitions included, and says so', async () => {
    await workspace();
    const engine = await confinedEngine(ws.root, 1000, 0);
    stop = engine.stop;
    await processesEverything(engine);
    const said = engine.output().split('\n').filter((l) => l.includes('fs.inotify.max_user_instances'));
    expect(said.filter((l) => l.includes('warn: watcher: '))).toHaveLength(1);
    expect(said.filter((l) => l.includes('patterns/ and recipes/'))).toHaveLength(1);
    // A definition edited while everything is polled still applies.
    await ws.write('patterns/more.yaml', 'recipe: noop\ntrigger: {paths: "data/**/*.txt"}\n');
    await explained(ws.root, engine, () => waitFor(async () => (await succeeded(ws.root)) === 2 * (2 * DIRS + 1), 'the new pattern, triggered retroactively', 120_000, 250));
    expect(await stop()).toBe(0);
    stop = null;
  }, 300_000);
});
