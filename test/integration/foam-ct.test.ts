/*
 * The CT foam pipeline of examples/foam-ct, reduced: 10 samples, 2 with too
 * little porosity, 1 corrupted. Real notebooks on real Jupyter kernels, with
 * numpy from Debian. The generator writes the ground truth next to the data,
 * so the statistics are checked against the pores as they were generated.
 */
import { execFile } from 'node:child_process';
import { cp, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect } from 'vitest';
import { requireComponentAsync } from '../helpers/components.js';
import { meow, meowJson, REPO, tempWorkspace, type TempWorkspace } from '../helpers/workspace.js';
import { scaled } from '../helpers/pace.js';

const PYTHON = '/usr/bin/python3';
const EXAMPLE = join(REPO, 'examples', 'foam-ct');
const run = promisify(execFile);

/** Why the pipeline cannot run here, or null when it can. */
async function missing(): Promise<string | null> {
  try {
    await run(PYTHON, ['-c', 'import numpy, nbclient, ipykernel'], { timeout: 60_000 });
    return null;
  } catch (err) {
    return `${PYTHON} cannot import numpy, nbclient and ipykernel (${String(err).split('\n')[0]}); install them with: apt-get install python3-numpy jupyter-nbconvert python3-nbclient python3-ipykernel`;
  }
}
const notebooks = await requireComponentAsync('numpy, nbclient and ipykernel', missing);

interface JobJson {
  id: string;
  pattern: string;
  status: string;
  input: string;
  error: string | null;
  generation: number;
  cause: string | null;
  result: Record<string, unknown> | null;
}

interface Truth {
  name: string;
  kind: 'good' | 'low' | 'truncated' | 'garbage';
  porosity?: number;
  pores?: number;
  pore_voxels?: number[];
}

interface Stats {
  sample: string;
  porosity: number;
  pores: number;
  voxel_size_um: number;
  diameter_um: { mean: number; median: number; std: number; min: number; max: number };
  histogram: { edges_um: number[]; counts: number[] };
}

const VOXEL_UM = 10;

/** Checks one sample's statistics against the pores the generator made. */
async function expectStatsMatchTruth(ws: TempWorkspace, name: string): Promise<void> {
  const truth = JSON.parse(await readFile(ws.path(`data/truth/${name}.json`), 'utf8')) as Truth;
  const stats = JSON.parse(await readFile(ws.path(`data/stats/${name}.json`), 'utf8')) as Stats;
  const diameters = truth.pore_voxels!.map((v) => Math.cbrt((6 * v) / Math.PI) * VOXEL_UM);
  const mean = diameters.reduce((a, b) => a + b, 0) / diameters.length;
  expect(stats.sample).toBe(name);
  // Every pore is found, none split or merged; the boundary voxels blur a little.
  expect(stats.pores, name).toBe(truth.pores);
  expect(Math.abs(stats.porosity - truth.porosity!), name).toBeLessThan(0.02);
  expect(Math.abs(stats.diameter_um.mean - mean) / mean, name).toBeLessThan(0.05);
  expect(stats.histogram.counts.reduce((a, b) => a + b, 0)).toBe(stats.pores);
  expect(stats.histogram.edges_um).toHaveLength(stats.histogram.counts.length + 1);
  const svg = await readFile(ws.path(`data/stats/${name}.svg`), 'utf8');
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(svg).toContain(`${name}: ${stats.pores} pores`);
}

const byPattern = (jobs: JobJson[], pattern: string) => jobs.filter((j) => j.pattern === pattern);

describe('the CT foam pipeline (examples/foam-ct)', () => {
  let ws: TempWorkspace | undefined;
  afterEach(async () => {
    await ws?.cleanup();
    ws = undefined;
  });

  notebooks.it('runs 10 samples to pore statistics; a repaired corrupted file re-runs exactly its chain', async () => {
    ws = await tempWorkspace('meow-foam-');
    // The example as it is in the repository: definitions and generator, no data, no state.
    await cp(EXAMPLE, ws.root, { recursive: true, filter: (src) => !/[/\\](data|\.meow)$/.test(src) });
    await run(PYTHON, ['generate.py', '--samples', '10', '--low', '2', '--corrupt', '1'], { cwd: ws.root, timeout: 120_000 });
    const manifest = JSON.parse(await readFile(ws.path('data/truth/manifest.json'), 'utf8')) as { samples: Truth[] };
    const names = (kind: Truth['kind']) => manifest.samples.filter((s) => s.kind === kind).map((s) => s.name);
    const good = names('good');
    const low = names('low');
    const [corrupt] = names('truncated');
    expect([good.length, low.length, corrupt]).toEqual([7, 2, expect.stringMatching(/^foam-\d\d$/)]);

    // One job fails (the corrupted file), so the run exits 1; everything else flows through.
    const first = await meow(['run', '--until-idle', '-w', ws.root], { timeoutMs: 480_000 });
    expect(first.code, first.stderr).toBe(1);
    const jobs = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);

    const checks = byPattern(jobs, 'check_porosity');
    expect(checks).toHaveLength(10);
    const failed = checks.filter((j) => j.status === 'failed');
    expect(failed.map((j) => j.input)).toEqual([`data/incoming/${corrupt}.npy`]);
    expect(failed[0].error).toMatch(/cannot reshape array/);
    for (const j of checks.filter((c) => c.status === 'succeeded')) {
      const name = /foam-\d\d/.exec(j.input)![0];
      expect(j.result, name).toMatchObject({ decision: low.includes(name) ? 'discarded' : 'accepted' });
    }
    expect((await readdir(ws.path('data/accepted'))).sort()).toEqual(good.map((n) => `${n}.npy`));
    expect((await readdir(ws.path('data/discarded'))).sort()).toEqual(low.map((n) => `${n}.npy`));

    for (const [pattern, dir] of [['segment', 'accepted'], ['analyse_pores', 'segmented']]) {
      const these = byPattern(jobs, pattern);
      expect(these.map((j) => j.input).sort(), pattern).toEqual(good.map((n) => `data/${dir}/${n}.npy`));
      expect(these.every((j) => j.status === 'succeeded'), pattern).toBe(true);
    }
    for (const name of good) await expectStatsMatchTruth(ws, name);
    const statsBefore = new Map<string, number>();
    for (const name of good) statsBefore.set(name, (await stat(ws.path(`data/stats/${name}.json`))).mtimeMs);

    // Upload a good copy of the corrupted scan: its chain — and nothing else — runs.
    await run(PYTHON, ['generate.py', '--repair', corrupt], { cwd: ws.root, timeout: 60_000 });
    const second = await meow(['run', '--until-idle', '-w', ws.root], { timeoutMs: 240_000 });
    expect(second.code, second.stderr).toBe(0);
    const after = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    const fresh = after.filter((j) => !jobs.some((k) => k.id === j.id));
    expect(fresh.map((j) => [j.pattern, j.input, j.status, j.generation])).toEqual([
      ['check_porosity', `data/incoming/${corrupt}.npy`, 'succeeded', 0],
      ['segment', `data/accepted/${corrupt}.npy`, 'succeeded', 1],
      ['analyse_pores', `data/segmented/${corrupt}.npy`, 'succeeded', 2],
    ]);
    expect([fresh[1].cause, fresh[2].cause]).toEqual([fresh[0].id, fresh[1].id]);
    await expectStatsMatchTruth(ws, corrupt);
    for (const name of good) expect((await stat(ws.path(`data/stats/${name}.json`))).mtimeMs, name).toBe(statsBefore.get(name));
  }, scaled(600_000));
});
