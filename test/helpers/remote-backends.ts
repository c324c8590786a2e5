/**
 * Helpers for the Slurm and SSH backend suites: where the test daemons are
 * (started by scripts/start-slurm.sh and scripts/start-sshd.sh), whether they
 * answer, and run requests built by hand for a backend.
 */
import { execFileSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { newJobId, nowIso } from '../../src/core/ids.js';
import type { Launch } from '../../src/runner/executor.js';
import type { BackendReport, RunRequest } from '../../src/runner/backend.js';
import type { JobRecord, Resources, Variables } from '../../src/core/types.js';

/** Where scripts/start-slurm.sh keeps the test cluster. */
export const SLURM_DIR = process.env.MEOW_SLURM_DIR ?? '/tmp/meowflow-slurm';
/** Where scripts/start-sshd.sh keeps the test sshd. */
export const SSHD_DIR = process.env.MEOW_SSHD_DIR ?? '/tmp/meowflow-sshd';

/**
 * Null when the test Slurm cluster answers (and SLURM_CONF points at it),
 * otherwise why not and how to start it.
 */
export function slurmMissing(): string | null {
  const conf = join(SLURM_DIR, 'etc', 'slurm.conf');
  if (!process.env.SLURM_CONF && existsSync(conf)) process.env.SLURM_CONF = conf;
  try {
    const out = execFileSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
    if (!/idle|mixed|allocated/.test(out)) return `the test Slurm node is not up (sinfo says "${out.trim()}"); run: bash scripts/start-slurm.sh`;
    return null;
  } catch (err) {
    return `no Slurm cluster answers (${(err as Error).message.split('\n')[0]}); run: bash scripts/start-slurm.sh`;
  }
}

/** The test sshd, as start-sshd.sh describes it. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  identity: string;
  known_hosts: string;
  workdir: string;
}

/** The test sshd's coordinates, or why it is not there. */
export function sshTarget(): SshTarget | string {
  const file = join(SSHD_DIR, 'target.json');
  if (!existsSync(file)) return `no test sshd (${file} is missing); run: bash scripts/start-sshd.sh`;
  const t = JSON.parse(readFileSync(file, 'utf8')) as SshTarget;
  try {
    execFileSync('ssh', ['-F', '/dev/null', ...sshTestArgs(t), '-i', t.identity, '-p', String(t.port), '-l', t.user, t.host, 'true'], { timeout: 20_000, stdio: 'ignore' });
    return t;
  } catch (err) {
    return `the test sshd on ${t.host}:${t.port} does not let us in (${(err as Error).message.split('\n')[0]}); run: bash scripts/start-sshd.sh`;
  }
}

/** ssh options the backend needs for the test sshd (its own known_hosts, strict checking). */
export function sshTestArgs(t: SshTarget): string[] {
  return ['-o', `UserKnownHostsFile=${t.known_hosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes'];
}

/** A job record for a hand-built request. */
export function jobRecord(root: string, overrides: Partial<JobRecord> = {}): JobRecord {
  const id = newJobId();
  return {
    id,
    key: `key-${id}`,
    pattern: 'remote_test',
    recipe: 'remote_test',
    ruleVersion: 'v1',
    status: 'running',
    input: 'data/input.txt',
    inputs: null,
    inputVersion: '1',
    event: 'created',
    oldPath: null,
    variables: {},
    sweepPoint: null,
    attempt: 1,
    retries: 0,
    timeoutMs: null,
    exitCode: null,
    error: null,
    result: null,
    backend: 'remote',
    generation: 0,
    cause: null,
    jobDir: `.meow/jobs/${id}`,
    pid: null,
    createdAt: nowIso(),
    startedAt: nowIso(),
    finishedAt: null,
    ...overrides,
  };
}

/** A request being run: its controller (to cancel) and the handle the backend reported. */
export interface Attempt {
  req: RunRequest;
  controller: AbortController;
  handle: () => string | null;
  /** Resolves with the handle once the backend reported it. */
  started: Promise<string | null>;
}

/** Builds a request for a process launch (argv, never a shell) in a workspace. */
export async function processRequest(
  root: string,
  argv: string[],
  options: { env?: Record<string, string>; timeoutMs?: number | null; resources?: Partial<Resources>; gpus?: string[]; outputs?: string[]; job?: Partial<JobRecord>; cwd?: string } = {},
): Promise<Attempt> {
  const job = jobRecord(root, { timeoutMs: options.timeoutMs ?? null, ...options.job });
  const jobDir = join(root, job.jobDir);
  await mkdir(jobDir, { recursive: true });
  const env = { MEOW_JOB_ID: job.id, MEOW_JOB_DIR: jobDir, MEOW_WORKSPACE: root, ...options.env };
  const launch: Launch = { type: 'process', file: argv[0], args: argv.slice(1), env, cwd: options.cwd ?? root };
  return attempt(job, launch, jobDir, options);
}

/** Builds a request for a JavaScript recipe function. */
export async function functionRequest(root: string, modulePath: string, variables: Variables, options: { timeoutMs?: number | null } = {}): Promise<Attempt> {
  const job = jobRecord(root, { timeoutMs: options.timeoutMs ?? null });
  const jobDir = join(root, job.jobDir);
  await mkdir(jobDir, { recursive: true });
  return attempt(job, { type: 'function', modulePath, variables }, jobDir, options);
}

function attempt(job: JobRecord, launch: Launch, jobDir: string, options: { timeoutMs?: number | null; resources?: Partial<Resources>; gpus?: string[]; outputs?: string[] }): Attempt {
  const controller = new AbortController();
  let handle: string | null = null;
  let started!: (h: string | null) => void;
  const startedPromise = new Promise<string | null>((r) => (started = r));
  const req: RunRequest = {
    job,
    launch,
    jobDir,
    signal: controller.signal,
    timeoutMs: options.timeoutMs ?? null,
    resources: { cpus: 1, gpus: options.gpus?.length ?? 0, memory: null, ...options.resources },
    gpus: options.gpus ?? [],
    outputs: options.outputs ?? [],
    onStarted(h) {
      handle = h;
      started(h);
    },
  };
  return { req, controller, handle: () => handle, started: startedPromise };
}

/** The outcome fields a test usually checks. */
export function brief(o: BackendReport): Pick<BackendReport, 'exitCode' | 'cancelled' | 'timedOut' | 'error'> {
  return { exitCode: o.exitCode, cancelled: o.cancelled, timedOut: o.timedOut, error: o.error };
}

/** The backend handles a (possibly running) engine recorded for its running jobs, read from its database. */
export function recordedHandles(root: string): Map<string, string> {
  const db = new Database(join(root, '.meow', 'state.db'), { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const rows = db.prepare("SELECT id, handle FROM jobs WHERE status = 'running' AND handle IS NOT NULL").all() as { id: string; handle: string }[];
    return new Map(rows.map((r) => [r.id, r.handle]));
  } finally {
    db.close();
  }
}
