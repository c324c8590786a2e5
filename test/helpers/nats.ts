/**
 * What the bus tests share: a free TCP port, and nats-server processes
 * started and stopped by pid (never by name).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { connect } from 'nats';
import { requireComponent } from './components.js';
import { track } from './resources.js';
import { waitFor } from './wait.js';

/** nats-server, for the tests that run a real bus. */
export const natsServer = requireComponent('nats-server', () => {
  try {
    execFileSync('sh', ['-c', 'command -v nats-server'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'nats-server is not installed (apt-get install nats-server)';
  }
});

/** A TCP port on 127.0.0.1 that nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** A nats-server running in the background; `stop()` kills it (SIGKILL) and waits for its exit. */
export interface NatsProcess {
  output(): string;
  stop(): Promise<void>;
}

/** `nats-server ARGS` on 127.0.0.1:port, once a client can connect to it. */
export async function startNatsServer(port: number, args: string[] = []): Promise<NatsProcess> {
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    untrack();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const untrack = track(child, `nats-server on port ${port}`, stop);
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`nats-server exited ${child.exitCode}: ${out}`);
      try {
        await (await connect({ servers: `nats://127.0.0.1:${port}`, timeout: 2_000, maxReconnectAttempts: 0 })).close();
        return true;
      } catch {
        return false;
      }
    },
    `nats-server on port ${port}`,
    30_000,
    50,
  );
  return { output: () => out, stop };
}
