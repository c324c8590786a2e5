/**
 * The bus connection, secured for real: a nats-server started here on a free
 * port with its own configuration (scripts/start-nats.sh), NKey users and
 * TLS with a certificate from a CA made with openssl in the test's directory;
 * meow.yaml's `sources:` names the CA and the engine's NKey seed file. The
 * engine polls its tree only hourly, so its jobs come from the bus.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, nkeyAuthenticator, nkeys, type ConnectionOptions } from 'nats';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { requireComponent } from '../helpers/components.js';
import { freePort } from '../helpers/nats.js';
import { track } from '../helpers/resources.js';
import { MEOW, REPO, meow, meowJson, startEngineProcess, waitFor, writeWhole, type EngineProcess } from '../helpers/workspace.js';
import type { OutboxStatus } from '../../src/forward/outbox.js';

const secured = requireComponent('nats-server and openssl (a secured bus)', () => {
  for (const tool of ['nats-server', 'openssl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (apt-get install nats-server openssl)`;
    }
  }
  return null;
});

const PATTERN = 'recipe: note\ntrigger:\n  paths: "**/*.dat"\n  settle: 0ms\n';
const RECIPE = 'export default async (vars) => ({ input: vars.input_file });\n';

interface JobJson {
  id: string;
  status: string;
  input: string;
}

/** A user NKey: its public key (for the server) and its seed (the secret, in a file for the client). */
function userKey(): { pub: string; seed: string } {
  const kp = nkeys.createUser();
  return { pub: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
}

function sh(file: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

/** A CA, a second unrelated CA, and a server certificate for 127.0.0.1 signed by the first. */
async function makeCertificates(dir: string): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await sh('openssl', ['req', '-x509', ...ec, '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'), '-days', '2', '-subj', '/CN=meowflow test CA']);
  await sh('openssl', ['req', '-x509', ...ec, '-keyout', join(dir, 'other-ca.key'), '-out', join(dir, 'other-ca.pem'), '-days', '2', '-subj', '/CN=some other CA']);
  await sh('openssl', ['req', ...ec, '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.csr'), '-subj', '/CN=localhost']);
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await sh('openssl', ['x509', '-req', '-in', join(dir, 'server.csr'), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', join(dir, 'server.pem'), '-days', '2', '-extfile', join(dir, 'server.ext')]);
}

secured.describe('a bus secured with NKeys and TLS (the CA named in meow.yaml)', () => {
  let dir = '';
  let ws = '';
  let url = '';
  let engine: EngineProcess | null = null;
  const engineKey = userKey();
  const instrumentKey = userKey();
  const strangerKey = userKey();
  const seeds = [engineKey.seed, instrumentKey.seed, strangerKey.seed];
  const forwarders: { output: () => string; kill: (s: NodeJS.Signals) => Promise<number | null> }[] = [];

  const natsDir = () => join(dir, 'nats');
  const sourceYaml = (ca: string) => `watch_mode: poll
poll_interval: 1h
scan_interval: 0
sources:
  beamline:
    type: nats
    servers: ["${url}"]
    nkey_seed_file: ${join(dir, 'engine.nk')}
    tls_ca: ${ca}
    paths: ["incoming/**"]
    wait: 1m
`;

  async function workspace(name: string, ca: string): Promise<string> {
    const root = join(dir, name);
    await mkdir(join(root, 'patterns'), { recursive: true });
    await mkdir(join(root, 'recipes'), { recursive: true });
    await mkdir(join(root, 'incoming'), { recursive: true });
    await writeFile(join(root, 'meow.yaml'), sourceYaml(ca));
    await writeFile(join(root, 'patterns', 'note.yaml'), PATTERN);
    await writeFile(join(root, 'recipes', 'note.mjs'), RECIPE);
    return root;
  }

  /** `meow forward WS/incoming --to WS` (a shared filesystem) with the given NKey seed file. */
  function forwarder(seedFile: string, outbox: string) {
    const child = spawn(process.execPath, [MEOW, 'forward', join(ws, 'incoming'), '--to', ws, '--state', outbox, '--server', url, '--nkey-seed-file', seedFile, '--tls-ca', join(dir, 'ca.pem'), '--host', 'instrument-host', '--settle', '50ms'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const kill = async (signal: NodeJS.Signals) => {
      untrack();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    };
    const untrack = track(child, 'meow forward', async () => void (await kill('SIGKILL')));
    const f = { output: () => out, kill, pid: child.pid ?? 0 };
    forwarders.push(f);
    return f;
  }

  /** A raw client, as an attacker or a misconfigured instrument would be. */
  async function publish(options: Partial<ConnectionOptions>, events: object[]): Promise<void> {
    const nc = await connect({ servers: url, tls: { caFile: join(dir, 'ca.pem') }, timeout: 10_000, maxReconnectAttempts: 0, ...options });
    try {
      const js = nc.jetstream();
      for (const e of events) await js.publish('meow.files.attacker', JSON.stringify(e));
    } finally {
      await nc.close();
    }
  }
  const event = (path: string, size = 1) => ({ v: 1, path, size, mtime_ns: '1', sha256: null, host: 'attacker' });
  const asInstrument = { authenticator: nkeyAuthenticator(new TextEncoder().encode(instrumentKey.seed)) };
  const jobs = async (root: string) => meowJson<JobJson[]>(['jobs', '--all', '-w', root]);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meow-bus-tls-'));
    await makeCertificates(dir);
    for (const [name, key] of [['engine', engineKey], ['instrument', instrumentKey], ['stranger', strangerKey]] as const) {
      await writeFile(join(dir, `${name}.nk`), `${key.seed}\n`);
      await chmod(join(dir, `${name}.nk`), 0o600);
    }
    const port = await freePort();
    url = `tls://127.0.0.1:${port}`;
    await sh('bash', [join(REPO, 'scripts/start-nats.sh'), 'start', natsDir(), `127.0.0.1:${port}`], {
      MEOW_NATS_ENGINE_NKEY: engineKey.pub,
      MEOW_NATS_INSTRUMENT_NKEY: instrumentKey.pub,
      MEOW_NATS_TLS_CERT: join(dir, 'server.pem'),
      MEOW_NATS_TLS_KEY: join(dir, 'server.key'),
    });
    ws = await workspace('ws', join(dir, 'ca.pem'));
    engine = await startEngineProcess(ws);
    // Shared by the suite's tests, so not one test's to close: afterAll stops it.
    track(engine, 'the suite engine', () => undefined)();
    await waitFor(() => engine?.output().includes('source beamline: connected to the bus'), 'the engine connected over TLS with its NKey', 60_000, 50);
  }, 180_000);

  afterAll(async () => {
    for (const f of forwarders) await f.kill('SIGKILL');
    await engine?.stop();
    if (dir) {
      await sh('bash', [join(REPO, 'scripts/start-nats.sh'), 'stop', natsDir()]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the authenticated engine runs one job per forwarded file; `meow forward --status` after a kill -9 says stopped', async () => {
    const outbox = join(dir, 'outbox.db');
    const fwd = forwarder(join(dir, 'instrument.nk'), outbox);
    // Each file appears whole (writeWhole), so each is one version: one event, one job.
    for (let i = 0; i < 5; i++) await writeWhole(join(ws, 'incoming', `s${i}.dat`), `sample ${i}\n`);
    await waitFor(async () => (await jobs(ws)).filter((j) => j.status === 'succeeded').length === 5, 'a job per forwarded file', 120_000, 100);
    await waitFor(async () => (await meowJson<OutboxStatus>(['forward', join(ws, 'incoming'), '--status', '--state', outbox])).backlog === 0, 'an empty outbox', 60_000, 100);
    const running = await meowJson<OutboxStatus & { running: boolean }>(['forward', join(ws, 'incoming'), '--status', '--state', outbox]);
    expect(running).toMatchObject({ running: true, pid: fwd.pid, sent: 5, last_error: null });

    await fwd.kill('SIGKILL');
    const after = await meowJson<OutboxStatus & { running: boolean }>(['forward', join(ws, 'incoming'), '--status', '--state', outbox]);
    expect(after).toMatchObject({ running: false, pid: null, backlog: 0 });
    expect((await meow(['forward', join(ws, 'incoming'), '--status', '--state', outbox])).stdout).toMatch(/^forwarder\s+stopped$/m);
    // The outbox of a killed forwarder is taken over by the next one, not refused as still in use.
    const again = forwarder(join(dir, 'instrument.nk'), outbox);
    await waitFor(async () => (await meowJson<OutboxStatus>(['forward', join(ws, 'incoming'), '--status', '--state', outbox])).pid === again.pid, 'the second forwarder running', 60_000, 100);
    expect(await again.kill('SIGTERM')).toBe(0);
    expect((await jobs(ws)).map((j) => j.input).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `incoming/s${i}.dat`));
  }, 300_000);

  it('events for ../../etc/passwd, an absolute path outside the workspace, or a path outside the allowed globs run nothing and are logged', async () => {
    const before = (await jobs(ws)).length;
    // Files that a refused event would run (the pattern matches them), made after the engine's start-up scan.
    await mkdir(join(ws, 'other'), { recursive: true });
    await writeFile(join(ws, 'other', 'x.dat'), 'x');
    await writeFile(join(ws, 'secret.dat'), 's');
    const bad = ['../../etc/passwd', 'incoming/../../etc/passwd', '/etc/passwd', join(ws, 'incoming', 'abs.dat'), 'other/x.dat', 'secret.dat'];
    await writeFile(join(ws, 'incoming', 'abs.dat'), 'a');
    await publish(asInstrument, bad.map((p) => event(p)));
    // A good event after them: once its job ran, the refused ones, read before it, are done with.
    await writeFile(join(ws, 'incoming', 'after.dat'), 'z');
    await publish(asInstrument, [event('incoming/after.dat')]);
    await waitFor(async () => (await jobs(ws)).some((j) => j.input === 'incoming/after.dat' && j.status === 'succeeded'), 'the job of the event after the refused ones', 60_000, 100);
    const out = engine?.output() ?? '';
    for (const p of bad) expect(out, p).toContain(`refused an event (stream sequence`);
    for (const p of bad) expect(out, p).toContain(`path ${JSON.stringify(p)}`);
    expect(out).toMatch(/path "\.\.\/\.\.\/etc\/passwd" is outside the workspace \(".."\); nothing runs/);
    expect(out).toMatch(/path "\/etc\/passwd" is absolute: events name paths relative to the workspace; nothing runs/);
    expect(out).toMatch(/path "other\/x\.dat" is outside the globs this source may write \(incoming\/\*\*\); nothing runs/);
    const now = await jobs(ws);
    expect(now.length).toBe(before + 1);
    expect(now.filter((j) => !/^incoming\/(s\d|after)/.test(j.input))).toEqual([]);
  }, 120_000);

  it('clients without credentials, with an NKey the bus does not know, or not trusting its CA are refused and run nothing', async () => {
    const before = (await jobs(ws)).length;
    await writeFile(join(ws, 'incoming', 'intruder.dat'), 'i');
    const refused = (options: Partial<ConnectionOptions>) =>
      publish(options, [event('incoming/intruder.dat')]).then(
        () => 'published',
        (err: Error) => `${(err as { code?: string }).code ?? ''} ${err.message}`,
      );
    expect(await refused({})).toMatch(/Authorization Violation/i);
    expect(await refused({ authenticator: nkeyAuthenticator(new TextEncoder().encode(strangerKey.seed)) })).toMatch(/Authorization Violation/i);
    expect(await refused({ ...asInstrument, tls: { caFile: join(dir, 'other-ca.pem') } })).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|certificate/i);
    await waitFor(async () => ((await readFile(join(natsDir(), 'nats.log'), 'utf8')).match(/authentication error/gi)?.length ?? 0) >= 2, 'the bus logging the refused clients', 30_000, 100);

    // `meow forward` with an unknown NKey: its events wait in the outbox, the reason in --status.
    const outbox = join(dir, 'stranger-outbox.db');
    const fwd = forwarder(join(dir, 'stranger.nk'), outbox);
    await waitFor(async () => (await meowJson<OutboxStatus>(['forward', join(ws, 'incoming'), '--status', '--state', outbox])).last_error !== null, 'the refusal in the outbox', 60_000, 100);
    const status = await meowJson<OutboxStatus>(['forward', join(ws, 'incoming'), '--status', '--state', outbox]);
    expect(status.last_error).toMatch(/the bus refused the connection: 'Authorization Violation' \(AUTHORIZATION_VIOLATION\); check the credentials/);
    expect(status.backlog).toBeGreaterThan(0);
    expect(status.sent).toBe(0);
    await fwd.kill('SIGTERM');
    expect(fwd.output()).not.toMatch(/^\s+at /m);
    expect((await jobs(ws)).length).toBe(before);
  }, 120_000);

  it('an engine given the wrong CA stops its source with a message naming the CA and the fix, no stack, and runs on', async () => {
    const other = await workspace('ws-wrong-ca', join(dir, 'other-ca.pem'));
    const e = await startEngineProcess(other);
    try {
      await waitFor(() => e.output().includes('source beamline: stopped'), 'the source to stop', 60_000, 50);
      const line = e.output().split('\n').find((l) => l.includes('source beamline: stopped')) ?? '';
      expect(line).toContain(`the bus's TLS certificate does not verify against the CA in ${join(dir, 'other-ca.pem')}`);
      expect(line).toContain('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      expect(line).toContain("name in tls_ca (--tls-ca) the CA that signed the server's certificate");
      expect(e.output()).not.toMatch(/^\s+at /m);
      expect(e.output()).not.toContain('connected to the bus');
      // The engine itself runs on (local files, the socket) and stops cleanly.
      expect((await meow(['status', '--json', '-w', other])).stdout).toContain('"running"');
    } finally {
      expect(await e.stop()).toBe(0);
    }
  }, 120_000);

  it('an operator deletes the engine\'s consumer on the bus: the engine creates it again, and later files run, once each', async () => {
    const nc = await connect({ servers: url, tls: { caFile: join(dir, 'ca.pem') }, timeout: 10_000, maxReconnectAttempts: 0, authenticator: nkeyAuthenticator(new TextEncoder().encode(engineKey.seed)) });
    try {
      const jsm = await nc.jetstreamManager();
      expect(await jsm.consumers.delete('MEOW', 'meow-engine')).toBe(true);
    } finally {
      await nc.close();
    }
    const before = (await jobs(ws)).length;
    const fwd = forwarder(join(dir, 'instrument.nk'), join(dir, 'outbox-after-delete.db'));
    for (let i = 0; i < 3; i++) await writeWhole(join(ws, 'incoming', `late${i}.dat`), `late ${i}\n`);
    await waitFor(async () => (await jobs(ws)).filter((j) => j.input.startsWith('incoming/late') && j.status === 'succeeded').length === 3, 'a job for each file forwarded after the delete', 120_000, 200).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\nengine output (end):\n${engine?.output().slice(-3000)}`, { cause: err });
    });
    expect(engine?.output()).toMatch(/source beamline: (the bus no longer has this engine's consumer meow-engine; creating it again|the subscription to the stream ended)/);
    // The stream's earlier events, delivered again to the new consumer, ran nothing twice.
    const after = await jobs(ws);
    expect(after.length).toBeGreaterThanOrEqual(before + 3);
    expect(new Set(after.map((j) => j.input)).size, after.map((j) => `${j.input} ${j.status}`).join('\n')).toBe(after.length);
    await fwd.kill('SIGTERM');
  }, 180_000);

  it('no NKey seed appears in the engine log, the forwarders\' output, job records, `meow job show --json` or `meow status --json`', async () => {
    const all = await jobs(ws);
    expect(all.length).toBeGreaterThan(0);
    const texts = [engine?.output() ?? '', ...forwarders.map((f) => f.output()), (await meow(['status', '--json', '-w', ws])).stdout];
    for (const j of all) {
      texts.push((await meow(['job', 'show', j.id, '--json', '-w', ws])).stdout);
      texts.push(await readFile(join(ws, '.meow', 'jobs', j.id, 'job.yaml'), 'utf8').catch(() => ''));
    }
    const records = (await readdir(join(ws, '.meow', 'jobs'))).length;
    expect(records).toBeGreaterThan(0);
    for (const t of texts) for (const seed of seeds) expect(t).not.toContain(seed);
    // The seed's private part under any cut: nothing of it beyond its "SU" prefix.
    for (const t of texts) for (const seed of seeds) expect(t).not.toContain(seed.slice(2, 20));
  }, 120_000);
});
