/**
 * A source whose bus answers but cannot serve its stream yet (JetStream off,
 * a request timed out while the bus restarted) keeps trying: once the bus
 * serves JetStream on the same address, events run jobs, with no engine
 * restart. Before, such a failure stopped the source for good ("no events
 * come from this source until the engine is restarted"), and a bus killed
 * while a starting engine made sure of its stream stranded every later event.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { afterEach, expect } from 'vitest';
import { freePort, natsServer, startNatsServer, type NatsProcess } from '../helpers/nats.js';
import { meowJson, startEngineProcess, waitFor, writeWhole, type EngineProcess } from '../helpers/workspace.js';

let dir = '';
let engine: EngineProcess | null = null;
let bus: NatsProcess | null = null;

afterEach(async () => {
  await engine?.stop('SIGKILL');
  engine = null;
  await bus?.stop();
  bus = null;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = '';
});

/** A workspace whose only source is the bus on 127.0.0.1:port, and a JavaScript pattern on incoming/*.dat. */
async function workspace(port: number): Promise<string> {
  const ws = join(dir, 'ws');
  await mkdir(join(ws, 'patterns'), { recursive: true });
  await mkdir(join(ws, 'recipes'), { recursive: true });
  await mkdir(join(ws, 'incoming'), { recursive: true });
  await writeFile(
    join(ws, 'meow.yaml'),
    `watch_mode: poll\npoll_interval: 1h\nscan_interval: 0\nsources:\n  beamline:\n    type: nats\n    servers: ["nats://127.0.0.1:${port}"]\n    paths: ["incoming/**"]\n    wait: 1m\n`,
  );
  await writeFile(join(ws, 'patterns', 'note.yaml'), 'recipe: note\ntrigger:\n  paths: "incoming/*.dat"\n  settle: 0ms\n');
  await writeFile(join(ws, 'recipes', 'note.mjs'), 'export default async (vars) => ({ input: vars.input_file });\n');
  return ws;
}

/** Publishes the event of a file already in the workspace. */
async function announce(port: number, path: string, size: number): Promise<void> {
  const nc = await connect({ servers: `nats://127.0.0.1:${port}`, timeout: 10_000 });
  try {
    await nc.jetstream().publish('meow.files.instrument', JSON.stringify({ v: 1, path, size, mtime_ns: '1', sha256: null, host: 'instrument' }));
  } finally {
    await nc.close();
  }
}

natsServer.it('says once that it waits for a bus that is down, and runs its events once it is up', async () => {
  dir = await mkdtemp(join(tmpdir(), 'meow-js-late-'));
  const port = await freePort();
  const ws = await workspace(port);
  engine = await startEngineProcess(ws);
  await waitFor(() => engine?.output().includes(`source beamline: waiting for the bus at nats://127.0.0.1:${port} (`), 'the source to say it waits for the bus', 60_000, 50);
  bus = await startNatsServer(port, ['-js', '-sd', join(dir, 'js')]);
  await waitFor(() => engine?.output().includes('source beamline: connected to the bus'), 'the source to connect', 60_000, 50);
  const nc = await connect({ servers: `nats://127.0.0.1:${port}`, timeout: 10_000 });
  try {
    const jsm = await nc.jetstreamManager();
    await waitFor(async () => (await jsm.streams.info('MEOW').then(() => true, () => false)) || null, 'the engine to create its stream', 60_000, 100);
  } finally {
    await nc.close();
  }
  await writeWhole(join(ws, 'incoming', 'first.dat'), 'first\n');
  await announce(port, 'incoming/first.dat', 6);
  await waitFor(
    async () => (await meowJson<{ input: string; status: string }[]>(['jobs', '--all', '-w', ws])).some((j) => j.input === 'incoming/first.dat' && j.status === 'succeeded'),
    'the job of the event',
    60_000,
    100,
  );
  expect(engine.output().match(/waiting for the bus/g)?.length).toBe(1);
}, 240_000);

natsServer.it('waits for a bus that cannot serve its stream yet, runs its events once it can, and makes its stream again when it is deleted, without a restart', async () => {
  dir = await mkdtemp(join(tmpdir(), 'meow-js-late-'));
  const port = await freePort();
  // A bus without JetStream: it takes connections, and every stream request fails.
  bus = await startNatsServer(port);
  const ws = await workspace(port);
  engine = await startEngineProcess(ws);
  await waitFor(() => engine?.output().includes('source beamline: cannot read the stream yet'), 'the source to say it cannot read the stream yet', 60_000, 50);
  expect(engine.output()).not.toMatch(/stopped:/);

  // The operator restarts the bus with JetStream, on the same address.
  await bus.stop();
  bus = await startNatsServer(port, ['-js', '-sd', join(dir, 'js')]);
  const nc = await connect({ servers: `nats://127.0.0.1:${port}`, timeout: 10_000 });
  try {
    const jsm = await nc.jetstreamManager();
    // The engine makes the stream once it gets through.
    await waitFor(async () => (await jsm.streams.info('MEOW').then(() => true, () => false)) || null, 'the engine to create its stream', 60_000, 100);
    await writeWhole(join(ws, 'incoming', 'late.dat'), 'late\n');
    await nc.jetstream().publish('meow.files.instrument', JSON.stringify({ v: 1, path: 'incoming/late.dat', size: 5, mtime_ns: '1', sha256: null, host: 'instrument' }));
  } finally {
    await nc.close();
  }
  const jobs = await waitFor(
    async () => {
      const all = await meowJson<{ input: string; status: string }[]>(['jobs', '--all', '-w', ws]);
      return all.some((j) => j.status === 'succeeded') ? all : null;
    },
    'the job of the event published once the bus served JetStream',
    60_000,
    100,
  );
  expect(jobs.map((j) => [j.input, j.status])).toEqual([['incoming/late.dat', 'succeeded']]);
  expect(engine.output()).not.toMatch(/stopped:/);

  // An operator deletes the stream (`nats stream rm`) under the running engine: it is made again, and events flow.
  const nc2 = await connect({ servers: `nats://127.0.0.1:${port}`, timeout: 10_000 });
  try {
    const jsm = await nc2.jetstreamManager();
    await jsm.streams.delete('MEOW');
    await waitFor(() => engine?.output().includes('source beamline: the bus no longer has the stream MEOW; creating it again'), 'the engine to notice the stream gone', 60_000, 100);
    await waitFor(async () => (await jsm.streams.info('MEOW').then(() => true, () => false)) || null, 'the engine to create its stream again', 60_000, 100);
    await writeWhole(join(ws, 'incoming', 'after.dat'), 'after\n');
    await nc2.jetstream().publish('meow.files.instrument', JSON.stringify({ v: 1, path: 'incoming/after.dat', size: 6, mtime_ns: '1', sha256: null, host: 'instrument' }));
  } finally {
    await nc2.close();
  }
  await waitFor(
    async () => (await meowJson<{ input: string; status: string }[]>(['jobs', '--all', '-w', ws])).some((j) => j.input === 'incoming/after.dat' && j.status === 'succeeded'),
    'the job of an event published after the stream was made again',
    60_000,
    100,
  );
  // Said once per reason (no JetStream; the bus gone while it restarted), not once per try.
  expect(engine.output().match(/cannot read the stream yet/g)?.length).toBeLessThanOrEqual(3);
}, 240_000);
