/**
 * The baselines each workload is compared with, measured in the same run on
 * the same machine: what the operating system and the libraries the engine is
 * built on can do with no engine in between.
 */
import { watch } from 'chokidar';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync, watch as fsWatch } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { now, quantile, waitUntil } from './stats.js';
import { writeFiles } from './workspace.js';

/**
 * Bare chokidar delivering `add` events: a watcher on `root` (ignoreInitial,
 * otherwise chokidar's defaults), then `paths` written at once; milliseconds
 * from the first write until every add was delivered.
 */
export async function chokidarDelivery(root: string, paths: readonly string[], timeoutMs: number): Promise<number> {
  await mkdir(root, { recursive: true });
  const watcher = watch(root, { ignoreInitial: true });
  try {
    await new Promise<void>((r) => watcher.once('ready', () => r()));
    let adds = 0;
    watcher.on('add', () => adds++);
    const t0 = now();
    await writeFiles(root, paths);
    await waitUntil(() => adds >= paths.length, `chokidar add events (${adds} of ${paths.length})`, timeoutMs, 1);
    return now() - t0;
  } finally {
    await watcher.close();
  }
}

/**
 * Raw process spawning: `bash SCRIPT` with `input_file` in the environment,
 * once per input, `concurrency` at a time, with child_process.spawn and no
 * output kept. Returns jobs per second; throws when any run fails.
 */
export async function rawSpawn(script: string, inputs: readonly string[], concurrency: number, cwd: string): Promise<number> {
  let next = 0;
  let failed = 0;
  const one = (input: string) =>
    new Promise<void>((resolve) => {
      const child = spawn('bash', [script], { cwd, env: { ...process.env, input_file: input }, stdio: 'ignore' });
      child.once('error', () => (failed++, resolve()));
      child.once('exit', (code) => (code !== 0 && failed++, resolve()));
    });
  const worker = async () => {
    while (next < inputs.length) await one(inputs[next++]);
  };
  const t0 = now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (now() - t0) / 1000;
  if (failed) throw new Error(`raw spawn baseline: ${failed} of ${inputs.length} runs of bash ${script} failed`);
  return inputs.length / seconds;
}

/**
 * A plain directory walk: readdir of every directory and a stat of every
 * file (what any tool must do to know the files' versions), synchronously,
 * the fastest way Node offers on a small machine. Returns milliseconds and
 * the number of files; the best of `repeat` runs.
 */
export function directoryWalk(root: string, repeat = 3): { ms: number; files: number } {
  let best = Number.POSITIVE_INFINITY;
  let files = 0;
  for (let r = 0; r < repeat; r++) {
    const t0 = now();
    files = 0;
    const dirs = [root];
    while (dirs.length) {
      const dir = dirs.pop() as string;
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const abs = join(dir, e.name);
        if (e.isDirectory()) dirs.push(abs);
        else if (statSync(abs, { bigint: true }).isFile()) files++;
      }
    }
    best = Math.min(best, now() - t0);
  }
  return { ms: best, files };
}

/** The jupyter nbconvert command of this machine, or null. */
export function nbconvertCommand(): string[] {
  return existsSync('/usr/bin/jupyter-nbconvert') ? ['/usr/bin/jupyter-nbconvert'] : ['/usr/bin/python3', '-m', 'nbconvert'];
}

/**
 * `jupyter nbconvert --to notebook --execute` of a notebook, cold (a new
 * process and kernel each time): milliseconds, the median of `repeat` runs.
 */
export async function nbconvertCold(notebook: string, outDir: string, repeat: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const [cmd, ...args] = nbconvertCommand();
    const t0 = now();
    const { code, stderr } = await run(cmd, [...args, '--to', 'notebook', '--execute', '--output-dir', outDir, '--output', `baseline-${i}`, notebook]);
    if (code !== 0) throw new Error(`nbconvert baseline exited ${code}: ${stderr.slice(-2000)}`);
    times.push(now() - t0);
  }
  return quantile(times, 0.5);
}

/** Runs a command to its end. */
export function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (e) => resolve({ code: null, stdout, stderr: `${stderr}${e.message}` }));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Bare inotify delivering the same burst: one `fs.watch` on the directory
 * (an inotify watch, as the engine's directory watcher uses), then `paths`
 * (all in that directory) written at once; milliseconds from the first write
 * until every file's name was reported at least once.
 */
export async function inotifyDelivery(root: string, paths: readonly string[], timeoutMs: number): Promise<number> {
  const dirs = new Set(paths.map((p) => dirname(p)));
  if (dirs.size !== 1) throw new Error(`inotify baseline: the paths must share one directory, got ${dirs.size}`);
  const dir = join(root, [...dirs][0]);
  await mkdir(dir, { recursive: true });
  const seen = new Set<string>();
  const watcher = fsWatch(dir, (_kind, name) => {
    if (name) seen.add(name.toString());
  });
  try {
    const t0 = now();
    await writeFiles(root, paths);
    await waitUntil(() => seen.size >= paths.length, `inotify events (${seen.size} of ${paths.length} names)`, timeoutMs, 1);
    return now() - t0;
  } finally {
    watcher.close();
  }
}
