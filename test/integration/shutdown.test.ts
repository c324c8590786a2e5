import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MEOW, meowJson, startEngineProcess, tempWorkspace, waitFor, type TempWorkspace } from '../helpers/workspace.js';

interface JobJson {
  status: string;
  error: string | null;
  attempt: number;
}

describe('shutdown', () => {
  let ws: TempWorkspace;
  afterEach(async () => ws?.cleanup());

  async function workspace(): Promise<void> {
    ws = await tempWorkspace();
    await ws.write('meow.yaml', 'cpus: 1\n');
    await ws.write('recipes/wait.sh', 'echo started >> "$MEOW_WORKSPACE/log"\nwhile [ ! -f "$MEOW_WORKSPACE/go" ]; do sleep 0.05; done\necho done >> "$MEOW_WORKSPACE/log"\n');
    await ws.write('patterns/wait.yaml', 'recipe: wait\ntrigger: {paths: "data/*"}\n');
    await ws.write('data/a', 'a');
    await ws.write('data/b', 'b');
  }

  it('drains on the first signal: the running job finishes, the queued one waits for the next start', async () => {
    await workspace();
    const engine = await startEngineProcess(ws.root);
    await waitFor(async () => (await readFile(ws.path('log'), 'utf8').catch(() => '')).includes('started'), 'the first job');
    engine.child.kill('SIGINT');
    await waitFor(() => engine.output().includes('stopping'), 'the engine to start draining');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(ws.path('go'), '');
    expect(await engine.stop('SIGCONT')).toBe(0);
    const jobs = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(jobs.map((j) => j.status).sort()).toEqual(['queued', 'succeeded']);
  });

  it('stops the running job on a second signal, and at once with --cancel-running, queuing it again without counting the attempt', async () => {
    await workspace();
    const engine = await startEngineProcess(ws.root);
    await waitFor(async () => (await readFile(ws.path('log'), 'utf8').catch(() => '')).includes('started'), 'the first job');
    engine.child.kill('SIGINT');
    await waitFor(() => engine.output().includes('stopping'), 'the engine to start draining');
    expect(await engine.stop('SIGINT')).toBe(0);
    let jobs = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    // A shutdown is the engine's doing, not the recipe's: the job runs again at the next start.
    expect(jobs.map((j) => j.status).sort()).toEqual(['queued', 'queued']);
    expect(jobs.map((j) => j.attempt)).toEqual([0, 0]);
    // The transition back to the queue is logged with its reason.
    expect(engine.output()).toMatch(/queued {4}j-\S+ \S+ \S+ — stopped by the engine's shutdown/);

    const again = await startEngineProcess(ws.root, ['--cancel-running']);
    await waitFor(async () => (await meowJson<JobJson[]>(['jobs', '-w', ws.root])).some((j) => j.status === 'running'), 'the queued job to run');
    expect(await again.stop('SIGTERM')).toBe(0);
    jobs = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(jobs.map((j) => j.status)).toEqual(['queued', 'queued']);
    expect(jobs.filter((j) => j.error?.includes('shutdown')).length).toBeGreaterThan(0);
    // retries: 0, yet both still run to their own end once the engine starts again.
    const { writeFile } = await import('node:fs/promises');
    await writeFile(ws.path('go'), '');
    const last = await startEngineProcess(ws.root);
    await waitFor(async () => (await meowJson<JobJson[]>(['jobs', '-w', ws.root])).every((j) => j.status === 'succeeded'), 'both jobs to succeed');
    expect(await last.stop('SIGTERM')).toBe(0);
  });

  it('stops cleanly on signals that arrive while it is still starting up (registering thousands of files)', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/nop.mjs', 'export default () => ({ ok: true });\n');
    await ws.write('patterns/nop.yaml', 'recipe: nop\ntrigger: {paths: "data/**/*.dat"}\n');
    for (let d = 0; d < 40; d++) {
      await mkdir(ws.path(`data/d${d}`), { recursive: true });
      await Promise.all(Array.from({ length: 50 }, (_, i) => writeFile(ws.path(`data/d${d}/f${i}.dat`), `${d}/${i}`)));
    }
    // Signalled as soon as its socket exists: start-up (scan, registration, watchers) is still under way.
    for (const signals of [['SIGTERM'], ['SIGTERM', 'SIGTERM']] as const) {
      const child = spawn(process.execPath, [MEOW, 'run', '--no-tui', '-w', ws.root], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      try {
        await waitFor(() => existsSync(join(ws.root, '.meow', 'engine.sock')) || child.exitCode !== null, 'the engine socket', 30_000, 2);
        for (const s of signals) child.kill(s);
        await waitFor(() => child.exitCode !== null || child.signalCode !== null, `the engine to exit after ${signals.join(' + ')} during start-up`, 60_000);
        expect(await exited, err).toBe(0);
        expect(existsSync(join(ws.root, '.meow', 'engine.sock'))).toBe(false);
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
    }
    // Nothing was lost: the next run does every file exactly once.
    const { execFileSync } = await import('node:child_process');
    execFileSync(process.execPath, [MEOW, 'run', '--until-idle', '-w', ws.root], { stdio: 'ignore' });
    const jobs = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(jobs.length).toBe(2000);
    expect(jobs.every((j) => j.status === 'succeeded')).toBe(true);
  });
});
