/**
 * `meow forward` copying over ssh: a real sshd on loopback (scripts/start-sshd.sh,
 * the SSH backend's test host), a real nats-server (scripts/start-nats.sh) and
 * the engine as a process whose tree is polled only hourly, so its jobs come
 * from the bus. Files are announced with their SHA-256.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { sshTarget } from '../helpers/remote-backends.js';
import { requireComponent } from '../helpers/components.js';
import { track } from '../helpers/resources.js';
import { MEOW, REPO, meow, meowJson, startEngineProcess, waitFor, type EngineProcess } from '../helpers/workspace.js';
import type { OutboxStatus } from '../../src/forward/outbox.js';

const target = sshTarget();
const natsMissing = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v nats-server && command -v rsync'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'nats-server or rsync is not installed (apt-get install nats-server rsync)';
  }
})();
const why = typeof target === 'string' ? target : natsMissing;
const sshAndNats = requireComponent('an sshd and nats-server (forward over ssh)', () => why);
const env = { MEOW_NATS_ENGINE_PASSWORD: 'ssh-test-engine', MEOW_NATS_INSTRUMENT_PASSWORD: 'ssh-test-instrument' };

sshAndNats.describe('meow forward over ssh', () => {
  let dir = '';
  let engine: EngineProcess | null = null;
  afterEach(async () => {
    await engine?.stop();
    execFileSync('bash', [join(REPO, 'scripts/start-nats.sh'), 'stop', join(dir, 'nats')]);
    await rm(dir, { recursive: true, force: true });
  });

  it('copies settled files with rsync over ssh, announces them with their SHA-256, and every file runs one job', async () => {
    if (typeof target === 'string') throw new Error(target);
    if (natsMissing) throw new Error(natsMissing);
    dir = await mkdtemp(join(tmpdir(), 'meow-fwd-ssh-'));
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    execFileSync('bash', [join(REPO, 'scripts/start-nats.sh'), 'start', join(dir, 'nats'), `127.0.0.1:${port}`], { env: { ...process.env, ...env } });
    const ws = join(dir, 'ws');
    const inst = join(dir, 'instrument');
    await mkdir(join(ws, 'patterns'), { recursive: true });
    await mkdir(join(ws, 'recipes'), { recursive: true });
    await mkdir(join(inst, 'run1'), { recursive: true });
    await writeFile(join(ws, 'meow.yaml'), `watch_mode: poll\npoll_interval: 1h\nscan_interval: 0\nsources:\n  ssh:\n    type: nats\n    servers: nats://127.0.0.1:${port}\n    user: engine\n    password_env: MEOW_NATS_ENGINE_PASSWORD\n    paths: "raw/**"\n`);
    await writeFile(join(ws, 'patterns', 'size.yaml'), 'recipe: size\ntrigger:\n  paths: "raw/**/*.bin"\n');
    await writeFile(join(ws, 'recipes', 'size.mjs'), "import { statSync } from 'node:fs';\nexport default async (v) => statSync(v.input_file).size;\n");
    Object.assign(process.env, env);
    engine = await startEngineProcess(ws);
    await waitFor(() => engine?.output().includes('connected to the bus'), 'the engine source', 60_000);

    const outbox = join(dir, 'outbox.db');
    const fwd = spawn(process.execPath, [MEOW, 'forward', inst, '--to', `${target.host}:${ws}`, '--as', 'raw', '--state', outbox, '--sha256', '--settle', '50ms',
      '--ssh-port', String(target.port), '--identity', target.identity, '--ssh-option', `UserKnownHostsFile=${target.known_hosts}`, '--ssh-option', 'StrictHostKeyChecking=yes',
      '--server', `nats://127.0.0.1:${port}`, '--user', 'instrument', '--password-env', 'MEOW_NATS_INSTRUMENT_PASSWORD', '--host', 'ssh-instrument'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    fwd.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => fwd.once('exit', r));
    const untrack = track(fwd, 'meow forward', async () => {
      fwd.kill('SIGKILL');
      await exited;
    });
    const files = Array.from({ length: 20 }, (_, i) => `run1/f${i}.bin`);
    for (const [i, f] of files.entries()) await writeFile(join(inst, f), Buffer.alloc(1000 + i, i));
    await waitFor(async () => (await meowJson<{ status: string }[]>(['jobs', '--status', 'succeeded', '-w', ws])).length === files.length, 'a job per file', 120_000, 200);
    for (const f of files) expect(await readFile(join(ws, 'raw', f))).toEqual(await readFile(join(inst, f)));
    await waitFor(async () => (await meowJson<OutboxStatus>(['forward', inst, '--status', '--state', outbox])).backlog === 0, 'an empty outbox', 60_000);
    const status = await meow(['forward', inst, '--status', '--state', outbox]);
    expect(status.stdout).toMatch(/backlog\s+0 file/);
    expect(status.stdout).toMatch(/sent\s+20 event/);
    fwd.kill('SIGTERM');
    expect(await exited).toBe(0);
    untrack();
    expect(out).toContain('(ssh)');
    expect(out).not.toContain('ssh-test-instrument');
  }, 300_000);
});
