import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Forwarder } from '../../src/forward/forwarder.js';
import { createTransfer } from '../../src/forward/transfer.js';
import { EngineProbe } from '../lib/probe.js';
import { now, quantile, round, within } from '../lib/stats.js';
import { createWorkspace, filePaths, NOOP_JS, patternYaml, REPO, writeFiles } from '../lib/workspace.js';
import { dropRun } from './drop.js';
import type { Measurement, Workload, WorkloadContext } from '../lib/types.js';

const WARMUP = 10;
const ENGINE_PW = 'bench-engine';
const INSTRUMENT_PW = 'bench-instrument';

function sh(file: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((r) => execFile(file, args, { env: { ...process.env, ...env } }, (err, stdout, stderr) => r({ code: err ? 1 : 0, out: stdout + stderr })));
}

/**
 * A remote deployment on this machine: nats-server (scripts/start-nats.sh) on
 * loopback, an engine whose tree is polled only hourly (so jobs come from the
 * bus, as with a shared filesystem inotify does not see), and a forwarder
 * copying an instrument directory into the workspace.
 */
async function remote<T>(ctx: WorkloadContext, name: string, body: (instrument: string, probe: EngineProbe) => Promise<T>): Promise<T> {
  const base = join(ctx.tmp, name);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const env = { MEOW_NATS_ENGINE_PASSWORD: ENGINE_PW, MEOW_NATS_INSTRUMENT_PASSWORD: INSTRUMENT_PW };
  const nats = join(base, 'nats');
  const started = await sh('bash', [join(REPO, 'scripts/start-nats.sh'), 'start', nats, `127.0.0.1:${port}`], env);
  if (started.code !== 0) throw new Error(`nats-server: ${started.out}`);
  process.env.MEOW_NATS_ENGINE_PASSWORD = ENGINE_PW;
  process.env.MEOW_NATS_INSTRUMENT_PASSWORD = INSTRUMENT_PW;
  const root = await createWorkspace(join(base, 'ws'), {
    config: `watch_mode: poll\npoll_interval: 1h\nscan_interval: 0\nsources:\n  bench:\n    type: nats\n    servers: nats://127.0.0.1:${port}\n    user: engine\n    password_env: MEOW_NATS_ENGINE_PASSWORD\n    paths: "incoming/**"\n`,
    patterns: { 'noop.yaml': patternYaml({ recipe: 'noop', paths: 'incoming/**/*.txt' }) },
    recipes: { 'noop.mjs': NOOP_JS },
  });
  const instrument = join(base, 'instrument');
  await mkdir(instrument, { recursive: true });
  const probe = await EngineProbe.open(root);
  const bus = { servers: [`nats://127.0.0.1:${port}`], stream: 'MEOW', subject: 'meow.files', user: 'instrument', passwordEnv: 'MEOW_NATS_INSTRUMENT_PASSWORD', passwordFile: null, nkeySeedFile: null, credsFile: null, tlsCa: null };
  const fwd = new Forwarder({
    dir: instrument,
    state: join(base, 'outbox.db'),
    transfer: createTransfer(instrument, { kind: 'local', root }, 'incoming'),
    bus,
    host: 'bench-instrument',
    settleMs: 0,
    ignore: [],
    sha256: false,
    poll: false,
    log: (level, message) => level !== 'info' && ctx.log(`forwarder ${level}: ${message}`),
  });
  try {
    await probe.engine.startLive();
    await within(
      new Promise<void>((r) => probe.engine.on('log', (_l, m) => m.includes('connected to the bus') && r())),
      30_000,
      'the engine to connect to the bus',
    );
    await fwd.start();
    return await body(instrument, probe);
  } finally {
    await fwd.close();
    await probe.close();
    await sh('bash', [join(REPO, 'scripts/start-nats.sh'), 'stop', nats]);
  }
}

/** One file at a time on the instrument: file written → job started, p50 and p99. */
async function remoteLatency(ctx: WorkloadContext, count: number): Promise<number[]> {
  return remote(ctx, 'latency', async (instrument, probe) => {
    const ms: number[] = [];
    const started = new Map<string, (at: number) => void>();
    probe.engine.on('job:started', (job) => started.get(job.input)?.(now()));
    for (let i = 0; i < count + WARMUP; i++) {
      const rel = `incoming/f${i}.txt`;
      const jobStarted = new Promise<number>((r) => started.set(rel, r));
      const t0 = now();
      await writeFile(join(instrument, `f${i}.txt`), `${i}\n`);
      const t1 = await within(jobStarted, 30_000, `the job of ${rel} to start`);
      started.delete(rel);
      if (i >= WARMUP) ms.push(t1 - t0);
      await probe.untilSucceeded(i + 1, 30_000);
    }
    probe.expectCounts({ succeeded: count + WARMUP });
    return ms;
  });
}

/** One file at a time into a local engine: the same figure for a local file. */
async function localLatency(ctx: WorkloadContext, count: number): Promise<number[]> {
  const root = await createWorkspace(join(ctx.tmp, 'local'), {
    patterns: { 'noop.yaml': patternYaml({ recipe: 'noop', paths: 'data/*.txt' }) },
    recipes: { 'noop.mjs': NOOP_JS },
  });
  await mkdir(join(root, 'data'));
  const probe = await EngineProbe.open(root);
  try {
    await probe.engine.startLive();
    const ms: number[] = [];
    const started = new Map<string, (at: number) => void>();
    probe.engine.on('job:started', (job) => started.get(job.input)?.(now()));
    for (let i = 0; i < count + WARMUP; i++) {
      const rel = `data/f${i}.txt`;
      const jobStarted = new Promise<number>((r) => started.set(rel, r));
      const t0 = now();
      await writeFile(join(root, rel), `${i}\n`);
      const t1 = await within(jobStarted, 10_000, `the job of ${rel} to start`);
      if (i >= WARMUP) ms.push(t1 - t0);
      await probe.untilSucceeded(i + 1, 10_000);
    }
    return ms;
  } finally {
    await probe.close();
  }
}

/** Files dropped at once on the instrument until every job succeeded. */
async function remoteDrop(ctx: WorkloadContext, files: number): Promise<number> {
  return remote(ctx, 'drop', async (instrument, probe) => {
    const t0 = now();
    await writeFiles(instrument, filePaths('in', files));
    await probe.untilSucceeded(files, 600_000);
    probe.expectCounts({ succeeded: files });
    return probe.lastSucceededAt - t0;
  });
}

/**
 * Events from another host (docs/remote.md): remote file → job started
 * latency and remote throughput, each beside the local figure of the same run.
 */
export const remoteWorkload: Workload = {
  id: '10',
  title: 'remote files through meow forward and NATS JetStream, beside local files',
  async run(ctx): Promise<Measurement> {
    const have = await sh('sh', ['-c', 'command -v nats-server && command -v rsync']);
    if (have.code !== 0) {
      const note = 'skipped: nats-server or rsync is not installed (apt-get install nats-server rsync)';
      ctx.log(note);
      return { metric: 'remote file → job started, p50', figure: 0, unit: 'ms', baseline: null, baselineWhat: 'the same for a local file', target: 'reported', pass: false, size: '', details: [], note };
    }
    const count = ctx.quick ? 30 : 200;
    const files = ctx.quick ? 500 : 5_000;
    const local = await localLatency(ctx, count);
    const remoteMs = await remoteLatency(ctx, count);
    const localDrop = await dropRun(ctx, files, join(ctx.tmp, 'local-drop'));
    const remoteDropMs = await remoteDrop(ctx, files);
    const [r50, r99, l50, l99] = [quantile(remoteMs, 0.5), quantile(remoteMs, 0.99), quantile(local, 0.5), quantile(local, 0.99)];
    const remoteRate = files / (remoteDropMs / 1000);
    ctx.log(`remote file → job started p50 ${round(r50)} ms, p99 ${round(r99)} ms; local p50 ${round(l50)} ms, p99 ${round(l99)} ms`);
    ctx.log(`throughput: remote ${round(remoteRate)} jobs/s, local ${round(localDrop.jobsPerSecond)} jobs/s (${files} files)`);
    return {
      metric: 'remote file → job started, p50',
      figure: r50,
      unit: 'ms',
      baseline: l50,
      baselineWhat: 'a local file into a local engine, the same run, p50 / p99',
      target: 'reported beside local (the bus and a copy add a hop)',
      pass: true,
      size: `${count} files one at a time (+${WARMUP} warm-up); ${files} files dropped at once`,
      details: [
        { metric: 'remote file → job started, p99', value: r99, unit: 'ms', baseline: l99, target: '', pass: null },
        { metric: 'remote throughput', value: remoteRate, unit: 'jobs/s', baseline: localDrop.jobsPerSecond, target: '', pass: null },
      ],
    };
  },
};
