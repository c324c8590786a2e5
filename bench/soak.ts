/*
 * `npm run soak [-- --files N] [--kills K] [--seed S] [--cpus C] [--keep]`:
 * the chaos harness of docs/guarantees.md. A live engine processes N files
 * through a bash and a JavaScript pattern (default `retries: 0`) while it is
 * killed with SIGKILL K times at random moments, stopped twice with a double
 * SIGTERM, and a definition is edited and reverted during the retroactive
 * triggers that follow; files keep arriving throughout. At the end it checks:
 *
 * - every file has exactly one succeeded, current job per pattern (under the
 *   rule registered now) and no current job is failed;
 * - each recipe ran at most `files + restarts × cpus` times per rule
 *   registration it ran under (an attempt lost to a kill runs once more);
 * - no job process of the workspace is left.
 *
 * Exit status 0 when every check holds, 1 otherwise (the workspace is kept
 * for a look), 2 bad usage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from './lib/random.js';
import { REPO } from './lib/workspace.js';
import { jobProcesses } from '../src/runner/process-tree.js';

interface Options {
  files: number;
  kills: number;
  seed: number;
  cpus: number;
  keep: boolean;
}

interface JobJson {
  pattern: string;
  input: string;
  status: string;
  superseded: boolean;
}

const MEOW = join(REPO, 'bin', 'meow.js');

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { files: 2000, kills: 20, seed: Date.now() % 1_000_000, cpus: 2, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a} takes a whole number, got ${argv[i]}`);
      return n;
    };
    if (a === '--files') o.files = num();
    else if (a === '--kills') o.kills = num();
    else if (a === '--seed') o.seed = num();
    else if (a === '--cpus') o.cpus = Math.max(1, num());
    else if (a === '--keep') o.keep = true;
    else throw new Error(`unknown option ${a}; soak takes --files N --kills K --seed S --cpus C --keep`);
  }
  return o;
}

const random = seededRandom;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function meow(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MEOW, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** Starts a live engine; resolves once its socket answers (meow status says running). */
async function startEngine(root: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [MEOW, 'run', '--no-tui', '-w', root], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`the engine exited with ${child.exitCode} while starting`);
    const s = await meow(['status', '--json', '-w', root]);
    if (s.code === 0 && (JSON.parse(s.stdout) as { engine: string }).engine === 'running') return child;
    await sleep(100);
  }
  throw new Error('the engine did not answer within a minute');
}

const BASH_PATTERN = (tag: string) => `recipe: stamp\ntrigger:\n  paths: "drop/*.dat"\n  settle: 0ms\nvariables:\n  tag: ${tag}\n`;
const JS_PATTERN = `recipe: note\ntrigger:\n  paths: "drop/*.dat"\n  settle: 0ms\n`;
const BASH_RECIPE = `sleep 0.0$((RANDOM % 5)); printf '%s %s\\n' "$tag" "$(basename "$input_file")" >> "$MEOW_WORKSPACE/ledger-bash.txt"\n`;
const JS_RECIPE = `import { appendFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
export default async (vars, ctx) => {
  await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)));
  await appendFile(join(ctx.workspace, 'ledger-js.txt'), basename(vars.input_file) + '\\n');
  return { ok: true };
};
`;

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

const CHANGE_DEADLINE_S = 120;

/** Waits until the bash recipe has run under `tag` after the ledger's first `from` lines; false past the deadline. */
async function ranUnder(root: string, tag: string, from: number): Promise<boolean> {
  for (const end = Date.now() + CHANGE_DEADLINE_S * 1000; Date.now() < end; await sleep(100)) {
    if ((await lines(join(root, 'ledger-bash.txt'))).slice(from).some((l) => l.startsWith(`${tag} `))) return true;
  }
  return false;
}

async function soak(o: Options): Promise<number> {
  const rand = random(o.seed);
  const problems: string[] = [];
  const root = await mkdtemp(join(tmpdir(), 'meow-soak-'));
  console.log(`soak: ${o.files} files, ${o.kills} SIGKILLs, 2 double SIGTERMs, 1 edit and its revert; seed ${o.seed}; workspace ${root}`);
  await mkdir(join(root, 'patterns'), { recursive: true });
  await mkdir(join(root, 'recipes'), { recursive: true });
  await mkdir(join(root, 'drop'), { recursive: true });
  await writeFile(join(root, 'meow.yaml'), `cpus: ${o.cpus}\nkill_grace: 500ms\n`);
  await writeFile(join(root, 'recipes', 'stamp.sh'), BASH_RECIPE);
  await writeFile(join(root, 'recipes', 'note.mjs'), JS_RECIPE);
  await writeFile(join(root, 'patterns', 'stamp.yaml'), BASH_PATTERN('v1'));
  await writeFile(join(root, 'patterns', 'note.yaml'), JS_PATTERN);

  // The faults, in a random order: kills, two double SIGTERMs, the edit and (later) its revert.
  const faults: string[] = [...Array.from({ length: o.kills }, () => 'kill'), 'term2', 'term2', 'edit'];
  for (let i = faults.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [faults[i], faults[j]] = [faults[j], faults[i]];
  }
  const editAt = faults.indexOf('edit');
  faults.splice(editAt + 1 + Math.floor(rand() * (faults.length - editAt)), 0, 'revert');

  let written = 0;
  const writeSome = async (n: number) => {
    for (let k = 0; k < n && written < o.files; k++, written++) await writeFile(join(root, 'drop', `f${String(written).padStart(6, '0')}.dat`), `${written}\n`);
  };
  const perFault = Math.ceil(o.files / (faults.length + 1));
  let restarts = 0;
  let engine = await startEngine(root);
  for (const fault of faults) {
    await writeSome(perFault);
    await sleep(50 + Math.floor(rand() * 400));
    if (fault === 'edit' || fault === 'revert') {
      const tag = fault === 'edit' ? 'v2' : 'v1';
      const ran = (await lines(join(root, 'ledger-bash.txt'))).length;
      await writeFile(join(root, 'patterns', 'stamp.yaml'), BASH_PATTERN(tag));
      // The next fault strikes while the change's retroactive jobs run: once one of them has run.
      if (!(await ranUnder(root, tag, ran))) problems.push(`no job of the ${fault} (${tag}) ran within ${CHANGE_DEADLINE_S} s`);
      await sleep(Math.floor(rand() * 300));
      continue;
    }
    if (fault === 'kill') engine.kill('SIGKILL');
    else {
      engine.kill('SIGTERM');
      await sleep(20);
      engine.kill('SIGTERM');
    }
    await exited(engine);
    restarts++;
    engine = await startEngine(root);
  }
  await writeSome(o.files);
  engine.kill('SIGTERM');
  await exited(engine);
  // Whatever is left runs to the end.
  const idle = await meow(['run', '--until-idle', '-w', root]);

  if (idle.code !== 0) problems.push(`the final meow run --until-idle exited ${idle.code}: ${idle.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const current = JSON.parse((await meow(['jobs', '--json', '-w', root])).stdout) as JobJson[];
  for (const pattern of ['stamp', 'note']) {
    const succeeded = new Map<string, number>();
    for (const j of current.filter((x) => x.pattern === pattern)) {
      if (j.status === 'failed') problems.push(`${pattern}: ${j.input} has a current failed job`);
      if (j.status === 'succeeded') succeeded.set(j.input, (succeeded.get(j.input) ?? 0) + 1);
    }
    for (let i = 0; i < o.files; i++) {
      const input = `drop/f${String(i).padStart(6, '0')}.dat`;
      const n = succeeded.get(input) ?? 0;
      if (n !== 1) problems.push(`${pattern}: ${input} has ${n} current succeeded jobs`);
    }
  }
  // Runs: the bash pattern ran under three registrations (v1, v2, v1 again), the JS one under one.
  const bash = await lines(join(root, 'ledger-bash.txt'));
  const js = await lines(join(root, 'ledger-js.txt'));
  const slack = restarts * o.cpus;
  if (js.length > o.files + slack) problems.push(`the JavaScript recipe ran ${js.length} times for ${o.files} files and ${restarts} restarts`);
  if (bash.length > 3 * o.files + slack) problems.push(`the bash recipe ran ${bash.length} times for ${o.files} files × 3 registrations and ${restarts} restarts`);
  const left = [...jobProcesses(root).values()].flat();
  if (left.length) problems.push(`job processes left: ${left.join(', ')}`);
  for (const p of problems.slice(0, 20)) console.log(`  FAIL ${p}`);
  if (problems.length > 20) console.log(`  … and ${problems.length - 20} more`);
  const all = JSON.parse((await meow(['jobs', '--all', '--json', '-w', root])).stdout) as JobJson[];
  console.log(
    `soak: ${restarts} restarts; ${all.length} jobs recorded (${current.length} current); bash ran ${bash.length}×, JavaScript ${js.length}× for ${o.files} files: ${problems.length === 0 ? 'every check held' : `${problems.length} problem(s)`}`,
  );
  if (problems.length === 0 && !o.keep) await rm(root, { recursive: true, force: true });
  else console.log(`soak: workspace kept at ${root}`);
  return problems.length === 0 ? 0 : 1;
}

let options: Options;
try {
  options = parseArgs(process.argv.slice(2));
} catch (err) {
  console.error(`soak: ${(err as Error).message}`);
  process.exit(2);
}
process.exitCode = await soak(options);
