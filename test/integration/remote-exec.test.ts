import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commandFailure, runCommand } from '../../src/runner/backends/remote-exec.js';
import { alive } from '../helpers/engine.js';
import { tempWorkspace, waitFor } from '../helpers/workspace.js';

/** Real processes: what runCommand reports for each way a tool can end. */
describe('runCommand', () => {
  it('collects output and the exit status, with stdin from input', async () => {
    const r = await runCommand('bash', ['-c', 'cat; echo err >&2; exit 3'], { input: 'hello\n' });
    expect(r).toMatchObject({ code: 3, signal: null, stdout: 'hello\n', stderr: 'err\n', spawnError: null, timedOut: false, cancelled: false, outputLimited: false });
    expect(commandFailure('bash', ['-c', 'x'], r)).toBe('bash -c x exited 3: err');
  });

  it('passes Buffer input byte for byte (NUL-separated names)', async () => {
    const r = await runCommand('od', ['-An', '-c'], { input: Buffer.from('a b\0c\n\0', 'utf8') });
    expect(r.stdout.replace(/\s+/g, ' ').trim()).toBe('a b \\0 c \\n \\0');
  });

  it('says a missing program is not found, and never rejects', async () => {
    const r = await runCommand('meow-no-such-tool', ['x']);
    expect(r.code).toBeNull();
    expect(r.spawnError).toBe('meow-no-such-tool: command not found');
    expect(commandFailure('meow-no-such-tool', ['x'], r)).toBe('meow-no-such-tool: command not found');
  });

  it('replaces the environment when given one', async () => {
    const r = await runCommand('/usr/bin/env', [], { env: { ONLY: 'this' } });
    expect(r.stdout).toBe('ONLY=this\n');
  });

  it('stops a tool that does not answer in time', async () => {
    const r = await runCommand('sleep', ['60'], { timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGTERM');
    expect(commandFailure('sleep', ['60'], r)).toMatch(/did not answer in time/);
  });

  it('asks an aborted tool to stop with SIGTERM first', async () => {
    const ws = await tempWorkspace();
    const controller = new AbortController();
    const ready = ws.path('ready');
    const running = runCommand('bash', ['-c', 'trap "echo term; exit 7" TERM; touch "$1"; while :; do sleep 0.05; done', 'bash', ready], { signal: controller.signal });
    await waitFor(() => existsSync(ready), 'the tool to set its trap');
    controller.abort();
    const r = await running;
    expect(r.cancelled).toBe(true);
    expect(r.timedOut).toBe(false);
    expect(r.stdout).toBe('term\n');
    expect(commandFailure('bash', [], r)).toMatch(/was stopped \(cancelled\)/);
    await ws.cleanup();
  });

  it('kills (SIGKILL) a tool that ignores SIGTERM once the grace period is over', async () => {
    const ws = await tempWorkspace();
    const controller = new AbortController();
    const ready = ws.path('ready');
    const running = runCommand('bash', ['-c', 'trap "" TERM; echo $$; touch "$1"; while :; do sleep 0.05; done', 'bash', ready], { signal: controller.signal, killGraceMs: 300 });
    await waitFor(() => existsSync(ready), 'the tool to ignore SIGTERM');
    controller.abort();
    const r = await running;
    expect(r.cancelled).toBe(true);
    expect(r.signal).toBe('SIGKILL');
    expect(alive(Number.parseInt(r.stdout, 10))).toBe(false);
    await ws.cleanup();
  });

  it('stops a tool that prints more than the buffer limit', async () => {
    const r = await runCommand('bash', ['-c', 'yes meow'], { maxBuffer: 64 * 1024 });
    expect(r.outputLimited).toBe(true);
    expect(r.stdout.length).toBeLessThanOrEqual(64 * 1024);
    expect(commandFailure('yes', ['meow'], r)).toMatch(/more output than is kept/);
  });
});
