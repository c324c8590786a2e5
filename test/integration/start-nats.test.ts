/**
 * scripts/start-nats.sh with passwords: nats-server reads each password from
 * the environment and parses it as configuration, so a password that looks
 * like a number ("7f3a…", "1e5"), a boolean ("true") or holds quotes and
 * backslashes must still reach it as the same string. A real server on a free
 * port; real clients log in with each password and are refused with a wrong one.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { afterAll, expect } from 'vitest';
import { freePort, natsServer } from '../helpers/nats.js';
import { REPO } from '../helpers/workspace.js';

function startNats(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [join(REPO, 'scripts/start-nats.sh'), ...args], { env: { ...process.env, ...env }, timeout: 90_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`start-nats.sh ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

/** How a login went: "ok", or the server's refusal. */
async function login(port: number, user: string, pass: string): Promise<string> {
  try {
    const nc = await connect({ servers: `nats://127.0.0.1:${port}`, user, pass, timeout: 10_000, maxReconnectAttempts: 0 });
    await nc.close();
    return 'ok';
  } catch (err) {
    return (err as Error).message;
  }
}

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) {
    await startNats(['stop', join(dir, 'bus')], {}).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});

// Pairs of (engine, instrument) passwords that nats-server would parse as something else if handed over bare.
const PAIRS: [string, string][] = [
  ['7f3a09c1d2e4', 'true'],
  ['1e5', '12:30'],
  ['a b"c\\d$e #f', "it's {x} [y], z"],
  // Longer than nats-server's default client line (4 KiB).
  ['L'.repeat(10_000), 'ünïcødé ✓'],
];

natsServer.it('hands the server every password as the string it is, however it looks', async () => {
  for (const [engine, instrument] of PAIRS) {
    const dir = await mkdtemp(join(tmpdir(), 'meow-start-nats-'));
    dirs.push(dir);
    const port = await freePort();
    await startNats(['start', join(dir, 'bus'), `127.0.0.1:${port}`], { MEOW_NATS_ENGINE_PASSWORD: engine, MEOW_NATS_INSTRUMENT_PASSWORD: instrument });
    expect(await login(port, 'engine', engine), engine).toBe('ok');
    expect(await login(port, 'instrument', instrument), instrument).toBe('ok');
    expect(await login(port, 'engine', `${engine}x`)).toMatch(/Authorization Violation/i);
    expect(await login(port, 'instrument', engine)).toMatch(/Authorization Violation/i);
    // A second start on the same directory would orphan this server: refused, and this one runs on.
    await expect(startNats(['start', join(dir, 'bus'), `127.0.0.1:${await freePort()}`], { MEOW_NATS_ENGINE_PASSWORD: 'e', MEOW_NATS_INSTRUMENT_PASSWORD: 'i' })).rejects.toThrow(/already runs from .*; stop it first/);
    expect(await login(port, 'engine', engine)).toBe('ok');
    await startNats(['stop', join(dir, 'bus')], {});
  }
}, 240_000);
