import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryWatcher } from '../../src/monitor/directory-watcher.js';
import type { MonitorHandlers } from '../../src/monitor/file-monitor.js';
import { WatchedTree } from '../../src/monitor/watched-tree.js';
import { watchScope } from '../../src/rules/scope.js';
import { track } from '../helpers/resources.js';
import { waitFor } from '../helpers/wait.js';
import { tempWorkspace, type TempWorkspace } from '../helpers/workspace.js';

/** What the watcher reported, as values. */
interface Reports {
  files: string[];
  added: string[];
  gone: string[];
  errors: string[];
}

/** The directory watcher on a real temp dir: real inotify, real renames. */

/** The watched tree of a workspace with every file in scope but `ignore`. */
function treeOf(root: string, ignore: string[]): WatchedTree {
  return new WatchedTree({ root, followSymlinks: 'inside' }, watchScope({ watch: ['**'], ignore }), () => undefined);
}

describe('DirectoryWatcher', () => {
  let ws: TempWorkspace;
  let watcher: DirectoryWatcher | null = null;
  let untrack: () => void = () => undefined;
  afterEach(async () => {
    watcher?.close();
    watcher = null;
    untrack();
    await ws?.cleanup();
  });

  async function watch(ignore: string[] = []): Promise<Reports> {
    const r: Reports = { files: [], added: [], gone: [], errors: [] };
    const on: MonitorHandlers = {
      file: (p) => r.files.push(p),
      dirAdded: (p) => r.added.push(p),
      dirGone: (p) => r.gone.push(p),
      error: (m) => r.errors.push(m),
    };
    const w = new DirectoryWatcher(treeOf(ws.root, ignore), on, { poll: false, pollIntervalMs: 1000 });
    watcher = w;
    untrack = track(w, `directory watcher on ${ws.root}`, () => w.close());
    await w.start();
    return r;
  }

  it('reports files written anywhere in the tree, by workspace-relative path', async () => {
    ws = await tempWorkspace();
    await mkdir(ws.path('data/raw'), { recursive: true });
    const r = await watch();
    await writeFile(ws.path('top.txt'), 'a');
    await writeFile(ws.path('data/raw/frame.h5'), 'b');
    await waitFor(() => r.files.includes('top.txt') && r.files.includes('data/raw/frame.h5'), 'both files');
    expect(r.errors).toEqual([]);
  });

  it('leaves out the built-in ignores and the configured ones, and never descends into them', async () => {
    ws = await tempWorkspace();
    await mkdir(ws.path('.meow/jobs'), { recursive: true });
    await mkdir(ws.path('scratch'), { recursive: true });
    await mkdir(ws.path('data'), { recursive: true });
    const r = await watch(['scratch/**', '**/*.tmp']);
    await writeFile(ws.path('.meow/jobs/log'), 'x');
    await writeFile(ws.path('scratch/x'), 'x');
    await writeFile(ws.path('patterns.yaml.tmp'), 'x');
    await writeFile(ws.path('data/a.tmp'), 'x');
    // A marker written last: once it is seen, the others would have been too.
    await writeFile(ws.path('data/marker'), 'x');
    await waitFor(() => r.files.includes('data/marker'), 'the marker');
    // Raw observations: a path may come more than once (created, then written); the settler makes them one event.
    expect([...new Set(r.files)]).toEqual(['data/marker']);
  });

  it('watches a new directory, reports it, and sees files in its subdirectories made before the watch', async () => {
    ws = await tempWorkspace();
    const r = await watch();
    // Built elsewhere, moved in whole: nothing inside was ever reported by a watch.
    await mkdir(ws.path('.meow/staging/run-1/sub'), { recursive: true });
    await writeFile(ws.path('.meow/staging/run-1/sub/early.dat'), 'x');
    await rename(ws.path('.meow/staging/run-1'), ws.path('run-1'));
    // One report for the directory moved in: the engine scans its whole subtree (one scan, not one per subdirectory).
    await waitFor(() => r.added.includes('run-1'), 'the new directory');
    expect(r.added.filter((d) => d.startsWith('run-1/'))).toEqual([]);
    // From now on new files anywhere in it are reported.
    await writeFile(ws.path('run-1/sub/late.dat'), 'y');
    await waitFor(() => r.files.includes('run-1/sub/late.dat'), 'a file in the new subdirectory');
  });

  it('reports a watched directory that is deleted, and one replaced by a file or a symlink', async () => {
    ws = await tempWorkspace();
    await mkdir(ws.path('a/deep'), { recursive: true });
    await mkdir(ws.path('b'), { recursive: true });
    await mkdir(ws.path('c'), { recursive: true });
    const r = await watch();
    await rm(ws.path('a'), { recursive: true });
    await waitFor(() => r.gone.includes('a'), 'a to be gone');
    await rm(ws.path('b'), { recursive: true });
    await writeFile(ws.path('b'), 'now a file');
    await waitFor(() => r.gone.includes('b') && r.files.includes('b'), 'b to be gone and reported as a file');
    await rm(ws.path('c'), { recursive: true });
    await symlink(ws.path('b'), ws.path('c'));
    await waitFor(() => r.gone.includes('c'), 'c to be gone');
    // Each directory is reported gone once (a subdirectory may go first, on its own).
    expect(r.gone.filter((g) => g === 'a')).toHaveLength(1);
    expect(r.gone.filter((g) => g === 'a/deep').length).toBeLessThanOrEqual(1);
    // A re-created directory is watched again.
    await mkdir(ws.path('a'));
    await waitFor(() => r.added.includes('a'), 'a to be watched again');
    await writeFile(ws.path('a/back'), 'x');
    await waitFor(() => r.files.includes('a/back'), 'a file in the re-created directory');
  });

  it('reports nothing after close', async () => {
    ws = await tempWorkspace();
    const r = await watch();
    watcher?.close();
    await writeFile(ws.path('after.txt'), 'x');
    await mkdir(ws.path('later'));
    // A second, independent watcher sees these: the first one has had every chance to report them.
    const other: string[] = [];
    const w2 = new DirectoryWatcher(treeOf(ws.root, []), { file: (p: string) => other.push(p), dirAdded: () => undefined, dirGone: () => undefined, error: () => undefined }, { poll: false, pollIntervalMs: 1000 });
    const untrack2 = track(w2, 'second watcher', () => w2.close());
    try {
      await w2.start();
      await writeFile(ws.path('after2.txt'), 'x');
      await waitFor(() => other.includes('after2.txt'), 'the second watcher to see a file');
    } finally {
      w2.close();
      untrack2();
    }
    expect(r).toEqual({ files: [], added: [], gone: [], errors: [] });
  });
});
