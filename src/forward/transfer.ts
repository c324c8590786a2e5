/**
 * Getting settled files into the engine's workspace before their events are
 * published. Three ways, chosen from `--to`:
 *
 * - `shared`: the watched directory is inside the workspace path (both hosts
 *   mount the same filesystem): nothing moves.
 * - `copy`: the workspace is a local path elsewhere: rsync on this host.
 * - `ssh`: `[user@]host:/path`: rsync over the SSH backend's multiplexed
 *   connection (src/runner/ssh-connection.ts).
 *
 * rsync writes each file under a temporary name and renames it, so the
 * engine never sees a partial file under the announced name.
 */
import { mkdir } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { MeowError } from '../core/errors.js';
import { bashQuote, commandFailure, runCommand } from '../runner/remote-exec.js';
import { SshConnection } from '../runner/ssh-connection.js';

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
export function createTransfer(dir: string, dest: Destination, as: string, options: { sshPort?: number; identity?: string } = {}): Transfer {
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
        await mkdir(to, { recursive: true });
        const r = await runCommand('rsync', ['-a', '--protect-args', '--from0', '--files-from=-', `${dir}/`, `${to}/`], { input: Buffer.from(files.map((f) => `${f}\0`).join('')), timeoutMs: 600_000 });
        if (r.code !== 0) throw new MeowError('MEOW_BACKEND', `copying into ${to}: ${commandFailure('rsync', [], r)}`);
      },
      close: async () => undefined,
    };
  }
  const conn = new SshConnection(
    { host: dest.host, user: dest.user, port: options.sshPort ?? null, identity: options.identity ?? null, workdir: dest.root, sharedFs: false, cpus: null, gpus: [], sshArgs: [], node: 'node', pollIntervalMs: 2000 },
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
        const r = await conn.exec(`mkdir -p -- ${bashQuote(to)}`, 60_000);
        if (r.code !== 0) throw new MeowError('MEOW_BACKEND', `forward: cannot reach ${dest.host} over ssh or create ${to} there: ${commandFailure('ssh', [dest.host], r)}`);
        ready = true;
      }
      const r = await conn.rsync(`${dir}/`, `remote:${to}/`, [...files]);
      if (r.code !== 0) throw new MeowError('MEOW_BACKEND', `forward: rsync to ${dest.host}:${to}: ${commandFailure('rsync', [], r)}`);
    },
    close: () => conn.close(),
  };
}
