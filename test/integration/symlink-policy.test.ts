import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.js';
import { startLive, type LiveEngine } from '../helpers/engine.js';
import { track } from '../helpers/resources.js';
import { meow, tempWorkspace, waitFor, type TempWorkspace } from '../helpers/workspace.js';

const MODE_YAML = { native: 'watch_mode: native\n', poll: 'watch_mode: poll\npoll_interval: 100ms\n' } as const;

describe.each(['native', 'poll'] as const)('follow_symlinks (watch_mode: %s)', (mode) => {
  let ws: TempWorkspace;
  let outside: string;
  let live: LiveEngine | null = null;
  afterEach(async () => {
    await live?.close();
    live = null;
    await ws?.cleanup();
    await rm(outside, { recursive: true, force: true });
  });

  /**
   * A drop directory holding a plain file, a link to a file elsewhere in the
   * workspace, a link to a file outside it (another user's trick in a shared
   * drop directory) and a link into the engine's state.
   */
  async function dropDirectory(policy: string | null): Promise<void> {
    ws = await tempWorkspace();
    outside = await mkdtemp(join(tmpdir(), 'meow-outside-'));
    await writeFile(join(outside, 'secret.txt'), 'not yours');
    await writeFile(join(outside, 'later.txt'), 'not yours either');
    await ws.write('meow.yaml', `${MODE_YAML[mode]}${policy ? `follow_symlinks: ${policy}\n` : ''}`);
    await ws.write('recipes/noop.mjs', 'export default async () => null;\n');
    await ws.write('patterns/drop.yaml', 'recipe: noop\ntrigger: {paths: "drop/*"}\n');
    await ws.write('drop/plain.txt', 'plain');
    await ws.write('reference/calib.txt', 'calibration');
    await symlink('../reference/calib.txt', ws.path('drop/calib.txt'));
    await symlink(join(outside, 'secret.txt'), ws.path('drop/secret.txt'));
    await symlink('../.meow/state.db', ws.path('drop/state.db'));
    live = await startLive(ws.root);
  }

  const inputs = () => (live?.engine.store.listJobs({ pattern: 'drop' }) ?? []).map((j) => j.input).sort();
  const said = (what: string) => (live?.logs ?? []).filter((l) => l.includes(what));

  /** Adds a link to an outside file and a plain file while live; resolves once the plain one has its job. */
  async function dropWhileLive(): Promise<void> {
    await symlink(join(outside, 'later.txt'), ws.path('drop/later.txt'));
    await ws.write('drop/after.txt', 'after');
    await waitFor(() => inputs().includes('drop/after.txt'), 'the plain file dropped while live');
    // A link that is refused stays refused, and is not reported again, however often the tree is scanned.
    await live?.engine.reconcileLive();
    await live?.engine.reconcileLive();
  }

  it('by default (inside) follows links within the workspace, not those leading out of it or into .meow; each is reported once', async () => {
    await dropDirectory(null);
    await waitFor(() => inputs().length === 2, 'jobs of the files at the start');
    await dropWhileLive();
    expect(inputs()).toEqual(['drop/after.txt', 'drop/calib.txt', 'drop/plain.txt']);
    expect(said('drop/secret.txt')).toEqual([
      `warn: drop/secret.txt: a symbolic link to ${join(outside, 'secret.txt')}, outside the workspace: not followed, no job (follow_symlinks: inside; "follow_symlinks: all" in meow.yaml follows it)`,
    ]);
    expect(said('drop/later.txt')).toHaveLength(1);
    expect(said('drop/later.txt')[0]).toContain('outside the workspace: not followed, no job');
    expect(said('drop/state.db')).toEqual(["warn: drop/state.db: a symbolic link into the engine's state (.meow/state.db): never followed"]);
  });

  it('with follow_symlinks: all follows every link to a file but those into .meow', async () => {
    await dropDirectory('all');
    await waitFor(() => inputs().length === 3, 'jobs of the files at the start');
    await dropWhileLive();
    expect(inputs()).toEqual(['drop/after.txt', 'drop/calib.txt', 'drop/later.txt', 'drop/plain.txt', 'drop/secret.txt']);
    expect(said('symbolic link')).toEqual(["warn: drop/state.db: a symbolic link into the engine's state (.meow/state.db): never followed"]);
  });

  it('with follow_symlinks: none follows no link', async () => {
    await dropDirectory('none');
    await waitFor(() => inputs().length === 1, 'the job of the plain file');
    await dropWhileLive();
    expect(inputs()).toEqual(['drop/after.txt', 'drop/plain.txt']);
    for (const link of ['calib.txt', 'secret.txt', 'state.db', 'later.txt']) {
      expect(said(`drop/${link}`)).toEqual([`warn: drop/${link}: a symbolic link: not followed (follow_symlinks: none in meow.yaml)`]);
    }
  });
});

describe('follow_symlinks with meow run --until-idle', () => {
  it('refuses a link out of the workspace once, and runs the rest', async () => {
    const ws = await tempWorkspace();
    const outside = await mkdtemp(join(tmpdir(), 'meow-outside-'));
    try {
      await writeFile(join(outside, 'passwd'), 'root:x:0:0');
      await ws.write('recipes/noop.mjs', 'export default async () => null;\n');
      await ws.write('patterns/drop.yaml', 'recipe: noop\ntrigger: {paths: "drop/*"}\n');
      await ws.write('drop/plain.txt', 'plain');
      await symlink(join(outside, 'passwd'), ws.path('drop/passwd'));
      const run = await meow(['run', '--until-idle', '--no-tui', '-w', ws.root]);
      expect(run.code).toBe(0);
      expect(run.stderr.match(/drop\/passwd: a symbolic link to .*, outside the workspace: not followed, no job/g)).toHaveLength(1);
      const jobs = await meow(['jobs', '--json', '-w', ws.root]);
      expect((JSON.parse(jobs.stdout) as { input: string }[]).map((j) => j.input)).toEqual(['drop/plain.txt']);
    } finally {
      await ws.cleanup();
      await rm(outside, { recursive: true, force: true });
    }
  });
});

describe('a link swapped after its job was queued', () => {
  let ws: TempWorkspace | null = null;
  let outside = '';
  afterEach(async () => {
    await ws?.cleanup();
    if (outside) await rm(outside, { recursive: true, force: true });
  });

  it('is checked again when the job starts: a link now leading out of the workspace is not read through', async () => {
    ws = await tempWorkspace();
    outside = await mkdtemp(join(tmpdir(), 'meow-outside-'));
    await writeFile(join(outside, 'secret.txt'), 'not yours');
    await ws.write('recipes/publish.sh', 'cp "$input_file" "$MEOW_WORKSPACE/pub/$(basename "$input_file").copy"\n');
    await ws.write('patterns/publish.yaml', 'recipe: publish\ntrigger: {paths: "drop/*"}\n');
    await ws.write('innocent.txt', 'harmless');
    await ws.write('pub/.keep', '');
    await ws.write('drop/.keep', '');
    await symlink('../innocent.txt', ws.path('drop/evil'));
    const engine = await Engine.open(ws.root);
    const untrack = track(engine, `engine in ${ws.root}`, () => engine.close({ cancelRunning: true }));
    try {
      // Nothing starts while the disk is "full": the job stays queued while the link is swapped.
      engine.scheduler.waitForSpace();
      await engine.start();
      expect(engine.store.listJobs({ pattern: 'publish' }).map((j) => j.status)).toEqual(['queued']);
      await rm(ws.path('drop/evil'));
      await symlink(join(outside, 'secret.txt'), ws.path('drop/evil'));
      engine.scheduler.spaceReturned();
      await engine.scheduler.whenIdle();
      const [job] = engine.store.listJobs({ pattern: 'publish' });
      expect(job.status).toBe('failed');
      expect(job.error).toContain('drop/evil changed after the job was queued: a symbolic link to');
      expect(job.error).toContain('outside the workspace');
      expect(existsSync(ws.path('pub/evil.copy'))).toBe(false);
    } finally {
      untrack();
      await engine.close({ cancelRunning: true });
    }
  });
});
