/*
 * The engine of workload 7 in a process of its own, so that its memory is the
 * engine's alone: `node dist/bench/memory-probe.js ROOT NEW_FILES`. Starts the
 * engine live over ROOT, processes NEW_FILES new files, and prints one JSON
 * line: {readyRss, rss, peakRss, heapUsed, succeeded} (bytes).
 */
import { EngineProbe } from './lib/probe.js';
import { filePaths, writeFiles } from './lib/workspace.js';

const [root, newFiles] = process.argv.slice(2);
const extra = Number(newFiles ?? 0);
const probe = await EngineProbe.open(root);
let out: Record<string, number> = {};
try {
  await probe.engine.startLive();
  const readyRss = process.memoryUsage().rss;
  await writeFiles(root, filePaths('data/new', extra));
  await probe.untilSucceeded(extra, 300_000);
  await new Promise((r) => setTimeout(r, 500));
  const m = process.memoryUsage();
  out = { readyRss, rss: m.rss, heapUsed: m.heapUsed, peakRss: process.resourceUsage().maxRSS * 1024, succeeded: probe.engine.store.countJobs().succeeded };
} finally {
  await probe.close();
}
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
