import { execFileSync } from 'node:child_process';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { afterEach, expect, it } from 'vitest';
import { requireComponent } from '../helpers/components.js';
import { type LiveEngine } from '../helpers/engine.js';
import { waitFor, type TempWorkspace } from '../helpers/workspace.js';
import { useLiveWorkspace } from '../helpers/live-workspace.js';

const root = requireComponent('root (to mount a small tmpfs)', () => (process.getuid?.() !== 0 ? 'mounting a small tmpfs needs root; run the tests as root' : null));

/** Writes zeros until the filesystem is full. */
async function fill(path: string): Promise<void> {
  const fh = await open(path, 'w');
  const chunk = Buffer.alloc(256 * 1024);
  try {
    for (;;) await fh.write(chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

root.describe('a full disk', () => {
  let ws: TempWorkspace;
  let live: LiveEngine | null = null;
  let mounted = false;
  const fx = useLiveWorkspace();
  // Before the fixture's teardown: the engine stops before its disk goes.
  afterEach(async () => {
    await live?.close();
    live = null;
    if (mounted) execFileSync('umount', ['-l', ws.root]);
    mounted = false;
  });

  it('pauses new work without failing it, and resumes when space returns', async () => {
    ws = await fx.workspace();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', ws.root]);
    mounted = true;
    await ws.write('meow.yaml', 'ignore: ["staging/**", "filler"]\n');
    await ws.write('recipes/copy.sh', 'mkdir -p out; cp "$input_file" "out/$(basename "$input_file")"; echo copied\n');
    await ws.write('patterns/copy.yaml', 'recipe: copy\ntrigger: {paths: "data/*"}\n');
    await mkdir(ws.path('data'));
    for (let i = 0; i < 5; i++) await ws.write(`staging/f${i}`, 'x'.repeat(1000));
    const logs: string[] = [];
    live = await fx.start(ws.root);
    live.engine.on('log', (_level, message) => logs.push(message));

    await fill(ws.path('filler'));
    // Renames need no space: the files arrive while the disk is full.
    for (let i = 0; i < 5; i++) await rename(ws.path(`staging/f${i}`), ws.path(`data/f${i}`));
    await waitFor(() => logs.some((l) => l.startsWith('disk full')), 'the engine to notice the full disk', 15_000);
    expect(live.engine.waitingForSpace).toBe(true);
    expect(live.engine.store.countJobs().failed).toBe(0);

    await rm(ws.path('filler'));
    await waitFor(() => live?.engine.store.countJobs().succeeded === 5, 'the five jobs after space returned', 30_000);
    expect(logs).toContain('disk space is back: resuming');
    expect(live.engine.store.countJobs()).toMatchObject({ failed: 0, queued: 0, running: 0, succeeded: 5 });
    expect((await readdir(ws.path('out'))).sort()).toEqual(['f0', 'f1', 'f2', 'f3', 'f4']);
  });
});
