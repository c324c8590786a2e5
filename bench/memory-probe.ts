/*
 * The engine of workload 7 in a process of its own, so that its memory is the
 * engine's alone: `node dist/bench/memory-probe.js ROOT NEW_FILES [ROUNDS]`.
 * Starts the engine live over ROOT, then, ROUNDS times (1 by default),
 * writes NEW_FILES new files and waits for their jobs. Prints one JSON line:
 * {readyRss, readyPeakRss, rss, peakRss, heapUsed, youngGeneration, succeeded} (bytes), `readyMs` (from
 * opening the workspace until ready for new events) and `liveHeap`, the
 * heap in use after a full collection at the end of each round (under
 * `--expose-gc`; empty without it): the trend of the engine's own memory
 * with the work it has done.
 */
import { getHeapSpaceStatistics } from 'node:v8';
import { keepYoungGenerationSmall } from '../src/core/heap.js';

// As bin/meow.js does, before the engine's modules load: this process is the engine as `meow start` runs it.
keepYoungGenerationSmall();
const { EngineProbe } = await import('./lib/probe.js');
const { filePaths, writeFiles } = await import('./lib/workspace.js');

const [root, newFiles, roundsArg] = process.argv.slice(2);
const extra = Number(newFiles ?? 0);
const rounds = Math.max(1, Number(roundsArg ?? 1));
const gc = (globalThis as { gc?: () => void }).gc;
const opened = performance.now();
const probe = await EngineProbe.open(root);
let out: Record<string, number | number[]> = {};
try {
  await probe.engine.startLive();
  const readyMs = performance.now() - opened;
  const readyRss = process.memoryUsage().rss;
  const readyPeakRss = process.resourceUsage().maxRSS * 1024;
  const liveHeap: number[] = [];
  for (let r = 0; r < rounds; r++) {
    await writeFiles(root, filePaths(`data/new${r || ''}`, extra));
    await probe.untilSucceeded(extra * (r + 1), 300_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (gc) {
      gc();
      liveHeap.push(process.memoryUsage().heapUsed);
    }
  }
  const m = process.memoryUsage();
  const youngGeneration = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
  out = { readyMs, readyRss, readyPeakRss, rss: m.rss, heapUsed: m.heapUsed, youngGeneration, peakRss: process.resourceUsage().maxRSS * 1024, succeeded: probe.engine.store.countJobs().succeeded, liveHeap };
} finally {
  await probe.close();
}
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
