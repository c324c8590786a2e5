/**
 * The workspace as the SSH host sees it: a mirror under the backend's remote
 * workdir. Paths that name the local workspace (in argv, environment,
 * variables and the job dir's small text files) are rewritten to the mirror;
 * staging copies the job dir, the recipes and the workspace files a job names
 * there; fetching brings the logs, the job dir's new files and the declared
 * outputs back.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import micromatch from 'micromatch';
import type { RunRequest } from '../../backend.js';
import type { Variables, VarValue } from '../../../core/types.js';
import { BASH_EXEC, LAUNCH_FILES } from '../remote-launch.js';
import { bashQuote } from '../remote-exec.js';

/** Where the backend keeps its control files in the remote job dir. */
export const REMOTE_CONTROL_DIR = 'meow-ssh';
/** The wrapper that runs the job, kept in the job dir. */
export const SSH_SCRIPT = 'ssh-job.sh';
/** Job dir files never rewritten (the logs are appended to; the launch files already hold remote paths). */
const KEEP_AS_IS = new Set<string>(['stdout.log', 'stderr.log', LAUNCH_FILES.command, LAUNCH_FILES.env, LAUNCH_FILES.fnTask, SSH_SCRIPT]);
/** Text files larger than this are copied unchanged. */
const REWRITE_MAX_BYTES = 4 * 1024 * 1024;

/** The local workspace root and its mirror on the host. */
export class PathMap {
  private readonly re: RegExp;

  constructor(
    readonly local: string,
    readonly remote: string,
  ) {
    const escaped = local.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // The root as a whole path: not the middle of a longer name.
    this.re = new RegExp(`(?<![\\w.\\-/])${escaped}(?![\\w.\\-])`, 'g');
  }

  /** The mirror of the workspace on a host, under its absolute remote workdir. */
  static for(localRoot: string, remoteWorkdir: string): PathMap {
    const slug = basename(localRoot).replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40) || 'workspace';
    const hash = createHash('sha256').update(localRoot).digest('hex').slice(0, 12);
    return new PathMap(localRoot, `${remoteWorkdir.replace(/\/+$/, '')}/${slug}-${hash}`);
  }

  /** Rewrites every mention of the local root in a string. */
  toRemote(value: string): string {
    return value.includes(this.local) ? value.replace(this.re, () => this.remote) : value;
  }

  /** A workspace-relative path's place on the host. */
  remotePath(rel: string): string {
    return rel === '' ? this.remote : `${this.remote}/${rel}`;
  }

  /** Workspace-relative path of an absolute local path inside the workspace, or null. */
  relativeOf(abs: string): string | null {
    const rel = relative(this.local, abs);
    return rel === '' || rel.startsWith('..') || rel.startsWith('/') ? null : rel;
  }
}

/** What to copy to the host for one attempt, relative to the workspace. */
export async function stageList(req: RunRequest, map: PathMap, jobRel: string): Promise<string[]> {
  const out = new Set<string>([jobRel]);
  if (await isDir(join(map.local, 'recipes'))) out.add('recipes');
  const add = async (abs: string) => {
    const rel = map.relativeOf(abs);
    if (rel === null || rel === '.meow' || rel.startsWith('.meow/')) return;
    if (await isFile(abs)) out.add(rel);
  };
  await add(join(map.local, req.job.input));
  // A set job reads every member; any job may read its declared inputs.
  for (const p of req.job.inputs ?? []) await add(join(map.local, p));
  for (const rel of await declaredInputFiles(req.inputs ?? [], map.local)) out.add(rel);
  for (const s of mentionedStrings(req)) {
    // "A:B" environment lists name several paths.
    for (const part of s.split(':')) if (part.startsWith(`${map.local}/`)) await add(part);
  }
  return [...out];
}

/**
 * The workspace files that declared `inputs:` globs (absolute or relative to
 * `root`) match now, workspace-relative; nothing under `.meow/`.
 */
export async function declaredInputFiles(globs: readonly string[], root: string): Promise<string[]> {
  const out = new Set<string>();
  for (const abs of globs) {
    const g = abs.startsWith(`${root}/`) ? abs.slice(root.length + 1) : abs;
    if (g === '' || g.startsWith('/') || g.startsWith('..')) continue;
    const scan = micromatch.scan(g);
    if (!scan.isGlob) {
      if (!g.startsWith('.meow/') && (await isFile(join(root, g)))) out.add(g);
      continue;
    }
    const isMatch = micromatch.matcher(g);
    const base = scan.base === '.' ? '' : scan.base;
    if (base === '.meow' || base.startsWith('.meow/')) continue;
    for (const rel of await listFiles(root, base, true)) if (isMatch(rel)) out.add(rel);
  }
  return [...out].sort();
}

function mentionedStrings(req: RunRequest): string[] {
  const l = req.launch;
  if (l.type === 'process') return [l.file, ...l.args, ...Object.values(l.env)];
  const strings: string[] = [l.modulePath];
  const walk = (v: VarValue) => {
    if (typeof v === 'string') strings.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  Object.values(l.variables as Variables).forEach(walk);
  return strings;
}

/**
 * Copies the job dir's text files that mention the local workspace root
 * (params.json, the parameterised recipe, …) into a temporary tree with the
 * root rewritten, laid out like the workspace. Returns the tree (null when
 * nothing needed rewriting) and the job-dir-relative names rewritten.
 */
export async function rewrittenJobFiles(jobDir: string, jobRel: string, map: PathMap): Promise<{ tree: string | null; files: string[] }> {
  const files: string[] = [];
  let tree: string | null = null;
  const needle = Buffer.from(map.local, 'utf8');
  for (const rel of await listFiles(jobDir)) {
    if (KEEP_AS_IS.has(rel) || rel.startsWith(`${REMOTE_CONTROL_DIR}/`)) continue;
    const abs = join(jobDir, rel);
    const st = await lstat(abs);
    if (!st.isFile() || st.size > REWRITE_MAX_BYTES) continue;
    const buf = await readFile(abs);
    if (!buf.includes(needle)) continue;
    const text = buf.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(buf)) continue; // not UTF-8 text: leave it alone
    tree ??= await mkdtemp(join(tmpdir(), 'meow-ssh-stage-'));
    const dest = join(tree, jobRel, rel);
    await mkdir(dirname(dest), { recursive: true });
    await writeFile(dest, map.toRemote(text), { mode: st.mode });
    files.push(rel);
  }
  return { tree, files };
}

/** Removes a temporary tree made by rewrittenJobFiles. */
export async function removeTree(tree: string | null): Promise<void> {
  if (tree) await rm(tree, { recursive: true, force: true });
}

/**
 * The declared outputs among files the job created or changed on the host
 * (`changed`: workspace-relative paths, from `find -newer`).
 */
export function matchOutputs(outputs: string[], root: string, changed: string[]): string[] {
  const globs = outputs.map((g) => (g.startsWith(`${root}/`) ? g.slice(root.length + 1) : g)).filter((g) => g !== '');
  if (globs.length === 0) return [];
  return changed.filter((p) => !p.startsWith('.meow/') && micromatch.isMatch(p, globs));
}

/** The directories the declared outputs go to (shared with the attempt runner, which creates them locally). */
export { outputDirs } from '../../output-dirs.js';

/** Every file under a directory, relative to it (leaving out the workspace's `.meow/` when `workspace`). */
async function listFiles(dir: string, prefix = '', workspace = false): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(join(dir, prefix), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (workspace && rel === '.meow') continue;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel, workspace)));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}

async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isFile() ?? false;
}

async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isDirectory() ?? false;
}

/** The wrapper run on the host: records its pid, runs the command, records the exit status. */
export function wrapperScript(jobId: string, where: string, backend: string, remoteDir: string): string {
  const c = REMOTE_CONTROL_DIR;
  return `#!/bin/bash
# meowflow job ${jobId}: run on ${where.replace(/[\r\n]/g, ' ')} by the ssh backend "${backend}",
# detached from the connection (setsid), so a dropped connection does not end it.
# The working directory, program, arguments and environment are in
# command.nul and env.nul (NUL-separated), so no value passes through a shell.
set -u
meow_dir=${bashQuote(remoteDir)}
cd -- "$meow_dir" || exit 1
[ -d ${c} ] || mkdir -p ${c}
: > ${c}/started
# One short write: a reader sees the whole pid or an empty file.
echo "$$" > ${c}/pid
${BASH_EXEC}
trap 'meow_stopping=1' TERM INT HUP
( meow_exec "$meow_dir" ) >> stdout.log 2>> stderr.log < /dev/null &
meow_child=$!
wait "$meow_child"; meow_status=$?
# A signal to the wrapper interrupts wait; wait again for the program's own status.
while kill -0 "$meow_child" 2>/dev/null; do wait "$meow_child"; meow_status=$?; done
echo "$meow_status" > ${c}/exit.tmp && mv ${c}/exit.tmp ${c}/exit
`;
}
