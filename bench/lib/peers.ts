/**
 * The peers of the benchmark: other ways to run a recipe per file written,
 * measured in the same run on the same files, recipe and concurrency as the
 * engine.
 *
 * - **Watchman triggers**: a private Watchman daemon (its own socket, state
 *   and log files in the workload's temporary directory), a `watch-project`
 *   of one directory and a `trigger` whose command is the spawner, fed the
 *   changed files on stdin. Watchman runs one instance of a trigger at a
 *   time and batches the files changed meanwhile. Its settle is its default,
 *   20 ms: with settle 0 or 1 ms, Watchman 4.9 ran the trigger for the first
 *   files of a burst and never for the rest.
 * - **inotifywait + spawn**: `inotifywait -m -e close_write --format %w%f`
 *   piped into the same spawner.
 *
 * The spawner (`bench/lib/spawner.sh`) runs `bash RECIPE` with `input_file`
 * set, at most N at a time, and logs each start and when the runs ended.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { now, waitUntil, within } from './stats.js';
import { REPO } from './workspace.js';

export type PeerName = 'watchman' | 'inotifywait';

export const PEER_TITLE: Record<PeerName, string> = { watchman: 'Watchman trigger', inotifywait: 'inotifywait + spawn' };

const PACKAGE: Record<PeerName, string> = { watchman: 'watchman', inotifywait: 'inotify-tools' };

/** Watchman's settle (its default; see above). */
export const WATCHMAN_SETTLE_MS = 20;

const HERE = dirname(fileURLToPath(import.meta.url));
/** The spawner script, beside this file in the source tree (the build does not copy it). */
export const SPAWNER = existsSync(join(HERE, 'spawner.sh')) ? join(HERE, 'spawner.sh') : join(REPO, 'bench', 'lib', 'spawner.sh');

/** Null when the peer's program runs here, else a line saying why not and how to install it. */
export function peerMissing(name: PeerName): string | null {
  const r = spawnSync(name, ['--help'], { stdio: 'ignore', timeout: 10_000 });
  if (r.error && 'code' in r.error && r.error.code === 'ENOENT') return `${name} is not installed; apt-get install ${PACKAGE[name]}`;
  if (r.error) return `${name} --help failed: ${r.error.message}`;
  return null;
}

let offset: number | null = null;
/**
 * Wall-clock milliseconds (CLOCK_REALTIME, as bash's $EPOCHREALTIME) with
 * `now()`'s resolution: `now()` plus an offset taken at an edge of Date.now().
 */
export function wallNow(): number {
  if (offset === null) {
    const start = Date.now();
    let edge = start;
    while (edge === start) edge = Date.now();
    offset = edge - now();
  }
  return now() + offset;
}

/** Parses $EPOCHREALTIME ("seconds.micros", the locale's decimal mark) into milliseconds. */
export function epochMs(text: string): number {
  const [s, us = '0'] = text.trim().split(/[.,]/);
  return Number(s) * 1000 + Number(us.padEnd(6, '0').slice(0, 6)) / 1000;
}

/** What a peer's spawner log says. */
export interface PeerProgress {
  /** Runs started, by input file name (base name). */
  started: Map<string, number>;
  /** Runs that exited non-zero. */
  failed: number;
  /** Wall-clock ms when the last runs ended, when nothing is in flight; else null. */
  idleAt: number | null;
}

export interface Peer {
  readonly name: PeerName;
  /** Each file written here runs the recipe. */
  readonly dir: string;
  progress(): PeerProgress;
  /** The end of the peer's error output, for failure messages. */
  errors(): string;
  close(): Promise<void>;
}

/** Reads a spawner log. */
function readLog(log: string): PeerProgress {
  const p: PeerProgress = { started: new Map(), failed: 0, idleAt: null };
  if (!existsSync(log)) return p;
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    if (line.startsWith('S ')) {
      const name = basename(line.slice(2));
      p.started.set(name, (p.started.get(name) ?? 0) + 1);
      p.idleAt = null;
    } else if (line.startsWith('D ')) {
      const [, , failed, at] = line.split(' ');
      p.failed += Number(failed);
      p.idleAt = epochMs(at);
    }
  }
  return p;
}

const tail = (file: string): string => (existsSync(file) ? readFileSync(file, 'utf8').slice(-2000).trim() : '');

/** Runs a command to its end with `input` on stdin. */
function command(cmd: string, args: readonly string[], input?: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', (e) => resolve({ code: null, out: `${out}${e.message}` }));
    child.once('close', (code) => resolve({ code, out }));
    if (child.stdin) {
      // A client that exits without reading its input fails on its own; its exit code says so.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    }
  });
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));

/** Stops a child: `stop()` first, SIGKILL if it has not exited within `ms`. */
async function stopChild(child: ChildProcess, stop: () => unknown, ms: number): Promise<void> {
  stop();
  await within(exited(child), ms, `${child.spawnargs[0]} to exit`).catch(() => {
    child.kill('SIGKILL');
    return exited(child);
  });
}

/** A FIFO nobody writes to, for the spawner's pauses (made once per peer, not per spawner run). */
async function pauseFifo(base: string): Promise<string> {
  const fifo = join(base, 'pause.fifo');
  if (!existsSync(fifo)) {
    const r = await command('mkfifo', [fifo]);
    if (r.code !== 0) throw new Error(`mkfifo ${fifo}: ${r.out.trim()}`);
  }
  return fifo;
}

export interface PeerOptions {
  /** A directory of the peer's own (created). */
  base: string;
  /** The bash recipe to run per file. */
  recipe: string;
  concurrency: number;
}

/** Starts a peer; `close()` stops every process it started. */
export function startPeer(name: PeerName, o: PeerOptions): Promise<Peer> {
  return name === 'watchman' ? startWatchman(o) : startInotifywait(o);
}

async function startWatchman(o: PeerOptions): Promise<Peer> {
  const root = join(o.base, 'root');
  await mkdir(root, { recursive: true });
  await writeFile(join(root, '.watchmanconfig'), `{"settle": ${WATCHMAN_SETTLE_MS}}\n`);
  const log = join(o.base, 'spawner.log');
  const errFile = join(o.base, 'trigger.err');
  const sock = `--sockname=${join(o.base, 'sock')}`;
  const daemon = spawn(
    'watchman',
    ['--foreground', sock, `--logfile=${join(o.base, 'watchman.log')}`, `--statefile=${join(o.base, 'state')}`, `--pidfile=${join(o.base, 'pid')}`, '--no-save-state', '--log-level=0'],
    { stdio: 'ignore' },
  );
  const client = (args: string[], input?: string) => command('watchman', [sock, '--no-spawn', '--no-local', ...args], input);
  const close = async () => {
    if (daemon.exitCode !== null || daemon.signalCode !== null) return;
    await stopChild(daemon, () => client(['shutdown-server']), 10_000);
  };
  try {
    const deadline = now() + 30_000;
    for (let r = await client(['get-pid']); r.code !== 0; r = await client(['get-pid'])) {
      if (daemon.exitCode !== null || now() > deadline) throw new Error(`the private watchman daemon did not start: ${r.out.trim()} ${tail(join(o.base, 'watchman.log'))}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    const watched = await client(['watch-project', root]);
    if (watched.code !== 0) throw new Error(`watchman watch-project ${root}: ${watched.out.trim()}`);
    const trigger = {
      name: 'bench',
      expression: ['allof', ['type', 'f'], ['suffix', 'txt']],
      // The spawner appends the runs' error output to errFile itself (Watchman 4.9 left a `stderr` file empty).
      command: ['bash', SPAWNER, String(o.concurrency), o.recipe, log, await pauseFifo(o.base), root, errFile],
      stdin: 'NAME_PER_LINE',
    };
    const made = await client(['-j'], JSON.stringify(['trigger', root, trigger]));
    if (made.code !== 0) throw new Error(`watchman trigger: ${made.out.trim()}`);
  } catch (err) {
    await close();
    throw err;
  }
  return { name: 'watchman', dir: root, progress: () => readLog(log), errors: () => tail(errFile), close };
}

async function startInotifywait(o: PeerOptions): Promise<Peer> {
  const dir = join(o.base, 'dir');
  await mkdir(dir, { recursive: true });
  const log = join(o.base, 'spawner.log');
  const watcher = spawn('inotifywait', ['-m', '-e', 'close_write', '--format', '%w%f', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const spawner = spawn('bash', [SPAWNER, String(o.concurrency), o.recipe, log, await pauseFifo(o.base)], { stdio: [watcher.stdout, 'ignore', 'pipe'] });
  // The spawner reads the pipe; this process keeps no end of it.
  watcher.stdout.destroy();
  let err = '';
  watcher.stderr.on('data', (d: Buffer) => (err = `${err}${d.toString()}`.slice(-2000)));
  spawner.stderr.on('data', (d: Buffer) => (err = `${err}${d.toString()}`.slice(-2000)));
  // The spawner drains and exits when inotifywait is gone and its pipe closes.
  const close = async () => {
    await stopChild(watcher, () => watcher.kill('SIGTERM'), 10_000);
    await stopChild(spawner, () => undefined, 30_000);
  };
  try {
    await waitUntil(() => err.includes('Watches established') || watcher.exitCode !== null, 'inotifywait to establish its watch', 30_000);
    if (watcher.exitCode !== null) throw new Error(`inotifywait exited ${watcher.exitCode}: ${err.trim()}`);
  } catch (e) {
    await close();
    throw e;
  }
  return { name: 'inotifywait', dir, progress: () => readLog(log), errors: () => err.replace(/Setting up watches\.\s*|Watches established\.\s*/g, '').trim(), close };
}

/**
 * Writes `names` into the peer's directory at once (64 writes in flight, as
 * the engine's runs) and waits until each started once and the spawner is
 * idle. Returns runs per second from the first write until the last run
 * ended, and how many runs were started for these names (Watchman may run a
 * file twice).
 */
export async function peerThroughput(peer: Peer, names: readonly string[], timeoutMs: number, write: (dir: string, names: readonly string[]) => Promise<void>): Promise<{ perSecond: number; runs: number }> {
  const t0 = wallNow();
  await write(peer.dir, names);
  let p = peer.progress();
  const done = () => {
    p = peer.progress();
    return p.idleAt !== null && names.every((n) => p.started.has(n));
  };
  await waitUntil(done, `${PEER_TITLE[peer.name]} to run ${names.length} files (${names.filter((n) => p.started.has(n)).length} started)`, timeoutMs, 20);
  if (p.failed) throw new Error(`${PEER_TITLE[peer.name]}: ${p.failed} run(s) of the recipe failed: ${peer.errors()}`);
  const runs = names.reduce((sum, n) => sum + (p.started.get(n) ?? 0), 0);
  return { perSecond: names.length / (((p.idleAt as number) - t0) / 1000), runs };
}

/**
 * A bash recipe that first records when it started, `$EPOCHREALTIME` in
 * `stamps/<base name of input_file>` (no process of its own), then runs `cat`.
 */
export function stampRecipe(stamps: string): string {
  if (stamps.includes("'")) throw new Error(`stamp directory ${stamps}: a path with a single quote`);
  return `#!/usr/bin/env bash\nprintf '%s\\n' "$EPOCHREALTIME" > '${stamps}'/"\${input_file##*/}"\ncat "$input_file" > /dev/null\n`;
}

/** Waits for the stamp of `name` and returns it (wall-clock ms). */
export async function readStamp(stamps: string, name: string, timeoutMs: number): Promise<number> {
  const file = join(stamps, name);
  let text = '';
  await waitUntil(() => existsSync(file) && (text = readFileSync(file, 'utf8')).endsWith('\n'), `the recipe's start stamp ${file}`, timeoutMs, 1);
  return epochMs(text);
}
