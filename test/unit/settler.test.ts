import { afterEach, describe, expect, it } from 'vitest';
import type { FileEvent } from '../../src/core/types.js';
import { Settler, type SettlerDeps } from '../../src/monitor/settler.js';
import type { FileState } from '../../src/rules/tree-diff.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The settler over values: the "disk" and the files table are maps the test
 * edits, so each case says exactly what the settler saw and what it emitted.
 */
class World {
  readonly disk = new Map<string, FileState>();
  readonly known = new Map<string, FileState>();
  readonly claims = new Set<string>();
  readonly batches: FileEvent[][] = [];
  stats = 0;
  settleMs = 10;
  readonly settler: Settler;

  constructor(over: Partial<SettlerDeps> = {}) {
    this.settler = new Settler({
      settleFor: () => this.settleMs,
      known: (p) => this.known.get(p) ?? null,
      stat: async (p) => {
        this.stats++;
        return this.disk.get(p) ?? null;
      },
      claimed: (p) => this.claims.has(p),
      onEvents: (events) => {
        this.batches.push(events);
        // The engine records what it was told about.
        for (const e of events) {
          if (e.kind === 'deleted') this.known.delete(e.path);
          else {
            if (e.oldPath) this.known.delete(e.oldPath);
            const st = this.disk.get(e.path);
            if (st) this.known.set(e.path, st);
          }
        }
      },
      moveWindowMs: 60_000,
      ...over,
    });
  }

  get events(): FileEvent[] {
    return this.batches.flat();
  }

  /** Waits until the settler has nothing pending. */
  async settled(): Promise<FileEvent[]> {
    await waitFor(() => this.settler.pending === 0, 'the settler to settle', 10_000, 2);
    return this.events;
  }
}

const worlds: World[] = [];
function world(over?: Partial<SettlerDeps>): World {
  const w = new World(over);
  worlds.push(w);
  return w;
}

afterEach(() => {
  for (const w of worlds.splice(0)) w.settler.close();
});

const st = (version: string, ino: number | null = 1): FileState => ({ version, ino });
const ev = (kind: FileEvent['kind'], path: string, version: string, more: Partial<FileEvent> = {}): FileEvent => ({ kind, path, oldPath: null, version, generation: 0, cause: null, ...more });

describe('Settler', () => {
  it('gives one created event however often a new file is observed while it is written', async () => {
    const w = world();
    w.settleMs = 50;
    for (let i = 1; i <= 20; i++) {
      w.disk.set('data/a', st(`${i}:100`));
      w.settler.observe('data/a');
    }
    expect(w.settler.isPending('data/a')).toBe(true);
    expect(await w.settled()).toEqual([ev('created', 'data/a', '20:100')]);
  });

  it('gives modified only when the version changed, and nothing for an unchanged file', async () => {
    const w = world();
    w.known.set('a', st('1:1'));
    w.known.set('b', st('1:1'));
    w.disk.set('a', st('2:2'));
    w.disk.set('b', st('1:1'));
    w.settler.observe('a');
    w.settler.observe('b');
    expect(await w.settled()).toEqual([ev('modified', 'a', '2:2')]);
  });

  it('names every path it holds, up to and while its events are handed on, and none after', async () => {
    const seen: string[][] = [];
    const w = world({
      onEvents: (events) => {
        seen.push([...w.settler.paths()].sort());
        for (const e of events) w.known.set(e.path, w.disk.get(e.path) ?? st('gone'));
      },
    });
    w.settleMs = 30;
    for (const p of ['a', 'b']) {
      w.disk.set(p, st(`1:${p}`, null));
      w.settler.observe(p);
    }
    expect([...w.settler.paths()].sort()).toEqual(['a', 'b']);
    // On a busy machine the two may settle in two batches, handed on one after the other: the first is what counts.
    await waitFor(() => seen.length >= 1, 'the batch handed on', 10_000, 2);
    // While the handler runs, the events it is given still count as held (a set must not complete between two of them).
    expect(seen[0]).toEqual(['a', 'b']);
    await w.settled();
    expect([...w.settler.paths()]).toEqual([]);
  });

  it('flushes the events settling together as one batch', async () => {
    const w = world();
    // Settling in the same turn of the event loop (10 ms timers set a moment apart may expire in two turns on a busy machine).
    w.settleMs = 0;
    for (const p of ['x', 'y', 'z']) {
      w.disk.set(p, st(`1:${p}`, null));
      w.settler.observe(p);
    }
    await w.settled();
    expect(w.batches).toHaveLength(1);
    expect(w.batches[0].map((e) => e.path).sort()).toEqual(['x', 'y', 'z']);
  });

  it('looks at a new empty file once more before calling it created (the writer may not have written yet)', async () => {
    const w = world();
    w.disk.set('f', st('0:1'));
    const stats = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (w.stats >= 1) {
          clearInterval(check);
          // Between the first look and the second: the bytes arrive.
          w.disk.set('f', st('5:2'));
          resolve();
        }
      }, 1);
    });
    w.settler.observe('f');
    await stats;
    expect(await w.settled()).toEqual([ev('created', 'f', '5:2')]);
    expect(w.stats).toBe(2);
  });

  it('calls a file that stays empty created, empty', async () => {
    const w = world();
    w.disk.set('empty', st('0:1'));
    w.settler.observe('empty');
    expect(await w.settled()).toEqual([ev('created', 'empty', '0:1')]);
  });

  it('turns a deletion and the same inode and version elsewhere into one moved event, keeping lineage', async () => {
    const w = world();
    w.known.set('old/name', { version: '7:7', ino: 42, generation: 2, cause: 'job-1' });
    w.settler.observe('old/name');
    await waitFor(() => !w.settler.isPending('old/name'), 'the deletion to be held', 10_000, 2);
    // Held for the move window, not yet an event.
    expect(w.events).toEqual([]);
    expect(w.settler.pending).toBe(1);
    w.disk.set('new/name', { version: '7:7', ino: 42 });
    w.settler.observe('new/name');
    expect(await w.settled()).toEqual([ev('moved', 'new/name', '7:7', { oldPath: 'old/name', generation: 2, cause: 'job-1' })]);
  });

  it('makes a rename one moved event when the new path is checked before the old one (the two stats end in either order)', async () => {
    let releaseOld!: () => void;
    const oldChecked = new Promise<void>((r) => (releaseOld = r));
    const w = world({
      stat: async (p) => {
        // The old path's stat is slow (a busy thread pool): the new path's ends first.
        if (p === 'old/name') await oldChecked;
        return w.disk.get(p) ?? null;
      },
    });
    w.known.set('old/name', { version: '7:7', ino: 42, generation: 1, cause: 'job-1' });
    w.known.set('other', { version: '1:1', ino: 43 });
    w.disk.set('new/name', { version: '7:7', ino: 42 });
    w.disk.set('other', { version: '1:1', ino: 43 });
    w.disk.set('fresh', { version: '2:2', ino: 44 });
    w.settler.observe('old/name');
    w.settler.observe('new/name');
    w.settler.observe('fresh');
    // A new file of another inode does not wait.
    await waitFor(() => w.events.some((e) => e.path === 'fresh'), 'the unrelated new file', 10_000, 2);
    expect(w.events).toEqual([ev('created', 'fresh', '2:2')]);
    expect([...w.settler.paths()]).toEqual(expect.arrayContaining(['old/name', 'new/name']));
    releaseOld();
    expect(await w.settled()).toEqual([ev('created', 'fresh', '2:2'), ev('moved', 'new/name', '7:7', { oldPath: 'old/name', generation: 1, cause: 'job-1' })]);
  });

  it('reports a recorded path replaced by another file (renamed over it) as modified, even with the same size and time, and follows the new inode', async () => {
    const w = world({ moveWindowMs: 20 });
    w.known.set('a', { version: '4:4', ino: 1 });
    w.known.set('b', { version: '4:4', ino: 2 });
    // mv a b: b has a's inode now, with the same size and modification time it had.
    w.disk.set('b', { version: '4:4', ino: 1 });
    w.settler.observe('a');
    w.settler.observe('b');
    expect(await w.settled()).toEqual(expect.arrayContaining([ev('modified', 'b', '4:4'), ev('deleted', 'a', 'deleted:4:4')]));
    expect(w.events).toHaveLength(2);
    expect(w.known.get('b')?.ino).toBe(1);
    // Renamed on again: one moved event, matched by the inode recorded above.
    w.disk.delete('b');
    w.disk.set('c', { version: '4:4', ino: 1 });
    w.settler.observe('b');
    w.settler.observe('c');
    expect((await w.settled()).slice(2)).toEqual([ev('moved', 'c', '4:4', { oldPath: 'b' })]);
  });

  it('reports a held deletion as deleted once the move window passes', async () => {
    const w = world({ moveWindowMs: 20 });
    w.known.set('gone', { version: '3:3', ino: 9, generation: 1, cause: 'job-9' });
    w.settler.observe('gone');
    expect(await w.settled()).toEqual([ev('deleted', 'gone', 'deleted:3:3', { generation: 1, cause: 'job-9' })]);
  });

  it('reports at once the deletion of a file without an inode (nothing to match a move by)', async () => {
    const w = world();
    w.known.set('remote', st('4:4', null));
    w.settler.observe('remote');
    expect(await w.settled()).toEqual([ev('deleted', 'remote', 'deleted:4:4')]);
  });

  it('says nothing about a path that never existed and is gone, or one a running job claims', async () => {
    const w = world();
    w.settler.observe('ghost');
    w.disk.set('out/result', st('1:1'));
    w.claims.add('out/result');
    w.settler.observe('out/result');
    expect(await w.settled()).toEqual([]);
  });

  it('looks again at a path observed while its stat was in flight', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    let statStarted = false;
    const w = world({
      stat: async (p) => {
        if (first) {
          first = false;
          statStarted = true;
          await gate;
          return st('1:1');
        }
        return w.disk.get(p) ?? null;
      },
    });
    w.settler.observe('f');
    await waitFor(() => statStarted, 'the stat to start', 10_000, 2);
    expect(w.settler.isPending('f')).toBe(true);
    w.disk.set('f', st('2:2'));
    w.settler.observe('f'); // arrives during the slow stat
    release();
    expect(await w.settled()).toEqual([ev('created', 'f', '2:2')]);
  });

  it('emits nothing after close, and drops its timers', () => {
    const w = world();
    w.disk.set('a', st('1:1'));
    w.known.set('b', st('1:1'));
    w.settler.observe('a');
    w.settler.observe('b');
    w.settler.close();
    w.settler.observe('c');
    expect(w.settler.isPending('a')).toBe(false);
    expect(w.settler.isPending('c')).toBe(false);
    // No timer survives close: nothing is left to fire.
    expect(w.settler.pending).toBe(0);
    expect(w.events).toEqual([]);
  });
});
