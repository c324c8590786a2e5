/*
 * The flagship example, the steering loop, as a new user meets it: `meow demo`
 * (what `npm run demo` runs), and `meow init` + `meow run` + the simulated
 * instrument in a workspace of their own. Nothing here needs Python.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { track } from '../helpers/resources.js';
import { meow, meowJson, REPO, startEngineProcess, tempWorkspace, waitFor, type TempWorkspace } from '../helpers/workspace.js';
import { scaled } from '../helpers/pace.js';

/** The instrument's true optimum (examples/steering/instrument.mjs) and how close the loop must get. */
const OPTIMUM = 3.7;
const TOLERANCE = 0.1;

interface SteerResult {
  converged: boolean;
  parameter: string;
  optimum: number;
  uncertainty: number;
  iterations: number;
  plot: string;
}

interface JobJson {
  id: string;
  pattern: string;
  status: string;
  input: string;
  result: Record<string, unknown> | null;
}

/** Runs `node instrument.mjs` in a workspace; the process is killed if a test leaves it running. */
function startInstrument(dir: string): { exited: Promise<number | null>; closed: () => boolean; output: () => string } {
  const child = spawn(process.execPath, [join(dir, 'instrument.mjs')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  let closed = false;
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => ((closed = true), resolve(code))));
  const done = track(child, `instrument in ${dir}`, async () => {
    child.kill('SIGKILL');
    await exited;
  });
  void exited.then(done);
  return { exited, closed: () => closed, output: () => out };
}

describe('the steering loop (the flagship example)', () => {
  let ws: TempWorkspace | undefined;
  afterEach(async () => {
    await ws?.cleanup();
    ws = undefined;
  });

  it('`meow demo --keep` converges to the instrument\'s optimum as the README says, prints the lineage and keeps the plot', async () => {
    const run = await meow(['demo', '--keep'], { timeoutMs: 150_000 });
    const kept = /workspace kept in (\S+);/.exec(run.stdout)?.[1];
    try {
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const m = /converged after (\d+) measurements: focus = ([\d.]+) ± ([\d.]+) — the instrument's true optimum is ([\d.]+)/.exec(run.stdout);
      expect(m, run.stdout).not.toBeNull();
      const [iterations, value, , truth] = [Number(m![1]), Number(m![2]), Number(m![3]), Number(m![4])];
      expect(truth).toBe(OPTIMUM);
      expect(iterations).toBeGreaterThanOrEqual(10);
      expect(iterations).toBeLessThanOrEqual(30);
      expect(Math.abs(value - OPTIMUM)).toBeLessThan(TOLERANCE);

      // The lineage runs from result.json back, through every iteration, to the first request.
      const lineage = run.stdout.slice(run.stdout.indexOf('lineage of result.json'));
      expect(lineage).toMatch(/result\.json +← steer j-\S+ ← measurements\/\d{3}\.json ← instrument ← requests\/\d{3}\.json/);
      expect(lineage.match(/← steer j-/g)).toHaveLength(iterations);
      expect(lineage).toMatch(/requests\/000\.json +from outside/);

      // The README's tour tells this very run (the instrument's noise is seeded).
      const readme = await readFile(join(REPO, 'README.md'), 'utf8');
      const told = /It takes (\d+) measurements to find focus\s+([\d.]+) ± ([\d.]+)/.exec(readme);
      expect(told?.slice(1).map(Number)).toEqual([iterations, value, Number(m![3])]);
      expect(readme).toContain(`meow jobs                        # ${iterations} \`steer\` jobs, one per measurement`);
      const block = /```yaml\n# patterns\/steer\.yaml\n([\s\S]*?)```/.exec(readme)?.[1];
      expect(block).toBe(await readFile(join(REPO, 'patterns', 'steer.yaml'), 'utf8'));

      expect(kept).toBeDefined();
      const result = JSON.parse(await readFile(join(kept!, 'result.json'), 'utf8')) as SteerResult;
      expect(result).toMatchObject({ converged: true, parameter: 'focus', optimum: value, iterations });
      const svg = await readFile(join(kept!, result.plot), 'utf8');
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      // One dot per measurement on the left, one estimate per measurement on the right.
      expect(svg.match(/<circle /g)).toHaveLength(2 * iterations);
    } finally {
      if (kept) await rm(kept, { recursive: true, force: true });
    }
  }, scaled(180_000));

  it('`meow init`, `meow run` and `node instrument.mjs`: the loop runs live and ends at result.json', async () => {
    ws = await tempWorkspace();
    const dir = join(ws.root, 'lab');
    const init = await meow(['init', dir]);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('node instrument.mjs');
    expect(JSON.parse(await readFile(join(dir, 'requests', '000.json'), 'utf8'))).toEqual({ focus: 9 });

    const engine = await startEngineProcess(dir);
    const instrument = startInstrument(dir);
    // The instrument stops by itself once the analysis writes result.json.
    await waitFor(() => instrument.closed(), 'the instrument to stop at result.json', 120_000, 100);
    expect(await instrument.exited, instrument.output()).toBe(0);
    expect(instrument.output()).toContain('result.json appeared');

    const result = JSON.parse(await readFile(join(dir, 'result.json'), 'utf8')) as SteerResult;
    expect(result.converged).toBe(true);
    expect(Math.abs(result.optimum - OPTIMUM)).toBeLessThan(TOLERANCE);
    // Reproducible: the same measurements and the same answer as `meow demo` (as the README tells it).
    const told = /It takes (\d+) measurements to find focus\s+([\d.]+) ± ([\d.]+)/.exec(await readFile(join(REPO, 'README.md'), 'utf8'));
    expect([result.iterations, result.optimum, result.uncertainty]).toEqual(told?.slice(1).map(Number));
    const names = Array.from({ length: result.iterations }, (_, i) => `${String(i).padStart(3, '0')}.json`);
    expect((await readdir(join(dir, 'measurements'))).sort()).toEqual(names);
    expect((await readdir(join(dir, 'requests'))).sort()).toEqual(names);
    expect(existsSync(join(dir, 'plots', 'convergence.svg'))).toBe(true);

    // One analysis job per measurement, all succeeded; the last one converged.
    const jobs = await waitFor(async () => {
      const all = await meowJson<JobJson[]>(['jobs', '-w', dir]);
      return all.length === result.iterations && all.every((j) => j.status === 'succeeded') ? all : null;
    }, 'every analysis job to succeed', 30_000, 100);
    expect(jobs.map((j) => j.input)).toEqual(names.map((n) => `measurements/${n}`));
    expect(jobs.every((j) => j.pattern === 'steer')).toBe(true);
    expect(jobs[jobs.length - 1].result).toMatchObject({ phase: 'converged', next: null, converged: true });
    expect(await engine.stop()).toBe(0);
  }, scaled(180_000));
});
