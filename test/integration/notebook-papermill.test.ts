import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { meow, meowJson } from '../helpers/workspace.js';

/*
 * papermill-style notebooks, written for this suite, run through the engine
 * and compared with what papermill 2.6 documents and does
 * (papermill/execute.py, parameterize.py, iorw.py, translators.py).
 * One workspace, one `meow run --until-idle`: every job runs at once.
 */

interface JobJson { id: string; pattern: string; status: string; error: string | null; job_dir: string; result: unknown }
interface Cell { id?: string; cell_type: string; source: string | string[]; metadata: { tags?: string[]; papermill?: Record<string, unknown> }; outputs?: Record<string, unknown>[] }
interface Nb { nbformat_minor: number; metadata: { papermill: Record<string, unknown>; [k: string]: unknown }; cells: Cell[] }

function can(program: string, args: string[]): boolean {
  try {
    execFileSync(program, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const JUPYTER = can('/usr/bin/python3', ['-c', 'import nbclient, ipykernel']);
const IRKERNEL = can('/usr/bin/python3', ['-c', 'from jupyter_client.kernelspec import KernelSpecManager as K; K().get_kernel_spec("ir")']);
for (const [ok, what, fix] of [[JUPYTER, 'Jupyter', 'apt-get install jupyter-nbconvert python3-nbclient python3-ipykernel'], [IRKERNEL, 'IRkernel', 'apt-get install r-cran-irkernel']] as const) {
  if (!ok && process.env.CI) throw new Error(`CI: ${what} is missing (${fix})`);
  if (!ok) console.warn(`SKIPPING the papermill-parity notebook tests: ${what} is missing (${fix})`);
}

const code = (source: string, tags: string[] = []) => ({ cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null });
const md = (source: string, tags: string[] = []) => ({ cell_type: 'markdown', metadata: { tags }, source });
const PY = { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } };
const R = { kernelspec: { name: 'ir', display_name: 'R', language: 'R' } };
function notebook(cells: object[], metadata: object = PY, minor = 5): string {
  return JSON.stringify({ nbformat: 4, nbformat_minor: minor, metadata, cells: minor >= 5 ? cells.map((c, i) => ({ id: `cell-${i}`, ...c })) : cells });
}
const text = (s: string | string[]): string => (Array.isArray(s) ? s.join('') : s);
const BANNER = 'papermill-error-cell-tag';

/** name → [recipe notebook, pattern extras] */
const CASES: Record<string, [string, string]> = {
  exit0: [notebook([code('open("exit0.ran", "w").write("1")'), code('import sys\nsys.exit(0)'), code('open("exit0.after", "w").write("1")')]), ''],
  exitbare: [notebook([code('import sys\nsys.exit()'), code('open("exitbare.after", "w").write("1")')]), ''],
  raisesystemexit: [notebook([code('raise SystemExit')]), ''],
  exit1: [notebook([code('x = 1'), code('import sys\nsys.exit(1)')]), ''],
  valueerror: [notebook([md('# Third cell raises'), code('n = 1', ['parameters']), code('raise ValueError("bad frame")'), code('open("valueerror.after", "w").write("1")')]), ''],
  stale: [notebook([md('old banner', [BANNER]), code('a = 1', ['parameters']), md('old anchor', [BANNER]), code('a', ['result'])]), 'variables: {a: 7}\n'],
  reinjected: [notebook([code('a = 1', ['parameters']), code('b = 2'), code('# Parameters\na = 5\n', ['injected-parameters']), code('a * b', ['result'])]), 'variables: {a: 21}\n'],
  unknown: [notebook([code('a = 1\ninput_file = None', ['parameters']), code('a', ['result'])]), 'variables: {a: 2, zzz: 3}\n'],
  v44: [notebook([code('a = 1', ['parameters']), code('a', ['result'])], PY, 4), 'variables: {a: 3}\n'],
  magic: [notebook([md('intro'), code('%nosuchmagic')]), ''],
  progress: [notebook([md('intro'), code('x = 1', ['parameters']), md('between'), code('x + 1', ['result'])]), 'variables: {x: 1}\n'],
  assignments: [
    notebook([md('# Untagged'), code('import json'), code('label = "first"'), code('threshold = 10'), code('{"threshold": threshold, "double": threshold * 2, "label": label}', ['result'])]),
    'parameterize: assignments\nvariables: {threshold: 42}\n',
  ],
  v3: [
    JSON.stringify({ nbformat: 3, nbformat_minor: 0, metadata: { name: 'old' }, worksheets: [{ cells: [
      { cell_type: 'heading', level: 1, source: 'An nbformat 3 notebook', metadata: {} },
      { cell_type: 'code', language: 'python', input: 'a = 1', outputs: [], metadata: { tags: ['parameters'] } },
      { cell_type: 'code', language: 'python', input: 'a * 2', outputs: [], metadata: { tags: ['result'] } },
    ] }] }),
    'variables: {a: 5}\n',
  ],
  missingkernel: [notebook([code('1')], { kernelspec: { name: 'nosuchkernel', display_name: 'X', language: 'python' } }), ''],
};
const R_CASE = notebook([md('An R notebook'), code('n <- 1\nlabel <- "default"', ['parameters']), code('cat(sprintf("%d|%s|%s", as.integer(n * 2), label, class(flags)))\nwriteLines(label, "r.out")')], R);

describe('notebooks as papermill runs them', () => {
  // Shared by every test of the file, so made here rather than with tempWorkspace (which is per test).
  let ws: { root: string; path(rel: string): string; write(rel: string, content: string): Promise<void> };
  let jobs: Record<string, JobJson>;
  let validate: { valid: boolean; errors: { file: string; key: string; message: string }[]; warnings: { file: string; message: string }[] };
  const dir = (name: string): string => join(ws.root, jobs[name].job_dir);
  const output = async (name: string): Promise<Nb> => JSON.parse(await readFile(join(dir(name), 'output.ipynb'), 'utf8')) as Nb;
  const why = (name: string): string => `${name}: ${jobs[name]?.status}: ${jobs[name]?.error ?? ''}`;
  const log = (name: string, which: 'stdout' | 'stderr'): Promise<string> => readFile(join(dir(name), `${which}.log`), 'utf8');

  beforeAll(async () => {
    if (!JUPYTER) return;
    const root = await mkdtemp(join(tmpdir(), 'meow-papermill-'));
    ws = {
      root,
      path: (rel) => join(root, rel),
      async write(rel, content) {
        await mkdir(dirname(join(root, rel)), { recursive: true });
        await writeFile(join(root, rel), content);
      },
    };
    const cases = { ...CASES, ...(IRKERNEL ? { rnb: [R_CASE, 'variables: {n: 21, label: "é \\"q\\"", flags: [1, 2]}\n'] as [string, string] } : {}) };
    for (const [name, [nb, extra]] of Object.entries(cases)) {
      await ws.write(`recipes/${name}.ipynb`, nb);
      await ws.write(`patterns/${name}.yaml`, `recipe: ${name}\ntrigger: {paths: "in/${name}/*"}\n${extra}`);
      await ws.write(`in/${name}/a.txt`, 'a');
    }
    validate = JSON.parse((await meow(['validate', '--json', '-w', ws.root])).stdout);
    const run = await meow(['run', '--until-idle', '-w', ws.root], { timeoutMs: 600_000 });
    expect(run.code, run.stderr).toBe(1); // some jobs fail on purpose
    jobs = Object.fromEntries((await meowJson<JobJson[]>(['jobs', '-w', ws.root])).map((j) => [j.pattern, j]));
  }, 660_000);
  afterAll(async () => {
    if (ws) await rm(ws.root, { recursive: true, force: true });
  });

  it.skipIf(!JUPYTER)('treats sys.exit(), sys.exit(0) and raise SystemExit as success, stopping there', async () => {
    for (const name of ['exit0', 'exitbare', 'raisesystemexit']) expect(jobs[name], why(name)).toMatchObject({ status: 'succeeded', error: null });
    expect(existsSync(ws.path('exit0.ran'))).toBe(true);
    expect(existsSync(ws.path('exit0.after'))).toBe(false);
    expect(existsSync(ws.path('exitbare.after'))).toBe(false);
    const nb = await output('exit0');
    expect(nb.cells.some((c) => c.metadata.tags?.includes(BANNER))).toBe(false);
    expect(nb.metadata.papermill.exception).toBe(false);
    expect(nb.cells.at(-1)?.metadata.papermill).toMatchObject({ status: 'pending' });
    expect(jobs.exit1.status).toBe('failed');
    expect(jobs.exit1.error).toMatch(/^cell 2 raised SystemExit: 1/);
  });

  it.skipIf(!JUPYTER)('fails a ValueError in the third cell as "cell 3", once, with papermill\'s banner and anchor', async () => {
    const job = jobs.valueerror;
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/^cell 3 raised ValueError: bad frame\n/);
    expect(job.error?.match(/bad frame/g)).toHaveLength(2); // the header and the source line in the traceback, not a third time
    expect(existsSync(ws.path('valueerror.after'))).toBe(false);
    const nb = await output('valueerror');
    expect(nb.cells[0].metadata.tags).toEqual([BANNER]);
    expect(text(nb.cells[0].source)).toMatch(/An Exception was encountered at '<a href="#papermill-error-cell">In \[3\]<\/a>' \(cell 3\)/); // In [3]: the injected cell ran second
    const anchor = nb.cells.findIndex((c) => text(c.source).includes('id="papermill-error-cell"'));
    expect(nb.cells[anchor].metadata.tags).toEqual([BANNER]);
    expect(nb.cells[anchor + 1].outputs?.[0]).toMatchObject({ output_type: 'error', ename: 'ValueError' });
    expect(nb.metadata.papermill.exception).toBe(true);
    // The same number in stderr.log (and so in `meow job logs` and the TUI).
    expect(await log('valueerror', 'stderr')).toMatch(/\[meowflow\] cell 3 raised ValueError: bad frame/);
  });

  it.skipIf(!JUPYTER)('removes stale banners before the run', async () => {
    expect(jobs.stale, why('stale')).toMatchObject({ status: 'succeeded', result: 7 });
    const nb = await output('stale');
    expect(nb.cells.filter((c) => c.metadata.tags?.includes(BANNER))).toEqual([]);
  });

  it.skipIf(!JUPYTER)('replaces the first earlier injected cell in place and records the parameters', async () => {
    expect(jobs.reinjected, why('reinjected')).toMatchObject({ status: 'succeeded', result: 42 });
    const recipe = JSON.parse(await readFile(join(dir('reinjected'), 'recipe.ipynb'), 'utf8')) as Nb;
    expect(recipe.cells.map((c) => text(c.source))[2]).toMatch(/^# Parameters\ninput_file = '.*a\.txt'\na = 21\n$/);
    expect(recipe.cells[2].metadata.tags).toEqual(['injected-parameters']);
    expect(recipe.cells).toHaveLength(4);
    expect(recipe.metadata.papermill).toMatchObject({ parameters: { a: 21, input_file: expect.stringMatching(/a\.txt$/) }, default_parameters: {}, environment_variables: {}, version: expect.stringMatching(/^meowflow /) });
    const nb = await output('reinjected');
    expect(nb.metadata.papermill).toMatchObject({
      parameters: { a: 21 }, environment_variables: {}, version: expect.any(String), exception: false,
      start_time: expect.any(String), end_time: expect.any(String), duration: expect.any(Number), input_path: expect.stringMatching(/recipe\.ipynb$/), output_path: expect.stringMatching(/output\.ipynb$/),
    });
  });

  it.skipIf(!JUPYTER)('warns about parameters the parameters cell does not define', async () => {
    expect(jobs.unknown, why('unknown')).toMatchObject({ status: 'succeeded', result: 2 });
    const stderr = await log('unknown', 'stderr');
    expect(stderr).toContain('Passed unknown parameter: zzz');
    expect(stderr).not.toContain('Passed unknown parameter: a ');
  });

  it.skipIf(!JUPYTER)('upgrades nbformat 4.4 to 4.5 with cell ids', async () => {
    expect(jobs.v44, why('v44')).toMatchObject({ status: 'succeeded', result: 3 });
    const nb = await output('v44');
    expect(nb.nbformat_minor).toBe(5);
    expect(nb.metadata.orig_nbformat_minor).toBeUndefined(); // nbformat strips it on write, for papermill too
    for (const c of nb.cells) expect(c.id).toMatch(/^[0-9a-f]{8}$/);
  });

  it.skipIf(!JUPYTER)('upgrades nbformat 3 and runs it', async () => {
    expect(jobs.v3, why('v3')).toMatchObject({ status: 'succeeded', result: 10 });
    const nb = await output('v3');
    expect(nb.nbformat_minor).toBe(5);
    expect(text(nb.cells[0].source)).toBe('# An nbformat 3 notebook');
  });

  it.skipIf(!JUPYTER)('says a line-magic error once, numbered as the recipe file counts cells', async () => {
    expect(jobs.magic.status).toBe('failed');
    expect(jobs.magic.error).toBe('cell 2 raised UsageError: Line magic function `%nosuchmagic` not found.');
    // stderr.log: the cell's own stderr, then meowflow's one line naming the cell.
    expect((await log('magic', 'stderr')).match(/\[meowflow\].*nosuchmagic.*/g)).toEqual(['[meowflow] cell 2 raised UsageError: Line magic function `%nosuchmagic` not found.']);
  });

  it.skipIf(!JUPYTER)('counts progress by the recipe file\'s cells, the injected cell apart', async () => {
    const stdout = await log('progress', 'stdout');
    expect(stdout).toMatch(/\[meowflow\] cell 2 done \(1\/2 code cells/);
    expect(stdout).toMatch(/\[meowflow\] injected-parameters cell done/);
    expect(stdout).toMatch(/\[meowflow\] cell 4 done \(2\/2 code cells/);
  });

  it.skipIf(!JUPYTER)('MEOW assignments: an untagged notebook assigning threshold = 10 in its fourth cell computes with 42', async () => {
    expect(jobs.assignments, why('assignments')).toMatchObject({ status: 'succeeded', result: { threshold: 42, double: 84, label: 'first' } });
    const recipe = JSON.parse(await readFile(join(dir('assignments'), 'recipe.ipynb'), 'utf8')) as Nb;
    expect(text(recipe.cells[4].source)).toBe('threshold = 42');
    // input_file is never assigned: reported, and defined first.
    expect(await log('assignments', 'stderr')).toMatch(/never assigns "input_file"/);
  });

  it.skipIf(!JUPYTER)('validation names an uninstalled kernel and warns about an untagged notebook without a choice', async () => {
    expect(validate.valid).toBe(false);
    expect(validate.errors).toEqual([expect.objectContaining({ file: 'recipes/missingkernel.ipynb', key: 'metadata.kernelspec.name', message: expect.stringMatching(/"nosuchkernel".*not installed/) })]);
    const untagged = validate.warnings.filter((w) => /parameterize: assignments/.test(w.message)).map((w) => w.file).sort();
    expect(untagged).toEqual(['recipes/exit0.ipynb', 'recipes/exit1.ipynb', 'recipes/exitbare.ipynb', 'recipes/magic.ipynb', 'recipes/missingkernel.ipynb', 'recipes/raisesystemexit.ipynb']);
    expect(jobs.missingkernel.status).toBe('failed');
    expect(jobs.missingkernel.error).toMatch(/recipes\/missingkernel\.ipynb: the notebook's kernel "nosuchkernel" .* is not installed/);
  });

  it.skipIf(!JUPYTER || !IRKERNEL)('runs an R notebook on IRkernel with its parameters injected as R', async () => {
    expect(jobs.rnb.status, jobs.rnb.error ?? '').toBe('succeeded');
    const nb = await output('rnb');
    expect(text(nb.cells[2].source)).toMatch(/^# Parameters\ninput_file = ".*a\.txt"\nn = 21\nlabel = "\\u00e9 \\"q\\""\nflags = list\(1, 2\)\n$/);
    expect(nb.metadata.language_info).toMatchObject({ name: 'R' });
    expect(await log('rnb', 'stdout')).toContain('42|é "q"|list');
    expect(await readFile(ws.path('r.out'), 'utf8')).toBe('é "q"\n');
  });
});
