/**
 * One engine per workspace (issue 14, item 1): a lock the kernel holds for
 * the engine's lifetime, taken before any migration; a second `meow run`
 * exits 2 naming the first; `meow run --until-idle` beside a live engine is
 * its client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkspaceLock, lockHolder, readHolder } from '../../src/store/workspace-lock.js';
import { track } from '../helpers/resources.js';
import { MEOW, meow, meowJson, readLines, startEngineProcess, tempWorkspace, waitFor, type TempWorkspace } from '../helpers/workspace.js';

let ws: TempWorkspace;
afterEach(async () => {
  await ws?.cleanup();
});

/** A `meow ARGS` process in the background, killed at the end of the test. */
function spawnMeow(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [MEOW, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const untrack = track(child, `meow ${args.join(' ')}`, async () => {
    child.kill('SIGKILL');
    await exited;
  });
  void exited.then(untrack);
  return { child, output: () => out, exited };
}

describe('the workspace lock', () => {
  it('refuses a second holder at once, naming the first, and is free again once released', async () => {
    ws = await tempWorkspace();
    const lock = WorkspaceLock.acquire(ws.root);
    try {
      expect(readHolder(ws.root)?.pid).toBe(process.pid);
      expect(() => WorkspaceLock.acquire(ws.root)).toThrow(new RegExp(`pid ${process.pid} `));
      expect(lockHolder(ws.root)).toMatchObject({ pid: process.pid });
    } finally {
      lock.release();
    }
    expect(lockHolder(ws.root)).toBeNull();
    WorkspaceLock.acquire(ws.root).release();
  });

  it('serves again after its file was overwritten with garbage; a garbled engine.pid still gives a clear refusal', async () => {
    ws = await tempWorkspace();
    await ws.write('.meow/engine.lock', 'not a database at all, just some bytes that are long enough to be read as a header');
    const lock = WorkspaceLock.acquire(ws.root);
    try {
      await writeFile(ws.path('.meow/engine.pid'), '{"pid": "oops"');
      expect(() => WorkspaceLock.acquire(ws.root)).toThrow(/another engine \(it has not written \.meow\/engine\.pid yet\) holds \.meow\/engine\.lock/);
    } finally {
      lock.release();
    }
  });

  it('vanishes with its process: kill -9 leaves no stale lock', async () => {
    ws = await tempWorkspace();
    const script = `import { WorkspaceLock } from ${JSON.stringify(join(process.cwd(), 'dist/src/store/workspace-lock.js'))};\nWorkspaceLock.acquire(process.argv[1]);\nconsole.log('held');\nsetInterval(() => {}, 1000);\n`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, ws.root], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const untrack = track(child, 'lock holder', async () => {
      child.kill('SIGKILL');
      await exited;
    });
    await new Promise<void>((r) => child.stdout?.once('data', () => r()));
    expect(() => WorkspaceLock.acquire(ws.root)).toThrow(new RegExp(`pid ${child.pid} `));
    child.kill('SIGKILL');
    await exited;
    untrack();
    expect(existsSync(join(ws.root, '.meow', 'engine.lock'))).toBe(true);
    WorkspaceLock.acquire(ws.root).release();
  });
});

describe('one engine per workspace', () => {
  it('two `meow run` started at the same instant on a new workspace: one runs, the other exits 2 naming it', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/r.sh', '#!/bin/bash\necho hi\n');
    await ws.write('patterns/p.yaml', 'recipe: r\ntrigger:\n  paths: "data/*.txt"\n');
    await ws.write('data/a.txt', 'a');
    const runs = [spawnMeow(['run', '--no-tui', '-w', ws.root]), spawnMeow(['run', '--no-tui', '-w', ws.root])];
    const first = await Promise.race(runs.map((r, i) => r.exited.then((code) => ({ i, code }))));
    const loser = runs[first.i];
    const winner = runs[1 - first.i];
    expect(first.code, loser.output()).toBe(2);
    expect(loser.output()).toContain(`an engine is already running in ${ws.root}: the engine with pid ${winner.child.pid} `);
    expect(loser.output()).not.toMatch(/duplicate column|SQLITE/);
    await waitFor(async () => (await meowJson<{ engine: string; jobs: { succeeded: number } }>(['status', '-w', ws.root])).jobs.succeeded === 1, 'the job of the engine that runs', 30_000);
    winner.child.kill('SIGINT');
    expect(await winner.exited).toBe(0);
  }, 120_000);

  it('a second `meow run` while the first registers a 20,000-file pattern exits 2 naming it', async () => {
    ws = await tempWorkspace();
    for (let d = 0; d < 20; d++) {
      await mkdir(ws.path(`data/d${d}`), { recursive: true });
      await Promise.all(Array.from({ length: 1000 }, (_, i) => writeFile(ws.path(`data/d${d}/f${i}.txt`), '')));
    }
    await ws.write('recipes/r.mjs', 'export default async () => 1;\n');
    await ws.write('patterns/p.yaml', 'recipe: r\ntrigger:\n  paths: "data/**/*.txt"\n');
    const first = spawnMeow(['run', '--no-tui', '-w', ws.root]);
    // The lock is taken (engine.pid written) before the database is even opened.
    await waitFor(() => readHolder(ws.root)?.pid === first.child.pid, 'the first engine to take the lock', 30_000);
    const second = await meow(['run', '--no-tui', '-w', ws.root]);
    expect(second.code, second.stderr).toBe(2);
    expect(second.stderr).toContain(`the engine with pid ${first.child.pid} `);
    expect(first.child.exitCode).toBeNull();
    first.child.kill('SIGKILL');
    await first.exited;
  }, 300_000);

  it('`meow run --until-idle` beside a live engine is its client: every job runs once, within the cpus limit', async () => {
    ws = await tempWorkspace();
    // The live engine polls rarely: the files below reach it through the client's reconcile request.
    await ws.write('meow.yaml', 'watch_mode: poll\npoll_interval: 1h\nscan_interval: 1h\nbackends:\n  local: {type: local, cpus: 2}\n');
    await ws.write('recipes/bad.sh', '#!/bin/bash\nexit 3\n');
    await ws.write('patterns/bad.yaml', 'recipe: bad\ntrigger:\n  paths: "data/*.bad"\n');
    // Each run appends "start" and "end" to a shared log: how many overlap is the concurrency.
    await ws.write('recipes/r.sh', '#!/bin/bash\necho "start $(basename "$input_file")" >> runs.log\nsleep 0.2\necho "end $(basename "$input_file")" >> runs.log\n');
    await ws.write('patterns/p.yaml', 'recipe: r\ntrigger:\n  paths: "data/*.txt"\n');
    const engine = await startEngineProcess(ws.root);
    try {
      for (let i = 0; i < 10; i++) await ws.write(`data/f${i}.txt`, String(i));
      const r = await meow(['run', '--until-idle', '-w', ws.root]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`the engine with pid ${engine.child.pid} `);
      expect(r.stdout).toContain('0 failed in this run');
      const jobs = await meowJson<{ input: string; status: string }[]>(['jobs', '-w', ws.root]);
      expect(jobs.filter((j) => j.status === 'succeeded').map((j) => j.input).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `data/f${i}.txt`).sort());
      const lines = await readLines(ws.path('runs.log'));
      expect(lines.filter((l) => l.startsWith('start'))).toHaveLength(10);
      let running = 0;
      let most = 0;
      for (const l of lines) {
        running += l.startsWith('start') ? 1 : -1;
        most = Math.max(most, running);
      }
      expect(most).toBeLessThanOrEqual(2);
      // A failed job while it waits: exit 1, as a local --until-idle.
      await ws.write('data/x.bad', 'x');
      const failed = await meow(['run', '--until-idle', '-w', ws.root]);
      expect(failed.code, failed.stderr).toBe(1);
      // Read-only commands keep working beside the live engine.
      expect((await meow(['trace', 'data/f1.txt', '-w', ws.root])).code).toBe(0);
      expect((await meow(['jobs', '--status', 'failed', '-w', ws.root])).stdout).toContain('data/x.bad');
    } finally {
      expect(await engine.stop()).toBe(0);
    }
    const log = await readFile(ws.path('runs.log'), 'utf8');
    expect(log.match(/^start/gm)).toHaveLength(10);
  }, 180_000);
});
