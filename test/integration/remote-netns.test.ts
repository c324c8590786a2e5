/**
 * Events from another host, for real: the instrument, the bus and the engine
 * each in their own network namespace (scripts/netns.sh), a real nats-server
 * with JetStream and passwords, `meow forward` and `meow run` as processes.
 * The engine polls its tree only once an hour here, like a shared filesystem
 * whose remote writes inotify never sees: jobs come from the bus (or from the
 * catch-up scan of a restarted engine), never from a local watch.
 *
 * MEOW_REMOTE_FILES sets the size of the stream test (default 2000, the
 * size the guarantee names; a full run took 4 to 6½ minutes on a busy 2-core
 * machine).
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { requireComponent } from '../helpers/components.js';
import { REPO, meow, meowJson, waitFor } from '../helpers/workspace.js';
import { BUS_FOR_INSTRUMENT, Deployment, ENGINE_PASSWORD, INSTRUMENT_PASSWORD, missing, run } from './remote-harness.js';
import type { OutboxStatus } from '../../src/forward/outbox.js';

const N = Number.parseInt(process.env.MEOW_REMOTE_FILES ?? '2000', 10);
const netns = requireComponent('network namespaces and nats-server', missing);

const MEOW_YAML = `
watch_mode: poll
poll_interval: 1h
scan_interval: 0
sources:
  beamline:
    type: nats
    servers: ["nats://10.231.2.1:4222"]
    user: engine
    password_env: MEOW_NATS_ENGINE_PASSWORD
    paths: ["incoming/**"]
    wait: 2m
`;
// The default retries: 0: an attempt running inside the engine when it is killed is not the recipe's failure (docs/guarantees.md).
const PATTERN = `recipe: note\ntrigger:\n  paths: "incoming/*.dat"\n  settle: 0ms\n`;
const RECIPE = `export default async (vars) => ({ input: vars.input_file });\n`;

interface JobJson {
  id: string;
  status: string;
  input: string;
  pattern: string;
  error: string | null;
}

netns.describe('remote events across network namespaces', () => {
  let d: Deployment;

  beforeEach(async () => {
    d = new Deployment();
    await d.up(MEOW_YAML, { 'note.yaml': PATTERN }, { 'note.mjs': RECIPE });
  });

  afterEach(async () => {
    await d.down();
  });

  async function writeFiles(from: number, to: number): Promise<void> {
    // Written from inside the instrument namespace.
    await run('ip', ['netns', 'exec', d.ns('inst'), 'bash', '-c', 'for i in $(seq "$1" "$2"); do printf "sample %s\\n" "$i" > "$3/s$i.dat"; done', 'w', String(from), String(to - 1), d.instrument]);
  }

  /** Every job ever recorded (superseded ones included), from the state database. */
  const allJobs = (): JobJson[] => {
    const db = new Database(join(d.ws, '.meow', 'state.db'), { readonly: true });
    try {
      return db.prepare('SELECT id, status, input, pattern, error FROM jobs ORDER BY seq').all() as JobJson[];
    } finally {
      db.close();
    }
  };
  const outbox = () => meowJson<OutboxStatus>(['forward', d.instrument, '--status', '--state', d.outbox]);
  const succeeded = async () => (await meowJson<JobJson[]>(['jobs', '--status', 'succeeded', '-w', d.ws])).length;

  it(`${N} files with the link cut twice and the forwarder and the engine each killed once, and the bus killed too: ${N} succeeded jobs, one each, an empty outbox`, async () => {
    const chunk = Math.ceil(N / 5);
    let engine = await d.engine();
    let fwd = d.forwarder();
    await writeFiles(0, chunk);
    await waitFor(async () => (await succeeded()) > 0, 'the first remote job', 120_000, 200);

    // The instrument's link goes down while files keep coming; they wait in the outbox.
    await d.cut('inst');
    await writeFiles(chunk, 2 * chunk);
    await waitFor(async () => (await outbox()).backlog > 0, 'a backlog while the link is down', 120_000, 200);
    await d.restore('inst');

    // The forwarder is killed outright mid-stream and started again.
    await writeFiles(2 * chunk, 3 * chunk);
    await waitFor(async () => (await outbox()).sent > 2 * chunk - chunk / 2, 'the forwarder sending', 180_000, 100);
    await fwd.kill('SIGKILL');
    fwd = d.forwarder();

    // The engine's link goes down, and the engine is killed outright while files arrive.
    await d.cut('eng');
    await writeFiles(3 * chunk, 4 * chunk);
    await engine.kill('SIGKILL');
    await d.restore('eng');
    engine = await d.engine();

    // The bus is killed outright while files come, and started again on its store.
    await d.killBus();
    await writeFiles(4 * chunk, N);
    await waitFor(async () => (await outbox()).backlog > 0, 'a backlog while the bus is down', 120_000, 200);
    await d.startBus();

    await waitFor(async () => (await succeeded()) >= N && (await outbox()).backlog === 0, `${N} succeeded jobs and an empty outbox`, 600_000, 1000).catch(async (err: unknown) => {
      // A failure explains itself: how far each side got, and the end of what each said.
      throw new Error(`${(err as Error).message}\nsucceeded: ${await succeeded()}; outbox: ${JSON.stringify(await outbox())}\nengine output (end):\n${engine.output().slice(-3000)}\nforwarder output (end):\n${fwd.output().slice(-2000)}`, { cause: err });
    });
    const jobs = allJobs();
    const byInput = new Map<string, JobJson[]>();
    for (const j of jobs) byInput.set(j.input, [...(byInput.get(j.input) ?? []), j]);
    expect(byInput.size).toBe(N);
    for (let i = 0; i < N; i++) {
      const js = byInput.get(`incoming/s${i}.dat`) ?? [];
      expect(js.map((j) => j.status), `incoming/s${i}.dat`).toEqual(['succeeded']);
    }
    expect((await outbox()).backlog).toBe(0);

    // The origin is the forwarding host, once the redelivered events are acknowledged.
    await waitFor(async () => (await meowJson<{ origin?: string }[]>(['trace', join(d.ws, 'incoming/s1.dat'), '-w', d.ws]))[0]?.origin === 'instrument-host', 'the origin in meow trace', 120_000, 500);
    const text = await meow(['trace', join(d.ws, `incoming/s${N - 1}.dat`), '-w', d.ws]);
    expect(text.stdout).toContain('forwarded from instrument-host');

    // Credentials appear in no log, status or job record (the database, job.yaml, `meow job show --json`).
    const status = await meow(['status', '--json', '-w', d.ws]);
    const records = await Promise.all(jobs.map((j) => readFile(join(d.ws, '.meow', 'jobs', j.id, 'job.yaml'), 'utf8').catch(() => '')));
    expect(records.filter(Boolean).length).toBeGreaterThan(0);
    const shown = await meow(['job', 'show', jobs[0].id, '--json', '-w', d.ws]);
    expect(shown.code).toBe(0);
    for (const secret of [ENGINE_PASSWORD, INSTRUMENT_PASSWORD]) {
      expect(engine.output()).not.toContain(secret);
      expect(fwd.output()).not.toContain(secret);
      expect(status.stdout).not.toContain(secret);
      expect(shown.stdout).not.toContain(secret);
      expect(JSON.stringify(jobs)).not.toContain(secret);
      expect(records.some((r) => r.includes(secret))).toBe(false);
    }
    await fwd.kill('SIGTERM');
    await engine.kill('SIGINT');
  }, 1_200_000);

  it('refuses events outside the workspace or the source globs, and clients without credentials; nothing runs, everything is logged', async () => {
    const engine = await d.engine();
    await writeFile(join(d.ws, 'secret.dat'), 'not for remote hands\n');
    const exec = (args: string[]) => run('ip', ['netns', 'exec', d.ns('inst'), process.execPath, '-e', PUBLISH, ...args]);
    const bad = ['../../etc/passwd', 'incoming/../../etc/passwd', '/etc/passwd', 'patterns/evil.yaml', 'secret.dat', '.meow/state.db'];
    await exec([BUS_FOR_INSTRUMENT, 'instrument', INSTRUMENT_PASSWORD, JSON.stringify(bad)]);
    await waitFor(() => bad.every((p) => engine.output().includes(`path ${JSON.stringify(p)}`)), 'every refusal logged', 60_000, 100);
    expect(engine.output()).toContain('outside the workspace');
    expect(engine.output()).toContain('outside the globs this source may write');

    // No password, a wrong password: the bus refuses the connection and logs it.
    for (const [user, pass] of [['', ''], ['instrument', 'wrong']]) {
      const r = await run('ip', ['netns', 'exec', d.ns('inst'), process.execPath, '-e', PUBLISH, BUS_FOR_INSTRUMENT, user, pass, JSON.stringify(['incoming/x.dat'])]).then(
        () => 'published',
        (err: Error) => err.message,
      );
      expect(r).toMatch(/Authorization Violation/i);
    }
    await waitFor(async () => (await run('cat', [join(d.natsDir, 'nats.log')])).match(/authentication error/gi)?.length === 2, 'the bus logging both refused clients', 30_000, 100);
    const jobs = allJobs();
    expect(jobs).toEqual([]);
    await engine.kill('SIGINT');
  }, 300_000);

  it('runs no job on a partial file: the announced size and SHA-256 are waited for, then the job runs once', async () => {
    const engine = await d.engine();
    const full = 'x'.repeat(4096);
    const sha = createHash('sha256').update(full).digest('hex');
    await mkdir(join(d.ws, 'incoming'), { recursive: true });
    // The transfer has written only part of the file when its event arrives.
    await writeFile(join(d.ws, 'incoming/slow.dat'), full.slice(0, 1000));
    await writeFile(join(d.ws, 'incoming/quick.dat'), 'q');
    const ev = (path: string, size: number, sha256: string | null) => ({ v: 1, path, size, mtime_ns: String(BigInt(Date.now()) * 1_000_000n), sha256, host: 'instrument-host' });
    await run('ip', ['netns', 'exec', d.ns('inst'), process.execPath, '-e', PUBLISH, BUS_FOR_INSTRUMENT, 'instrument', INSTRUMENT_PASSWORD, JSON.stringify([ev('incoming/slow.dat', 4096, sha), ev('incoming/quick.dat', 1, null)])]);
    // The later event is handled while the partial file waits.
    await waitFor(() => allJobs().some((j) => j.input === 'incoming/quick.dat' && j.status === 'succeeded'), 'the complete file\'s job', 60_000, 100);
    expect(allJobs().filter((j) => j.input === 'incoming/slow.dat')).toEqual([]);
    // Same size, other content: still not the announced file.
    await writeFile(join(d.ws, 'incoming/slow.dat'), 'y'.repeat(4096));
    await waitFor(async () => (await stat(join(d.ws, 'incoming/slow.dat'))).size === 4096, 'the rewrite', 10_000);
    expect(allJobs().filter((j) => j.input === 'incoming/slow.dat')).toEqual([]);
    await writeFile(join(d.ws, 'incoming/slow.dat'), full);
    await waitFor(() => allJobs().some((j) => j.input === 'incoming/slow.dat' && j.status === 'succeeded'), 'the job of the file once complete', 60_000, 100);
    const slow = allJobs().filter((j) => j.input === 'incoming/slow.dat');
    expect(slow).toHaveLength(1);
    expect(engine.output()).not.toContain('refused');
    await engine.kill('SIGINT');
  }, 300_000);
});

/** A raw client (events as paths, or whole event objects): `node -e PUBLISH URL USER PASS PATHS_JSON` publishes one event per path. */
const PUBLISH = `
const { connect } = require(${JSON.stringify(require_('nats'))});
const [url, user, pass, paths] = process.argv.slice(1);
(async () => {
  const nc = await connect({ servers: url, user: user || undefined, pass: pass || undefined, timeout: 5000, maxReconnectAttempts: 0 });
  const js = nc.jetstream();
  for (const p of JSON.parse(paths)) {
    const event = typeof p === 'string' ? { v: 1, path: p, size: 1, mtime_ns: '1', sha256: null, host: 'attacker' } : p;
    await js.publish('meow.files.attacker', JSON.stringify(event));
  }
  await nc.close();
})().catch((e) => { console.error(String(e && e.message || e)); process.exit(1); });
`;

function require_(name: string): string {
  return join(REPO, 'node_modules', name);
}
