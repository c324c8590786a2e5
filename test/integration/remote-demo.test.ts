/**
 * The steering loop across two hosts, as docs/remote.md shows it:
 * scripts/remote-demo.sh puts the instrument and `meow forward` in one
 * network namespace, the engine in another and the bus between them, runs
 * the loop to convergence and removes everything it made.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { requireComponent } from '../helpers/components.js';
import { REPO } from '../helpers/workspace.js';
import { missing, run } from './remote-harness.js';

const netns = requireComponent('network namespaces and nats-server', missing);

netns.it('scripts/remote-demo.sh runs the steering loop with the instrument on one host and the engine on another, and cleans up', async () => {
  const name = `rd${(process.pid % 1_000_000).toString(36)}`;
  const out = await new Promise<string>((resolve, reject) => {
    execFile('bash', [join(REPO, 'scripts/remote-demo.sh'), name], { timeout: 900_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, MEOW_DEMO_DEADLINE: '800' } }, (err, stdout, stderr) =>
      err ? reject(new Error(`remote-demo.sh: ${err.message}\n${stdout}${stderr}`)) : resolve(stdout),
    );
  });
  expect(out).toMatch(/converged after \d+ measurement\(s\): \{.*"converged": true/);
  expect(out).toMatch(/^measurements\/000\.json {2}\(from outside, forwarded from beamline-7\)$/m);
  expect(out).toMatch(/^backlog\s+0 file/m);
  expect(out).toContain('remote-demo: the steering loop ran across hosts');
  // Nothing left behind: no namespace, no workspace.
  expect(await run('ip', ['netns', 'list'])).not.toContain(`${name}-`);
  expect(out).not.toContain('kept:');
}, 1_000_000);
