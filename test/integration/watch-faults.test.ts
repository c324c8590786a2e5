import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { type LiveEngine } from '../helpers/engine.js';
import { waitFor, type TempWorkspace, readLines } from '../helpers/workspace.js';
import { useLiveWorkspace } from '../helpers/live-workspace.js';
import { scaled } from '../helpers/pace.js';

const LEDGER_SH = 'printf "%s %s\\n" "$ev" "${input_file#$MEOW_WORKSPACE/}" >> "$MEOW_WORKSPACE/ledger.txt"\n';

const ledger = (ws: TempWorkspace) => readLines(ws.path('ledger.txt'));

describe('watching through faults', () => {
  let ws: TempWorkspace;
  let live: LiveEngine | null = null;
  const fx = useLiveWorkspace();

  it('loses none of a burst far beyond the kernel queue (16,384 events), with the reconcile scan', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'scan_interval: 2s\n');
    await ws.write('recipes/noop.mjs', 'export default async () => null;\n');
    await ws.write('patterns/burst.yaml', 'recipe: noop\ntrigger: {paths: "burst/**/*.dat"}\n');
    await mkdir(ws.path('burst'));
    live = await fx.start(ws.root);
    // Paused, the pattern's jobs are recorded but not run: this measures what the watcher and scans catch.
    live.engine.setPaused('burst', true);
    const N = 20_000;
    for (let d = 0; d < 4; d++) await mkdir(ws.path(`burst/d${d}`));
    for (let i = 0; i < N; i += 1000) {
      await Promise.all(Array.from({ length: 1000 }, (_, j) => writeFile(ws.path(`burst/d${(i + j) % 4}/f${i + j}.dat`), '')));
    }
    await waitFor(() => live?.engine.store.countJobs().queued === N, `${N} queued jobs`, 120_000, 250);
    const jobs = live.engine.store.listJobs({ pattern: 'burst' });
    expect(jobs).toHaveLength(N);
    expect(new Set(jobs.map((j) => j.input)).size).toBe(N);
  }, scaled(180_000));

  it('survives symlink loops, a directory deleted and re-created, and one replaced by a symlink', async () => {
    ws = await fx.workspace();
    await ws.write('recipes/ledger.sh', LEDGER_SH);
    await ws.write('patterns/seen.yaml', 'recipe: ledger\ntrigger: {paths: "data/**", events: [created, deleted]}\nvariables: {ev: "{event}"}\n');
    await ws.write('data/sub/a.txt', 'a');
    await ws.write('elsewhere/b.txt', 'b');
    await symlink('..', ws.path('data/sub/loop')); // data/sub/loop → data
    live = await fx.start(ws.root);
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
    expect((await ledger(ws)).filter((l) => l.includes('loop') || l.includes('b.txt'))).toEqual([]);
  });
});
