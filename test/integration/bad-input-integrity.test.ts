/*
 * The bad-input corpus, part two: values, definitions, commands, state and
 * remote refusals. Each case runs the real CLI (or the real engine, SQLite,
 * sbatch's words) and asserts the exact message — file, key, problem, fix —
 * and that nothing else was lost or changed. Needs the build.
 */
import Database from 'better-sqlite3';
import { request } from 'node:http';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { socketPath } from '../../src/api/client.js';
import { ExactNumber } from '../../src/core/exact-number.js';
import { readConfig, readDefinitions } from '../../src/monitor/definitions-reader.js';
import { parseSinfo, slurmRefusalMessage, sshGpuSource } from '../../src/runner/backends/remote-errors.js';
import { stateError } from '../../src/store/open-db.js';
import { Store } from '../../src/store/store.js';
import { startLive, type LiveEngine } from '../helpers/engine.js';
import { meow, tempWorkspace, type TempWorkspace } from '../helpers/workspace.js';

const SEG = { 'recipes/seg.sh': 'echo "$input_file"\n' };
const TRIGGER = 'recipe: seg\ntrigger:\n  paths: "data/*.txt"\n';

let ws: TempWorkspace;
let live: LiveEngine | null = null;
afterEach(async () => {
  await live?.close();
  live = null;
  await ws?.cleanup();
});

async function workspace(files: Record<string, string>): Promise<TempWorkspace> {
  ws = await tempWorkspace('meow-integrity-');
  for (const [rel, text] of Object.entries(files)) await ws.write(rel, text);
  return ws;
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

describe('definitions are checked completely', () => {
  it('a variable cycle is an error naming the cycle; the other patterns stay valid', async () => {
    await workspace({
      ...SEG,
      'patterns/loop.yaml': `${TRIGGER}variables:\n  a: "{b}"\n  b: "x{a}"\n  c: "{c}"\n`,
      'patterns/fine.yaml': `${TRIGGER}variables:\n  base: "out"\n  out: "{base}/{stem}.npy"\n`,
    });
    const r = await meow(['-w', ws.root, 'validate']);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([
      'patterns/loop.yaml: variables.a: circular reference: a → b → a; each of them waits for the next, so none has a value; replace one of the references with a value',
      'patterns/loop.yaml: variables.c: circular reference: c → c; "c" names itself; write its value instead of {c}',
    ]);
    expect(r.stdout).toBe('2 errors (1 patterns, 1 recipes valid)\n');
  });

  it('{env:NAME} is refused while NAME is unset, and read when it is set', async () => {
    await workspace({ ...SEG, 'patterns/p.yaml': `${TRIGGER}variables:\n  token: "{env:MEOW_TEST_TOKEN}"\n  url: "https://x/{token}"\n` });
    const unset = await meow(['-w', ws.root, 'validate']);
    expect(unset.code).toBe(2);
    expect(lines(unset.stderr)).toEqual([
      "patterns/p.yaml: variables.token: {env:MEOW_TEST_TOKEN} reads the environment variable MEOW_TEST_TOKEN, which is not set in the engine's environment; set it (export MEOW_TEST_TOKEN=...) before starting the engine, or write the value itself",
    ]);
    await ws.write('data/a.txt', 'x');
    const run = await meow(['-w', ws.root, 'run', '--until-idle', '--no-tui'], { env: { MEOW_TEST_TOKEN: 's3cret' } });
    expect(run.code).toBe(0);
    const [job] = JSON.parse((await meow(['-w', ws.root, 'jobs', '--json'])).stdout) as { variables: Record<string, string> }[];
    expect(job.variables).toEqual({ input_file: 'data/a.txt', token: 's3cret', url: 'https://x/s3cret' });
  });

  it('.inf and .nan reach Python but are refused, with the reason, for bash', async () => {
    await workspace({
      ...SEG,
      'recipes/py.py': 'x = 0\nprint(repr(x), repr(y))\n',
      'patterns/sh.yaml': `${TRIGGER}variables:\n  x: .inf\n  l: [1, .nan]\n`,
      'patterns/py.yaml': 'recipe: py\ntrigger:\n  paths: "data/*.txt"\nvariables:\n  x: .inf\n  y: -.inf\n',
    });
    const r = await meow(['-w', ws.root, 'validate']);
    expect(r.code).toBe(2);
    const fix = (v: string) =>
      `${v} cannot reach a bash recipe: it receives variables as text and in MEOW_PARAMS (JSON), which has no spelling for inf or nan; write the value as a string (e.g. "${v}" in quotes) and convert it in the recipe, or use a Python, notebook or JavaScript recipe`;
    expect(lines(r.stderr)).toEqual([`patterns/sh.yaml: variables.x: ${fix('inf')}`, `patterns/sh.yaml: variables.l[1]: ${fix('nan')}`]);
    await ws.write('data/a.txt', 'x');
    await meow(['-w', ws.root, 'run', '--until-idle', '--no-tui']);
    const jobs = JSON.parse((await meow(['-w', ws.root, 'jobs', '--json'])).stdout) as { pattern: string; status: string; error: string | null; job_dir: string }[];
    const py = jobs.find((j) => j.pattern === 'py');
    expect(py?.status).toBe('succeeded');
    expect(await readFile(join(ws.root, py?.job_dir ?? '', 'stdout.log'), 'utf8')).toBe('inf -inf\n');
    const sh = jobs.find((j) => j.pattern === 'sh');
    expect(sh?.status).toBe('failed');
    expect(sh?.error).toBe(`variables.x: ${fix('inf')}`);
  });

  it('a 50 MB file in patterns/ is refused unread; the other patterns are registered', async () => {
    await workspace({ ...SEG, 'patterns/ok.yaml': TRIGGER });
    await writeFile(ws.path('patterns/data.yaml'), Buffer.alloc(50 * 1024 * 1024, 'a'));
    const r = await meow(['-w', ws.root, 'validate']);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([
      'patterns/data.yaml: the file is 50 MiB, more than the 1 MiB a definition file may hold, so it was not read; patterns/ holds pattern files only: move data files elsewhere in the workspace, or raise max_definition_size in meow.yaml',
    ]);
    expect(r.stdout).toBe('1 error (1 patterns, 1 recipes valid)\n');
    await ws.write('meow.yaml', 'max_definition_size: 100MiB\n');
    const raised = await meow(['-w', ws.root, 'validate']);
    expect(raised.stderr).toContain('patterns/data.yaml: expected a mapping with keys like "recipe:" and "trigger:", got the string');
  });

  it('a large pattern file is parsed off the main thread, with the same result and exact numbers', async () => {
    const padding = Array.from({ length: 4000 }, (_, i) => `  pad${i}: "${'x'.repeat(20)}"\n`).join('');
    const text = `${TRIGGER}variables:\n  ts: 1733322222123456789\n  f: 3.0\n${padding}`;
    await workspace({ ...SEG, 'patterns/big.yaml': text, 'patterns/bad.yaml': `${TRIGGER}retries: often\n${'#'.repeat(70_000)}\n` });
    const { config } = await readConfig(ws.root);
    const defs = await readDefinitions(ws.root, config);
    expect(defs.errors.map((e) => `${e.file}: ${e.key}: ${e.message}`)).toEqual(['patterns/bad.yaml: retries: expected a whole number of at least 0, got the string "often"']);
    const [big] = defs.patterns;
    expect(big.variables.ts).toEqual(new ExactNumber('1733322222123456789', 'int'));
    expect(big.variables.f).toEqual(new ExactNumber('3.0', 'float'));
    expect(big.variables.ts).toBeInstanceOf(ExactNumber);
    expect(Object.keys(big.variables)).toHaveLength(4002);
  });

  it('meow.yaml backend options: unknown keys with did-you-mean, types and durations, at validation and at start', async () => {
    await workspace({
      ...SEG,
      'patterns/p.yaml': TRIGGER,
      'meow.yaml': 'backends:\n  local: {cpu: 4}\n  cluster: {type: slurm, partitoin: gpu, time: 2hours}\n  box: {type: ssh, host: gpu01, portt: 22}\n',
    });
    const expected = [
      'meow.yaml: backends.local.cpu: unknown key "cpu" (did you mean "cpus"?); a local backend allows: type, cpus, gpus, memory',
      'meow.yaml: backends.cluster.partitoin: unknown key "partitoin" (did you mean "partition"?); a slurm backend allows: partition, account, sbatch_args, time, poll_interval, node, array_window, array_size',
      'meow.yaml: backends.cluster.time: expected a duration like "250ms", "30s", "30m", "2h" or a number of seconds, got "2hours"',
      'meow.yaml: backends.box.portt: unknown key "portt" (did you mean "port"?); an ssh backend allows: host, user, port, identity, workdir, shared_fs, cpus, gpus, ssh_args, node, poll_interval, batch_window',
    ];
    const r = await meow(['-w', ws.root, 'validate']);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual(expected);
    const run = await meow(['-w', ws.root, 'run', '--until-idle', '--no-tui']);
    expect(lines(run.stderr).slice(0, 4)).toEqual(expected);
  });
});

describe('commands that cannot hurt', () => {
  it('meow init in a directory holding its files changes nothing and exits 2; --keep-existing writes only the missing ones', async () => {
    await workspace({ 'instrument.mjs': 'my own instrument\n', 'requests/000.json': '{"focus": 1}\n' });
    const r = await meow(['init', ws.root]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `meow: ${ws.root} already holds files that \`meow init\` would write, so nothing was changed:\n  instrument.mjs\n  requests/000.json\n` +
        'Choose a new directory, move these files away, or run `meow init --keep-existing` to write only the missing files.\n',
    );
    expect((await readdir(ws.root)).sort()).toEqual(['instrument.mjs', 'requests']);
    const keep = await meow(['init', ws.root, '--keep-existing']);
    expect(keep.code).toBe(0);
    expect(keep.stdout.split('\n')[0]).toBe('kept as they were: instrument.mjs, requests/000.json');
    expect(await readFile(ws.path('instrument.mjs'), 'utf8')).toBe('my own instrument\n');
    expect(await readFile(ws.path('requests/000.json'), 'utf8')).toBe('{"focus": 1}\n');
    expect((await readdir(ws.path('patterns'))).sort()).toEqual(['steer.yaml']);
  });

  it('-w naming no directory exits 2 and creates nothing; bad flag values exit 2 with the reason', async () => {
    await workspace({});
    const missing = join(ws.root, 'no', 'such', 'dir');
    const r = await meow(['-w', missing, 'validate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`meow: no workspace at ${missing}: the directory does not exist; check -w, or create a workspace with \`meow init ${missing}\`\n`);
    expect(await readdir(ws.root)).toEqual([]);
    for (const bad of ['abc', '-5', '0']) {
      const limit = await meow(['-w', ws.root, 'jobs', '--limit', bad]);
      expect(limit.code).toBe(2);
      expect(limit.stderr).toBe(`error: option '--limit <n>' argument '${bad}' is invalid. expected a whole number of at least 1, got "${bad}"\n`);
    }
  });

  it('the socket answers 400 with a message to malformed or out-of-workspace events', async () => {
    await workspace({ ...SEG, 'patterns/p.yaml': TRIGGER });
    live = await startLive(ws.root);
    const post = (body: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ socketPath: socketPath(ws.root), path: '/events', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const cases: [string, string][] = [
      ['{"path": "../../etc/passwd"}', '"../../etc/passwd" leaves the workspace (".."); only files inside the workspace can trigger patterns'],
      ['{"path": "/etc/passwd"}', '"/etc/passwd" is an absolute path; give a path relative to the workspace, e.g. "data/a.txt"'],
      ['{"path": ".meow/state.db"}', '".meow/state.db" is inside .meow/, the engine\'s own state, which never triggers patterns'],
      ['{"path": 7}', 'expected {"path": "<workspace-relative path>"}'],
      ['not json', 'the request body is not valid JSON'],
    ];
    for (const [body, message] of cases) {
      const r = await post(body);
      expect(r.status, body).toBe(400);
      expect(JSON.parse(r.body) as { error: string; code: string }).toEqual({ error: message, code: 'MEOW_USAGE' });
    }
    expect((await post('{"path": "data/a.txt"}')).status).toBe(200);
  });
});

describe('state errors say what to do', () => {
  it('a corrupt state.db is named with the recovery, and left as it was', async () => {
    await workspace({ ...SEG, 'patterns/p.yaml': TRIGGER });
    await ws.write('.meow/state.db', 'this is not a database at all, just text long enough to be read as a header');
    const db = ws.path('.meow/state.db');
    const expected = `meow: ${db}: the state database is corrupt (file is not a database). Stop the engine, move the file aside (mv ${db} ${db}.corrupt) and restore a backup, or start with none: the next start re-registers the definitions and triggers the existing files again, but the job history is gone; see "Recovery" in docs/guarantees.md\n`;
    for (const args of [['run', '--until-idle', '--no-tui'], ['jobs']]) {
      const r = await meow(['-w', ws.root, ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(expected);
    }
    expect(await readFile(db, 'utf8')).toBe('this is not a database at all, just text long enough to be read as a header');
  });

  it('a state.db newer than this version is refused with the way back', async () => {
    await workspace({});
    const path = ws.path('.meow/state.db');
    new Store(path).close();
    const raw = new Database(path);
    raw.pragma('user_version = 999');
    raw.close();
    expect(() => new Store(path)).toThrow(
      `${path}: the state database is newer than this version of meowflow (schema 999, this version understands up to `,
    );
    expect(() => new Store(path)).toThrow('upgrade meowflow, or restore the backup of .meow/ taken before the upgrade; see "Recovery" in docs/guarantees.md');
  });

  it('read-only and locked databases are named with the fix (real SQLite errors)', async () => {
    await workspace({});
    const path = ws.path('.meow/state.db');
    new Store(path).close();
    const ro = new Database(path, { readonly: true });
    let readonlyError: unknown;
    try {
      ro.exec('CREATE TABLE x (a)');
    } catch (err) {
      readonlyError = err;
    } finally {
      ro.close();
    }
    expect(stateError(path, readonlyError).message).toBe(
      `${path}: the state database is read-only (attempt to write a readonly database); the engine must write it. Give your user write permission on ${path} and its directory (chmod u+w ${path} ${ws.path('.meow')}), or run as the user who owns them; see "Recovery" in docs/guarantees.md`,
    );
    const holder = new Database(path);
    holder.exec('BEGIN IMMEDIATE');
    const other = new Database(path);
    other.pragma('busy_timeout = 0');
    let lockedError: unknown;
    try {
      other.exec('BEGIN IMMEDIATE');
    } catch (err) {
      lockedError = err;
    } finally {
      other.close();
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect(stateError(path, lockedError).message).toBe(
      `${path}: the state database is locked by another process (database is locked): another engine, or a program holding a write transaction. Stop it (meow status shows a running engine) and try again; see "Recovery" in docs/guarantees.md`,
    );
  });

  it('.meow/ is private by default, group-shared with state_access: group', async () => {
    await workspace({ ...SEG, 'patterns/p.yaml': TRIGGER });
    await meow(['-w', ws.root, 'run', '--until-idle', '--no-tui']);
    expect((await stat(ws.path('.meow'))).mode & 0o7777).toBe(0o700);
    await ws.write('meow.yaml', 'state_access: group\n');
    await meow(['-w', ws.root, 'run', '--until-idle', '--no-tui']);
    expect((await stat(ws.path('.meow'))).mode & 0o7777).toBe(0o2770);
  });

  it('a newline in a file name is escaped in log lines and tables, never splitting them', async () => {
    await workspace({ ...SEG, 'patterns/p.yaml': TRIGGER });
    await ws.write('data/x\n00:00:00.000 succeeded j-forged p y.txt', 'x');
    const run = await meow(['-w', ws.root, 'run', '--until-idle', '--no-tui']);
    const started = lines(run.stdout).filter((l) => / started /.test(l));
    expect(started).toHaveLength(1);
    expect(started[0]).toMatch(/ started {3}j-\S+ p data\/x\\n00:00:00\.000 succeeded j-forged p y\.txt$/);
    expect(lines(run.stdout).filter((l) => l.includes('j-forged'))).toHaveLength(2);
    const table = lines((await meow(['-w', ws.root, 'jobs'])).stdout);
    expect(table).toHaveLength(2);
    expect(table[1]).toContain('data/x\\n00:00:00.000 succeeded j-forged p y.txt');
  });
});

describe('remote refusals are translated', () => {
  it("Slurm's refusal of a 3-GPU request on a 2-GPU partition says what was asked, what exists and which key to change", () => {
    const offers = parseSinfo('debug*|4|8000|(null)\ngpu|16|64000|gpu:2(S:0)\ngpu|8|32000|gpu:a100:1\n');
    expect(offers).toEqual([
      { partition: 'debug', isDefault: true, cpus: 4, memoryMb: 8000, gpus: 0 },
      { partition: 'gpu', isDefault: false, cpus: 16, memoryMb: 64000, gpus: 2 },
    ]);
    const site = { pattern: 'segment', resources: { cpus: 1, gpus: 3, memory: null }, backend: 'cluster', partition: 'gpu' };
    expect(slurmRefusalMessage(site, 'sbatch: error: Batch job submission failed: Requested node configuration is not available\n', offers[1])).toBe(
      'backend cluster: Slurm refused the job: pattern "segment" asks for 1 cpu, 3 GPUs, but partition "gpu" offers at most 2 GPUs, 16 cpus and 64000 MB per node; ' +
        'lower resources.gpus of pattern "segment" to at most 2, or choose a partition with more (backends.cluster.partition in meow.yaml) ' +
        '(Slurm said: Batch job submission failed: Requested node configuration is not available)',
    );
  });

  it('an SSH backend without a gpus: key says the key is missing', () => {
    expect(sshGpuSource('gpubox', undefined, 0)).toBe(
      'backend gpubox has no "gpus:" key in meow.yaml, so it offers none; add e.g. "gpus: 2" or "gpus: [0, 1]" under backends.gpubox',
    );
    expect(sshGpuSource('gpubox', 2, 2)).toBe('gpus: 2 for backend gpubox in meow.yaml');
  });
});
