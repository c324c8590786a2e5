/**
 * Getting settled files into the engine's workspace before their events are
 * published. Three ways, chosen from `--to`:
 *
 * - `shared`: the watched directory is inside the workspace path (both hosts
 *   mount the same filesystem): nothing moves.
 * - `copy`: the workspace is a local path elsewhere (another mount): a copy
 *   under a temporary name, renamed into place, with the source's mtime.
 * - `ssh`: `[user@]host:/path`: rsync over the SSH backend's multiplexed
 *   connection (src/runner/ssh-connection.ts).
 *
 * Both copies write each file under a temporary name in the workspace's
 * `.meow/` and rename it into place.
 */
import { copyFile, mkdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { MeowError } from '../core/errors.js';
import { bashQuote, commandFailure } from '../runner/backends/remote-exec.js';
import { SshConnection } from '../runner/backends/ssh/ssh-connection.js';

/**
 * Temporary copies live in the workspace's `.meow/`, which the engine never
 * watches, and are renamed into place (the same filesystem): a file the
 * engine sees is complete, and never appears as moved from a temporary name.
 */
const TMP_DIR = '.meow/forward-tmp';

/** Where the workspace is, as `--to` says. */
export type Destination = { kind: 'local'; root: string } | { kind: 'ssh'; user: string | null; host: string; root: string };

/** Parses `--to`: a local path, or `[user@]host:/absolute/path`. */
export function parseDestination(to: string): Destination {
  const m = /^(?:([^@/:\s]+)@)?([^@/:\s]+):(.*)$/.exec(to);
  if (m && !isAbsolute(to)) {
    const root = m[3];
    if (!root.startsWith('/')) throw new MeowError('MEOW_USAGE', `--to ${to}: give the workspace's absolute path on ${m[2]}, like ${m[2]}:/data/beamline`);
    return { kind: 'ssh', user: m[1] ?? null, host: m[2], root: root.replace(/\/+$/, '') || '/' };
  }
  return { kind: 'local', root: resolve(to) };
}

/** Moves files (paths relative to the watched directory) into the workspace. */
export interface Transfer {
  /** `shared`, `copy` or `ssh`, for status and logs. */
  readonly mode: 'shared' | 'copy' | 'ssh';
  /** The workspace-relative path a watched file will have. */
  target(rel: string): string;
  send(files: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The transfer from `dir` to the destination; `as` is the subdirectory of
 * the workspace the files land in (ignored in shared mode, where a file's
 * place in the workspace is where it already is).
 */
export function createTransfer(dir: string, dest: Destination, as: string, options: { sshPort?: number; identity?: string; sshArgs?: string[] } = {}): Transfer {
  const under = (rel: string) => (as === '' ? rel : `${as}/${rel}`);
  if (dest.kind === 'local') {
    const inside = relative(dest.root, dir);
    if (inside === '' || (!inside.startsWith('..') && !isAbsolute(inside))) {
      const prefix = inside.split(sep).join('/');
      return { mode: 'shared', target: (rel) => (prefix === '' ? rel : `${prefix}/${rel}`), send: async () => undefined, close: async () => undefined };
    }
    const to = join(dest.root, as);
    return {
      mode: 'copy',
      target: under,
      send: async (files) => {
        const tmp = join(dest.root, TMP_DIR);
        await mkdir(tmp, { recursive: true });
        // A few copies at once: small files are dominated by system-call latency, not bandwidth.
        let next = 0;
        const worker = async () => {
          while (next < files.length) {
            const f = files[next++];
            await copyInto(join(dir, f), join(to, f), tmp);
          }
        };
        await Promise.all(Array.from({ length: Math.min(8, files.length) }, worker));
      },
      close: async () => undefined,
    };
  }
  const conn = new SshConnection(
    { host: dest.host, user: dest.user, port: options.sshPort ?? null, identity: options.identity ?? null, workdir: dest.root, sharedFs: false, cpus: null, gpus: [], sshArgs: options.sshArgs ?? [], node: 'node', pollIntervalMs: 2000, batchWindowMs: 0 },
    `forward to ${dest.host}`,
    `forward ${dir} ${dest.host}:${dest.root}`,
  );
  const to = `${dest.root}/${as}`.replace(/\/+$/, '');
  let ready = false;
  return {
    mode: 'ssh',
    target: under,
    send: async (files) => {
      if (!ready) {
        const r = await conn.exec(`mkdir -p -- ${bashQuote(to)} ${bashQuote(`${dest.root}/${TMP_DIR}`)}`, 60_000);
        if (r.code !== 0) throw new MeowError('MEOW_BACKEND', `forward: cannot reach ${dest.host} over ssh or create ${to} there: ${commandFailure('ssh', [dest.host], r)}`);
        ready = true;
      }
      const r = await conn.rsync(`${dir}/`, `remote:${to}/`, [...files], ['--temp-dir', `${dest.root}/${TMP_DIR}`]);
      if (r.code !== 0) throw new MeowError('MEOW_BACKEND', `forward: rsync to ${dest.host}:${to}: ${commandFailure('rsync', [], r)}`);
    },
    close: () => conn.close(),
  };
}

/** Copies made by this process: each copy's temporary name is its own. */
let copies = 0;

/**
 * Copies one file: a temporary name in the workspace's unwatched `.meow/`, the
 * source's times, then a rename. The temporary name is unique to the copy (not
 * the file's name): two copies of one file in flight at once (a retry beside a
 * send still running) must not rename or remove each other's temporary file.
 */
async function copyInto(from: string, to: string, tmpDir: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  const tmp = join(tmpDir, `${process.pid}-${++copies}.tmp`);
  try {
    const st = await stat(from);
    await copyFile(from, tmp);
    await utimes(tmp, st.atime, st.mtime);
    await rename(tmp, to);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new MeowError('MEOW_BACKEND', `copying ${from} to ${to}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
