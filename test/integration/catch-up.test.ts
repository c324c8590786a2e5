import { appendFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { type LiveEngine } from '../helpers/engine.js';
import { meow, meowJson, waitFor, type TempWorkspace, readLines } from '../helpers/workspace.js';
import { useLiveWorkspace } from '../helpers/live-workspace.js';

const LEDGER_SH = 'printf "%s %s\\n" "$ev" "${input_file#$MEOW_WORKSPACE/}" >> "$MEOW_WORKSPACE/ledger.txt"\n';

const ledger = (ws: TempWorkspace) => readLines(ws.path('ledger.txt'));

describe('catching up', () => {
  let ws: TempWorkspace;
  let live: LiveEngine | null = null;
  const fx = useLiveWorkspace();

  it('triggers, at the next start, exactly what changes made while the engine was down would have triggered', async () => {
    ws = await fx.workspace();
    await ws.write('recipes/ledger.sh', LEDGER_SH);
    await ws.write('patterns/all.yaml', 'recipe: ledger\ntrigger: {paths: "data/*", events: [created, modified, deleted, moved]}\nvariables: {ev: "{event}"}\n');
    for (const n of ['keep', 'change', 'remove', 'old-name']) await ws.write(`data/${n}`, n);
    const first = await fx.process(ws.root);
    await waitFor(async () => (await ledger(ws)).length === 4, 'the first four jobs');
    expect(await first.stop()).toBe(0);

    // While the engine is down:
    await ws.write('data/new', 'new');
    await appendFile(ws.path('data/change'), ' more');
    await rm(ws.path('data/remove'));
    await rename(ws.path('data/old-name'), ws.path('data/new-name'));
    await ws.write('patterns/late.yaml', 'recipe: ledger\ntrigger: {paths: "data/keep"}\nvariables: {ev: late}\n');

    const second = await fx.process(ws.root);
    await waitFor(async () => (await ledger(ws)).length === 9, 'the catch-up jobs');
    expect(await second.stop()).toBe(0);
    expect((await ledger(ws)).slice(4).sort()).toEqual(['created data/new', 'deleted data/remove', 'late data/keep', 'modified data/change', 'moved data/new-name']);

    // Nothing changed since: a third start runs nothing.
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    expect(await ledger(ws)).toHaveLength(9);
  });

  it('catches files the watcher never reported with the periodic reconcile scan', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'scan_interval: 300ms\n');
    await ws.write('recipes/ledger.sh', LEDGER_SH);
    await ws.write('patterns/all.yaml', 'recipe: ledger\ntrigger: {paths: "data/**"}\nvariables: {ev: "{event}"}\n');
    await mkdir(ws.path('data'));
    live = await fx.start(ws.root);
    // Detach the watcher, as an inotify overflow or a lost mount would: only the scan can see these.
    await (live.engine as unknown as { live: { monitor: { close(): Promise<void> } } }).live.monitor.close();
    for (let i = 0; i < 50; i++) await writeFile(ws.path(`data/missed-${i}`), String(i));
    await waitFor(async () => (await ledger(ws)).length === 50, 'jobs for the 50 unreported files', 15_000);
    expect(new Set(await ledger(ws)).size).toBe(50);
  });

  it('serves readers while the engine writes under load, without SQLITE_BUSY', async () => {
    ws = await fx.workspace();
    await ws.write('recipes/noop.mjs', 'export default async () => null;\n');
    await ws.write('patterns/noop.yaml', 'recipe: noop\ntrigger: {paths: "data/*"}\n');
    await mkdir(ws.path('data'));
    await Promise.all(Array.from({ length: 2000 }, (_, i) => writeFile(ws.path(`data/f${i}`), '')));
    const engine = await fx.process(ws.root);
    try {
      const readers = [];
      for (let round = 0; round < 8; round++) {
        readers.push(meow(['jobs', '--json', '--limit', '50', '-w', ws.root]), meow(['status', '--json', '-w', ws.root]));
      }
      for (const r of await Promise.all(readers)) {
        expect(r.stderr).not.toMatch(/SQLITE_BUSY|database is locked/);
        expect(r.code).toBe(0);
      }
      await waitFor(async () => (await meowJson<{ jobs: { succeeded: number } }>(['status', '-w', ws.root])).jobs.succeeded === 2000, '2000 jobs', 60_000, 100);
    } finally {
      expect(await engine.stop()).toBe(0);
    }
    // And straight from the database once the engine is gone.
    const offline = await meowJson<unknown[]>(['jobs', '--status', 'succeeded', '-w', ws.root]);
    expect(offline).toHaveLength(2000);
  });
});
