import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startLive, type LiveEngine } from '../helpers/engine.js';
import { tempWorkspace, waitFor, type TempWorkspace, readLines } from '../helpers/workspace.js';

const LEDGER_SH = 'printf "%s %s\\n" "$ev" "${input_file#$MEOW_WORKSPACE/}" >> "$MEOW_WORKSPACE/ledger.txt"\n';

const ledger = (ws: TempWorkspace) => readLines(ws.path('ledger.txt'));

/** meow.yaml lines for a watch mode: polling fast, so the suite runs in the same time in both. */
const MODE_YAML = { native: 'watch_mode: native\n', poll: 'watch_mode: poll\npoll_interval: 100ms\n' } as const;

describe.each(['native', 'poll'] as const)('watching through faults (watch_mode: %s)', (mode) => {
  let ws: TempWorkspace;
  let live: LiveEngine | null = null;
  afterEach(async () => {
    await live?.close();
    live = null;
    await ws?.cleanup();
  });

  it('loses none of a burst far beyond the kernel queue (16,384 events), with no periodic scan', async () => {
    ws = await tempWorkspace();
    // No periodic scan: what the watcher misses must be caught at once, not a minute later.
    await ws.write('meow.yaml', `${MODE_YAML[mode]}scan_interval: 0\n`);
    await ws.write('recipes/noop.mjs', 'export default async () => null;\n');
    await ws.write('patterns/burst.yaml', 'recipe: noop\ntrigger: {paths: "burst/**/*.dat"}\n');
    await mkdir(ws.path('burst'));
    live = await startLive(ws.root);
    // Paused, the pattern's jobs are recorded but not run: this measures what the watcher and scans catch.
    live.engine.setPaused('burst', true);
    const N = mode === 'native' ? 20_000 : 2_000;
    for (let d = 0; d < 4; d++) await mkdir(ws.path(`burst/d${d}`));
    // Written while the engine (in this process) cannot read its events: the kernel's queue overflows for sure.
    for (let i = 0; i < N; i++) writeFileSync(ws.path(`burst/d${i % 4}/f${i}.dat`), 'x');
    await waitFor(() => {
      const queued = live?.engine.store.countJobs().queued;
      if (queued === N) return true;
      throw new Error(`${queued} queued; the log ends: ${live?.logs.slice(-3).join(' | ')}`);
    }, `${N} queued jobs`, 240_000, 250);
    const jobs = live.engine.store.listJobs({ pattern: 'burst' });
    expect(jobs).toHaveLength(N);
    expect(new Set(jobs.map((j) => j.input)).size).toBe(N);
    if (mode === 'native') expect(live.logs.some((l) => l.includes('may have overflowed'))).toBe(true);
  }, 300_000);

  it('survives symlink loops, a directory deleted and re-created, and one replaced by a symlink', async () => {
    ws = await tempWorkspace();
    await ws.write('meow.yaml', MODE_YAML[mode]);
    await ws.write('recipes/ledger.sh', LEDGER_SH);
    await ws.write('patterns/seen.yaml', 'recipe: ledger\ntrigger: {paths: "data/**", events: [created, modified, deleted]}\nvariables: {ev: "{event}"}\n');
    await ws.write('data/sub/a.txt', 'a');
    await ws.write('elsewhere/b.txt', 'b');
    // The same name as the file the replaced directory held: reached through the link, it would look modified.
    await ws.write('elsewhere/c.txt', 'not c');
    await symlink('..', ws.path('data/sub/loop')); // data/sub/loop → data
    live = await startLive(ws.root);
    await waitFor(async () => (await ledger(ws)).includes('created data/sub/a.txt'), 'the first file');

    await rm(ws.path('data/sub'), { recursive: true });
    await waitFor(async () => (await ledger(ws)).includes('deleted data/sub/a.txt'), 'the deletion');
    await ws.write('data/sub/c.txt', 'c'); // re-created
    await waitFor(async () => (await ledger(ws)).includes('created data/sub/c.txt'), 'a file in the re-created directory');

    await rm(ws.path('data/sub'), { recursive: true });
    await symlink(ws.path('elsewhere'), ws.path('data/sub')); // replaced by a symlink: not followed
    await waitFor(async () => (await ledger(ws)).includes('deleted data/sub/c.txt'), 'the replaced directory\'s file to go');
    await live.engine.reconcileLive();
    await ws.write('data/after.txt', 'after');
    await waitFor(async () => (await ledger(ws)).includes('created data/after.txt'), 'a later file');
    // Requests for a scan are coalesced: one runs, one waits, and every later request joins the waiting one.
    const engine = live.engine;
    const requests = Array.from({ length: 20 }, () => engine.reconcileLive());
    expect(new Set(requests).size).toBeLessThanOrEqual(2);
    await Promise.all(requests);
    const lines = await ledger(ws);
    expect(lines.filter((l) => l.includes('loop') || l.includes('b.txt'))).toEqual([]);
    expect(lines.filter((l) => l.includes('data/sub/c.txt'))).toEqual(['created data/sub/c.txt', 'deleted data/sub/c.txt']);
  });

  it('skips a directory chain deeper than max_depth, says so once, and keeps processing the rest', async () => {
    ws = await tempWorkspace();
    await ws.write('meow.yaml', MODE_YAML[mode]);
    await ws.write('recipes/ledger.sh', LEDGER_SH);
    await ws.write('patterns/seen.yaml', 'recipe: ledger\ntrigger: {paths: "data/**"}\nvariables: {ev: "{event}"}\n');
    // 2,100 levels: deeper than the kernel lets one path name (4,096 bytes), so built one level at a time.
    await mkdir(ws.path('data'));
    const chain = 'import os, sys\nos.chdir(sys.argv[1])\nfor _ in range(2100):\n    os.mkdir("d")\n    os.chdir("d")\nopen("bottom.txt", "w").write("bottom")\n';
    execFileSync('python3', ['-c', chain, ws.path('data')]);
    await ws.write('data/top.txt', 'top');
    try {
      live = await startLive(ws.root);
      await waitFor(async () => (await ledger(ws)).includes('created data/top.txt'), 'the shallow file');
      const cut = `data/${Array.from({ length: 63 }, () => 'd').join('/')}`;
      mkdirSync(ws.path(`${cut.slice(0, -2)}/e`)); // level 64: still watched
      writeFileSync(ws.path(`${cut.slice(0, -2)}/e/inside.txt`), 'x');
      await waitFor(async () => (await ledger(ws)).some((l) => l.endsWith('/e/inside.txt')), 'a file at the deepest level watched');
      await live.engine.reconcileLive();
      await live.engine.reconcileLive();
      const deep = live.logs.filter((l) => l.includes('more than max_depth 64'));
      expect(deep).toEqual([`warn: ${cut}/d: 65 directory levels below the workspace, more than max_depth 64: neither watched nor scanned, nor anything below it (raise max_depth in meow.yaml to include it)`]);
      expect((await ledger(ws)).filter((l) => l.includes('bottom'))).toEqual([]);
    } finally {
      await live?.close();
      live = null;
      // Node's rm gives up on paths longer than the kernel's limit; rm(1) walks down by descriptor.
      execFileSync('rm', ['-rf', ws.path('data')]);
    }
  }, 120_000);
});
