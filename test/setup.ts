import { stat } from 'node:fs/promises';
import { afterEach, beforeEach } from 'vitest';
import { baseline, leakedSince, type Baseline } from './helpers/processes.js';
import { closeLeaked } from './helpers/resources.js';

// Every test closes what it opens; one that leaves a watcher, engine, pool,
// process or database open fails here (and the leak is cleaned up). Objects
// registered with track() are closed by hand; at the process level, any new
// child process, job process of a test workspace or file open under one that
// is still there after the test is a leak too.
let before: Baseline = { keys: new Set(), roots: 0, threads: 0 };

// libuv starts its thread pool at the first asynchronous file operation:
// start it now, so that a test doing the first one is not blamed for it.
await stat('.');

beforeEach(() => {
  before = baseline();
});

afterEach(async () => {
  const leaked = await closeLeaked();
  const left = await leakedSince(before);
  const all = [...leaked, ...left];
  if (all.length > 0) throw new Error(`test left open: ${all.join(', ')}`);
});
