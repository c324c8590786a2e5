/**
 * How the remote backends (Slurm, SSH) hand a job's launch to bash without a
 * shell ever parsing a value: the working directory, program and arguments go
 * to `command.nul` and the environment to `env.nul`, NUL-separated, and a
 * small bash function reads them back with `mapfile -d ''` and execs
 * "${argv[@]}". JavaScript recipes run through a tiny Node runner written
 * into the job dir.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../core/errors.js';
import type { BackendReport, RunRequest } from '../backend.js';
import type { Variables, VarValue } from '../../core/types.js';
import { ExactNumber } from '../../core/exact-number.js';

/** Files the remote backends write into (and read from) a job dir. */
export const LAUNCH_FILES = {
  command: 'command.nul',
  env: 'env.nul',
  /** Written by the job script when the program could not be started. */
  launchError: 'launch-error.txt',
  fnRunner: 'meow-fn-runner.mjs',
  fnTask: 'meow-fn-task.json',
  /** The JavaScript runner's reply: `{ok: true, result}` or `{ok: false, error}`. */
  fnReply: 'meow-fn-reply.json',
} as const;

/** A launch resolved to plain values: what the job script executes. */
export interface ResolvedLaunch {
  cwd: string;
  argv: string[];
  env: Record<string, string>;
  /** A JavaScript recipe run by the Node runner (its outcome is in the reply file). */
  fn: boolean;
}

/**
 * Turns a request's launch into a command, writing the Node runner and its
 * task for JavaScript recipes. `map` rewrites paths for a host that sees the
 * workspace elsewhere (identity for a shared filesystem).
 */
export async function resolveLaunch(
  req: RunRequest,
  workspace: string,
  node: string,
  map: (value: string) => string = (v) => v,
): Promise<ResolvedLaunch> {
  const launch = req.launch;
  if (launch.type === 'process') {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(launch.env)) env[k] = map(v);
    return { cwd: map(launch.cwd), argv: [launch.file, ...launch.args].map(map), env, fn: false };
  }
  const runner = join(req.jobDir, LAUNCH_FILES.fnRunner);
  const task = join(req.jobDir, LAUNCH_FILES.fnTask);
  await writeFile(runner, FN_RUNNER);
  const spec = {
    modulePath: map(launch.modulePath),
    variables: mapVariables(launch.variables, map),
    jobId: req.job.id,
    jobDir: map(req.jobDir),
    workspace: map(workspace),
  };
  await writeFile(task, `${JSON.stringify(spec, null, 2)}\n`);
  return { cwd: map(workspace), argv: [node, map(runner), map(task)], env: { MEOW_JOB_ID: req.job.id }, fn: true };
}

function mapVariables(vars: Variables, map: (value: string) => string): Variables {
  const one = (v: VarValue): VarValue => {
    if (typeof v === 'string') return map(v);
    if (Array.isArray(v)) return v.map(one);
    if (v !== null && typeof v === 'object' && !(v instanceof ExactNumber)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, one(x)]));
    return v;
  };
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, one(v)]));
}

/** Writes command.nul and env.nul into a job dir. */
export async function writeLaunchFiles(jobDir: string, launch: ResolvedLaunch): Promise<void> {
  const nul = (items: string[]) => Buffer.from(items.map((s) => `${s}\0`).join(''), 'utf8');
  for (const s of [launch.cwd, ...launch.argv, ...Object.entries(launch.env).flat()]) {
    if (s.includes('\0')) throw new Error(`a job's command or environment cannot contain a NUL character: ${JSON.stringify(s.slice(0, 80))}`);
  }
  await writeFile(join(jobDir, LAUNCH_FILES.command), nul([launch.cwd, ...launch.argv]));
  await writeFile(join(jobDir, LAUNCH_FILES.env), nul(Object.entries(launch.env).map(([k, v]) => `${k}=${v}`)));
}

/**
 * Bash functions for job scripts: `meow_exec DIR` loads DIR/command.nul and
 * DIR/env.nul, exports the environment, enters the working directory and
 * execs the program; when it cannot, it says why in DIR/launch-error.txt
 * and exits 126 or 127.
 */
export const BASH_EXEC = `meow_exec() {
  local dir="$1" kv
  local -a meow_cmd meow_env
  mapfile -d '' meow_cmd < "$dir/${LAUNCH_FILES.command}" || exit 126
  mapfile -d '' meow_env < "$dir/${LAUNCH_FILES.env}" || exit 126
  for kv in "\${meow_env[@]}"; do
    export -- "$kv" 2>/dev/null || echo "meowflow: cannot set the environment variable \${kv%%=*}: not a valid name" >&2
  done
  if ! cd -- "\${meow_cmd[0]}"; then
    printf 'cannot enter the working directory %s\\n' "\${meow_cmd[0]}" > "$dir/${LAUNCH_FILES.launchError}"
    exit 126
  fi
  # A failed exec ends a subshell whatever execfail says: look the program up first.
  local prog="\${meow_cmd[1]}" found
  if [[ "$prog" == */* ]]; then [ -f "$prog" ] && [ -x "$prog" ] && found=1; else type -P -- "$prog" >/dev/null && found=1; fi
  if [ -n "\${found:-}" ]; then
    shopt -s execfail
    exec -- "\${meow_cmd[@]:1}"
  fi
  printf 'cannot start %s: not found or not executable on %s\\n' "$prog" "$(hostname)" > "$dir/${LAUNCH_FILES.launchError}"
  exit 127
}
`;

/** The launch error the job script recorded, or null. */
export async function readLaunchError(jobDir: string): Promise<string | null> {
  try {
    return (await readFile(join(jobDir, LAUNCH_FILES.launchError), 'utf8')).trim() || null;
  } catch {
    return null;
  }
}

/**
 * Completes an outcome from what the job left in its dir: a launch error
 * becomes the outcome's error, and a JavaScript recipe's reply its result.
 */
export async function finishOutcome(jobDir: string, launch: { fn: boolean }, outcome: BackendReport): Promise<BackendReport> {
  const launchError = await readLaunchError(jobDir);
  if (launchError && !outcome.cancelled && !outcome.timedOut) return { ...outcome, error: launchError };
  if (!launch.fn || outcome.cancelled || outcome.timedOut || outcome.error !== null) return outcome;
  let text: string;
  try {
    text = await readFile(join(jobDir, LAUNCH_FILES.fnReply), 'utf8');
  } catch {
    const how = outcome.exitCode !== null ? `exit code ${outcome.exitCode}` : `signal ${outcome.signal ?? 'unknown'}`;
    return { ...outcome, error: `the JavaScript recipe runner ended (${how}) without a reply; see stderr.log in the job directory` };
  }
  try {
    const reply = JSON.parse(text) as { ok: boolean; result?: VarValue; error?: string };
    if (reply.ok) return { ...outcome, exitCode: 0, result: reply.result ?? null };
    return { ...outcome, exitCode: outcome.exitCode ?? 1, error: reply.error ?? 'the recipe failed' };
  } catch (err) {
    return { ...outcome, error: `${LAUNCH_FILES.fnReply}: not valid JSON (${errorMessage(err)})` };
  }
}

/** Writes a file so readers never see it half-written. */
export async function writeAtomic(path: string, content: string | Buffer): Promise<void> {
  await writeFile(`${path}.tmp`, content);
  await rename(`${path}.tmp`, path);
}

/**
 * The Node runner for JavaScript recipes away from the engine: imports the
 * module, calls its default export with the variables and a context like the
 * worker thread's, and writes the reply next to the task. Self-contained: it
 * runs wherever `node` runs.
 */
export const FN_RUNNER = `// meowflow: runs a JavaScript recipe in its own Node process (Slurm, SSH backends).
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';

const taskFile = process.argv[2];
const task = JSON.parse(readFileSync(taskFile, 'utf8'));
const replyFile = join(dirname(taskFile), ${JSON.stringify(LAUNCH_FILES.fnReply)});
const reply = (value) => {
  writeFileSync(replyFile + '.tmp', JSON.stringify(value));
  renameSync(replyFile + '.tmp', replyFile);
};
const describe = (err) => (err instanceof Error ? (err.stack && err.stack.includes(err.message) ? err.stack : err.message) : 'the recipe threw a non-Error value: ' + format(err));
const controller = new AbortController();
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.once(sig, () => {
    controller.abort(new Error('job ' + task.jobId + ' was cancelled'));
    // A function that ignores the signal is stopped shortly after.
    setTimeout(() => process.exit(143), 2000).unref();
  });
}
const write = (file, prefix, args) => appendFileSync(join(task.jobDir, file), prefix + format(...args) + '\\n');
const ctx = {
  jobId: task.jobId,
  jobDir: task.jobDir,
  workspace: task.workspace,
  signal: controller.signal,
  log: {
    info: (...a) => write('stdout.log', '', a),
    warn: (...a) => write('stderr.log', 'warning: ', a),
    error: (...a) => write('stderr.log', 'error: ', a),
  },
};
try {
  const mod = await import(pathToFileURL(task.modulePath).href);
  const fn = mod && mod.default;
  if (typeof fn !== 'function') {
    reply({ ok: false, error: task.modulePath + ': expected "export default async function (vars, ctx)", but the default export is ' + typeof fn });
    process.exit(1);
  }
  const value = await fn(task.variables, ctx);
  let result = null;
  try {
    result = value === undefined ? null : JSON.parse(JSON.stringify(value));
  } catch (err) {
    reply({ ok: false, error: task.modulePath + ': the function returned a value that is not JSON (' + describe(err).split('\\n')[0] + '); return plain data' });
    process.exit(1);
  }
  reply({ ok: true, result });
  process.exit(0);
} catch (err) {
  reply({ ok: false, error: describe(err) });
  process.exit(1);
}
`;
