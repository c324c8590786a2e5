import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scaled } from './pace.js';
import { watchWorkspace } from './processes.js';
import { track } from './resources.js';
import { waitFor } from './wait.js';

export { waitFor };

/** The repository root. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MEOW = join(REPO, 'bin', 'meow.js');

/** A temporary workspace, removed by `cleanup()`. */
export interface TempWorkspace {
  root: string;
  write(rel: string, content: string | Buffer): Promise<string>;
  path(rel: string): string;
  cleanup(): Promise<void>;
}

/**
 * Removes a workspace. A process of a killed engine that is still on its way
 * out (a kernel pool, a spawn supervisor) may write one last file meanwhile:
 * rm tries again on ENOTEMPTY rather than failing the test.
 */
function removeTree(root: string): Promise<void> {
  return rm(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

export async function tempWorkspace(prefix = 'meow-test-'): Promise<TempWorkspace> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  watchWorkspace(root);
  const ws: TempWorkspace = {
    root,
    path: (rel) => join(root, rel),
    async write(rel, content) {
      const p = join(root, rel);
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, content);
      return p;
    },
    async cleanup() {
      done();
      await removeTree(root);
    },
  };
  const done = track(ws, `workspace ${root}`, () => removeTree(root));
  return ws;
}

let wholeCount = 0;

/**
 * Writes a file so that it appears whole: written under a temporary name
 * outside any workspace (same filesystem), then renamed into place. A file
 * caught empty between its creation and its first write is, with `settle: 0`,
 * a created and then a modified job; tests that count one job per file write
 * with this.
 */
export async function writeWhole(path: string, content: string): Promise<void> {
  const staged = join(tmpdir(), `meow-whole-${process.pid}-${++wholeCount}`);
  await writeFile(staged, content);
  await rename(staged, path);
}

/** What a CLI run printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `meow ARGS` to its end (killed after `timeoutMs`, stretched by the machine's slowdown). */
export function meow(args: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [MEOW, ...args],
      { cwd: options.cwd ?? REPO, env: { ...process.env, ...options.env }, timeout: scaled(options.timeoutMs ?? 120_000), maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}

/** Runs `meow ARGS --json` and parses its output. */
export async function meowJson<T>(args: string[], options: { cwd?: string } = {}): Promise<T> {
  const r = await meow([...args, '--json'], options);
  if (r.code !== 0) throw new Error(`meow ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** The non-empty lines of a text file (none when it does not exist yet). */
export async function readLines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

/** A `meow run` process in the background (the live engine). */
export interface EngineProcess {
  child: ChildProcess;
  output(): string;
  /** SIGINT (or the given signal) and wait for exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `meow run --no-tui` in a workspace and waits until its socket answers. */
export async function startEngineProcess(root: string, extra: string[] = []): Promise<EngineProcess> {
  const child = spawn(process.execPath, [MEOW, 'run', '--no-tui', '-w', root, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const proc: EngineProcess = {
    child,
    output: () => out,
    async stop(signal = 'SIGINT') {
      untrack();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  const untrack = track(proc, `engine process in ${root}`, async () => {
    child.kill('SIGKILL');
    await exited;
  });
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`engine exited ${child.exitCode}: ${out}`);
    return existsSync(join(root, '.meow', 'engine.sock')) && (await meow(['status', '--json', '-w', root])).stdout.includes('"running"');
  }, 'the engine socket', 30_000, 50);
  return proc;
}
