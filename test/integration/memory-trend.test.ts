/**
 * The engine's memory does not grow with the work it has done: the same
 * number of jobs, round after round, leaves the same live heap behind (a
 * trend, not an absolute: a leak of a few hundred bytes per job shows as
 * megabytes over the rounds). The engine runs in a process of its own
 * (bench/memory-probe.ts) under --expose-gc, which measures the heap in use
 * after a full collection at the end of each round.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { createWorkspace, NOOP_JS, patternYaml } from '../../bench/lib/workspace.js';

const PROBE = fileURLToPath(new URL('../../dist/bench/memory-probe.js', import.meta.url));
const MiB = 2 ** 20;

let tmp = '';
afterEach(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true, maxRetries: 5 });
  tmp = '';
});

it('keeps the live heap flat over rounds of jobs: 5 rounds of 1,500 JavaScript jobs', { timeout: 300_000 }, async () => {
  tmp = await mkdtemp(join(tmpdir(), 'meow-trend-'));
  const root = join(tmp, 'ws');
  await createWorkspace(root, {
    patterns: { 'all.yaml': patternYaml({ recipe: 'noop', paths: 'data/**/*.txt' }) },
    recipes: { 'noop.mjs': NOOP_JS },
  });
  const rounds = 5;
  const perRound = 1_500;
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', PROBE, root, String(perRound), String(rounds)], { maxBuffer: 1 << 20 });
  const m = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { succeeded: number; liveHeap: number[]; youngGeneration: number };
  expect(m.succeeded).toBe(rounds * perRound);
  expect(m.liveHeap).toHaveLength(rounds);
  // The first round warms up (compiled code, the worker pool, caches); the rounds after it add 4,500 jobs.
  const growth = m.liveHeap[rounds - 1] - m.liveHeap[1];
  expect(growth, `live heap after each round (MiB): ${m.liveHeap.map((b) => (b / MiB).toFixed(2)).join(', ')}`).toBeLessThan(1.5 * MiB);
  // V8 grows the engine thread's young generation to 32 MiB under such bursts and keeps it; the engine holds it
  // at its starting 2 MiB (core/heap.ts), worker threads starting included: a doubling or two can slip in while a
  // thread's heap is being set up, never the whole way.
  expect(m.youngGeneration, `young generation ${(m.youngGeneration / MiB).toFixed(1)} MiB`).toBeLessThanOrEqual(8 * MiB);
});
