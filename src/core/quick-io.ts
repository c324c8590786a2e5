/**
 * Small file operations on the way to a job's start (its directory,
 * params.json, the recipe's copy, attempt.json; the lstat of its input):
 * done on the engine thread, synchronously, while that costs the event loop
 * little. An asynchronous write is three or four trips through libuv's
 * thread pool (open, write, close), each a wait for a thread: a job that
 * lands on an idle engine starts milliseconds sooner without them. But a
 * file's creation can itself cost half a millisecond (ext4 allocating an
 * inode after many deletions), and in a burst the event loop would spend its
 * time there instead of matching and starting jobs: synchronous calls get at
 * most BUDGET_MS of every WINDOW_MS, the rest go to the thread pool as
 * before. A synchronous call slower than SLOW_SYNC_MS, three times in a row
 * (a network filesystem, a disk under strain; one slow call may be the
 * machine's load), turns every later one asynchronous. Errors are the same
 * either way (a rejected promise: ENOSPC stays a full disk).
 */
import { lstatSync, mkdirSync, renameSync, writeFileSync, type Stats } from 'node:fs';
import { lstat, mkdir, rename, writeFile } from 'node:fs/promises';

/** A synchronous call slower than this (ms) counts as slow. */
const SLOW_SYNC_MS = 20;
/** Slow calls in a row that make every later one asynchronous. */
const SLOW_IN_A_ROW = 3;
/** The event loop's time (ms) synchronous calls may take in each window … */
const BUDGET_MS = 4;
/** … of this many ms. */
const WINDOW_MS = 100;

let slowDisk = false;
let slowInARow = 0;
let windowStart = -Infinity;
let spent = 0;

/** Whether the next call may run synchronously. */
function syncNow(): boolean {
  if (slowDisk) return false;
  const now = performance.now();
  if (now - windowStart >= WINDOW_MS) {
    windowStart = now;
    spent = 0;
  }
  return spent < BUDGET_MS;
}

/**
 * Runs synchronous file operations, counting their time against the budget
 * and toward the slow-disk verdict. For callers that decided themselves to
 * work synchronously (the spare job directories, made while the engine idles).
 */
export function timed<T>(op: () => T): T {
  const t0 = performance.now();
  try {
    return op();
  } finally {
    const took = performance.now() - t0;
    spent += took;
    if (took <= SLOW_SYNC_MS) slowInARow = 0;
    else if (++slowInARow >= SLOW_IN_A_ROW) slowDisk = true;
  }
}

/** Whether the disk has answered synchronous calls quickly so far. */
export function quickIoFast(): boolean {
  return !slowDisk;
}

/** Writes a small file. */
export async function writeSmall(path: string, data: string): Promise<void> {
  if (syncNow()) timed(() => writeFileSync(path, data));
  else await writeFile(path, data);
}

/** Renames `from` to `to`. */
export async function renameQuick(from: string, to: string): Promise<void> {
  if (syncNow()) timed(() => renameSync(from, to));
  else await rename(from, to);
}

/** Makes a directory (with `recursive`, its parents too, and no error when it exists). */
export async function mkdirQuick(path: string, recursive = false): Promise<void> {
  if (syncNow()) timed(() => void mkdirSync(path, { recursive }));
  else await mkdir(path, { recursive });
}

/** lstat, or null when there is nothing at `path` (or it cannot be read). */
export async function lstatQuick(path: string): Promise<Stats | null> {
  if (!syncNow()) return lstat(path).catch(() => null);
  try {
    return timed(() => lstatSync(path));
  } catch {
    return null;
  }
}
