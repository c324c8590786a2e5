import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { requireComponent } from '../helpers/components.js';
import { meow, meowJson, tempWorkspace, type TempWorkspace } from '../helpers/workspace.js';

interface JobJson {
  id: string;
  status: string;
  input: string;
  error: string | null;
  job_dir: string;
  result: unknown;
  sweep_point: Record<string, unknown> | null;
  variables: Record<string, unknown>;
}

const jupyter = requireComponent('Jupyter', () => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import nbclient, ipykernel'], { stdio: 'ignore' });
    return null;
  } catch {
    return '/usr/bin/python3 cannot import nbclient and ipykernel; install them with: apt-get install jupyter-nbconvert python3-nbclient python3-ipykernel';
  }
});

const cell = (source: string, tags: string[] = []) => ({ cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null });
const notebook = (...cells: object[]) =>
  JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, cells });

describe('recipes through the engine', () => {
  let ws: TempWorkspace;
  afterEach(async () => ws?.cleanup());

  jupyter.it('runs a parameterised notebook on a real kernel and keeps output.ipynb', async () => {
    ws = await tempWorkspace();
    await ws.write(
      'recipes/double.ipynb',
      notebook(
        cell('import os'),
        cell('threshold = 10\ninput_file = None\nout = "results/x.txt"', ['parameters']),
        cell('value = threshold * 2 + len(open(input_file).read())\nos.makedirs(os.path.dirname(out), exist_ok=True)\nopen(out, "w").write(str(value))\nprint("wrote", value)'),
      ),
    );
    await ws.write('patterns/double.yaml', 'recipe: double\ntrigger: {paths: "in/*.txt"}\nvariables: {threshold: 42, out: "results/{stem}.txt"}\noutputs: ["results/{stem}.txt"]\n');
    await ws.write('in/a.txt', 'abc');
    const run = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(run.code, run.stderr).toBe(0);
    expect(await readFile(ws.path('results/a.txt'), 'utf8')).toBe('87');
    const [job] = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    const out = JSON.parse(await readFile(join(ws.root, job.job_dir, 'output.ipynb'), 'utf8')) as { cells: { metadata: { tags?: string[] }; source: string | string[]; outputs: { text?: string | string[] }[] }[] };
    const injected = out.cells.find((c) => c.metadata.tags?.includes('injected-parameters'));
    expect([injected?.source].flat().join('')).toContain('threshold = 42');
    expect(JSON.stringify(out.cells.at(-1)?.outputs)).toContain('wrote 87');
  });

  jupyter.it('fails a notebook at the raising cell, naming it, and runs nothing after it', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/boom.ipynb', notebook(cell('x = 1', ['parameters']), cell('y = 2'), cell('raise ValueError("bad frame")'), cell('open("after.txt", "w").write("ran")')));
    await ws.write('patterns/boom.yaml', 'recipe: boom\ntrigger: {paths: "in/*"}\n');
    await ws.write('in/a', 'a');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(1);
    const [job] = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/cell 3 raised ValueError: bad frame/);
    expect(existsSync(ws.path('after.txt'))).toBe(false);
  });

  it('creates one job per sweep point, with exact values', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/echo.sh', 'printf "%s %s\\n" "$threshold" "$method" >> "$MEOW_WORKSPACE/ledger.txt"\n');
    await ws.write('patterns/fine.yaml', 'recipe: echo\ntrigger: {paths: "in/*"}\nsweep:\n  threshold: {start: 0.1, stop: 0.3, step: 0.1}\n  method: [a, b]\n');
    await ws.write('patterns/coarse.yaml', 'recipe: echo\ntrigger: {paths: "in/*"}\nsweep:\n  threshold: {start: 1000, stop: 10000, step: 200}\nvariables: {method: c}\n');
    await ws.write('in/a', 'a');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    const lines = (await readFile(ws.path('ledger.txt'), 'utf8')).trim().split('\n');
    expect(lines.filter((l) => !l.endsWith(' c')).sort()).toEqual(['0.1 a', '0.1 b', '0.2 a', '0.2 b', '0.3 a', '0.3 b']);
    expect(lines.filter((l) => l.endsWith(' c'))).toHaveLength(46);
    const fine = await meowJson<JobJson[]>(['jobs', '--pattern', 'fine', '-w', ws.root]);
    expect(fine.map((j) => j.sweep_point)).toContainEqual({ threshold: 0.3, method: 'b' });
    // Idempotent: a second run creates no sweep job again.
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    expect((await meowJson<JobJson[]>(['jobs', '-w', ws.root])).length).toBe(52);
  });

  it('sweeps an integer range beyond 2^53 exactly (a timestamp in ns), and a re-run creates nothing again', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/echo.sh', 'printf "%s %s\\n" "$ts" "$tag" >> "$MEOW_WORKSPACE/ledger.txt"\n');
    await ws.write('patterns/ns.yaml', 'recipe: echo\ntrigger: {paths: "in/*"}\nvariables: {tag: "t_{ts}"}\nsweep:\n  ts: {start: 1733322222123456789, stop: 1733322222123458789, step: 1000}\n');
    await ws.write('in/a', 'a');
    expect((await meow(['validate', '-w', ws.root])).code).toBe(0);
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    const lines = (await readFile(ws.path('ledger.txt'), 'utf8')).trim().split('\n').sort();
    expect(lines).toEqual(['1733322222123456789 t_1733322222123456789', '1733322222123457789 t_1733322222123457789', '1733322222123458789 t_1733322222123458789']);
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    expect(await meowJson<JobJson[]>(['jobs', '-w', ws.root])).toHaveLength(3);
  });

  it('hands the numbers written in a command recipe to the program as their text, every digit and 3.0 kept', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/args.yaml', 'command: [/usr/bin/python3, -c, "import os, sys; print(*sys.argv[1:], os.environ[\'N\'], os.environ[\'F\'])", 12345678901234567890, 3.0, 1e-07, 7]\nenv: {N: -98765432109876543210, F: 2.5}\n');
    await ws.write('patterns/args.yaml', 'recipe: args\ntrigger: {paths: "in/*"}\n');
    await ws.write('in/a', 'a');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    const [job] = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(await readFile(join(ws.root, job.job_dir, 'stdout.log'), 'utf8')).toBe('12345678901234567890 3.0 1e-07 7 -98765432109876543210 2.5\n');
  });

  it('runs JavaScript function recipes on the worker pool with no subprocess, storing their results', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/measure.mjs', 'export default async function (vars, ctx) {\n  ctx.log.info(`measuring ${vars.input_file}`);\n  return { length: vars.input_file.length, job: ctx.jobId };\n}\n');
    await ws.write('recipes/broken.mjs', 'export default async () => { throw new Error("no calibration for this frame"); };\n');
    await ws.write('patterns/measure.yaml', 'recipe: measure\ntrigger: {paths: "in/*.dat"}\n');
    await ws.write('patterns/broken.yaml', 'recipe: broken\ntrigger: {paths: "in/bad.dat"}\n');
    for (let i = 0; i < 200; i++) await ws.write(`in/f${i}.dat`, '');
    await ws.write('in/bad.dat', '');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(1);
    const jobs = await meowJson<(JobJson & { pattern: string })[]>(['jobs', '--pattern', 'measure', '-w', ws.root]);
    expect(jobs).toHaveLength(201);
    expect(jobs.every((j) => j.status === 'succeeded')).toBe(true);
    const one = jobs.find((j) => j.input === 'in/f7.dat');
    expect(one?.result).toEqual({ length: join(ws.root, 'in/f7.dat').length, job: one?.id });
    expect(await readFile(join(ws.root, one?.job_dir ?? '', 'stdout.log'), 'utf8')).toContain('measuring');
    const show = await meow(['job', 'show', one?.id ?? '', '-w', ws.root]);
    expect(show.stdout).toContain('length:');
    // No process was spawned for a function recipe: the engine recorded no pid.
    const db = execFileSync(process.execPath, ['-e', `const D=require(${JSON.stringify(join(process.cwd(), 'node_modules/better-sqlite3'))});const d=new D(${JSON.stringify(ws.path('.meow/state.db'))},{readonly:true});console.log(d.prepare("select count(*) n from jobs where pid is not null").get().n)`], { encoding: 'utf8' });
    expect(db.trim()).toBe('0');
    const [bad] = await meowJson<JobJson[]>(['jobs', '--pattern', 'broken', '-w', ws.root]);
    expect(bad.status).toBe('failed');
    expect(bad.error).toContain('no calibration for this frame');
  });

  it('runs python scripts with the pattern variables winning over the defaults, reporting results', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/scale.py', 'import json, os\nfactor = 1\ninput_file = None\nvalue = len(open(input_file).read()) * factor\njson.dump({"value": value}, open(os.path.join(os.environ["MEOW_JOB_DIR"], "meow_result.json"), "w"))\n');
    await ws.write('patterns/scale.yaml', 'recipe: scale\ntrigger: {paths: "in/*"}\nvariables: {factor: 7}\n');
    await ws.write('in/a', 'abcd');
    const run = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(run.code, run.stderr).toBe(0);
    const [job] = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(job.result).toEqual({ value: 28 });
    expect(await readFile(join(ws.root, job.job_dir, 'recipe.py'), 'utf8')).toContain('factor = 7');
  });
});
