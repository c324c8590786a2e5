import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { meow, meowJson, tempWorkspace, type TempWorkspace } from '../helpers/workspace.js';

interface JobJson {
  id: string;
  pattern: string;
  status: string;
  input: string;
  variables: Record<string, unknown>;
  exit_code: number | null;
  error: string | null;
  job_dir: string;
  attempt: number;
  generation: number;
}

/** A bash recipe that appends its input (NUL-terminated, byte-exact) to ledger.bin. */
const LEDGER_SH = `printf '%s\\0' "$input_file" >> "$MEOW_WORKSPACE/ledger.bin"\n`;

async function ledger(ws: TempWorkspace): Promise<string[]> {
  const text = await readFile(ws.path('ledger.bin'), 'latin1').catch(() => '');
  return text.split('\0').filter(Boolean).map((p) => Buffer.from(p, 'latin1').toString('utf8'));
}

describe('meow run --until-idle', () => {
  let ws: TempWorkspace;
  afterEach(async () => ws?.cleanup());

  it('runs the example of `meow init` (the steering loop), one measurement per run', async () => {
    ws = await tempWorkspace();
    const dir = join(ws.root, 'demo');
    expect((await meow(['init', dir])).code).toBe(0);
    // The simulated instrument answers the pending request; the run analyses the measurement and asks for the next.
    for (let i = 0; i < 3; i++) {
      await promisify(execFile)(process.execPath, [join(dir, 'instrument.mjs'), '--once', '--exposure', '0'], { cwd: dir });
      const run = await meow(['run', '--until-idle'], { cwd: dir });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
    }
    const jobs = await meowJson<JobJson[]>(['jobs'], { cwd: dir });
    expect(jobs.map((j) => [j.pattern, j.input, j.status])).toEqual(['000', '001', '002'].map((n) => ['steer', `measurements/${n}.json`, 'succeeded']));
    // Measurements come from outside the engine (the instrument): generation 0.
    expect(jobs.map((j) => j.generation)).toEqual([0, 0, 0]);
    expect((await readdir(join(dir, 'requests'))).sort()).toEqual(['000.json', '001.json', '002.json', '003.json']);
    // Each request is a declared output of the job that analysed the measurement before it.
    const trace = await meowJson<{ path: string; job: string | null; inputs: string[] }[]>(['trace', 'requests/003.json'], { cwd: dir });
    expect(trace[0]).toMatchObject({ path: 'requests/003.json', job: jobs[2].id, inputs: ['measurements/002.json'] });
    // No new measurement, nothing to do.
    expect((await meow(['run', '--until-idle'], { cwd: dir })).code).toBe(0);
    expect(await meowJson<JobJson[]>(['jobs'], { cwd: dir })).toHaveLength(3);
  });

  it('runs nothing the second time; then exactly the added and modified files', async () => {
    ws = await tempWorkspace();
    await ws.write('patterns/count.yaml', 'recipe: count\ntrigger:\n  paths: "data/*.txt"\n');
    await ws.write('recipes/count.sh', LEDGER_SH);
    for (let i = 0; i < 5; i++) await ws.write(`data/f${i}.txt`, `file ${i}`);
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    expect(await ledger(ws)).toHaveLength(5);

    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    expect(await ledger(ws)).toHaveLength(5);

    for (let i = 5; i < 8; i++) await ws.write(`data/f${i}.txt`, `file ${i}`);
    await appendFile(ws.path('data/f0.txt'), ' changed');
    const third = await meow(['run', '--until-idle', '--json', '-w', ws.root]);
    expect(third.code).toBe(0);
    // --json ends with the idle record, as when a live engine runs the workspace.
    const idle = JSON.parse(third.stdout.trim().split('\n').pop() ?? '{}') as { kind: string; failed: number; created: number; jobs: Record<string, number> };
    expect(idle).toMatchObject({ kind: 'idle', failed: 0, created: 4, jobs: { succeeded: 9, failed: 0 } });
    const seen = await ledger(ws);
    expect(seen).toHaveLength(9);
    expect(seen.slice(5).map((p) => p.slice(ws.root.length + 1)).sort()).toEqual(['data/f0.txt', 'data/f5.txt', 'data/f6.txt', 'data/f7.txt']);
    const jobs = await meowJson<JobJson[]>(['jobs', '--all', '-w', ws.root]);
    expect(jobs.filter((j) => j.input === 'data/f0.txt').map((j) => j.status)).toEqual(['succeeded', 'succeeded']);
  });

  it('lists a pattern without its recipe as waiting, and links it when the recipe appears', async () => {
    ws = await tempWorkspace();
    await ws.write('patterns/late.yaml', 'recipe: late\ntrigger:\n  paths: "in/*.dat"\n');
    await ws.write('in/a.dat', 'a');
    await ws.write('in/b.dat', 'b');
    const before = await meowJson<{ name: string; linked: boolean }[]>(['patterns', '-w', ws.root]);
    expect(before).toEqual([expect.objectContaining({ name: 'late', recipe: 'late', file: 'patterns/late.yaml', linked: false, paths: ['in/*.dat'], events: ['created', 'modified'] })]);
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    expect(await ledger(ws)).toHaveLength(0);
    expect((await meowJson<{ linked: boolean }[]>(['patterns', '-w', ws.root]))[0].linked).toBe(false);

    await ws.write('recipes/late.sh', LEDGER_SH);
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    expect((await ledger(ws)).map((p) => p.slice(ws.root.length + 1)).sort()).toEqual(['in/a.dat', 'in/b.dat']);
    expect((await meowJson<{ linked: boolean }[]>(['patterns', '-w', ws.root]))[0].linked).toBe(true);
  });

  it('re-runs only the edited pattern, with its new variables', async () => {
    ws = await tempWorkspace();
    const recipe = 'printf "%s %s\\n" "$pattern_tag" "$(basename "$input_file")" >> "$MEOW_WORKSPACE/ledger.txt"\n';
    await ws.write('recipes/tag.sh', recipe);
    await ws.write('patterns/a.yaml', 'recipe: tag\ntrigger: {paths: "data/*.txt"}\nvariables: {pattern_tag: a1}\n');
    await ws.write('patterns/b.yaml', 'recipe: tag\ntrigger: {paths: "data/*.txt"}\nvariables: {pattern_tag: b1}\n');
    await ws.write('data/x.txt', 'x');
    await ws.write('data/y.txt', 'y');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    await ws.write('patterns/a.yaml', 'recipe: tag\ntrigger: {paths: "data/*.txt"}\nvariables: {pattern_tag: a2}\n');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    const lines = (await readFile(ws.path('ledger.txt'), 'utf8')).trim().split('\n');
    expect(lines.slice(0, 4).sort()).toEqual(['a1 x.txt', 'a1 y.txt', 'b1 x.txt', 'b1 y.txt']);
    expect(lines.slice(4).sort()).toEqual(['a2 x.txt', 'a2 y.txt']);
    const jobs = await meowJson<JobJson[]>(['jobs', '--all', '--pattern', 'a', '-w', ws.root]);
    expect(jobs.map((j) => j.variables.pattern_tag)).toEqual(['a1', 'a1', 'a2', 'a2']);
  });

  it('hands hostile file names to recipes byte-exact and never executes them', async () => {
    ws = await tempWorkspace();
    const names = [
      'with space.txt',
      `single'quote.txt`,
      'double"quote.txt',
      '$(touch pwned).txt',
      '`touch pwned2`.txt',
      '-leading-dash.txt',
      'ünïcødé ñame.txt',
      "a b $(touch x) 'q'.txt",
    ];
    await ws.write('patterns/bash.yaml', 'recipe: ledger\ntrigger: {paths: "in/*"}\n');
    await ws.write('recipes/ledger.sh', LEDGER_SH);
    await ws.write('patterns/cmd.yaml', 'recipe: argv\ntrigger: {paths: "in/*"}\n');
    await ws.write('recipes/argv.yaml', `command: ["bash", "-c", "printf '%s\\\\0' \\"$1\\" >> \\"$MEOW_WORKSPACE/argv.bin\\"", "argv", "{input_file}"]\n`);
    for (const n of names) await ws.write(`in/${n}`, n);
    const run = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const expected = names.map((n) => join(ws.root, 'in', n)).sort();
    expect((await ledger(ws)).sort()).toEqual(expected);
    const argv = (await readFile(ws.path('argv.bin'), 'utf8')).split('\0').filter(Boolean).sort();
    expect(argv).toEqual(expected);
    for (const f of ['pwned', 'pwned2', 'x', 'in/pwned', 'in/x']) expect(existsSync(ws.path(f))).toBe(false);
  });

  it('reports an invalid pattern with file and key and still runs the valid ones', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/ledger.sh', LEDGER_SH);
    await ws.write('patterns/good.yaml', 'recipe: ledger\ntrigger: {paths: "data/*.txt"}\n');
    await ws.write('patterns/typed.yaml', 'recipe: ledger\ntrigger: {paths: 3}\n');
    await ws.write('patterns/yaml.yaml', 'recipe: ledger\ntrigger: [unclosed\n');
    await ws.write('patterns/placeholder.yaml', 'recipe: ledger\ntrigger: {paths: "data/*.txt"}\nvariables: {out: "{nope}.txt"}\n');
    await ws.write('recipes/weird.rb', 'puts 1');
    await ws.write('data/a.txt', 'a');
    const run = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('patterns/typed.yaml: trigger.paths:');
    expect(run.stderr).toMatch(/patterns\/yaml\.yaml: .*line \d+/);
    expect(run.stderr).toContain('patterns/placeholder.yaml: variables.out:');
    expect(run.stderr).toContain('recipes/weird.rb');
    expect(await ledger(ws)).toEqual([ws.path('data/a.txt')]);
    const validate = await meow(['validate', '-w', ws.root]);
    expect(validate.code).toBe(2);
    expect(validate.stderr).toContain('patterns/typed.yaml: trigger.paths:');
  });

  it('records a failing recipe with its exit code and stderr; other jobs carry on; exit 1', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/picky.sh', 'case "$input_file" in *bad*) echo "cannot read $input_file" >&2; exit 3;; esac\n' + LEDGER_SH);
    await ws.write('patterns/picky.yaml', 'recipe: picky\ntrigger: {paths: "data/*"}\n');
    await ws.write('data/good1', '1');
    await ws.write('data/bad', '2');
    await ws.write('data/good2', '3');
    const run = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(run.code).toBe(1);
    const jobs = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    const bad = jobs.find((j) => j.input === 'data/bad');
    expect(bad).toMatchObject({ status: 'failed', exit_code: 3 });
    expect(bad?.error).toContain('exit code 3');
    expect(bad?.error).toContain('cannot read');
    expect(await readFile(join(ws.root, bad?.job_dir ?? '', 'stderr.log'), 'utf8')).toContain('cannot read');
    expect(jobs.filter((j) => j.status === 'succeeded')).toHaveLength(2);
    const logs = await meow(['job', 'logs', bad?.id ?? '', '-w', ws.root]);
    expect(logs.stdout).toContain('cannot read');
    const failed = await meowJson<JobJson[]>(['jobs', '--status', 'failed', '-w', ws.root]);
    expect(failed.map((j) => j.input)).toEqual(['data/bad']);
  });

  it('honours timeout and retries', async () => {
    ws = await tempWorkspace();
    // An attempt that is not stopped runs to its end and says so in finished.txt.
    await ws.write('recipes/slow.sh', 'echo attempt >> "$MEOW_WORKSPACE/attempts.txt"; sleep 30; echo done >> "$MEOW_WORKSPACE/finished.txt"\n');
    await ws.write('patterns/slow.yaml', 'recipe: slow\ntrigger: {paths: "data/*"}\ntimeout: 300ms\nretries: 1\n');
    await ws.write('data/one', '1');
    const run = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(run.code).toBe(1);
    expect(existsSync(ws.path('finished.txt'))).toBe(false);
    const [job] = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(job).toMatchObject({ status: 'failed', attempt: 2 });
    expect(job.error).toContain('timed out after 300ms');
    expect((await readFile(ws.path('attempts.txt'), 'utf8')).trim().split('\n')).toHaveLength(2);
  });

  it('retries a failed job from the command line', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/flaky.sh', '[ -f "$MEOW_WORKSPACE/ok" ] || exit 1\n' + LEDGER_SH);
    await ws.write('patterns/flaky.yaml', 'recipe: flaky\ntrigger: {paths: "data/*"}\n');
    await ws.write('data/one', '1');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(1);
    const [job] = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    await writeFile(ws.path('ok'), '');
    const retried = await meowJson<JobJson>(['job', 'retry', job.id, '-w', ws.root]);
    expect(retried.status).toBe('queued');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    expect(await meowJson<JobJson>(['job', 'show', job.id, '-w', ws.root])).toMatchObject({ status: 'succeeded', attempt: 2 });
    await rm(ws.path('ok'));
  });
});

describe('hostile file names', () => {
  let ws: TempWorkspace;
  afterEach(async () => ws?.cleanup());

  it('processes names with newlines and 255 bytes, and reports names that are not UTF-8', async () => {
    ws = await tempWorkspace();
    await ws.write('patterns/bash.yaml', 'recipe: ledger\ntrigger: {paths: "in/*"}\n');
    await ws.write('recipes/ledger.sh', LEDGER_SH);
    const long = `${'é'.repeat(125)}.txt`; // 254 bytes + … keep under NAME_MAX
    const names = ['line\nbreak.txt', 'tab\there.txt', long, 'x'.repeat(255)];
    for (const n of names) await ws.write(`in/${n}`, n);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(Buffer.concat([Buffer.from(`${ws.root}/in/bad-`), Buffer.from([0xff, 0xfe]), Buffer.from('.txt')]), 'x');
    const run = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(run.code).toBe(0);
    expect((await ledger(ws)).sort()).toEqual(names.map((n) => join(ws.root, 'in', n)).sort());
    expect(run.stderr).toContain('the file name is not valid UTF-8, so it cannot be processed; rename it');
    expect(run.stderr.match(/not valid UTF-8/g)).toHaveLength(1);
  });
});
