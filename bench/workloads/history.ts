import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { directoryWalk, run } from '../lib/baselines.js';
import { addHistory, processedWorkspace } from '../lib/fixtures.js';
import { median, now, round } from '../lib/stats.js';
import { check } from '../lib/types.js';
import type { Measurement, Workload } from '../lib/types.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PROBE = join(HERE, '..', 'memory-probe.js');
const MEOW = join(HERE, '..', '..', '..', 'bin', 'meow.js');
const MiB = 2 ** 20;
const READY_S = 10;
const RSS_MIB = 300;
const QUERY_S = 1;

/** Milliseconds `node bin/meow.js ARGS` takes, its whole process; the median of `times` runs. */
async function timedCli(args: readonly string[], times: number): Promise<{ ms: number; stdout: string }> {
  const ms: number[] = [];
  let stdout = '';
  for (let i = 0; i < times; i++) {
    const t = now();
    const r = await run(process.execPath, [MEOW, ...args]);
    ms.push(now() - t);
    check(r.code === 0, `meow ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-1000)}`);
    stdout = r.stdout;
  }
  return { ms: median(ms), stdout };
}

/**
 * Issue 18's million jobs: a workspace that has run for months. 100,000 files
 * present, each processed, and 900,000 jobs of history for files since
 * archived away (1 % of them failed). Measured: a live restart until ready,
 * the engine's peak RSS (in a process of its own, then running 1,000 new
 * jobs), and `meow jobs --status failed --json` as a user runs it (a whole
 * CLI process), beside `meow --version` (the same process doing nothing).
 */
export const history: Workload = {
  id: '14',
  title: 'a million jobs in the database: restart, memory, failed-jobs query',
  async run(ctx): Promise<Measurement> {
    const present = ctx.quick ? 2_000 : 100_000;
    const past = ctx.quick ? 18_000 : 900_000;
    const extra = ctx.quick ? 100 : 1_000;
    const root = join(ctx.tmp, 'ws');
    await processedWorkspace(root, present, ctx.quick ? 10 : 100, ctx.log);
    const failed = await addHistory(root, past, 100, ctx.log);
    const jobs = present + past;
    const db = join(root, '.meow', 'state.db');
    ctx.log(`database: ${round(statSync(db).size / MiB)} MiB for ${jobs} jobs`);
    const walk = directoryWalk(join(root, 'data'));
    ctx.log(`baseline: directory walk (readdir + stat) of the ${present} files present: ${round(walk.ms)} ms`);

    const r = await run(process.execPath, [PROBE, root, String(extra)]);
    check(r.code === 0, `the engine process exited ${r.code}: ${r.stderr.slice(-2000)}`);
    const m = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
    check(m.succeeded === jobs - failed + extra, `expected ${jobs - failed + extra} succeeded jobs after the engine ran, found ${m.succeeded}`);
    const readyS = m.readyMs / 1000;
    const peak = m.peakRss / MiB;
    ctx.log(`engine: ready in ${round(readyS)} s; RSS peak ${round(m.readyPeakRss / MiB)} MiB until ready, ${round(peak)} MiB after ${extra} more jobs`);

    const query = await timedCli(['jobs', '--status', 'failed', '--json', '-w', root], 5);
    const listed = (JSON.parse(query.stdout) as { status: string }[]).filter((j) => j.status === 'failed').length;
    check(listed === failed, `meow jobs --status failed listed ${listed} failed jobs, expected ${failed}`);
    const status = await timedCli(['status', '--json', '-w', root], 5);
    const bare = await timedCli(['--version'], 5);
    ctx.log(`meow jobs --status failed --json (${listed} jobs): ${round(query.ms)} ms; meow status --json: ${round(status.ms)} ms; meow --version: ${round(bare.ms)} ms`);

    const pass = readyS <= READY_S && peak <= RSS_MIB && query.ms <= QUERY_S * 1000;
    return {
      metric: 'restart → ready (live), a million jobs in the database',
      figure: readyS,
      unit: 's',
      baseline: walk.ms / 1000,
      baselineWhat: 'a plain directory walk (readdir + stat) of the files present',
      target: `≤ ${READY_S} s, RSS ≤ ${RSS_MIB} MiB, failed jobs listed < ${QUERY_S} s`,
      pass,
      size: `${jobs} jobs (${present} files present, ${past} of history, ${failed} failed), +${extra} run`,
      details: [
        { metric: `engine peak RSS (ready, then ${extra} new jobs)`, value: peak, unit: 'MiB', baseline: null, target: `≤ ${RSS_MIB} MiB`, pass: peak <= RSS_MIB },
        { metric: `meow jobs --status failed --json (${listed} jobs), whole process`, value: query.ms, unit: 'ms', baseline: bare.ms, target: `< ${QUERY_S * 1000} ms`, pass: query.ms <= QUERY_S * 1000 },
        { metric: 'meow status --json, whole process', value: status.ms, unit: 'ms', baseline: bare.ms, target: '', pass: null },
      ],
    };
  },
};
