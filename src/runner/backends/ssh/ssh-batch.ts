/**
 * Staging, starting and collecting SSH jobs in batches: the jobs that come
 * within `batch_window` of each other share one request on the persistent
 * session. Staging sends one tar archive of every job's files (and one of
 * their rewritten files) inside the request that then starts all of them;
 * collecting brings every finished job's directory and outputs back in one
 * archive. File names travel only inside archives and NUL-separated lists,
 * never through a shell. Transfers larger than INLINE_MAX_BYTES go through
 * rsync instead (the caller's fallback).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { bashQuote, commandFailure } from '../remote-exec.js';
import type { SshConnection } from './ssh-connection.js';
import { REMOTE_CONTROL_DIR, SSH_SCRIPT, type PathMap } from './ssh-stage.js';
import type { SessionResult } from './ssh-session.js';

/** Archives up to this size travel inside a request; larger ones through rsync. */
export const INLINE_MAX_BYTES = 16 * 1024 * 1024;
/** The exit status a collect request gives when the archive would be too large. */
const TOO_LARGE = 3;

/** Collects items for `windowMs`, then hands them to `run` together. */
export class Coalescer<T, R> {
  private items: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly windowMs: number,
    private readonly run: (items: T[]) => Promise<R[]>,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.items.push({ item, resolve, reject });
      this.timer ??= setTimeout(() => void this.flush(), this.windowMs);
    });
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.items;
    this.items = [];
    if (batch.length === 0) return;
    try {
      const results = await this.run(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(results[i]));
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }
}

/** Runs `tar` here and collects its output. */
export function tarHere(args: string[], input: Buffer): Promise<{ code: number; out: Buffer; err: string }> {
  return new Promise((resolve) => {
    const child = spawn('tar', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-2000)));
    child.on('error', (e) => resolve({ code: 127, out: Buffer.alloc(0), err: e.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, out: Buffer.concat(out), err }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** A tar archive of `files` (relative to `dir`; directories whole), or null when it would not travel inline. */
export async function archive(dir: string, files: string[]): Promise<Buffer | null> {
  let size = 0;
  for (const f of files) size += (await stat(join(dir, f)).catch(() => null))?.size ?? 0;
  if (size > INLINE_MAX_BYTES) return null;
  const r = await tarHere(['-c', '-f', '-', '-C', dir, '--null', '-T', '-'], Buffer.from(files.map((f) => `${f}\0`).join(''), 'utf8'));
  if (r.code !== 0) throw new Error(`tar could not pack the job's files: ${r.err.trim()}`);
  return r.out.length > INLINE_MAX_BYTES ? null : r.out;
}

/** A bash line unpacking an archive carried in the script into `dest`. */
export function unpackLine(dest: string, tar: Buffer): string {
  const b64 = tar.toString('base64').replace(/.{1,76}/g, '$&\n');
  return `base64 -d <<'MEOW_TAR' | tar -x -f - -C ${bashQuote(dest)}\n${b64}MEOW_TAR\n`;
}

/**
 * The script lines that unpack a batch's files on the host: one archive of
 * every job's workspace files, then each job's rewritten files over them.
 * Null when the batch is too large to travel inline.
 */
export async function stagePrelude(root: string, remote: string, jobs: { files: string[]; tree: string | null; jobRel: string; rewritten: string[] }[]): Promise<string | null> {
  const whole = await archive(root, [...new Set(jobs.flatMap((j) => j.files))]);
  const trees = await Promise.all(jobs.map((j) => (j.tree ? archive(j.tree, j.rewritten.map((f) => `${j.jobRel}/${f}`)) : Promise.resolve(Buffer.alloc(0)))));
  if (whole === null || trees.some((t) => t === null)) return null;
  return `mkdir -p -- ${bashQuote(remote)}\n${unpackLine(remote, whole)}${jobs.map((j, i) => (j.tree ? unpackLine(remote, trees[i] as Buffer) : '')).join('')}`;
}

/**
 * The script listing, for each job dir given (null: skip), the files under
 * the mirror created or changed since the job started: a `J<i>` marker, then
 * its paths, all NUL-separated.
 */
export function findChangedScript(root: string, jobRels: (string | null)[]): string {
  const finds = jobRels.map((rel, i) => {
    if (rel === null) return '';
    const started = bashQuote(`${rel}/${REMOTE_CONTROL_DIR}/started`);
    return `printf 'J${i}\\0'; [ -f ${started} ] && find . -path ./.meow -prune -o -type f -newer ${started} -print0\n`;
  });
  return `cd -- ${bashQuote(root)} || exit 1\n${finds.join('')}exit 0\n`;
}

/** findChangedScript's answer: workspace-relative paths per job. */
export function parseChanged(stdout: string, count: number): string[][] {
  const out: string[][] = Array.from({ length: count }, () => []);
  let cur = -1;
  for (const p of stdout.split('\0')) {
    const m = /^J(\d+)$/.exec(p);
    if (m) cur = Number(m[1]);
    else if (p !== '' && cur >= 0 && cur < count) out[cur].push(p.replace(/^\.\//, ''));
  }
  return out;
}

/** A job to start: its directory on the host and the output directories to create first. */
export interface StartItem {
  remoteDir: string;
  outputDirs: string[];
}

/**
 * The script that starts each job detached (setsid) and prints "i pid" for
 * each one whose wrapper recorded its pid. `prelude` unpacks the staged files.
 */
export function startScript(prelude: string, jobs: StartItem[]): string {
  const c = REMOTE_CONTROL_DIR;
  const starts = jobs
    .map((j, i) => {
      const dirs = j.outputDirs.length ? `mkdir -p -- ${j.outputDirs.map(bashQuote).join(' ')} && ` : '';
      const d = bashQuote(j.remoteDir);
      return `${dirs}{ [ ! -e ${d}/${c} ] || rm -rf -- ${d}/${c}; } && [ -f ${d}/${SSH_SCRIPT} ] && { cd -- ${d} && setsid bash ./${SSH_SCRIPT} </dev/null >/dev/null 2>&1 & } && meow_d[${i}]=${d}`;
    })
    .join('\n');
  return `set -e
${prelude}set +e
declare -a meow_d
${starts}
for i in $(seq 1 600); do
  meow_wait=
  for k in "\${!meow_d[@]}"; do [ -s "\${meow_d[$k]}/${c}/pid" ] || meow_wait=1; done
  [ -z "$meow_wait" ] && break
  sleep 0.05
done
for k in "\${!meow_d[@]}"; do [ -s "\${meow_d[$k]}/${c}/pid" ] && echo "$k $(cat "\${meow_d[$k]}/${c}/pid")"; done
exit 0
`;
}

/** Parses startScript's answer: the pid of each job by index. */
export function startedPids(r: SessionResult, count: number): (number | null)[] {
  const pids: (number | null)[] = Array.from({ length: count }, () => null);
  for (const line of r.stdout.split('\n')) {
    const m = /^(\d+) (\d+)$/.exec(line.trim());
    if (m && Number(m[1]) < count) pids[Number(m[1])] = Number(m[2]);
  }
  return pids;
}

/**
 * The script that packs `paths` (relative to `root` on the host, given as a
 * base64 NUL-separated list) into one archive on stdout, or exits TOO_LARGE.
 */
export function collectScript(root: string, paths: string[]): string {
  const list = Buffer.from(paths.map((p) => `${p}\0`).join(''), 'utf8').toString('base64');
  return `cd -- ${bashQuote(root)} || exit 1
meow_list() { echo ${list} | base64 -d; }
meow_size=$(meow_list | du -scb --files0-from=- 2>/dev/null | tail -n 1 | cut -f 1)
[ "\${meow_size:-0}" -gt ${INLINE_MAX_BYTES} ] && exit ${TOO_LARGE}
meow_list | tar -c -f - --null --ignore-failed-read -T - 2>/dev/null
exit 0
`;
}

/** Whether a collect request answered that its archive was too large to travel inline. */
export function tooLarge(r: SessionResult): boolean {
  return r.code === TOO_LARGE;
}

/**
 * Unpacks a collected archive under `.meow` and renames each file into place
 * in the workspace (so a watcher never sees half a file), leaving out each
 * job's control files and `skip` (workspace-relative).
 */
export async function placeCollected(root: string, tar: Buffer, skip: Set<string>, jobRels: string[]): Promise<void> {
  const tmp = join(root, '.meow', 'ssh-incoming', randomUUID());
  await mkdir(tmp, { recursive: true });
  try {
    const r = await tarHere(['-x', '-f', '-', '-C', tmp], tar);
    if (r.code !== 0) throw new Error(`tar could not unpack what came back: ${r.err.trim()}`);
    const controls = jobRels.map((j) => `${j}/${REMOTE_CONTROL_DIR}/`);
    for (const rel of await listFiles(tmp)) {
      if (skip.has(rel) || controls.some((c) => rel.startsWith(c))) continue;
      const dest = join(root, rel);
      await mkdir(dirname(dest), { recursive: true });
      await rename(join(tmp, rel), dest);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else out.push(rel);
  }
  return out;
}

/** Copies one job to the mirror with rsync (for what is too large to travel inline). */
export async function stageRsync(conn: SshConnection, backend: string, root: string, j: { map: PathMap; files: string[]; tree: string | null; jobRel: string; rewritten: string[] }): Promise<void> {
  const push = await conn.rsync(`${root}/`, `remote:${j.map.remote}/`, j.files);
  if (push.code !== 0) throw new Error(`backend ${backend}: cannot copy the job to ${conn.where}: ${commandFailure('rsync', j.files, push)}`);
  if (!j.tree) return;
  const over = await conn.rsync(`${j.tree}/`, `remote:${j.map.remote}/`, j.rewritten.map((f) => `${j.jobRel}/${f}`));
  if (over.code !== 0) throw new Error(`backend ${backend}: cannot copy the job to ${conn.where}: ${commandFailure('rsync', j.rewritten, over)}`);
}

/** Brings one job's dir and outputs back with rsync, through a temporary dir under .meow (no half files seen). */
export async function fetchRsync(conn: SshConnection, root: string, job: { map: PathMap; jobRel: string; rewritten: string[] }, outputs: string[]): Promise<void> {
  const { map, jobRel } = job;
  const tmp = join(root, '.meow', 'ssh-incoming');
  await mkdir(tmp, { recursive: true });
  const excludes = [`/${jobRel}/${REMOTE_CONTROL_DIR}/`, ...job.rewritten.map((f) => `/${jobRel}/${f}`)].map((p) => `--exclude=${p}`);
  const pull = await conn.rsync(`remote:${map.remote}/`, `${root}/`, [jobRel, ...outputs], [`--temp-dir=${tmp}`, ...excludes]);
  if (pull.code !== 0) throw new Error(`cannot bring the job's logs and outputs back from ${conn.where}: ${commandFailure('rsync', [jobRel], pull)}`);
}
