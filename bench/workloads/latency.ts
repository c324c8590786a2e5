import { watch } from 'chokidar';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { latencyBesidePeers } from '../lib/peer-runs.js';
import { stampRecipe } from '../lib/peers.js';
import { EngineProbe } from '../lib/probe.js';
import { now, quantile, round, within } from '../lib/stats.js';
import { createWorkspace, NOOP_JS, patternYaml } from '../lib/workspace.js';
import type { Detail, Measurement, Workload } from '../lib/types.js';

/** Files written before measuring (JIT, first thread of the pool), on both sides alike. */
const WARMUP = 10;
/** The same for the bash recipe beside its peers, per contender. */
const PEER_WARMUP = 5;

/**
 * One file at a time into a live engine. The baseline is paired: a bare
 * chokidar watcher on the same directory, in the same process, sees the same
 * writes, so both figures of a file share the machine's load at that moment.
 */
export const latency: Workload = {
  id: '3',
  title: 'one file at a time: file written → job started',
  async run(ctx): Promise<Measurement> {
    const count = ctx.quick ? 40 : 200;
    const samples = ctx.quick ? 20 : 100;
    const stamps = join(ctx.tmp, 'stamps');
    const root = await createWorkspace(join(ctx.tmp, 'ws'), {
      patterns: { 'noop.yaml': patternYaml({ recipe: 'noop', paths: 'data/*.txt' }), 'stamp.yaml': patternYaml({ recipe: 'stamp', paths: 'bash/*.txt' }) },
      recipes: { 'noop.mjs': NOOP_JS, 'stamp.sh': stampRecipe(stamps) },
    });
    await mkdir(join(root, 'data'));
    await mkdir(join(root, 'bash'));
    await mkdir(stamps);
    const bare = watch(join(root, 'data'), { ignoreInitial: true });
    await new Promise<void>((r) => bare.once('ready', () => r()));
    const probe = await EngineProbe.open(root);
    const engineMs: number[] = [];
    const bareMs: number[] = [];
    let besidePeers: Detail[];
    try {
      await probe.engine.startLive();
      const started = new Map<string, (at: number) => void>();
      const added = new Map<string, (at: number) => void>();
      probe.engine.on('job:started', (job) => started.get(job.input)?.(now()));
      bare.on('add', (abs: string) => added.get(abs)?.(now()));
      for (let i = 0; i < count + WARMUP; i++) {
        const rel = `data/f${i}.txt`;
        const abs = join(root, rel);
        const jobStarted = new Promise<number>((r) => started.set(rel, r));
        const seen = new Promise<number>((r) => added.set(abs, r));
        const t0 = now();
        await writeFile(abs, `${i}\n`);
        const [t1, tb] = await within(Promise.all([jobStarted, seen]), 10_000, `the job of ${rel} to start and chokidar's add event`);
        started.delete(rel);
        added.delete(abs);
        if (i >= WARMUP) {
          engineMs.push(t1 - t0);
          bareMs.push(tb - t0);
        }
        // One file at a time: the next lands on an idle engine.
        await probe.untilSucceeded(i + 1, 10_000);
      }
      probe.expectCounts({ succeeded: count + WARMUP });
      await bare.close();
      // A bash recipe, the engine and its peers in turn (issue 18).
      const opts = { probe, root, dir: 'bash', recipe: join(root, 'recipes', 'stamp.sh'), stamps, base: join(ctx.tmp, 'peers'), samples, warmup: PEER_WARMUP };
      besidePeers = await latencyBesidePeers(ctx, { ...opts, concurrency: probe.engine.config.cpus });
      probe.expectNoFailures();
      probe.expectCounts({ succeeded: count + WARMUP + samples + PEER_WARMUP });
    } finally {
      await probe.close();
      await bare.close();
    }
    const [p50, p99, b50, b99] = [quantile(engineMs, 0.5), quantile(engineMs, 0.99), quantile(bareMs, 0.5), quantile(bareMs, 0.99)];
    ctx.log(`file → job started p50 ${round(p50)} ms, p99 ${round(p99)} ms; bare chokidar add p50 ${round(b50)} ms, p99 ${round(b99)} ms`);
    return {
      metric: 'file → job started, p50',
      figure: p50,
      unit: 'ms',
      baseline: b50,
      baselineWhat: 'bare chokidar add-event latency of the same writes, p50 / p99',
      target: 'p50 ≤ baseline + 5 ms',
      pass: p50 <= b50 + 5 && p99 <= b99 + 25 && besidePeers.every((d) => d.pass !== false),
      size: `${count} files (+${WARMUP} warm-up); bash beside peers ${samples} each (+${PEER_WARMUP})`,
      details: [{ metric: 'file → job started, p99', value: p99, unit: 'ms', baseline: b99, target: 'p99 ≤ baseline + 25 ms', pass: p99 <= b99 + 25 }, ...besidePeers],
    };
  },
};
